build/release/common/npy.o: common/npy.c common/msg.h common/npy.h \
 common/xio.h
common/msg.h:
common/npy.h:
common/xio.h:
