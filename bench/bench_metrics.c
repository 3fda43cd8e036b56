/*
 * bench_metrics.c: fr-eval's two large computations at IJB-C scale: the ROC and TPR at
 * FPR of 15,658,489 pair scores (19,557 genuine), and 1:N search of 10,000 probes against
 * a 100,000-entry gallery of 512-d embeddings (top 5).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "metrics.h"
#include "msg.h"
#include "progress.h"
#include "rng.h"
#include "xio.h"

int main(void) {
    fr_set_prog("bench_metrics", "bench_metrics");
    size_t n = 15658489, gen = 19557;
    double *s = xmalloc(sizeof(double) * n);
    uint8_t *y = xmalloc(n);
    Rng r = rng_stream(1, RNG_TEST, 0, 0);
    for (size_t i = 0; i < n; i++) {
        y[i] = i % (n / gen) == 0;
        s[i] = (y[i] ? 0.5 : 0.0) + 0.15 * rng_normal(&r);
        s[i] = round(s[i] * 1e4) / 1e4;  // cosines printed to 4 decimals tie a lot
    }
    double t0 = now_seconds();
    Roc roc;
    if (roc_curve(s, y, n, &roc)) fr_die("%s", fr_errmsg());
    double tpr = roc_tpr_at(&roc, 1e-4, NULL);
    double dt = now_seconds() - t0;
    printf("RESULT {\"impl\":\"frkit\",\"bench\":\"roc\",\"pairs\":%zu,\"seconds\":%.2f,\"tpr_at_1e-4\":%.4f,\"points\":%zu}\n", n, dt, tpr, roc.n);
    roc_free(&roc);
    free(s), free(y);
    size_t np = 10000, ng = 100000;
    int d = 512;
    float *P = xmalloc(sizeof(float) * np * d), *G = xmalloc(sizeof(float) * ng * d);
    for (size_t i = 0; i < np * d; i++) P[i] = rng_normal(&r);
    for (size_t i = 0; i < ng * d; i++) G[i] = rng_normal(&r);
    float *ts = xmalloc(sizeof(float) * np * 5);
    uint32_t *ti = xmalloc(sizeof(uint32_t) * np * 5);
    t0 = now_seconds();
    search_topk(P, np, G, ng, d, 5, ts, ti);
    dt = now_seconds() - t0;
    printf("RESULT {\"impl\":\"frkit\",\"bench\":\"search\",\"probes\":%zu,\"gallery\":%zu,\"dim\":%d,\"seconds\":%.2f,\"gflops\":%.1f}\n", np, ng, d, dt,
           2.0 * np * ng * d / dt / 1e9);
    free(P), free(G), free(ts), free(ti);
    return 0;
}
