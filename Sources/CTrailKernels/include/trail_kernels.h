#ifndef TRAIL_KERNELS_H
#define TRAIL_KERNELS_H

#include <stdint.h>

/// The kernels below take the widest instruction set the CPU has, of three
/// levels: AVX-512 (VNNI for the int8 products, F and DQ for the rest), AVX2
/// with FMA, or plain C. The environment variable TRAIL_KERNELS=portable or
/// avx2, read when the program loads, caps the level for the whole process
/// (to measure a narrower path on a wider CPU); `trail_kernels_limit` caps it
/// for the calling thread (tests run every path the CPU has).
enum {
    TRAIL_KERNELS_PORTABLE = 0,
    TRAIL_KERNELS_AVX2 = 1,
    TRAIL_KERNELS_AVX512 = 2,
};

/// Which kernels `trail_kernels_level` is asked about.
enum {
    TRAIL_KERNELS_INT8 = 0,  ///< `trail_u8_quantize` and `trail_i8_gemm`.
    TRAIL_KERNELS_FLOAT = 1, ///< GELU, layer norm, attention.
};

/// Caps the level for the calling thread (-1: no cap of its own, the
/// process's applies); returns the cap it had.
int trail_kernels_limit(int level);

/// The level the calling thread runs `kind` on: the widest the CPU has, within the caps.
int trail_kernels_level(int kind);

/// Int8 matrix products for the sentence encoder's dense layers.
///
/// A layer's weights W [n, k] (row-major floats, as PyTorch keeps them) are
/// quantised once, per output row: w_q = round(w / s_n), s_n = max|w[n,:]| / 127,
/// and packed in blocks of 16 outputs by 4 inputs (64 bytes), the layout the
/// AVX-512 VNNI instruction `vpdpbusd` reads: each of its 16 lanes sums 4
/// products into one output. An input row x [k] is quantised per row on each
/// call, over its range with 0 in it: x_q = round(x / s_t) + z_t in 0...255,
/// s_t = (max − min) / 255 (unsigned, as `vpdpbusd` takes it; z_t is taken out
/// with the row sums of w_q). Asymmetric: a GELU's outputs, nearly all above
/// −0.17, get twice the levels a symmetric scale would give them.
/// Integer sums are exact, so every path gives the same sums: the AVX2 path and
/// the plain C one the same floats, the VNNI one within a rounding (it ends in
/// a fused multiply-add).

/// Quantises and packs w [n, k], n a multiple of 16 and k of 4 (the caller
/// keeps other layers in float): `packed` (n * k bytes), `scale` (n floats),
/// `sums` (n int32: the row sums of w_q).
void trail_i8_pack(const float *w, int n, int k, int8_t *packed, float *scale, int32_t *sums);

/// Each row of table [rows, width] as int8 codes (rows * width) and a scale
/// (rows): the row's largest magnitude over 127 (1 for a row of zeros), each
/// code round(x / scale); numbers that are not finite count as 0. The word
/// embeddings of `EncoderPrecision.int8`.
void trail_i8_rows(const float *table, long rows, int width, int8_t *codes, float *scales);

/// Quantises x [t, k] per row into `q` (t * k bytes), `scale` and `zero` (t each).
void trail_u8_quantize(const float *x, int t, int k, uint8_t *q, float *scale, int32_t *zero);

/// y [t, n] = ((x_q − z_t) · w_qᵀ) · s_t · s_n + bias, from `trail_u8_quantize`'s
/// q, scale and zero and `trail_i8_pack`'s packed, scale and sums.
void trail_i8_gemm(const uint8_t *q, const float *qscale, const int32_t *qzero, int t, int k,
                   const int8_t *packed, const float *wscale, const int32_t *wsum, const float *bias, int n,
                   float *y);

/// x = ½x(1 + erf(x/√2)), the exact GELU, over `count` values (erf to within
/// 1.5e-7 by Abramowitz and Stegun 7.1.26 with AVX-512 or AVX2, erff in plain C).
void trail_gelu(float *x, long count);

/// x[t] = γ · (x[t] + r[t] − mean) / √(var + ε) + β for each of `tokens` rows
/// of `width`: a residual `r` added (NULL: none), then the layer norm
/// (AVX-512 when `width` is a multiple of 16, AVX2 when of 8).
void trail_layer_norm(float *x, const float *residual, long tokens, int width, const float *gamma, const float *beta,
                      float epsilon);

/// Multi-head self-attention within each of `sequences` packed sequences:
/// for each head h, context_h = softmax(Q_h K_hᵀ / √d) V_h, where `qkv` holds
/// [tokens, 3·width] (queries, keys, values side by side) and `context`
/// receives [tokens, width]. `work` holds at least longest·(longest + width/heads) floats.
/// AVX-512 when width/heads is a multiple of 16 and at most 64, AVX2 when of 8.
void trail_attention(const float *qkv, const int *lengths, int sequences, int width, int heads,
                     float *work, float *context);

/// Product quantisation for the index of meaning (TrailEmbedding's
/// `ProductQuantizer`). A vector of m·dsub numbers is cut into m subspaces of
/// dsub; each subspace has TRAIL_PQ_CENTROIDS centroids (k-means over
/// samples), and a vector is stored as the index of its nearest centroid in
/// each subspace: m bytes. Codes are scanned in blocks of TRAIL_PQ_BLOCK
/// vectors laid out subspace by subspace: the code of vector l of block b in
/// subspace j is codes[(b·m + j)·TRAIL_PQ_BLOCK + l].
#define TRAIL_PQ_CENTROIDS 256
#define TRAIL_PQ_BLOCK 64

/// K-means (`iterations` rounds of Lloyd's, started from distinct samples
/// drawn with SplitMix64 from `seed`) over numbers offset ..< offset + dsub of
/// each of the n samples (n × dims, row-major): the subspace's centroids
/// [TRAIL_PQ_CENTROIDS][dsub]. An empty cluster restarts at a random sample.
/// Returns 0, or −1 when n < TRAIL_PQ_CENTROIDS or memory ran out.
int trail_pq_train_subspace(const float *samples, long n, int dims, int offset, int dsub, int iterations,
                            uint64_t seed, float *centroids);

/// The codes of n vectors (n × m·dsub, row-major) as n × m bytes, row-major:
/// per subspace the nearest centroid (squared distance; ties to the lower).
/// `centroids` is [m][TRAIL_PQ_CENTROIDS][dsub].
void trail_pq_encode(const float *centroids, int m, int dsub, const float *vectors, long n, uint8_t *codes);

/// A query's lookup table: for subspace j and centroid k, the dot product of
/// the query's numbers in j with the centroid, less the least of j's, in
/// steps of `scale` (one step for all subspaces, the widest range over 255),
/// rounded to a byte. A vector's approximate dot product with the query is
/// then scale × Σ_j table[j][code_j] + bias (bias: the sum of the least).
void trail_pq_table(const float *centroids, int m, int dsub, const float *query, uint8_t *table, float *scale,
                    float *bias);

/// Σ_j table[j][code_j] for every vector of `blocks` blocks, into `sums`
/// (blocks × TRAIL_PQ_BLOCK), exact in 16 bits for m ≤ 257. AVX-512 VBMI
/// byte permutes where the CPU has them, else the portable loop, with the
/// same sums.
void trail_pq_scan(const uint8_t *table, int m, const uint8_t *codes, long blocks, uint16_t *sums);
void trail_pq_scan_portable(const uint8_t *table, int m, const uint8_t *codes, long blocks, uint16_t *sums);

/// 1 when `trail_pq_scan` runs on AVX-512 VBMI on this CPU.
int trail_pq_scan_uses_vbmi(void);

/// glibc's allocator: at most `arenas` arenas, and blocks of `map_threshold`
/// bytes or more mapped on their own (the threshold fixed, not raised as
/// blocks are freed). Does nothing on other C libraries.
void trail_malloc_configure(int arenas, int map_threshold);

/// glibc's malloc_trim(0): the free pages of every arena go back to the system.
void trail_malloc_release(void);

#endif
