build/release/common/xio.o: common/xio.c common/msg.h common/xio.h
common/msg.h:
common/xio.h:
