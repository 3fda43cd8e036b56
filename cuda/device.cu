/*
 * device.cu: CUDA device discovery for --device and --version. The CUDA backend
 * (the twin of the CPU op table) grows beside this file.
 */
#include <cuda_runtime.h>

extern "C" int cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) return 0;
    return n;
}
