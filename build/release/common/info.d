build/release/common/info.o: common/info.c common/bundle.h \
 common/frfile.h common/out.h common/frds.h common/frem.h common/npy.h \
 common/info.h common/json.h common/msg.h common/xio.h
common/bundle.h:
common/frfile.h:
common/out.h:
common/frds.h:
common/frem.h:
common/npy.h:
common/info.h:
common/json.h:
common/msg.h:
common/xio.h:
