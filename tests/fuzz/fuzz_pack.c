/*
 * fuzz_pack.c: libFuzzer target for the parsers of outside formats fr-pack reads. The
 * first byte picks the parser: 0 insightface .bin (unpickler), 1 MATLAB v5 .mat, 2
 * PGM/PPM, 3 JPEG, 4 MXNet .rec (the next byte is the .idx offset of record 1), 5 IDX.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "pack.h"

static void drain(PackSource *s) {
    if (!s) return;
    PackItem it;
    int rc;
    while ((rc = s->next(s, &it)) > 0)
        if (rc == 1) pack_item_free(&it);
    s->close(s);
}

static const char *tmpfile_with(const uint8_t *d, size_t n, const char *suffix) {
    static char path[128];
    snprintf(path, sizeof path, "/tmp/fuzz-pack-%d%s", (int)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    fwrite(d, 1, n, f);
    fclose(f);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] % 6) {
    case 0: {
        uint8_t **imgs, *same;
        size_t *lens;
        uint64_t ni, np;
        if (bin_parse(d, n, &imgs, &lens, &ni, &same, &np) == 0) {
            for (uint64_t i = 0; i < ni; i++) free(imgs[i]);
            free(imgs), free(lens), free(same);
        }
        break;
    }
    case 1: {
        double *v;
        uint8_t *u;
        uint32_t dims[4];
        int nd;
        if (mat_read_array(d, n, "X", &v, &u, dims, &nd) == 0) free(v), free(u);
        break;
    }
    case 2:
    case 3: {
        uint8_t *img;
        int w, h, c;
        if (img_decode(d, n, &img, &w, &h, &c) == 0) free(img);
        break;
    }
    case 4: {  // .rec with a two-record .idx: record 0 at 0, record 1 at the offset byte * 4
        if (n < 1) break;
        char idx[64];
        snprintf(idx, sizeof idx, "0\t0\n1\t%u\n", (unsigned)d[0] * 4);
        const char *ip = tmpfile_with((const uint8_t *)idx, strlen(idx), ".idx");
        char ipath[128];
        snprintf(ipath, sizeof ipath, "%s", ip ? ip : "");
        const char *rp = tmpfile_with(d + 1, n - 1, ".rec");
        if (ip && rp) drain(src_rec(rp, ipath));
        unlink(ipath);
        if (rp) unlink(rp);
        break;
    }
    default: {
        const char *p = tmpfile_with(d, n, "-images-idx3-ubyte");
        if (p) {
            drain(src_idx(p, NULL));
            unlink(p);
        }
        break;
    }
    }
    return 0;
}
