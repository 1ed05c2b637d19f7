// Product quantisation for the index of meaning (see trail_kernels.h).
#include "trail_kernels.h"

#include <float.h>
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

// Sums are kept in the order written, so that every CPU gives the same codes.
#pragma clang fp contract(off)

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Each of n points (n × dsub) to its nearest centroid (`transposed`: [dsub][TRAIL_PQ_CENTROIDS]),
// by squared distance less the point's own length (|c|² − 2 x·c); ties to the lower index. The
// sums run over the centroids side by side, each in the same order, so wider vectors give the same codes.
static inline __attribute__((always_inline)) void assign_body(const float *points, long n, long point_stride,
                                                               const float *transposed, const float *norms, int dsub,
                                                               uint8_t *codes, long code_stride) {
    float dot[TRAIL_PQ_CENTROIDS];
    for (long i = 0; i < n; i++) {
        const float *x = points + i * point_stride;
        for (int c = 0; c < TRAIL_PQ_CENTROIDS; c++) dot[c] = 0;
        for (int d = 0; d < dsub; d++) {
            const float xd = x[d];
            const float *row = transposed + d * TRAIL_PQ_CENTROIDS;
            for (int c = 0; c < TRAIL_PQ_CENTROIDS; c++) dot[c] += xd * row[c];
        }
        // The least of |c|² − 2 x·c in 16 lanes side by side (each keeps its first least), then across
        // the lanes: the least value, and among equals the lowest centroid.
        float lane_least[16];
        int lane_best[16];
        for (int l = 0; l < 16; l++) {
            lane_least[l] = norms[l] - 2 * dot[l];
            lane_best[l] = l;
        }
        for (int c = 16; c < TRAIL_PQ_CENTROIDS; c += 16) {
            for (int l = 0; l < 16; l++) {
                float v = norms[c + l] - 2 * dot[c + l];
                int better = v < lane_least[l];
                lane_least[l] = better ? v : lane_least[l];
                lane_best[l] = better ? c + l : lane_best[l];
            }
        }
        int best = lane_best[0];
        float least = lane_least[0];
        for (int l = 1; l < 16; l++) {
            if (lane_least[l] < least || (lane_least[l] == least && lane_best[l] < best)) {
                least = lane_least[l];
                best = lane_best[l];
            }
        }
        codes[i * code_stride] = (uint8_t)best;
    }
}

__attribute__((target("avx512f"))) static void assign_avx512(const float *points, long n, long point_stride,
                                                              const float *transposed, const float *norms, int dsub,
                                                              uint8_t *codes, long code_stride) {
    assign_body(points, n, point_stride, transposed, norms, dsub, codes, code_stride);
}

static void assign_plain(const float *points, long n, long point_stride, const float *transposed, const float *norms,
                         int dsub, uint8_t *codes, long code_stride) {
    assign_body(points, n, point_stride, transposed, norms, dsub, codes, code_stride);
}

static int has_avx512 = -1;

static void assign(const float *points, long n, long point_stride, const float *transposed, const float *norms,
                   int dsub, uint8_t *codes, long code_stride) {
    if (has_avx512 < 0) {
        __builtin_cpu_init();
        has_avx512 = __builtin_cpu_supports("avx512f");
    }
    if (has_avx512)
        assign_avx512(points, n, point_stride, transposed, norms, dsub, codes, code_stride);
    else
        assign_plain(points, n, point_stride, transposed, norms, dsub, codes, code_stride);
}

// `centroids` [TRAIL_PQ_CENTROIDS][dsub] as [dsub][TRAIL_PQ_CENTROIDS], and each one's squared length.
static void prepare(const float *centroids, int dsub, float *transposed, float *norms) {
    for (int c = 0; c < TRAIL_PQ_CENTROIDS; c++) {
        float s = 0;
        for (int d = 0; d < dsub; d++) {
            float v = centroids[c * dsub + d];
            transposed[d * TRAIL_PQ_CENTROIDS + c] = v;
            s += v * v;
        }
        norms[c] = s;
    }
}

int trail_pq_train_subspace(const float *samples, long n, int dims, int offset, int dsub, int iterations,
                            uint64_t seed, float *centroids) {
    if (n < TRAIL_PQ_CENTROIDS || dsub <= 0 || offset < 0 || offset + dsub > dims) return -1;
    float *sub = malloc(sizeof(float) * (size_t)n * (size_t)dsub);
    float *sums = malloc(sizeof(float) * TRAIL_PQ_CENTROIDS * (size_t)dsub);
    long *counts = malloc(sizeof(long) * TRAIL_PQ_CENTROIDS);
    if (!sub || !sums || !counts) {
        free(sub); free(sums); free(counts);
        return -1;
    }
    for (long i = 0; i < n; i++) memcpy(sub + i * dsub, samples + i * dims + offset, sizeof(float) * (size_t)dsub);

    // Start from distinct samples: a partial Fisher-Yates shuffle of the indices, seeded.
    uint64_t state = seed;
    for (int c = 0; c < TRAIL_PQ_CENTROIDS; c++) {
        long pick = c + (long)(splitmix64(&state) % (uint64_t)(n - c));
        // Swap rows c and pick of `sub` so that picks stay distinct.
        for (int d = 0; d < dsub; d++) {
            float t = sub[c * dsub + d];
            sub[c * dsub + d] = sub[pick * dsub + d];
            sub[pick * dsub + d] = t;
        }
        memcpy(centroids + c * dsub, sub + c * dsub, sizeof(float) * (size_t)dsub);
    }

    float norms[TRAIL_PQ_CENTROIDS];
    float *transposed = malloc(sizeof(float) * TRAIL_PQ_CENTROIDS * (size_t)dsub);
    uint8_t *nearest = malloc((size_t)n);
    if (!transposed || !nearest) {
        free(sub); free(sums); free(counts); free(transposed); free(nearest);
        return -1;
    }
    for (int it = 0; it < iterations; it++) {
        prepare(centroids, dsub, transposed, norms);
        assign(sub, n, dsub, transposed, norms, dsub, nearest, 1);
        memset(sums, 0, sizeof(float) * TRAIL_PQ_CENTROIDS * (size_t)dsub);
        memset(counts, 0, sizeof(long) * TRAIL_PQ_CENTROIDS);
        for (long i = 0; i < n; i++) {
            int c = nearest[i];
            counts[c]++;
            for (int d = 0; d < dsub; d++) sums[c * dsub + d] += sub[i * dsub + d];
        }
        for (int c = 0; c < TRAIL_PQ_CENTROIDS; c++) {
            if (counts[c] > 0) {
                for (int d = 0; d < dsub; d++) centroids[c * dsub + d] = sums[c * dsub + d] / (float)counts[c];
            } else {
                // An empty cluster restarts at a sample drawn at random.
                long pick = (long)(splitmix64(&state) % (uint64_t)n);
                memcpy(centroids + c * dsub, sub + pick * dsub, sizeof(float) * (size_t)dsub);
            }
        }
    }
    free(transposed); free(nearest);
    free(sub); free(sums); free(counts);
    return 0;
}

void trail_pq_encode(const float *centroids, int m, int dsub, const float *vectors, long n, uint8_t *codes) {
    float *transposed = malloc(sizeof(float) * TRAIL_PQ_CENTROIDS * (size_t)dsub);
    float norms[TRAIL_PQ_CENTROIDS];
    if (!transposed) abort();
    for (int j = 0; j < m; j++) {
        prepare(centroids + (size_t)j * TRAIL_PQ_CENTROIDS * dsub, dsub, transposed, norms);
        assign(vectors + j * dsub, n, (long)m * dsub, transposed, norms, dsub, codes + j, m);
    }
    free(transposed);
}

void trail_pq_table(const float *centroids, int m, int dsub, const float *query, uint8_t *table, float *scale,
                    float *bias) {
    float *exact = malloc(sizeof(float) * TRAIL_PQ_CENTROIDS * (size_t)m);
    if (!exact) abort();
    float widest = 0, floor_sum = 0;
    for (int j = 0; j < m; j++) {
        const float *c = centroids + (size_t)j * TRAIL_PQ_CENTROIDS * dsub;
        const float *q = query + j * dsub;
        float lo = FLT_MAX, hi = -FLT_MAX;
        for (int k = 0; k < TRAIL_PQ_CENTROIDS; k++) {
            float s = 0;
            for (int d = 0; d < dsub; d++) s += q[d] * c[k * dsub + d];
            exact[j * TRAIL_PQ_CENTROIDS + k] = s;
            if (s < lo) lo = s;
            if (s > hi) hi = s;
        }
        if (hi - lo > widest) widest = hi - lo;
        floor_sum += lo;
        for (int k = 0; k < TRAIL_PQ_CENTROIDS; k++) exact[j * TRAIL_PQ_CENTROIDS + k] -= lo;
    }
    float step = widest > 0 ? widest / 255 : 1;
    for (long i = 0; i < (long)m * TRAIL_PQ_CENTROIDS; i++) {
        float level = exact[i] / step + 0.5f;
        table[i] = (uint8_t)(level >= 255 ? 255 : (level <= 0 ? 0 : (int)level));
    }
    *scale = step;
    *bias = floor_sum;
    free(exact);
}

void trail_pq_scan_portable(const uint8_t *table, int m, const uint8_t *codes, long blocks, uint16_t *sums) {
    for (long b = 0; b < blocks; b++) {
        uint16_t acc[TRAIL_PQ_BLOCK] = {0};
        const uint8_t *block = codes + b * (long)m * TRAIL_PQ_BLOCK;
        for (int j = 0; j < m; j++) {
            const uint8_t *t = table + j * TRAIL_PQ_CENTROIDS;
            const uint8_t *c = block + j * TRAIL_PQ_BLOCK;
            for (int l = 0; l < TRAIL_PQ_BLOCK; l++) acc[l] = (uint16_t)(acc[l] + t[c[l]]);
        }
        memcpy(sums + b * TRAIL_PQ_BLOCK, acc, sizeof(acc));
    }
}

#define VBMI __attribute__((target("avx512f,avx512bw,avx512vbmi")))

// 64 codes a step: two two-register byte permutes look each code up in its
// subspace's 256-entry table (the low and the high 128 entries), the code's
// top bit picks one, and the bytes are widened into two rows of 32 sums.
VBMI static void scan_vbmi(const uint8_t *table, int m, const uint8_t *codes, long blocks, uint16_t *sums) {
    for (long b = 0; b < blocks; b++) {
        __m512i low_sums = _mm512_setzero_si512(), high_sums = _mm512_setzero_si512();
        const uint8_t *block = codes + b * (long)m * TRAIL_PQ_BLOCK;
        for (int j = 0; j < m; j++) {
            const uint8_t *t = table + j * TRAIL_PQ_CENTROIDS;
            __m512i index = _mm512_loadu_si512(block + j * TRAIL_PQ_BLOCK);
            __m512i low = _mm512_permutex2var_epi8(_mm512_loadu_si512(t), index, _mm512_loadu_si512(t + 64));
            __m512i high = _mm512_permutex2var_epi8(_mm512_loadu_si512(t + 128), index, _mm512_loadu_si512(t + 192));
            __m512i picked = _mm512_mask_blend_epi8(_mm512_movepi8_mask(index), low, high);
            low_sums = _mm512_add_epi16(low_sums, _mm512_cvtepu8_epi16(_mm512_castsi512_si256(picked)));
            high_sums = _mm512_add_epi16(high_sums, _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(picked, 1)));
        }
        _mm512_storeu_si512(sums + b * TRAIL_PQ_BLOCK, low_sums);
        _mm512_storeu_si512(sums + b * TRAIL_PQ_BLOCK + 32, high_sums);
    }
}

static int has_vbmi = -1;

int trail_pq_scan_uses_vbmi(void) {
    if (has_vbmi < 0) {
        __builtin_cpu_init();
        has_vbmi = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vbmi");
    }
    return has_vbmi;
}

void trail_pq_scan(const uint8_t *table, int m, const uint8_t *codes, long blocks, uint16_t *sums) {
    if (trail_pq_scan_uses_vbmi())
        scan_vbmi(table, m, codes, blocks, sums);
    else
        trail_pq_scan_portable(table, m, codes, blocks, sums);
}
