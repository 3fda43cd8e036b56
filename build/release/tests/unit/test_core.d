build/release/tests/unit/test_core.o: tests/unit/test_core.c common/cli.h \
 common/frfile.h common/out.h tests/unit/harness.h common/json.h \
 common/msg.h common/out.h common/rng.h
common/cli.h:
common/frfile.h:
common/out.h:
tests/unit/harness.h:
common/json.h:
common/msg.h:
common/out.h:
common/rng.h:
