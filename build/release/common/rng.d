build/release/common/rng.o: common/rng.c common/rng.h
common/rng.h:
