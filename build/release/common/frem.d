build/release/common/frem.o: common/frem.c common/frem.h common/frfile.h \
 common/out.h common/npy.h common/msg.h common/xio.h
common/frem.h:
common/frfile.h:
common/out.h:
common/npy.h:
common/msg.h:
common/xio.h:
