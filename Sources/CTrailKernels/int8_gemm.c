#include "trail_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// Whether the CPU has AVX-512 VNNI: asked once, when the program loads
/// (before any thread can call in).
static int has_vnni = 0;
/// Whether it has AVX2 (most x86-64 servers without VNNI: AMD before Zen 4).
static int has_avx2 = 0;

__attribute__((constructor)) static void ask_cpu_for_vnni(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    has_vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vnni");
    has_avx2 = __builtin_cpu_supports("avx2");
#endif
    // To measure the portable loop on a CPU that has more (the benchmark's comparison).
    const char *portable = getenv("TRAIL_INT8_PORTABLE");
    if (portable && *portable && strcmp(portable, "0") != 0) has_vnni = has_avx2 = 0;
}

void trail_i8_pack(const float *w, int n, int k, int8_t *packed, float *scale, int32_t *sums) {
    for (int o = 0; o < n; o++) {
        const float *row = w + (long)o * k;
        float top = 0;
        for (int i = 0; i < k; i++) top = fmaxf(top, fabsf(row[i]));
        float s = top > 0 ? top / 127.0f : 1.0f;
        scale[o] = s;
        int32_t sum = 0;
        int block = o / 16, lane = o % 16;
        for (int i = 0; i < k; i++) {
            long v = lrintf(row[i] / s);
            if (v > 127) v = 127;
            if (v < -127) v = -127;
            sum += (int32_t)v;
            // [n / 16][k / 4][16 lanes][4 inputs]
            packed[(((long)block * (k / 4) + i / 4) * 16 + lane) * 4 + i % 4] = (int8_t)v;
        }
        sums[o] = sum;
    }
}

/// A row's scale and zero point from its range (lo <= 0 <= hi): 255 steps
/// across it, 0 on one of them. Returns 1 / scale.
static inline float range_step(float lo, float hi, float *scale, int32_t *zero, int *z) {
    float s = hi > lo ? (hi - lo) / 255.0f : 1.0f;
    float inverse = 1.0f / s;
    int v = (int)lrintf(-lo * inverse);
    *z = v < 0 ? 0 : v > 255 ? 255 : v;
    *scale = s;
    *zero = *z;
    return inverse;
}

void trail_u8_quantize_portable(const float *x, int t, int k, uint8_t *q, float *scale, int32_t *zero) {
    for (int r = 0; r < t; r++) {
        const float *row = x + (long)r * k;
        uint8_t *out = q + (long)r * k;
        // The row's range, with 0 in it (so that 0 is exact).
        float lo = 0, hi = 0;
        for (int i = 0; i < k; i++) {
            lo = row[i] < lo ? row[i] : lo;
            hi = row[i] > hi ? row[i] : hi;
        }
        int z;
        float inverse = range_step(lo, hi, &scale[r], &zero[r], &z);
        for (int i = 0; i < k; i++) {
            int v = (int)lrintf(row[i] * inverse) + z;
            out[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    }
}

void trail_i8_gemm_portable(const uint8_t *q, const float *qscale, const int32_t *qzero, int t, int k,
                          const int8_t *packed, const float *wscale, const int32_t *wsum, const float *bias, int n,
                          float *y) {
    int groups = k / 4;
    for (int r = 0; r < t; r++) {
        const uint8_t *x = q + (long)r * k;
        for (int o = 0; o < n; o++) {
            const int8_t *w = packed + (long)(o / 16) * groups * 64 + (o % 16) * 4;
            int32_t acc = 0;
            for (int g = 0; g < groups; g++) {
                const int8_t *wg = w + (long)g * 64;
                const uint8_t *xg = x + g * 4;
                acc += (int32_t)xg[0] * wg[0] + (int32_t)xg[1] * wg[1] + (int32_t)xg[2] * wg[2] + (int32_t)xg[3] * wg[3];
            }
            y[(long)r * n + o] = (float)(acc - qzero[r] * wsum[o]) * (qscale[r] * wscale[o]) + bias[o];
        }
    }
}

#if defined(__x86_64__)
#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

/// One block: `TB` input rows by `NB` blocks of 16 outputs, over all of k.
#define BLOCK(TB, NB)                                                                                   \
    VNNI static inline void block_##TB##_##NB(const uint8_t *q, const float *qscale, const int32_t *qzero, int k, \
        const int8_t *packed, const float *wscale, const int32_t *wsum, const float *bias, int n,        \
        int r0, int b0, float *y) {                                                                      \
        int groups = k / 4;                                                                              \
        __m512i acc[TB][NB];                                                                             \
        for (int i = 0; i < TB; i++)                                                                     \
            for (int j = 0; j < NB; j++) acc[i][j] = _mm512_setzero_si512();                             \
        const int8_t *w = packed + (long)b0 * groups * 64;                                               \
        for (int g = 0; g < groups; g++) {                                                               \
            __m512i wv[NB];                                                                              \
            for (int j = 0; j < NB; j++) wv[j] = _mm512_loadu_si512(w + ((long)j * groups + g) * 64);    \
            for (int i = 0; i < TB; i++) {                                                               \
                int32_t four;                                                                            \
                memcpy(&four, q + (long)(r0 + i) * k + g * 4, 4);                                        \
                __m512i xv = _mm512_set1_epi32(four);                                                    \
                for (int j = 0; j < NB; j++) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], xv, wv[j]);      \
            }                                                                                            \
        }                                                                                                \
        for (int j = 0; j < NB; j++) {                                                                   \
            int o = (b0 + j) * 16;                                                                       \
            __m512i sums = _mm512_loadu_si512(wsum + o);                                                 \
            __m512 ws = _mm512_loadu_ps(wscale + o);                                                     \
            __m512 b = _mm512_loadu_ps(bias + o);                                                        \
            for (int i = 0; i < TB; i++) {                                                               \
                __m512i offset = _mm512_mullo_epi32(sums, _mm512_set1_epi32(qzero[r0 + i]));             \
                __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[i][j], offset));                      \
                __m512 s = _mm512_mul_ps(ws, _mm512_set1_ps(qscale[r0 + i]));                            \
                _mm512_storeu_ps(y + (long)(r0 + i) * n + o, _mm512_fmadd_ps(v, s, b));                  \
            }                                                                                            \
        }                                                                                                \
    }

/// `trail_u8_quantize_portable` with 16 values a step (k a multiple of 16; the
/// rounding is the same: to nearest, ties to even, as lrintf in the default mode).
VNNI static void quantize_vnni(const float *x, int t, int k, uint8_t *q, float *scale, int32_t *zero) {
    for (int r = 0; r < t; r++) {
        const float *row = x + (long)r * k;
        uint8_t *out = q + (long)r * k;
        __m512 lov = _mm512_setzero_ps(), hiv = _mm512_setzero_ps();
        for (int i = 0; i < k; i += 16) {
            __m512 v = _mm512_loadu_ps(row + i);
            lov = _mm512_min_ps(lov, v);
            hiv = _mm512_max_ps(hiv, v);
        }
        float lo = _mm512_reduce_min_ps(lov), hi = _mm512_reduce_max_ps(hiv);
        int z;
        float inverse = range_step(lo, hi, &scale[r], &zero[r], &z);
        __m512 inv = _mm512_set1_ps(inverse);
        __m512i zv = _mm512_set1_epi32(z), floor = _mm512_setzero_si512(), ceiling = _mm512_set1_epi32(255);
        for (int i = 0; i < k; i += 16) {
            __m512i v = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(row + i), inv)), zv);
            v = _mm512_min_epi32(_mm512_max_epi32(v, floor), ceiling);
            _mm_storeu_si128((__m128i *)(out + i), _mm512_cvtepi32_epi8(v));
        }
    }
}

BLOCK(4, 4)
BLOCK(1, 4)
BLOCK(4, 1)
BLOCK(1, 1)

VNNI static void gemm_vnni(const uint8_t *q, const float *qscale, const int32_t *qzero, int t, int k,
                           const int8_t *packed, const float *wscale, const int32_t *wsum, const float *bias, int n,
                           float *y) {
    int blocks = n / 16;
    // Outputs in the outer loop: a chunk of 64 outputs' weights (k * 64 bytes) stays in
    // cache while every input row goes past it, so each weight is read from memory once.
    int b = 0;
    for (; b + 4 <= blocks; b += 4) {
        int r = 0;
        for (; r + 4 <= t; r += 4) block_4_4(q, qscale, qzero, k, packed, wscale, wsum, bias, n, r, b, y);
        for (; r < t; r++) block_1_4(q, qscale, qzero, k, packed, wscale, wsum, bias, n, r, b, y);
    }
    for (; b < blocks; b++) {
        int r = 0;
        for (; r + 4 <= t; r += 4) block_4_1(q, qscale, qzero, k, packed, wscale, wsum, bias, n, r, b, y);
        for (; r < t; r++) block_1_1(q, qscale, qzero, k, packed, wscale, wsum, bias, n, r, b, y);
    }
}

#define AVX2 __attribute__((target("avx2")))

/// The same products with AVX2, where there is no VNNI: each input's 4 bytes
/// and a block's 16 outputs of 4 weights are widened to 16 bits and
/// multiplied in pairs (`vpmaddwd`: 255 · 127 · 2 fits, so the sums are
/// exact, as the portable loop's), two input rows a pass over a block's
/// weights. The last step is the portable loop's own expression, so the
/// outputs are the same floats.
AVX2 static void gemm_avx2(const uint8_t *q, const float *qscale, const int32_t *qzero, int t, int k,
                           const int8_t *packed, const float *wscale, const int32_t *wsum, const float *bias, int n,
                           float *y) {
    int groups = k / 4;
    for (int b = 0; b < n / 16; b++) {
        const int8_t *wb = packed + (long)b * groups * 64;
        for (int r0 = 0; r0 < t; r0 += 2) {
            int rows = t - r0 < 2 ? t - r0 : 2;
            // acc[i][j]: row r0 + i, outputs 4j to 4j + 3, each as two partial sums.
            __m256i acc[2][4];
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_si256();
            for (int g = 0; g < groups; g++) {
                const int8_t *wg = wb + (long)g * 64;
                __m256i w16[4];
                for (int j = 0; j < 4; j++) w16[j] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(wg + 16 * j)));
                for (int i = 0; i < rows; i++) {
                    int32_t four;
                    memcpy(&four, q + (long)(r0 + i) * k + g * 4, 4);
                    __m256i x16 = _mm256_cvtepu8_epi16(_mm_set1_epi32(four));
                    for (int j = 0; j < 4; j++) acc[i][j] = _mm256_add_epi32(acc[i][j], _mm256_madd_epi16(x16, w16[j]));
                }
            }
            for (int i = 0; i < rows; i++) {
                int32_t pairs[32];
                for (int j = 0; j < 4; j++) _mm256_storeu_si256((__m256i *)(pairs + 8 * j), acc[i][j]);
                int r = r0 + i;
                for (int lane = 0; lane < 16; lane++) {
                    int o = b * 16 + lane;
                    int32_t sum = pairs[2 * lane] + pairs[2 * lane + 1];
                    y[(long)r * n + o] = (float)(sum - qzero[r] * wsum[o]) * (qscale[r] * wscale[o]) + bias[o];
                }
            }
        }
    }
}
#endif

int trail_i8_gemm_uses_vnni(void) { return has_vnni; }
int trail_i8_gemm_uses_avx2(void) { return !has_vnni && has_avx2; }

void trail_u8_quantize(const float *x, int t, int k, uint8_t *q, float *scale, int32_t *zero) {
#if defined(__x86_64__)
    if (k % 16 == 0 && trail_i8_gemm_uses_vnni()) {
        quantize_vnni(x, t, k, q, scale, zero);
        return;
    }
#endif
    trail_u8_quantize_portable(x, t, k, q, scale, zero);
}

void trail_i8_gemm(const uint8_t *q, const float *qscale, const int32_t *qzero, int t, int k,
                   const int8_t *packed, const float *wscale, const int32_t *wsum, const float *bias, int n,
                   float *y) {
#if defined(__x86_64__)
    if (trail_i8_gemm_uses_vnni()) {
        gemm_vnni(q, qscale, qzero, t, k, packed, wscale, wsum, bias, n, y);
        return;
    }
    if (trail_i8_gemm_uses_avx2() && n % 16 == 0 && k % 4 == 0) {
        gemm_avx2(q, qscale, qzero, t, k, packed, wscale, wsum, bias, n, y);
        return;
    }
#endif
    trail_i8_gemm_portable(q, qscale, qzero, t, k, packed, wscale, wsum, bias, n, y);
}

void trail_i8_rows(const float *table, long rows, int width, int8_t *codes, float *scales) {
    for (long r = 0; r < rows; r++) {
        const float *row = table + r * width;
        float largest = 0;
        for (int i = 0; i < width; i++) {
            float x = isfinite(row[i]) ? fabsf(row[i]) : 0;
            if (x > largest) largest = x;
        }
        float scale = largest > 0 ? largest / 127 : 1;
        scales[r] = scale;
        for (int i = 0; i < width; i++) {
            float level = isfinite(row[i]) ? rintf(row[i] / scale) : 0;
            codes[r * width + i] = (int8_t)(level > 127 ? 127 : (level < -127 ? -127 : level));
        }
    }
}
