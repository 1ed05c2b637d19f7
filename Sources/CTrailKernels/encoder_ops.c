#include "trail_kernels.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f,avx512dq")))

/// Whether the CPU has AVX-512 (F and DQ): asked once, when the program loads.
static int avx512 = 0;

__attribute__((constructor)) static void ask_cpu_for_avx512(void) {
    __builtin_cpu_init();
    avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq");
}

static int has_avx512(void) { return avx512; }

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
    for (; i < count; i++) x[i] = 0.5f * x[i] * (1 + erff(x[i] * 0.70710678118654752f));
}

/// Each row of `x` becomes exp(x − max) / Σ exp(x − max).
AVX512 static void softmax_avx512(float *x, int width) {
    __m512 top = _mm512_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 16 <= width; i += 16) top = _mm512_max_ps(top, _mm512_loadu_ps(x + i));
    float m = _mm512_reduce_max_ps(top);
    for (; i < width; i++) m = fmaxf(m, x[i]);
    __m512 sum = _mm512_setzero_ps();
    __m512 mv = _mm512_set1_ps(m);
    for (i = 0; i + 16 <= width; i += 16) {
        __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), mv));
        _mm512_storeu_ps(x + i, e);
        sum = _mm512_add_ps(sum, e);
    }
    float s = _mm512_reduce_add_ps(sum);
    for (; i < width; i++) { x[i] = expf(x[i] - m); s += x[i]; }
    __m512 inverse = _mm512_set1_ps(1.0f / s);
    for (i = 0; i + 16 <= width; i += 16) _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inverse));
    for (; i < width; i++) x[i] *= 1.0f / s;
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
    if (has_avx512()) { gelu_avx512(x, count); return; }
#endif
    for (long i = 0; i < count; i++) x[i] = 0.5f * x[i] * (1 + erff(x[i] * 0.70710678118654752f));
}

/// K_h transposed, [d, length]: a query's scores are then sums over rows of it.
static void transpose_keys(const float *rows, long stride, int width, int h, int d, int length, float *keys) {
    for (int j = 0; j < length; j++)
        for (int c = 0; c < d; c++) keys[(long)c * length + j] = rows[j * stride + width + h * d + c];
}

/// One query of one head: its scores against the keys (`keys`, K_h
/// transposed: [d, length]), their softmax into `row`, and its context `out`
/// from the values (`values`, the head's first value, rows `stride` apart).
typedef void (*attend_query)(const float *q, const float *keys, const float *values, long stride, int length, int d,
                             float scale, float *row, float *out);

/// The loops every attention shares (sequences, heads, the keys' transpose,
/// queries), with each query's products by `attend`.
static void attention_queries(const float *qkv, const int *lengths, int sequences, int width, int heads,
                              float *work, float *context, attend_query attend) {
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
            for (int i = 0; i < length; i++)
                attend(rows + i * stride + h * d, keys, rows + 2 * width + h * d, stride, length, d, scale,
                       scores + (long)i * length, context + (start + i) * width + h * d);
        }
        start += length;
    }
}

static void attend_portable(const float *q, const float *keys, const float *values, long stride, int length, int d,
                            float scale, float *row, float *out) {
    for (int j = 0; j < length; j++) row[j] = 0;
    for (int c = 0; c < d; c++) {
        const float *kc = keys + (long)c * length;
        for (int j = 0; j < length; j++) row[j] += q[c] * kc[j];
    }
    for (int j = 0; j < length; j++) row[j] *= scale;
    softmax_portable(row, length);
    for (int c = 0; c < d; c++) out[c] = 0;
    for (int j = 0; j < length; j++) {
        const float *v = values + j * stride;
        for (int c = 0; c < d; c++) out[c] += row[j] * v[c];
    }
}

/// `trail_attention` in plain C (what a CPU without AVX-512 runs).
void trail_attention_portable(const float *qkv, const int *lengths, int sequences, int width, int heads,
                               float *work, float *context) {
    attention_queries(qkv, lengths, sequences, width, heads, work, context, attend_portable);
}

#if defined(__x86_64__)
/// A query's two products written for AVX-512, the sums held in registers:
/// the query against 16 keys at a time, and the context by 16 columns at a
/// time (d a multiple of 16, at most 64).
AVX512 static void attend_avx512(const float *q, const float *keys, const float *values, long stride, int length, int d,
                                 float scale, float *row, float *out) {
    for (int j = 0; j < length; j += 16) {
        __mmask16 m = length - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (length - j)) - 1);
        __m512 acc = _mm512_setzero_ps();
        for (int c = 0; c < d; c++)
            acc = _mm512_fmadd_ps(_mm512_set1_ps(q[c]), _mm512_maskz_loadu_ps(m, keys + (long)c * length + j), acc);
        _mm512_mask_storeu_ps(row + j, m, _mm512_mul_ps(acc, _mm512_set1_ps(scale)));
    }
    softmax_avx512(row, length);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (int j = 0; j < length; j++) {
        __m512 pj = _mm512_set1_ps(row[j]);
        const float *v = values + j * stride;
        for (int c = 0; c < d / 16; c++) acc[c] = _mm512_fmadd_ps(pj, _mm512_loadu_ps(v + 16 * c), acc[c]);
    }
    for (int c = 0; c < d / 16; c++) _mm512_storeu_ps(out + 16 * c, acc[c]);
}
#endif

void trail_attention(const float *qkv, const int *lengths, int sequences, int width, int heads,
                     float *work, float *context) {
#if defined(__x86_64__)
    int d = width / heads;
    if (has_avx512() && d % 16 == 0 && d <= 64) {
        attention_queries(qkv, lengths, sequences, width, heads, work, context, attend_avx512);
        return;
    }
#endif
    trail_attention_portable(qkv, lengths, sequences, width, heads, work, context);
}
