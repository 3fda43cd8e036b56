/*
 * fuzz_frfile.c: libFuzzer target for the readers of frkit's own formats (FRDS,
 * FREM, FRCK/FRST): any input must give a clean error or a clean read, in both
 * the seekable and the streaming mode.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bundle.h"
#include "frds.h"
#include "frem.h"
#include "nn.h"

static FILE *mem(const uint8_t *d, size_t n) { return fmemopen((void *)d, n ? n : 1, "rb"); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    for (int seekable = 0; seekable < 2; seekable++) {
        FILE *f = mem(data, size);
        FrdsPack p;
        if (frds_open_fp(&p, f, "fuzz", seekable) == 0) {
            FrdsRecord r;
            if (seekable)
                for (uint64_t i = 0; i < p.n && i < 64; i++) frds_read(&p, i, &r);
            frds_verify(&p);
        }
        frds_close_pack(&p);
        fclose(f);

        f = mem(data, size);
        FremReader e;
        if (frem_open_fp(&e, f, "fuzz", seekable) == 0) {
            float *v = malloc(4ull * e.dim);
            FremRow row;
            while (frem_next(&e, &row, v) == 1) {}
            free(v);
        }
        frem_close_reader(&e);
        fclose(f);

        f = mem(data, size);
        FrBundle b;
        if (bundle_read_fp(&b, f, "fuzz", seekable, NULL) == 0) {
            const FrSection *s = bundle_section(&b, "PREP");
            FrPrep prep;
            if (s) prep_decode(s->data, s->bytes, &prep, "fuzz");
            FrTrainState st;
            if ((s = bundle_section(&b, "STAT"))) stat_decode(s->data, s->bytes, &st, "fuzz");
            Net *net = net_from_bundle(&b, "fuzz");  // parse the layer graph (no allocation of parameters)
            net_free(net);
        }
        bundle_free(&b);
        fclose(f);
    }
    return 0;
}
