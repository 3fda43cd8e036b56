build/release/common/out.o: common/out.c common/msg.h common/out.h \
 common/xio.h
common/msg.h:
common/out.h:
common/xio.h:
