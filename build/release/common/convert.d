build/release/common/convert.o: common/convert.c common/convert.h \
 common/frem.h common/frfile.h common/out.h common/npy.h common/msg.h \
 common/xio.h
common/convert.h:
common/frem.h:
common/frfile.h:
common/out.h:
common/npy.h:
common/msg.h:
common/xio.h:
