build/release/common/device.o: common/device.c common/cli.h \
 common/device.h common/msg.h
common/cli.h:
common/device.h:
common/msg.h:
