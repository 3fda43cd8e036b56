/*
 * bench_metrics.c: fr-eval's two large computations at IJB-C scale: the ROC and TPR at
 * FPR of 15,658,489 pair scores (19,557 genuine), and 1:N search of 10,000 probes against
 * a 100,000-entry gallery of 512-d embeddings (top 5); and IJB-C 1:1 from files: 469,375
 * images of 512-d in 23,124 templates, the 15,658,489-line template pair list parsed,
 * pooled, scored and put through the ROC (fr-eval --templates, end to end).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eval.h"
#include "frem.h"
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

    // IJB-C scale templates, through the files
    char dir[] = "/tmp/frkit-ijb-XXXXXX", emb[64], meta[64], tp[64];
    if (!mkdtemp(dir)) fr_die("mkdtemp: cannot create %s", dir);
    snprintf(emb, sizeof emb, "%s/e.fre", dir), snprintf(meta, sizeof meta, "%s/meta.txt", dir), snprintf(tp, sizeof tp, "%s/pairs.txt", dir);
    size_t ni = 469375, ntpl = 23124, npair = 15658489;
    FremWriter fw;
    frem_create(&fw, emb, (uint32_t)d, "bench", 1);
    float *v = xmalloc(sizeof(float) * d);
    FILE *fm = fopen(meta, "w");
    for (size_t i = 0; i < ni; i++) {
        for (int j = 0; j < d; j++) v[j] = rng_normal(&r);
        FremRow row = {i, -1, -1};
        frem_write(&fw, &row, v);
        size_t t = i % ntpl;
        fprintf(fm, "%zu.jpg %zu %zu\n", i + 1, t + 1, 100000 + t * 8 + (i / ntpl) % 3);
    }
    frem_close(&fw);
    fclose(fm);
    FILE *fp = fopen(tp, "w");
    for (size_t i = 0; i < npair; i++) {
        size_t a = (size_t)(rng_u64(&r) % ntpl), b = i % 800 == 0 ? a : (size_t)(rng_u64(&r) % ntpl);
        fprintf(fp, "%zu %zu %d\n", a + 1, b + 1, a == b);
    }
    fclose(fp);
    EvalOpts o;
    eval_defaults(&o);
    o.emb = emb, o.templates = meta, o.template_pairs = tp;
    Report rep;
    report_init(&rep);
    t0 = now_seconds();
    if (eval_templates(&o, &rep)) fr_die("%s", fr_errmsg());
    dt = now_seconds() - t0;
    printf("RESULT {\"impl\":\"frkit\",\"bench\":\"ijbc_templates\",\"images\":%zu,\"templates\":%zu,\"pairs\":%zu,\"seconds\":%.2f}\n", ni, ntpl, npair, dt);
    report_free(&rep);
    unlink(emb), unlink(meta), unlink(tp), rmdir(dir);
    free(v);
    return 0;
}
