build/release/common/progress.o: common/progress.c common/msg.h \
 common/progress.h common/xio.h
common/msg.h:
common/progress.h:
common/xio.h:
