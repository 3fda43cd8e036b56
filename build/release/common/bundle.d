build/release/common/bundle.o: common/bundle.c common/bundle.h \
 common/frfile.h common/out.h common/msg.h common/xio.h
common/bundle.h:
common/frfile.h:
common/out.h:
common/msg.h:
common/xio.h:
