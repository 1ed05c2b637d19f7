#ifndef TRAIL_KERNEL_LEVEL_H
#define TRAIL_KERNEL_LEVEL_H

/// What this CPU has, asked once when the program loads (before any thread
/// can call in), and the level the calling thread may use (internal to
/// CTrailKernels; `trail_kernels_limit` in trail_kernels.h sets it).
struct trail_cpu {
    int avx2;   ///< AVX2 and FMA (x86-64 servers since 2013, AMD before Zen 4).
    int avx512; ///< AVX-512 F and DQ (the float kernels).
    int vnni;   ///< AVX-512 F, BW and VNNI (the int8 products).
};
extern struct trail_cpu trail_cpu;

/// The widest level the calling thread may use: its own limit if it set
/// one, else the process's (TRAIL_KERNELS, else the best).
int trail_kernels_allowed(void);

#endif
