build/release/common/msg.o: common/msg.c common/msg.h common/out.h
common/msg.h:
common/out.h:
