build/release/common/cli.o: common/cli.c common/device.h common/cli.h \
 common/msg.h common/xio.h
common/device.h:
common/cli.h:
common/msg.h:
common/xio.h:
