build/release/common/frds.o: common/frds.c common/frds.h common/frfile.h \
 common/out.h common/msg.h common/xio.h
common/frds.h:
common/frfile.h:
common/out.h:
common/msg.h:
common/xio.h:
