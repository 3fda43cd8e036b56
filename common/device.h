/*
 * device.h: which compute device a tool runs on (--device cpu|cuda[:N]).
 *
 * A build without CUDA (no nvcc, or NO_CUDA=1) still parses "cuda" and then says
 * "built without CUDA" when a tool asks for it, rather than failing to build.
 */
#ifndef FR_DEVICE_H
#define FR_DEVICE_H

// -1 for "cpu", N >= 0 for "cuda" / "cuda:N", -2 if the string is not a device.
int device_parse(const char *s);
// Dies with a clear message if the device cannot be used in this build or machine.
// Returns the parsed device (-1 cpu, N cuda).
int device_require(const char *s);
// The backend of a parsed device (-1 cpu): for CUDA, the device is selected and
// initialised (dies with a clear message where it cannot be); FR_CUDA_TF32=1 lets
// its GEMMs and convolutions use TF32 tensor cores.
struct Backend;
const struct Backend *device_backend(int device);
// One line for --version: "built without CUDA", or "yes (N devices)".
const char *device_cuda_summary(void);

#ifdef FR_HAVE_CUDA
// cuda/device.cu
int cuda_device_count(void);
#endif

#endif
