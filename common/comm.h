/*
 * comm.h: what a sharded head needs from the other ranks (DESIGN.md §4): all-reduce
 * sum and max of doubles, and all-gather of floats. A single process uses comm_self(),
 * whose operations do nothing; MPI and NCCL implementations plug in behind the same
 * table, and comm_local() joins threads of one process (tests: two in-process shards
 * must equal the unsplit head).
 */
#ifndef FR_COMM_H
#define FR_COMM_H

#include <stddef.h>

typedef struct Comm Comm;
struct Comm {
    int rank, world;
    void (*sum)(Comm *c, double *x, size_t n);
    void (*max)(Comm *c, double *x, size_t n);
    // out (world x n) = every rank's x (n), in rank order
    void (*gather)(Comm *c, const float *x, size_t n, float *out);
    void *priv;
};

Comm *comm_self(void);
// world threads of one process; each thread calls comm_local_rank(group, r) for its Comm
typedef struct CommGroup CommGroup;
CommGroup *comm_local_group(int world);
Comm *comm_local_rank(CommGroup *g, int rank);
void comm_local_free(CommGroup *g);

#endif
