build/release/tests/unit/test_formats.o: tests/unit/test_formats.c \
 common/bundle.h common/frfile.h common/out.h common/frds.h common/frem.h \
 common/npy.h tests/unit/harness.h common/msg.h common/npy.h common/xio.h
common/bundle.h:
common/frfile.h:
common/out.h:
common/frds.h:
common/frem.h:
common/npy.h:
tests/unit/harness.h:
common/msg.h:
common/npy.h:
common/xio.h:
