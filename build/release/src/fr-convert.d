build/release/src/fr-convert.o: src/fr-convert.c common/cli.h \
 common/convert.h common/msg.h common/xio.h
common/cli.h:
common/convert.h:
common/msg.h:
common/xio.h:
