/*
 * device.c: device selection. See device.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "device.h"
#include "msg.h"
#include "ops.h"

int device_parse(const char *s) {
    if (strcmp(s, "cpu") == 0) return -1;
    if (strcmp(s, "cuda") == 0) return 0;
    if (strncmp(s, "cuda:", 5) == 0) {
        long long n;
        if (parse_ll(s + 5, 0, 1023, &n)) return -2;
        return (int)n;
    }
    return -2;
}

int device_require(const char *s) {
    int d = device_parse(s);
    if (d == -2) fr_usage("--device: '%s' is not cpu, cuda or cuda:N", s);
    if (d < 0) return d;
#ifdef FR_HAVE_CUDA
    int n = cuda_device_count();
    if (n <= 0) fr_die("--device %s: no CUDA device is visible on this machine", s);
    if (d >= n) fr_die("--device %s: only %d CUDA device%s visible", s, n, n == 1 ? " is" : "s are");
    return d;
#else
    fr_die("--device %s: this frkit was built without CUDA (rebuild where nvcc is found, without NO_CUDA=1)", s);
#endif
}

const Backend *device_backend(int device) {
    if (device < 0) return &BACKEND_CPU;
#ifdef FR_HAVE_CUDA
    if (cuda_init(device)) fr_die("--device cuda:%d: %s", device, fr_errmsg());
    const char *e = getenv("FR_CUDA_TF32");
    cuda_set_tf32(e && !strcmp(e, "1"));
    fr_debug("device cuda:%d: %s, convolutions by %s%s", device, cuda_device_name(),
             cuda_conv_impl(-1) == 1 ? "cuDNN" : "im2col + cuBLAS", e && !strcmp(e, "1") ? ", TF32" : "");
    return &BACKEND_CUDA;
#else
    fr_die("--device cuda:%d: this frkit was built without CUDA", device);
#endif
}

const char *device_cuda_summary(void) {
#ifdef FR_HAVE_CUDA
    static char buf[64];
    int n = cuda_device_count();
    snprintf(buf, sizeof buf, "yes (%d device%s visible)", n < 0 ? 0 : n, n == 1 ? "" : "s");
    return buf;
#else
    return "built without CUDA";
#endif
}
