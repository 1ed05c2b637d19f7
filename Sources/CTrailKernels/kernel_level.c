#include "kernel_level.h"
#include "trail_kernels.h"

#include <stdlib.h>
#include <string.h>

struct trail_cpu trail_cpu = {0, 0, 0};

/// The process's limit: TRAIL_KERNELS=portable or avx2 at load, else AVX-512.
static int process_limit = TRAIL_KERNELS_AVX512;
/// A thread's own limit (-1: none, the process's applies).
static _Thread_local int thread_limit = -1;

__attribute__((constructor)) static void ask_cpu(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    trail_cpu.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    trail_cpu.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
    trail_cpu.vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                     __builtin_cpu_supports("avx512vnni");
#endif
    const char *level = getenv("TRAIL_KERNELS");
    if (level && strcmp(level, "portable") == 0) process_limit = TRAIL_KERNELS_PORTABLE;
    if (level && strcmp(level, "avx2") == 0) process_limit = TRAIL_KERNELS_AVX2;
}

int trail_kernels_allowed(void) { return thread_limit >= 0 ? thread_limit : process_limit; }

int trail_kernels_limit(int level) {
    int previous = thread_limit;
    thread_limit = level;
    return previous;
}

int trail_kernels_level(int kind) {
    int allowed = trail_kernels_allowed();
    int wide = kind == TRAIL_KERNELS_INT8 ? trail_cpu.vnni : trail_cpu.avx512;
    if (allowed >= TRAIL_KERNELS_AVX512 && wide) return TRAIL_KERNELS_AVX512;
    if (allowed >= TRAIL_KERNELS_AVX2 && trail_cpu.avx2) return TRAIL_KERNELS_AVX2;
    return TRAIL_KERNELS_PORTABLE;
}
