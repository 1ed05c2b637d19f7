#include "kernel_level.h"
#include "trail_kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

static void quantize_portable(const float *x, int t, int k, uint8_t *q, float *scale, int32_t *zero) {
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

static void gemm_portable(const uint8_t *q, const float *qscale, const int32_t *qzero, int t, int k,
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

/// `quantize_portable` with 16 values a step (k a multiple of 16; the
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

/// Widens `count` bytes to 16 bits: unsigned (inputs) or signed (weights, a multiple of 16).
AVX2 static void widen_u8(const uint8_t *from, long count, int16_t *to) {
    long i = 0;
    for (; i + 16 <= count; i += 16)
        _mm256_storeu_si256((__m256i *)(to + i), _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(from + i))));
    for (; i < count; i++) to[i] = from[i];
}

AVX2 static void widen_i8(const int8_t *from, long count, int16_t *to) {
    for (long i = 0; i < count; i += 16)
        _mm256_storeu_si256((__m256i *)(to + i), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(from + i))));
}

/// y for input rows r and r + 1 (`rows` of them) and one block's 16 outputs
/// from the widened inputs and weights: per group of 4 inputs, each row's 4
/// inputs broadcast (a load, no shuffle) against 4 registers of weights,
/// each holding 4 outputs' 4 weights (`vpmaddwd` sums them in pairs).
AVX2 static inline void block_avx2(const int16_t *x16, int rows, int k, const int16_t *w16, __m256i sums[2][2]) {
    int groups = k / 4;
    __m256i acc[2][4];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_si256();
    const int16_t *x1 = x16 + (rows > 1 ? k : 0);
    for (int g = 0; g < groups; g++) {
        const __m256i *wg = (const __m256i *)(w16 + (long)g * 64);
        __m256i w0 = _mm256_loadu_si256(wg), w1 = _mm256_loadu_si256(wg + 1), w2 = _mm256_loadu_si256(wg + 2),
                w3 = _mm256_loadu_si256(wg + 3);
        int64_t four0, four1;
        memcpy(&four0, x16 + g * 4, 8);
        memcpy(&four1, x1 + g * 4, 8);
        __m256i a = _mm256_set1_epi64x(four0), b = _mm256_set1_epi64x(four1);
        acc[0][0] = _mm256_add_epi32(acc[0][0], _mm256_madd_epi16(a, w0));
        acc[0][1] = _mm256_add_epi32(acc[0][1], _mm256_madd_epi16(a, w1));
        acc[0][2] = _mm256_add_epi32(acc[0][2], _mm256_madd_epi16(a, w2));
        acc[0][3] = _mm256_add_epi32(acc[0][3], _mm256_madd_epi16(a, w3));
        acc[1][0] = _mm256_add_epi32(acc[1][0], _mm256_madd_epi16(b, w0));
        acc[1][1] = _mm256_add_epi32(acc[1][1], _mm256_madd_epi16(b, w1));
        acc[1][2] = _mm256_add_epi32(acc[1][2], _mm256_madd_epi16(b, w2));
        acc[1][3] = _mm256_add_epi32(acc[1][3], _mm256_madd_epi16(b, w3));
    }
    // Each output's two partial sums are neighbours: add them (hadd pairs
    // them within 128-bit halves; the permute puts outputs back in order).
    for (int i = 0; i < 2; i++) {
        sums[i][0] = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][0], acc[i][1]), 0xD8);
        sums[i][1] = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][2], acc[i][3]), 0xD8);
    }
}

/// The same products with AVX2, where there is no VNNI: inputs and weights
/// widened to 16 bits and multiplied in pairs (`vpmaddwd`: 255 · 127 · 2
/// fits, so the sums are exact, as the portable loop's). The inputs are
/// widened once a call, each block's weights once a call (into a buffer that
/// stays in cache while every input row goes past it). The last step is the
/// portable loop's own expression, a multiply and an add (no fused one), so
/// the outputs are the same floats.
AVX2 static void gemm_avx2(const uint8_t *q, const float *qscale, const int32_t *qzero, int t, int k,
                           const int8_t *packed, const float *wscale, const int32_t *wsum, const float *bias, int n,
                           float *y) {
    int groups = k / 4;
    int16_t *x16 = malloc(((long)t * k + (long)groups * 64) * sizeof(int16_t));
    if (!x16) {
        gemm_portable(q, qscale, qzero, t, k, packed, wscale, wsum, bias, n, y);
        return;
    }
    int16_t *w16 = x16 + (long)t * k;
    widen_u8(q, (long)t * k, x16);
    for (int b = 0; b < n / 16; b++) {
        widen_i8(packed + (long)b * groups * 64, (long)groups * 64, w16);
        int o = b * 16;
        __m256i wsums[2] = {_mm256_loadu_si256((const __m256i *)(wsum + o)), _mm256_loadu_si256((const __m256i *)(wsum + o + 8))};
        __m256 ws[2] = {_mm256_loadu_ps(wscale + o), _mm256_loadu_ps(wscale + o + 8)};
        __m256 bs[2] = {_mm256_loadu_ps(bias + o), _mm256_loadu_ps(bias + o + 8)};
        for (int r0 = 0; r0 < t; r0 += 2) {
            int rows = t - r0 < 2 ? t - r0 : 2;
            __m256i sums[2][2];
            block_avx2(x16 + (long)r0 * k, rows, k, w16, sums);
            for (int i = 0; i < rows; i++) {
                int r = r0 + i;
                __m256i zero = _mm256_set1_epi32(qzero[r]);
                __m256 s = _mm256_set1_ps(qscale[r]);
                for (int h = 0; h < 2; h++) {
                    __m256 v = _mm256_cvtepi32_ps(_mm256_sub_epi32(sums[i][h], _mm256_mullo_epi32(zero, wsums[h])));
                    _mm256_storeu_ps(y + (long)r * n + o + 8 * h, _mm256_add_ps(_mm256_mul_ps(v, _mm256_mul_ps(s, ws[h])), bs[h]));
                }
            }
        }
    }
    free(x16);
}

/// `quantize_portable` with 8 values a step, 32 a store (k a
/// multiple of 32; the rounding is lrintf's: to nearest, ties to even).
AVX2 static void quantize_avx2(const float *x, int t, int k, uint8_t *q, float *scale, int32_t *zero) {
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int r = 0; r < t; r++) {
        const float *row = x + (long)r * k;
        uint8_t *out = q + (long)r * k;
        __m256 lov = _mm256_setzero_ps(), hiv = _mm256_setzero_ps();
        for (int i = 0; i < k; i += 8) {
            __m256 v = _mm256_loadu_ps(row + i);
            lov = _mm256_min_ps(lov, v);
            hiv = _mm256_max_ps(hiv, v);
        }
        float lows[8], highs[8];
        _mm256_storeu_ps(lows, lov);
        _mm256_storeu_ps(highs, hiv);
        float lo = 0, hi = 0;
        for (int i = 0; i < 8; i++) {
            lo = lows[i] < lo ? lows[i] : lo;
            hi = highs[i] > hi ? highs[i] : hi;
        }
        int z;
        float inverse = range_step(lo, hi, &scale[r], &zero[r], &z);
        __m256 inv = _mm256_set1_ps(inverse);
        __m256i zv = _mm256_set1_epi32(z), floor = _mm256_setzero_si256(), ceiling = _mm256_set1_epi32(255);
        for (int i = 0; i < k; i += 32) {
            __m256i v[4];
            for (int j = 0; j < 4; j++) {
                v[j] = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(row + i + 8 * j), inv)), zv);
                v[j] = _mm256_min_epi32(_mm256_max_epi32(v[j], floor), ceiling);
            }
            // 0...255 in 32 bits to 16 to 8; the packs work within 128-bit halves, the permute restores the order.
            __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
            _mm256_storeu_si256((__m256i *)(out + i), _mm256_permutevar8x32_epi32(bytes, order));
        }
    }
}
#endif

void trail_u8_quantize(const float *x, int t, int k, uint8_t *q, float *scale, int32_t *zero) {
#if defined(__x86_64__)
    int level = trail_kernels_level(TRAIL_KERNELS_INT8);
    if (level == TRAIL_KERNELS_AVX512 && k % 16 == 0) {
        quantize_vnni(x, t, k, q, scale, zero);
        return;
    }
    if (level >= TRAIL_KERNELS_AVX2 && k % 32 == 0) {
        quantize_avx2(x, t, k, q, scale, zero);
        return;
    }
#endif
    quantize_portable(x, t, k, q, scale, zero);
}

void trail_i8_gemm(const uint8_t *q, const float *qscale, const int32_t *qzero, int t, int k,
                   const int8_t *packed, const float *wscale, const int32_t *wsum, const float *bias, int n,
                   float *y) {
#if defined(__x86_64__)
    int level = trail_kernels_level(TRAIL_KERNELS_INT8);
    if (level == TRAIL_KERNELS_AVX512) {
        gemm_vnni(q, qscale, qzero, t, k, packed, wscale, wsum, bias, n, y);
        return;
    }
    if (level == TRAIL_KERNELS_AVX2) {
        gemm_avx2(q, qscale, qzero, t, k, packed, wscale, wsum, bias, n, y);
        return;
    }
#endif
    gemm_portable(q, qscale, qzero, t, k, packed, wscale, wsum, bias, n, y);
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
