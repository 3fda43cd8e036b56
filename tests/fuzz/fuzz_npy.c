/*
 * fuzz_npy.c: libFuzzer target for the NumPy .npy reader (an outside format).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    for (int as_int = 0; as_int < 2; as_int++) {
        FILE *f = fmemopen((void *)data, size, "rb");
        NpyInfo in;
        if (npy_read_header(f, "fuzz", &in) == 0) {
            void *v = as_int ? (void *)npy_read_i64(f, "fuzz", &in) : (void *)npy_read_f32(f, "fuzz", &in);
            free(v);
        }
        fclose(f);
    }
    return 0;
}
