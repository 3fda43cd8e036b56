/*
 * comm.c: the single-process communicator and an in-process one for threads. See comm.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "comm.h"
#include "xio.h"

static void self_sum(Comm *c, double *x, size_t n) { (void)c, (void)x, (void)n; }
static void self_gather(Comm *c, const float *x, size_t n, float *out) {
    (void)c;
    memcpy(out, x, sizeof(float) * n);
}

Comm *comm_self(void) {
    static Comm c = {0, 1, self_sum, self_sum, self_gather, NULL};
    return &c;
}

struct CommGroup {
    int world;
    pthread_barrier_t bar;
    double *dbuf;
    float *fbuf;
    size_t dcap, fcap;
    Comm *ranks;
};

// every rank deposits, all wait, every rank reads the combined result, all wait again
static void reduce(Comm *c, double *x, size_t n, int op) {
    CommGroup *g = c->priv;
    if (c->rank == 0 && g->dcap < n * (size_t)g->world) g->dcap = n * (size_t)g->world, g->dbuf = xrealloc(g->dbuf, sizeof(double) * g->dcap);
    pthread_barrier_wait(&g->bar);
    memcpy(g->dbuf + (size_t)c->rank * n, x, sizeof(double) * n);
    pthread_barrier_wait(&g->bar);
    for (size_t i = 0; i < n; i++) {
        double v = g->dbuf[i];
        for (int r = 1; r < g->world; r++) {
            double w = g->dbuf[(size_t)r * n + i];
            v = op ? (w > v ? w : v) : v + w;  // rank order: the same sum on every rank
        }
        x[i] = v;
    }
    pthread_barrier_wait(&g->bar);
}
static void local_sum(Comm *c, double *x, size_t n) { reduce(c, x, n, 0); }
static void local_max(Comm *c, double *x, size_t n) { reduce(c, x, n, 1); }
static void local_gather(Comm *c, const float *x, size_t n, float *out) {
    CommGroup *g = c->priv;
    if (c->rank == 0 && g->fcap < n * (size_t)g->world) g->fcap = n * (size_t)g->world, g->fbuf = xrealloc(g->fbuf, sizeof(float) * g->fcap);
    pthread_barrier_wait(&g->bar);
    memcpy(g->fbuf + (size_t)c->rank * n, x, sizeof(float) * n);
    pthread_barrier_wait(&g->bar);
    memcpy(out, g->fbuf, sizeof(float) * n * (size_t)g->world);
    pthread_barrier_wait(&g->bar);
}

CommGroup *comm_local_group(int world) {
    CommGroup *g = xcalloc(1, sizeof *g);
    g->world = world;
    pthread_barrier_init(&g->bar, NULL, (unsigned)world);
    g->ranks = xcalloc((size_t)world, sizeof *g->ranks);
    for (int r = 0; r < world; r++) g->ranks[r] = (Comm){r, world, local_sum, local_max, local_gather, g};
    return g;
}

Comm *comm_local_rank(CommGroup *g, int rank) { return &g->ranks[rank]; }

void comm_local_free(CommGroup *g) {
    pthread_barrier_destroy(&g->bar);
    free(g->dbuf), free(g->fbuf), free(g->ranks), free(g);
}
