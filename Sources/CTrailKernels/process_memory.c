// glibc's allocator settings for TrailServer's ProcessMemory (malloc.h is not in Swift's Glibc module).
#include "trail_kernels.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void trail_malloc_configure(int arenas, int map_threshold) {
#if defined(__GLIBC__)
    mallopt(M_ARENA_MAX, arenas);
    mallopt(M_MMAP_THRESHOLD, map_threshold);
#else
    (void)arenas;
    (void)map_threshold;
#endif
}

void trail_malloc_release(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
