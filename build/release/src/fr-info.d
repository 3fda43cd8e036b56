build/release/src/fr-info.o: src/fr-info.c common/cli.h common/info.h \
 common/msg.h common/xio.h
common/cli.h:
common/info.h:
common/msg.h:
common/xio.h:
