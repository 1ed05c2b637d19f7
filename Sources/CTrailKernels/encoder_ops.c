#include "kernel_level.h"
#include "trail_kernels.h"

#include <math.h>
#include <string.h>

/// The exact GELU by erff: the plain C path, and the vector paths' tails.
static void gelu_plain(float *x, long count) {
    for (long i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1 + erff(x[i] * 0.70710678118654752f));
}

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f,avx512dq")))

/// e^x for 16 floats: 2^(x·log2 e) as 2^n · 2^f, f in [-0.5, 0.5], 2^f by a degree-6
/// polynomial (relative error about 2e-7); x below -87 gives 0.
AVX512 static inline __m512 exp16(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
    __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
    __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_mul_ps(_mm512_sub_ps(t, n), _mm512_set1_ps(0.693147180559945309f));
    // e^f, f in [-0.35, 0.35]: Taylor to the 7th power.
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

AVX512 static void gelu_avx512(float *x, long count) {
    const __m512 half = _mm512_set1_ps(0.5f), one = _mm512_set1_ps(1.0f), root = _mm512_set1_ps(0.70710678118654752f);
    const __m512 p = _mm512_set1_ps(0.3275911f);
    const __m512 a1 = _mm512_set1_ps(0.254829592f), a2 = _mm512_set1_ps(-0.284496736f), a3 = _mm512_set1_ps(1.421413741f),
                 a4 = _mm512_set1_ps(-1.453152027f), a5 = _mm512_set1_ps(1.061405429f);
    long i = 0;
    for (; i + 16 <= count; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 z = _mm512_mul_ps(v, root);
        __m512 a = _mm512_abs_ps(z);
        __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(p, a, one));
        __m512 poly = _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_fmadd_ps(a5, t, a4), t, a3), t, a2), t, a1);
        poly = _mm512_mul_ps(poly, t);
        __m512 e = _mm512_sub_ps(one, _mm512_mul_ps(poly, exp16(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), a), a))));
        // erf is odd: the sign of z.
        __m512 erf = _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(e),
                        _mm512_and_si512(_mm512_castps_si512(z), _mm512_set1_epi32((int)0x80000000))));
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, erf)));
    }
    gelu_plain(x + i, count - i);
}

/// Each row of `x` becomes exp(x − max) / Σ exp(x − max).
AVX512 static inline __mmask16 lanes(int left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

/// The tail of a row in masked lanes, not scalar `expf`s (a row of 27 scores
/// would spend most of its time on its last 11).
AVX512 static void softmax_avx512(float *x, int width) {
    __m512 top = _mm512_set1_ps(-INFINITY);
    for (int i = 0; i < width; i += 16) {
        __mmask16 m = lanes(width - i);
        top = _mm512_mask_max_ps(top, m, top, _mm512_maskz_loadu_ps(m, x + i));
    }
    __m512 mv = _mm512_set1_ps(_mm512_reduce_max_ps(top));
    __m512 sum = _mm512_setzero_ps();
    for (int i = 0; i < width; i += 16) {
        __mmask16 m = lanes(width - i);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), mv));
        _mm512_mask_storeu_ps(x + i, m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    __m512 inverse = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(sum));
    for (int i = 0; i < width; i += 16) {
        __mmask16 m = lanes(width - i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inverse));
    }
}

#define AVX2 __attribute__((target("avx2,fma")))

/// `exp16` in 8 lanes: 2^n built in the exponent bits (n in [-126, 127] for x in [-87, 88]).
AVX2 static inline __m256 exp8(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f));
    __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_mul_ps(_mm256_sub_ps(t, n), _mm256_set1_ps(0.693147180559945309f));
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.0f));
    __m256i power = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(power));
}

/// `gelu_avx512` in 8 lanes.
AVX2 static void gelu_avx2(float *x, long count) {
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f), root = _mm256_set1_ps(0.70710678118654752f);
    const __m256 p = _mm256_set1_ps(0.3275911f), sign = _mm256_set1_ps(-0.0f);
    const __m256 a1 = _mm256_set1_ps(0.254829592f), a2 = _mm256_set1_ps(-0.284496736f), a3 = _mm256_set1_ps(1.421413741f),
                 a4 = _mm256_set1_ps(-1.453152027f), a5 = _mm256_set1_ps(1.061405429f);
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 z = _mm256_mul_ps(v, root);
        __m256 a = _mm256_andnot_ps(sign, z);
        __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(p, a, one));
        __m256 poly = _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_fmadd_ps(a5, t, a4), t, a3), t, a2), t, a1);
        poly = _mm256_mul_ps(poly, t);
        __m256 e = _mm256_sub_ps(one, _mm256_mul_ps(poly, exp8(_mm256_mul_ps(_mm256_sub_ps(_mm256_setzero_ps(), a), a))));
        __m256 erf = _mm256_or_ps(e, _mm256_and_ps(z, sign));
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf)));
    }
    gelu_plain(x + i, count - i);
}

AVX2 static inline float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// `layer_norm_avx512` in 8 lanes (width a multiple of 8).
AVX2 static void layer_norm_avx2(float *x, const float *residual, long tokens, int width, const float *gamma,
                                 const float *beta, float epsilon) {
    for (long t = 0; t < tokens; t++) {
        float *row = x + t * width;
        __m256 sum = _mm256_setzero_ps();
        for (int i = 0; i < width; i += 8) {
            __m256 v = _mm256_loadu_ps(row + i);
            if (residual) {
                v = _mm256_add_ps(v, _mm256_loadu_ps(residual + t * width + i));
                _mm256_storeu_ps(row + i, v);
            }
            sum = _mm256_add_ps(sum, v);
        }
        __m256 mean = _mm256_set1_ps(sum8(sum) / (float)width);
        __m256 squares = _mm256_setzero_ps();
        for (int i = 0; i < width; i += 8) {
            __m256 d = _mm256_sub_ps(_mm256_loadu_ps(row + i), mean);
            squares = _mm256_fmadd_ps(d, d, squares);
        }
        __m256 scale = _mm256_set1_ps(1.0f / sqrtf(sum8(squares) / (float)width + epsilon));
        for (int i = 0; i < width; i += 8) {
            __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(row + i), mean), scale);
            _mm256_storeu_ps(row + i, _mm256_fmadd_ps(v, _mm256_loadu_ps(gamma + i), _mm256_loadu_ps(beta + i)));
        }
    }
}

/// The first `left` of 8 lanes (all 8 when left >= 8), as maskload wants them.
AVX2 static inline __m256i lanes8(int left) {
    __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(left < 8 ? left : 8), index);
}

AVX2 static inline float max8(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/// `softmax_avx512` in 8 lanes, the tail masked.
AVX2 static void softmax_avx2(float *x, int width) {
    __m256 top = _mm256_set1_ps(-INFINITY);
    for (int i = 0; i < width; i += 8) {
        __m256i m = lanes8(width - i);
        top = _mm256_max_ps(top, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_maskload_ps(x + i, m), _mm256_castsi256_ps(m)));
    }
    __m256 mv = _mm256_set1_ps(max8(top));
    __m256 sum = _mm256_setzero_ps();
    for (int i = 0; i < width; i += 8) {
        __m256i m = lanes8(width - i);
        __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), mv)), _mm256_castsi256_ps(m));
        _mm256_maskstore_ps(x + i, m, e);
        sum = _mm256_add_ps(sum, e);
    }
    __m256 inverse = _mm256_set1_ps(1.0f / sum8(sum));
    for (int i = 0; i < width; i += 8) {
        __m256i m = lanes8(width - i);
        _mm256_maskstore_ps(x + i, m, _mm256_mul_ps(_mm256_maskload_ps(x + i, m), inverse));
    }
}

/// `context_avx512` in blocks of 8 columns (at most 4 blocks).
AVX2 __attribute__((always_inline)) static inline void context_avx2(const float *row, const float *values, long stride,
                                                                     int length, int blocks, float *out) {
    __m256 even[4], odd[4];
    for (int c = 0; c < blocks; c++) even[c] = odd[c] = _mm256_setzero_ps();
    int j = 0;
    for (; j + 2 <= length; j += 2) {
        __m256 p0 = _mm256_set1_ps(row[j]), p1 = _mm256_set1_ps(row[j + 1]);
        const float *v0 = values + j * stride, *v1 = v0 + stride;
        for (int c = 0; c < blocks; c++) {
            even[c] = _mm256_fmadd_ps(p0, _mm256_loadu_ps(v0 + 8 * c), even[c]);
            odd[c] = _mm256_fmadd_ps(p1, _mm256_loadu_ps(v1 + 8 * c), odd[c]);
        }
    }
    if (j < length) {
        __m256 p0 = _mm256_set1_ps(row[j]);
        for (int c = 0; c < blocks; c++) even[c] = _mm256_fmadd_ps(p0, _mm256_loadu_ps(values + j * stride + 8 * c), even[c]);
    }
    for (int c = 0; c < blocks; c++) _mm256_storeu_ps(out + 8 * c, _mm256_add_ps(even[c], odd[c]));
}

/// `attend_avx512` in 8 lanes: four queries against 8 keys at a time, then
/// per query its softmax and its context. d a multiple of 8, at most 64.
AVX2 static void attend_avx2(const float *q, const float *keys, const float *values, long stride, int length, int d,
                             float scale, float *scores, float *out, int width) {
    __m256 s = _mm256_set1_ps(scale);
    for (int i = 0; i < length; i += 4) {
        int n = length - i < 4 ? length - i : 4;
        const float *q0 = q + i * stride;
        const float *q1 = q0 + (n > 1 ? stride : 0), *q2 = q0 + (n > 2 ? 2 * stride : 0), *q3 = q0 + (n > 3 ? 3 * stride : 0);
        for (int j = 0; j < length; j += 8) {
            __m256i m = lanes8(length - j);
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
            for (int c = 0; c < d; c++) {
                __m256 k = _mm256_maskload_ps(keys + (long)c * length + j, m);
                a0 = _mm256_fmadd_ps(_mm256_set1_ps(q0[c]), k, a0);
                a1 = _mm256_fmadd_ps(_mm256_set1_ps(q1[c]), k, a1);
                a2 = _mm256_fmadd_ps(_mm256_set1_ps(q2[c]), k, a2);
                a3 = _mm256_fmadd_ps(_mm256_set1_ps(q3[c]), k, a3);
            }
            float *r = scores + (long)i * length + j;
            _mm256_maskstore_ps(r, m, _mm256_mul_ps(a0, s));
            if (n > 1) _mm256_maskstore_ps(r + length, m, _mm256_mul_ps(a1, s));
            if (n > 2) _mm256_maskstore_ps(r + 2L * length, m, _mm256_mul_ps(a2, s));
            if (n > 3) _mm256_maskstore_ps(r + 3L * length, m, _mm256_mul_ps(a3, s));
        }
    }
    for (int i = 0; i < length; i++) {
        float *row = scores + (long)i * length, *o = out + (long)i * width;
        softmax_avx2(row, length);
        // At most 4 blocks a pass (8 sums in registers); d of 40 to 64 takes two.
        for (int c = 0; c < d; c += 32) {
            switch ((d - c) / 8) {
            case 1: context_avx2(row, values + c, stride, length, 1, o + c); break;
            case 2: context_avx2(row, values + c, stride, length, 2, o + c); break;
            case 3: context_avx2(row, values + c, stride, length, 3, o + c); break;
            default: context_avx2(row, values + c, stride, length, 4, o + c); break;
            }
        }
    }
}
#endif

static void softmax_portable(float *x, int width) {
    float m = x[0];
    for (int i = 1; i < width; i++) m = x[i] > m ? x[i] : m;
    float s = 0;
    for (int i = 0; i < width; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    float inverse = 1.0f / s;
    for (int i = 0; i < width; i++) x[i] *= inverse;
}

void trail_gelu(float *x, long count) {
#if defined(__x86_64__)
    int level = trail_kernels_level(TRAIL_KERNELS_FLOAT);
    if (level == TRAIL_KERNELS_AVX512) { gelu_avx512(x, count); return; }
    if (level == TRAIL_KERNELS_AVX2) { gelu_avx2(x, count); return; }
#endif
    gelu_plain(x, count);
}

static void layer_norm_portable(float *x, const float *residual, long tokens, int width, const float *gamma,
                               const float *beta, float epsilon) {
    for (long t = 0; t < tokens; t++) {
        float *row = x + t * width;
        if (residual)
            for (int i = 0; i < width; i++) row[i] += residual[t * width + i];
        float mean = 0, variance = 0;
        for (int i = 0; i < width; i++) mean += row[i];
        mean /= (float)width;
        for (int i = 0; i < width; i++) variance += (row[i] - mean) * (row[i] - mean);
        float scale = 1.0f / sqrtf(variance / (float)width + epsilon);
        for (int i = 0; i < width; i++) row[i] = (row[i] - mean) * scale * gamma[i] + beta[i];
    }
}

#if defined(__x86_64__)
AVX512 static void layer_norm_avx512(float *x, const float *residual, long tokens, int width, const float *gamma,
                                     const float *beta, float epsilon) {
    for (long t = 0; t < tokens; t++) {
        float *row = x + t * width;
        __m512 sum = _mm512_setzero_ps();
        for (int i = 0; i < width; i += 16) {
            __m512 v = _mm512_loadu_ps(row + i);
            if (residual) {
                v = _mm512_add_ps(v, _mm512_loadu_ps(residual + t * width + i));
                _mm512_storeu_ps(row + i, v);
            }
            sum = _mm512_add_ps(sum, v);
        }
        __m512 mean = _mm512_set1_ps(_mm512_reduce_add_ps(sum) / (float)width);
        __m512 squares = _mm512_setzero_ps();
        for (int i = 0; i < width; i += 16) {
            __m512 d = _mm512_sub_ps(_mm512_loadu_ps(row + i), mean);
            squares = _mm512_fmadd_ps(d, d, squares);
        }
        __m512 scale = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(squares) / (float)width + epsilon));
        for (int i = 0; i < width; i += 16) {
            __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(row + i), mean), scale);
            _mm512_storeu_ps(row + i, _mm512_fmadd_ps(v, _mm512_loadu_ps(gamma + i), _mm512_loadu_ps(beta + i)));
        }
    }
}
#endif

void trail_layer_norm(float *x, const float *residual, long tokens, int width, const float *gamma, const float *beta,
                      float epsilon) {
#if defined(__x86_64__)
    int level = trail_kernels_level(TRAIL_KERNELS_FLOAT);
    if (level == TRAIL_KERNELS_AVX512 && width % 16 == 0) {
        layer_norm_avx512(x, residual, tokens, width, gamma, beta, epsilon);
        return;
    }
    if (level >= TRAIL_KERNELS_AVX2 && width % 8 == 0) {
        layer_norm_avx2(x, residual, tokens, width, gamma, beta, epsilon);
        return;
    }
#endif
    layer_norm_portable(x, residual, tokens, width, gamma, beta, epsilon);
}

/// K_h transposed, [d, length]: a query's scores are then sums over rows of it.
static void transpose_keys(const float *rows, long stride, int width, int h, int d, int length, float *keys) {
    for (int j = 0; j < length; j++)
        for (int c = 0; c < d; c++) keys[(long)c * length + j] = rows[j * stride + width + h * d + c];
}

/// One head of one sequence: `q` the head's first query and `values` its
/// first value (rows `stride` apart), `keys` K_h transposed ([d, length]);
/// the scores into `scores` ([length, length]), their softmax, and each
/// query's context into `out` (rows `width` apart).
typedef void (*attend_head)(const float *q, const float *keys, const float *values, long stride, int length, int d,
                            float scale, float *scores, float *out, int width);

/// The loops every attention shares (sequences, heads, the keys' transpose),
/// with each head's products by `attend`.
static void attention_heads(const float *qkv, const int *lengths, int sequences, int width, int heads,
                            float *work, float *context, attend_head attend) {
    int d = width / heads;
    long stride = 3L * width;
    float scale = 1.0f / sqrtf((float)d);
    long start = 0;
    for (int s = 0; s < sequences; s++) {
        int length = lengths[s];
        const float *rows = qkv + start * stride;
        float *scores = work;                       // [length, length]
        float *keys = work + (long)length * length; // K_hᵀ: [d, length]
        for (int h = 0; h < heads; h++) {
            transpose_keys(rows, stride, width, h, d, length, keys);
            attend(rows + h * d, keys, rows + 2 * width + h * d, stride, length, d, scale, scores,
                   context + start * width + h * d, width);
        }
        start += length;
    }
}

static void attend_portable(const float *q, const float *keys, const float *values, long stride, int length, int d,
                            float scale, float *scores, float *out, int width) {
    for (int i = 0; i < length; i++) {
        const float *qi = q + i * stride;
        float *row = scores + (long)i * length, *o = out + (long)i * width;
        for (int j = 0; j < length; j++) row[j] = 0;
        for (int c = 0; c < d; c++) {
            const float *kc = keys + (long)c * length;
            for (int j = 0; j < length; j++) row[j] += qi[c] * kc[j];
        }
        for (int j = 0; j < length; j++) row[j] *= scale;
        softmax_portable(row, length);
        for (int c = 0; c < d; c++) o[c] = 0;
        for (int j = 0; j < length; j++) {
            const float *v = values + j * stride;
            for (int c = 0; c < d; c++) o[c] += row[j] * v[c];
        }
    }
}

/// `trail_attention` in plain C.
static void attention_portable(const float *qkv, const int *lengths, int sequences, int width, int heads,
                               float *work, float *context) {
    attention_heads(qkv, lengths, sequences, width, heads, work, context, attend_portable);
}

#if defined(__x86_64__)
/// out = Σⱼ row[j] · values[j], `blocks` of 16 columns: inlined with
/// `blocks` a constant, so the sums stay in registers (with it read at run
/// time they went to the stack, and every add waited on a store). Even and
/// odd keys sum apart, two chains of half the length.
AVX512 __attribute__((always_inline)) static inline void context_avx512(const float *row, const float *values, long stride,
                                                                          int length, int blocks, float *out) {
    __m512 even[4], odd[4];
    for (int c = 0; c < blocks; c++) even[c] = odd[c] = _mm512_setzero_ps();
    int j = 0;
    for (; j + 2 <= length; j += 2) {
        __m512 p0 = _mm512_set1_ps(row[j]), p1 = _mm512_set1_ps(row[j + 1]);
        const float *v0 = values + j * stride, *v1 = v0 + stride;
        for (int c = 0; c < blocks; c++) {
            even[c] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0 + 16 * c), even[c]);
            odd[c] = _mm512_fmadd_ps(p1, _mm512_loadu_ps(v1 + 16 * c), odd[c]);
        }
    }
    if (j < length) {
        __m512 p0 = _mm512_set1_ps(row[j]);
        for (int c = 0; c < blocks; c++) even[c] = _mm512_fmadd_ps(p0, _mm512_loadu_ps(values + j * stride + 16 * c), even[c]);
    }
    for (int c = 0; c < blocks; c++) _mm512_storeu_ps(out + 16 * c, _mm512_add_ps(even[c], odd[c]));
}

/// A head's two products written for AVX-512, the sums held in registers:
/// four queries against 16 keys at a time (each key load serving four
/// independent sums: one query's chain of d dependent adds took most of
/// attention's time), then per query its softmax and its context
/// (`context_avx512`). d a multiple of 16, at most 64.
AVX512 static void attend_avx512(const float *q, const float *keys, const float *values, long stride, int length, int d,
                                 float scale, float *scores, float *out, int width) {
    __m512 s = _mm512_set1_ps(scale);
    for (int i = 0; i < length; i += 4) {
        // A last block of fewer than four queries repeats its last one (computed, not stored).
        int n = length - i < 4 ? length - i : 4;
        const float *q0 = q + i * stride;
        const float *q1 = q0 + (n > 1 ? stride : 0), *q2 = q0 + (n > 2 ? 2 * stride : 0), *q3 = q0 + (n > 3 ? 3 * stride : 0);
        for (int j = 0; j < length; j += 16) {
            __mmask16 m = lanes(length - j);
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
            for (int c = 0; c < d; c++) {
                __m512 k = _mm512_maskz_loadu_ps(m, keys + (long)c * length + j);
                a0 = _mm512_fmadd_ps(_mm512_set1_ps(q0[c]), k, a0);
                a1 = _mm512_fmadd_ps(_mm512_set1_ps(q1[c]), k, a1);
                a2 = _mm512_fmadd_ps(_mm512_set1_ps(q2[c]), k, a2);
                a3 = _mm512_fmadd_ps(_mm512_set1_ps(q3[c]), k, a3);
            }
            float *r = scores + (long)i * length + j;
            _mm512_mask_storeu_ps(r, m, _mm512_mul_ps(a0, s));
            if (n > 1) _mm512_mask_storeu_ps(r + length, m, _mm512_mul_ps(a1, s));
            if (n > 2) _mm512_mask_storeu_ps(r + 2L * length, m, _mm512_mul_ps(a2, s));
            if (n > 3) _mm512_mask_storeu_ps(r + 3L * length, m, _mm512_mul_ps(a3, s));
        }
    }
    for (int i = 0; i < length; i++) {
        float *row = scores + (long)i * length, *o = out + (long)i * width;
        softmax_avx512(row, length);
        switch (d / 16) {
        case 1: context_avx512(row, values, stride, length, 1, o); break;
        case 2: context_avx512(row, values, stride, length, 2, o); break;
        case 3: context_avx512(row, values, stride, length, 3, o); break;
        default: context_avx512(row, values, stride, length, 4, o); break;
        }
    }
}
#endif

void trail_attention(const float *qkv, const int *lengths, int sequences, int width, int heads,
                     float *work, float *context) {
#if defined(__x86_64__)
    int d = width / heads, level = trail_kernels_level(TRAIL_KERNELS_FLOAT);
    if (level == TRAIL_KERNELS_AVX512 && d % 16 == 0 && d <= 64) {
        attention_heads(qkv, lengths, sequences, width, heads, work, context, attend_avx512);
        return;
    }
    if (level >= TRAIL_KERNELS_AVX2 && d % 8 == 0 && d <= 64) {
        attention_heads(qkv, lengths, sequences, width, heads, work, context, attend_avx2);
        return;
    }
#endif
    attention_portable(qkv, lengths, sequences, width, heads, work, context);
}
