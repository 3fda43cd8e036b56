build/release/common/frfile.o: common/frfile.c common/frfile.h \
 common/out.h common/msg.h common/xio.h
common/frfile.h:
common/out.h:
common/msg.h:
common/xio.h:
