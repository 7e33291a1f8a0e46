/*
 * tsn_dsp.h — internal Cortex-M DSP (SIMD32) path of the convolution-family kernels (not
 * public API).
 *
 * Chosen at build time: TSN_DSP is 1 when the compiler targets a core with the DSP extension
 * (__ARM_FEATURE_DSP: -mcpu=cortex-m4/m7/m33/m55 ...) unless TSN_PORTABLE is defined, and when
 * TSN_DSP_EMULATE is defined (tests: the same code path on any host, the few instructions below
 * emulated in portable C). Otherwise the kernels run their portable C loops.
 *
 * Arithmetic is the portable kernels' term for term: acc = sum w * (x + input_offset) in int32
 * over in-image positions, + bias, tsn_requantize, + output_offset, clamp. Only the order of
 * the int32 additions differs, and int32 addition wraps modulo 2^32 on both paths, so the
 * results are bit-identical. SXTAB16 adds the input offset while it widens two input bytes to
 * 16-bit lanes (x + offset lies in [-255, 255]); SXTB16 widens two weight bytes; SMLAD adds
 * both lane products to the accumulator. Bytes 0, 2 and bytes 1, 3 of a word go to separate
 * lanes (SXTB16 without and with ROR #8), identically for inputs and weights, so no repacking.
 *
 * No scratch memory: in NHWC a filter row spans kw * in_c contiguous input bytes and the OHWI
 * filter row kw * in_c contiguous weight bytes, so a convolution is a sum of contiguous
 * "segments" (no im2col). Stack: at most TSN_DSP_MAX_SEGS segments for 2 pixels
 * (2 * 16 * 12 B) plus the in-place 1x1 kernel's second output pixel (TSN_DSP_PAIR_MAX_OUT B).
 */
#ifndef TSN_DSP_H
#define TSN_DSP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tsn.h"
#include "tsn_math.h"

#if defined(TSN_DSP_EMULATE) || (defined(__ARM_FEATURE_DSP) && !defined(TSN_PORTABLE))
#define TSN_DSP 1
#else
#define TSN_DSP 0
#endif

#if TSN_DSP

/* The MAC loops in asm use 13-14 registers: not at -O0 (frame pointer) or with
 * TSN_DSP_NO_ASM (e.g. for -fno-omit-frame-pointer builds), where the same loops run in C. */
#if !defined(TSN_DSP_EMULATE) && !defined(TSN_DSP_NO_ASM) && defined(__OPTIMIZE__)
#define TSN_DSP_ASM_LOOPS 1
#else
#define TSN_DSP_ASM_LOOPS 0
#endif

/* The asm loops take 13-14 registers: each runs in a function of its own (noinline), so that
 * no caller's live values leave the register allocator short (which, inlined, gcc reported as
 * "impossible constraints" for some -mcpu / -O combinations). */
#if TSN_DSP_ASM_LOOPS
#define TSN_DSP_LOOP static __attribute__((noinline))
#else
#define TSN_DSP_LOOP static inline
#endif

#define TSN_DSP_MAX_SEGS 16

#if defined(__GNUC__)
#define TSN_DSP_INLINE __attribute__((always_inline))
#else
#define TSN_DSP_INLINE
#endif
#define TSN_DSP_PAIR_MAX_OUT 256

/* ---- the instructions -------------------------------------------------------------------- */

#if defined(TSN_DSP_EMULATE)

static inline int32_t tsn_emu_byte(uint32_t v, int at)
{
    return (int32_t)((v >> at) & 0xFFu) - (int32_t)(((v >> at) & 0x80u) << 1);
}

static inline int32_t tsn_emu_lane(uint32_t v, int at)
{
    return (int32_t)((v >> at) & 0xFFFFu) - (int32_t)(((v >> at) & 0x8000u) << 1);
}

static inline uint32_t tsn_emu_lanes(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

static inline int32_t tsn_emu_wrap(uint32_t u)
{
    return u <= (uint32_t)TSN_INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) + TSN_INT32_MIN;
}

/* SXTB16 Rd, Rm: bytes 0 and 2, sign-extended to 16-bit lanes */
static inline uint32_t tsn_sxtb16(uint32_t x)
{
    return tsn_emu_lanes(tsn_emu_byte(x, 0), tsn_emu_byte(x, 16));
}

/* SXTB16 Rd, Rm, ROR #8: bytes 1 and 3 */
static inline uint32_t tsn_sxtb16_ror8(uint32_t x)
{
    return tsn_emu_lanes(tsn_emu_byte(x, 8), tsn_emu_byte(x, 24));
}

/* SXTAB16 Rd, Rn, Rm: lanes of a + bytes 0 and 2 of x (each lane modulo 2^16) */
static inline uint32_t tsn_sxtab16(uint32_t a, uint32_t x)
{
    return tsn_emu_lanes(tsn_emu_lane(a, 0) + tsn_emu_byte(x, 0),
                         tsn_emu_lane(a, 16) + tsn_emu_byte(x, 16));
}

/* SXTAB16 Rd, Rn, Rm, ROR #8: lanes of a + bytes 1 and 3 of x */
static inline uint32_t tsn_sxtab16_ror8(uint32_t a, uint32_t x)
{
    return tsn_emu_lanes(tsn_emu_lane(a, 0) + tsn_emu_byte(x, 8),
                         tsn_emu_lane(a, 16) + tsn_emu_byte(x, 24));
}

/* SMLAD Rd, Rn, Rm, Ra: acc + lo*lo + hi*hi, modulo 2^32 */
static inline int32_t tsn_smlad(uint32_t x, uint32_t y, int32_t acc)
{
    return tsn_emu_wrap((uint32_t)acc +
                        (uint32_t)(tsn_emu_lane(x, 0) * tsn_emu_lane(y, 0)) +
                        (uint32_t)(tsn_emu_lane(x, 16) * tsn_emu_lane(y, 16)));
}

/* SMLABB / SMLATT: acc + bottom*bottom / top*top, modulo 2^32 */
static inline int32_t tsn_smlabb(uint32_t x, uint32_t y, int32_t acc)
{
    return tsn_emu_wrap((uint32_t)acc + (uint32_t)(tsn_emu_lane(x, 0) * tsn_emu_lane(y, 0)));
}

static inline int32_t tsn_smlatt(uint32_t x, uint32_t y, int32_t acc)
{
    return tsn_emu_wrap((uint32_t)acc + (uint32_t)(tsn_emu_lane(x, 16) * tsn_emu_lane(y, 16)));
}

#else /* the real instructions; GCC's arm_acle.h cannot fold the rotate into SXTB16 */

static inline uint32_t tsn_sxtb16(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1" : "=r"(r) : "r"(x));
    return r;
}

static inline uint32_t tsn_sxtb16_ror8(uint32_t x)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

static inline uint32_t tsn_sxtab16(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

static inline uint32_t tsn_sxtab16_ror8(uint32_t a, uint32_t x)
{
    uint32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(a), "r"(x));
    return r;
}

static inline int32_t tsn_smlad(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlad %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

static inline int32_t tsn_smlabb(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlabb %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

static inline int32_t tsn_smlatt(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlatt %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

#endif

/* Four bytes at any alignment, little-endian (one LDR: Cortex-M3 and later allow unaligned
 * word loads). */
static inline uint32_t tsn_ld4(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Two 16-bit lanes (lo, hi), each taken modulo 2^16. */
static inline uint32_t tsn_pair16(int32_t lo, int32_t hi)
{
    return ((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16);
}

/* Both 16-bit lanes = v (the input offset, in [-128, 128]). */
static inline uint32_t tsn_dup16(int32_t v)
{
    return ((uint32_t)v & 0xFFFFu) * 0x10001u;
}

/* ---- dot products: rows of n int8 weights by rows of n int8 inputs (+ offset) ----------- */

/* acc[k] += sum_i w[k*ws + i] * (x[i] + off), k = 0..3: one input row, four weight rows. */
static inline void tsn_dsp_dot_1x4(const int8_t *x, const int8_t *w, int32_t ws, int32_t n,
                                   int32_t off, int32_t *acc)
{
    const uint32_t off2 = tsn_dup16(off);
    const int8_t *w0 = w, *w1 = w + ws, *w2 = w + 2 * ws, *w3 = w + 3 * ws;
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t i;
    for (i = n >> 2; i > 0; --i) {
        const uint32_t xv = tsn_ld4(x);
        const uint32_t xe = tsn_sxtab16(off2, xv);
        const uint32_t xo = tsn_sxtab16_ror8(off2, xv);
        uint32_t wv;
        x += 4;
        wv = tsn_ld4(w0);
        w0 += 4;
        a0 = tsn_smlad(tsn_sxtb16(wv), xe, a0);
        a0 = tsn_smlad(tsn_sxtb16_ror8(wv), xo, a0);
        wv = tsn_ld4(w1);
        w1 += 4;
        a1 = tsn_smlad(tsn_sxtb16(wv), xe, a1);
        a1 = tsn_smlad(tsn_sxtb16_ror8(wv), xo, a1);
        wv = tsn_ld4(w2);
        w2 += 4;
        a2 = tsn_smlad(tsn_sxtb16(wv), xe, a2);
        a2 = tsn_smlad(tsn_sxtb16_ror8(wv), xo, a2);
        wv = tsn_ld4(w3);
        w3 += 4;
        a3 = tsn_smlad(tsn_sxtb16(wv), xe, a3);
        a3 = tsn_smlad(tsn_sxtb16_ror8(wv), xo, a3);
    }
    for (i = n & 3; i > 0; --i) {
        const int32_t xs = (int32_t)*x++ + off;
        a0 += (int32_t)*w0++ * xs;
        a1 += (int32_t)*w1++ * xs;
        a2 += (int32_t)*w2++ * xs;
        a3 += (int32_t)*w3++ * xs;
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* acc[0..1] += rows w0, w1 by input x0; acc[2..3] += rows w0, w1 by input x1. */
static inline void tsn_dsp_dot_2x2(const int8_t *x0, const int8_t *x1, const int8_t *w0,
                                   const int8_t *w1, int32_t n, int32_t off, int32_t *acc)
{
    const uint32_t off2 = tsn_dup16(off);
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t i;
    for (i = n >> 2; i > 0; --i) {
        const uint32_t v0 = tsn_ld4(x0);
        const uint32_t v1 = tsn_ld4(x1);
        const uint32_t x0e = tsn_sxtab16(off2, v0), x0o = tsn_sxtab16_ror8(off2, v0);
        const uint32_t x1e = tsn_sxtab16(off2, v1), x1o = tsn_sxtab16_ror8(off2, v1);
        uint32_t wv, we, wo;
        x0 += 4;
        x1 += 4;
        wv = tsn_ld4(w0);
        w0 += 4;
        we = tsn_sxtb16(wv);
        wo = tsn_sxtb16_ror8(wv);
        a00 = tsn_smlad(we, x0e, a00);
        a00 = tsn_smlad(wo, x0o, a00);
        a10 = tsn_smlad(we, x1e, a10);
        a10 = tsn_smlad(wo, x1o, a10);
        wv = tsn_ld4(w1);
        w1 += 4;
        we = tsn_sxtb16(wv);
        wo = tsn_sxtb16_ror8(wv);
        a01 = tsn_smlad(we, x0e, a01);
        a01 = tsn_smlad(wo, x0o, a01);
        a11 = tsn_smlad(we, x1e, a11);
        a11 = tsn_smlad(wo, x1o, a11);
    }
    for (i = n & 3; i > 0; --i) {
        const int32_t xs0 = (int32_t)*x0++ + off;
        const int32_t xs1 = (int32_t)*x1++ + off;
        const int32_t f0 = *w0++;
        const int32_t f1 = *w1++;
        a00 += f0 * xs0;
        a01 += f1 * xs0;
        a10 += f0 * xs1;
        a11 += f1 * xs1;
    }
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* acc += sum_i w[i] * (x[i] + off) */
static inline int32_t tsn_dsp_dot_1x1(const int8_t *x, const int8_t *w, int32_t n, int32_t off,
                                      int32_t acc)
{
    const uint32_t off2 = tsn_dup16(off);
    int32_t i;
    for (i = n >> 2; i > 0; --i) {
        const uint32_t xv = tsn_ld4(x);
        const uint32_t wv = tsn_ld4(w);
        x += 4;
        w += 4;
        acc = tsn_smlad(tsn_sxtb16(wv), tsn_sxtab16(off2, xv), acc);
        acc = tsn_smlad(tsn_sxtb16_ror8(wv), tsn_sxtab16_ror8(off2, xv), acc);
    }
    for (i = n & 3; i > 0; --i) {
        acc += (int32_t)*w++ * ((int32_t)*x++ + off);
    }
    return acc;
}

/* ---- output: bias, requantization, offset, clamp (the portable kernels' sequence) -------- */

typedef struct {
    int32_t input_offset, output_offset, act_min, act_max;
} tsn_dsp_io;

/* Requantization of one channel, prepared for tsn_dsp_rq_apply. */
typedef struct {
    int32_t multiplier, shift, mode, rs1;
    uint32_t k_lo, k_hi;
} tsn_dsp_rq;

enum { TSN_DSP_RQ_GENERAL, TSN_DSP_RQ_RIGHT, TSN_DSP_RQ_LEFT };

/* Fast forms: shift in [-31, -1] with multiplier in (2^30, 2^31) (QuantizeMultiplier's range for
 * real multipliers below 0.5, except exact powers of two), and shift in [0, 30] with any
 * multiplier but INT32_MIN. Anything else takes tsn_requantize. */
static inline tsn_dsp_rq tsn_dsp_rq_of(int32_t multiplier, int32_t shift)
{
    tsn_dsp_rq q;
    q.multiplier = multiplier;
    q.shift = shift;
    q.mode = multiplier > ((int32_t)1 << 30) && shift <= -1 && shift >= -31 ? TSN_DSP_RQ_RIGHT
             : multiplier != TSN_INT32_MIN && shift >= 0 && shift <= 30 ? TSN_DSP_RQ_LEFT
                                                                        : TSN_DSP_RQ_GENERAL;
    q.rs1 = q.mode == TSN_DSP_RQ_RIGHT ? -shift - 1 : 0;
    /* right: K = 2^30 + 2^(30 + rs) as a 64-bit value (rs = -shift); left: K = 2^30 */
    q.k_lo = q.mode == TSN_DSP_RQ_RIGHT && q.rs1 == 0 ? 0xC0000000u : 0x40000000u;
    q.k_hi = q.mode == TSN_DSP_RQ_RIGHT && q.rs1 > 0 ? (uint32_t)1 << (q.rs1 - 1) : 0u;
    return q;
}

static inline int32_t tsn_dsp_i32(uint32_t u)
{
    return u <= (uint32_t)TSN_INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) + TSN_INT32_MIN;
}

/* The right-shift form below: high word of x*m + K - [x < 0]*2^31, shifted right by rs1. */
static inline int32_t tsn_dsp_rq_right(int32_t x, int32_t m, uint32_t k_lo, uint32_t k_hi,
                                       int32_t rs1)
{
#if defined(TSN_DSP_EMULATE)
    const uint64_t k = ((uint64_t)k_hi << 32 | k_lo) - ((uint64_t)(x < 0) << 31);
    const uint64_t p = (uint64_t)((int64_t)x * m) + k;
    /* >> of a negative int is arithmetic on every compiler that builds this path */
    return tsn_dsp_i32((uint32_t)(p >> 32)) >> rs1;
#else
    uint32_t lo, hi;
    __asm__("and %[lo], %[x], #0x80000000\n\t"
            "subs %[lo], %[klo], %[lo]\n\t"
            "sbc %[hi], %[khi], #0\n\t"
            "smlal %[lo], %[hi], %[x], %[m]\n\t"
            "asr %[hi], %[hi], %[rs1]"
            : [lo] "=&r"(lo), [hi] "=&r"(hi)
            : [x] "r"(x), [m] "r"(m), [klo] "r"(k_lo), [khi] "r"(k_hi), [rs1] "r"(rs1)
            : "cc");
    (void)lo;
    return (int32_t)hi;
#endif
}

/* tsn_requantize(x, multiplier, shift), bit for bit. gemmlowp's SRDHM(a, m), the truncated
 * (a*m + nudge) / 2^31, equals floor((a*m + 2^30) / 2^31) for all a, m but the saturating
 * INT32_MIN * INT32_MIN. Left (shift >= 0): a = x * 2^shift (wrapping), that floor, no
 * rounding shift. Right (rs = -shift >= 1): RoundingDivideByPOT(r, rs) (half away from zero)
 * is floor((r + c) / 2^rs), c = 2^(rs-1) - [r < 0]; both floors fold into
 * floor((x*m + 2^30 + c*2^31) / 2^(31+rs)), and r < 0 iff x < 0 when m > 2^30. So
 * P = x*m + K - [x < 0]*2^31 (one SMLAL onto K), result = high word of P >> (rs - 1). */
static inline int32_t tsn_dsp_rq_apply(const tsn_dsp_rq *q, int32_t x)
{
    if (q->mode == TSN_DSP_RQ_RIGHT) {
        return tsn_dsp_rq_right(x, q->multiplier, q->k_lo, q->k_hi, q->rs1);
    } else if (q->mode == TSN_DSP_RQ_LEFT) {
        const int32_t a = tsn_dsp_i32((uint32_t)x << q->shift);
        const uint64_t p = (uint64_t)((int64_t)a * q->multiplier) + q->k_lo;
        return tsn_dsp_i32((uint32_t)(p >> 31));
    }
    return tsn_requantize(x, q->multiplier, q->shift);
}

static inline int8_t tsn_dsp_output(const tsn_dsp_io *io, const tsn_requant *quant,
                                    const int32_t *bias, int32_t oc, int32_t acc)
{
    const int32_t q = quant->per_channel ? oc : 0;
    const tsn_dsp_rq rq = tsn_dsp_rq_of(quant->multiplier[q], quant->shift[q]);
    if (bias != NULL) {
        acc += bias[oc];
    }
    acc = tsn_dsp_rq_apply(&rq, acc);
    acc += io->output_offset;
    return (int8_t)tsn_clamp(acc, io->act_min, io->act_max);
}

/* Outputs of two pixels for channel oc (the requantization derived once). */
static inline TSN_DSP_INLINE void tsn_dsp_output2(const tsn_dsp_io *io, const tsn_requant *quant,
                                   const int32_t *bias, int32_t oc, int32_t acc0, int32_t acc1,
                                   int8_t *out0, int8_t *out1)
{
    const int32_t q = quant->per_channel ? oc : 0;
    const tsn_dsp_rq rq = tsn_dsp_rq_of(quant->multiplier[q], quant->shift[q]);
    const int32_t b = bias != NULL ? bias[oc] : 0;
    acc0 = tsn_dsp_rq_apply(&rq, acc0 + b) + io->output_offset;
    acc1 = tsn_dsp_rq_apply(&rq, acc1 + b) + io->output_offset;
    *out0 = (int8_t)tsn_clamp(acc0, io->act_min, io->act_max);
    *out1 = (int8_t)tsn_clamp(acc1, io->act_min, io->act_max);
}

/* Accumulators are requantized in loops of their own, after the MAC loops: they get the
 * registers, and the mode test leaves the loop. Chunks of TSN_DSP_CHUNK int32 on the stack. */
#define TSN_DSP_CHUNK 32

/* The right-shift form over a run of accumulators, for layers whose activation range is the
 * whole int8 range (clamp = SSAT #8): out[p * stride] = clamp(requantize((acc[p] >> ashift) +
 * bias) + output_offset), p < count, ashift 0 or 4. The output offset is folded into the high
 * word of K (k_hi + offset * 2^rs1: adding it before the final shift by rs1 adds it after), which
 * keeps that word in int32 for rs1 <= TSN_DSP_RQ_FOLD_MAX_RS1 (|P / 2^32| <= 2^30 + 2^(rs1-1) + 1,
 * plus 128 * 2^rs1). 12 instructions an output. */
#define TSN_DSP_RQ_FOLD_MAX_RS1 22

static inline int tsn_dsp_rq_run_ok(const tsn_dsp_rq *rq, const tsn_dsp_io *io)
{
    return rq->mode == TSN_DSP_RQ_RIGHT && rq->rs1 <= TSN_DSP_RQ_FOLD_MAX_RS1 &&
           io->act_min == -128 && io->act_max == 127;
}

static inline TSN_DSP_INLINE void tsn_dsp_rq_right_run(const tsn_dsp_rq *rq, const tsn_dsp_io *io,
                                                       int32_t bias, const int32_t *acc,
                                                       int32_t count, int ashift, int8_t *out,
                                                       int32_t stride)
{
    const int32_t m = rq->multiplier, rs1 = rq->rs1;
    const uint32_t k_lo = rq->k_lo;
    const uint32_t k_hi = rq->k_hi + ((uint32_t)io->output_offset << rs1);
#if TSN_DSP_ASM_LOOPS
    if (count > 0) {
        const int32_t *const end = acc + count;
        uint32_t x, lo, hi;
        if (ashift) {
            __asm__ volatile(
                "1:\n\t"
                "ldr %[x], [%[a]], #4\n\t"
                "add %[x], %[b], %[x], asr #4\n\t"
                "and %[lo], %[x], #0x80000000\n\t"
                "subs %[lo], %[klo], %[lo]\n\t"
                "sbc %[hi], %[khi], #0\n\t"
                "smlal %[lo], %[hi], %[x], %[m]\n\t"
                "asr %[hi], %[hi], %[rs1]\n\t"
                "ssat %[hi], #8, %[hi]\n\t"
                "strb %[hi], [%[o]]\n\t"
                "add %[o], %[o], %[s]\n\t"
                "cmp %[a], %[end]\n\t"
                "bne 1b"
                : [a] "+r"(acc), [o] "+r"(out), [x] "=&r"(x), [lo] "=&r"(lo), [hi] "=&r"(hi)
                : [end] "r"(end), [b] "r"(bias), [klo] "r"(k_lo), [khi] "r"(k_hi), [m] "r"(m),
                  [rs1] "r"(rs1), [s] "r"(stride)
                : "cc", "memory");
        } else {
            __asm__ volatile(
                "1:\n\t"
                "ldr %[x], [%[a]], #4\n\t"
                "add %[x], %[x], %[b]\n\t"
                "and %[lo], %[x], #0x80000000\n\t"
                "subs %[lo], %[klo], %[lo]\n\t"
                "sbc %[hi], %[khi], #0\n\t"
                "smlal %[lo], %[hi], %[x], %[m]\n\t"
                "asr %[hi], %[hi], %[rs1]\n\t"
                "ssat %[hi], #8, %[hi]\n\t"
                "strb %[hi], [%[o]]\n\t"
                "add %[o], %[o], %[s]\n\t"
                "cmp %[a], %[end]\n\t"
                "bne 1b"
                : [a] "+r"(acc), [o] "+r"(out), [x] "=&r"(x), [lo] "=&r"(lo), [hi] "=&r"(hi)
                : [end] "r"(end), [b] "r"(bias), [klo] "r"(k_lo), [khi] "r"(k_hi), [m] "r"(m),
                  [rs1] "r"(rs1), [s] "r"(stride)
                : "cc", "memory");
        }
    }
#else
    int32_t p;
    for (p = 0; p < count; ++p) {
        /* >> of a negative int is arithmetic wherever this path builds */
        const int32_t v = tsn_dsp_rq_right((acc[p] >> ashift) + bias, m, k_lo, k_hi, rs1);
        out[p * stride] = (int8_t)tsn_clamp(v, -128, 127);
    }
#endif
}

/* tsn_dsp_rq_right_run in a function of its own, for callers that keep many values live (the
 * depthwise loops: inlined there, gcc -O3 finds no registers for its asm). */
TSN_DSP_LOOP void tsn_dsp_rq_right_run_call(const tsn_dsp_rq *rq, const tsn_dsp_io *io,
                                            int32_t bias, const int32_t *acc, int32_t count,
                                            int8_t *out, int32_t stride)
{
    tsn_dsp_rq_right_run(rq, io, bias, acc, count, 0, out, stride);
}

/* out[k * stride] = clamp(requantize(acc[k] + bias) + output_offset), k < n, one channel. */
static inline void tsn_dsp_requant_run(const tsn_dsp_io *io, const tsn_dsp_rq *rq, int32_t bias,
                                       const int32_t *acc, int32_t n, int8_t *out,
                                       int32_t stride)
{
    const int32_t off = io->output_offset, lo = io->act_min, hi = io->act_max;
    int32_t k;
    if (tsn_dsp_rq_run_ok(rq, io)) {
        tsn_dsp_rq_right_run_call(rq, io, bias, acc, n, out, stride);
    } else if (rq->mode == TSN_DSP_RQ_RIGHT) {
        const tsn_dsp_rq r = *rq;
        for (k = 0; k < n; ++k) {
            *out = (int8_t)tsn_clamp(tsn_dsp_rq_apply(&r, acc[k] + bias) + off, lo, hi);
            out += stride;
        }
    } else {
        for (k = 0; k < n; ++k) {
            *out = (int8_t)tsn_clamp(tsn_dsp_rq_apply(rq, acc[k] + bias) + off, lo, hi);
            out += stride;
        }
    }
}

#include "tsn_dsp_requant.h"

/* out0[k], out1[k] from acc[2k], acc[2k+1] (two pixels), channels oc + k, k < n. */
static inline void tsn_dsp_requant_pairs(const tsn_dsp_io *io, const tsn_requant *quant,
                                         const int32_t *bias, int32_t oc, int32_t n,
                                         const int32_t *acc, int8_t *out0, int8_t *out1)
{
    const int32_t off = io->output_offset, lo = io->act_min, hi = io->act_max;
    const int full = lo == -128 && hi == 127;
    int32_t k;
    for (k = 0; k < n; ++k) {
        const int32_t c = oc + k;
        const int32_t q = quant->per_channel ? c : 0;
        const int32_t b = bias != NULL ? bias[c] : 0;
        int32_t rs1;
        uint32_t k_lo, k_hi;
        if (full && tsn_dsp_rq_fold(quant->multiplier[q], quant->shift[q], off, &rs1, &k_lo,
                                    &k_hi)) { /* tsn_dsp_requant.h */
            const int32_t m = quant->multiplier[q];
            out0[k] = (int8_t)tsn_clamp(tsn_dsp_rq_right(acc[2 * k] + b, m, k_lo, k_hi, rs1),
                                        -128, 127);
            out1[k] = (int8_t)tsn_clamp(tsn_dsp_rq_right(acc[2 * k + 1] + b, m, k_lo, k_hi, rs1),
                                        -128, 127);
        } else {
            const tsn_dsp_rq rq = tsn_dsp_rq_of(quant->multiplier[q], quant->shift[q]);
            out0[k] = (int8_t)tsn_clamp(tsn_dsp_rq_apply(&rq, acc[2 * k] + b) + off, lo, hi);
            out1[k] = (int8_t)tsn_clamp(tsn_dsp_rq_apply(&rq, acc[2 * k + 1] + b) + off, lo, hi);
        }
    }
}

/* ---- two pixels from inputs widened once into 16-bit lanes on the stack ----------------- */

/* Widened inputs of a pixel pair: 4 words per 4 input bytes (pixel 0 bytes 0,2 and 1,3, then
 * pixel 1's), 1 KB of stack. */
#define TSN_DSP_Q15_WORDS 256

/* q[4k..4k+3] from 4 bytes of x0 and of x1 (+ offset), k < groups. */
static inline void tsn_dsp_widen2(const int8_t *x0, const int8_t *x1, int32_t groups,
                                  uint32_t off2, uint32_t *q)
{
    int32_t k;
    for (k = 0; k < groups; ++k) {
        const uint32_t v0 = tsn_ld4(x0 + 4 * k);
        const uint32_t v1 = tsn_ld4(x1 + 4 * k);
        q[0] = tsn_sxtab16(off2, v0);
        q[1] = tsn_sxtab16_ror8(off2, v0);
        q[2] = tsn_sxtab16(off2, v1);
        q[3] = tsn_sxtab16_ror8(off2, v1);
        q += 4;
    }
}

/* acc[0..1] += weight rows w0, w1 by pixel 0; acc[2..3] by pixel 1 (groups of 4 inputs). */
TSN_DSP_LOOP void tsn_dsp_mac_2x2(const uint32_t *q, int32_t groups, const int8_t *w0,
                                   const int8_t *w1, int32_t *acc)
{
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
#if TSN_DSP_ASM_LOOPS
    /* 18 instructions for 16 MACs; the C below (the emulated path) does the same steps */
    if (groups > 0) {
        const uint32_t *const end = q + 4 * groups;
        uint32_t x0e, x0o, x1e, x1o, t, we;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[x0e], %[x0o], [%[q]], #8\n\t"
            "ldrd %[x1e], %[x1o], [%[q]], #8\n\t"
            "ldr %[t], [%[w0]], #4\n\t"
            "sxtb16 %[we], %[t]\n\t"
            "sxtb16 %[t], %[t], ror #8\n\t"
            "smlad %[a00], %[we], %[x0e], %[a00]\n\t"
            "smlad %[a00], %[t], %[x0o], %[a00]\n\t"
            "smlad %[a10], %[we], %[x1e], %[a10]\n\t"
            "smlad %[a10], %[t], %[x1o], %[a10]\n\t"
            "ldr %[t], [%[w1]], #4\n\t"
            "sxtb16 %[we], %[t]\n\t"
            "sxtb16 %[t], %[t], ror #8\n\t"
            "smlad %[a01], %[we], %[x0e], %[a01]\n\t"
            "smlad %[a01], %[t], %[x0o], %[a01]\n\t"
            "smlad %[a11], %[we], %[x1e], %[a11]\n\t"
            "smlad %[a11], %[t], %[x1o], %[a11]\n\t"
            "cmp %[q], %[end]\n\t"
            "bne 1b"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),
              [q] "+r"(q), [w0] "+r"(w0), [w1] "+r"(w1), [x0e] "=&r"(x0e), [x0o] "=&r"(x0o),
              [x1e] "=&r"(x1e), [x1o] "=&r"(x1o), [t] "=&r"(t), [we] "=&r"(we)
            : [end] "r"(end)
            : "cc", "memory");
    }
#else
    int32_t k;
    for (k = 0; k < groups; ++k) {
        uint32_t wv = tsn_ld4(w0), we;
        w0 += 4;
        we = tsn_sxtb16(wv);
        wv = tsn_sxtb16_ror8(wv);
        a00 = tsn_smlad(we, q[0], a00);
        a00 = tsn_smlad(wv, q[1], a00);
        a10 = tsn_smlad(we, q[2], a10);
        a10 = tsn_smlad(wv, q[3], a10);
        wv = tsn_ld4(w1);
        w1 += 4;
        we = tsn_sxtb16(wv);
        wv = tsn_sxtb16_ror8(wv);
        a01 = tsn_smlad(we, q[0], a01);
        a01 = tsn_smlad(wv, q[1], a01);
        a11 = tsn_smlad(we, q[2], a11);
        a11 = tsn_smlad(wv, q[3], a11);
        q += 4;
    }
#endif
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
}

/* ---- one input row against many weight rows (fully connected with one batch row) ------- */

/* q[2k], q[2k+1] from 4 bytes of x (+ offset), k < groups. */
static inline void tsn_dsp_widen1(const int8_t *x, int32_t groups, uint32_t off2, uint32_t *q)
{
    int32_t k;
    for (k = 0; k < groups; ++k) {
        const uint32_t v = tsn_ld4(x + 4 * k);
        q[2 * k] = tsn_sxtab16(off2, v);
        q[2 * k + 1] = tsn_sxtab16_ror8(off2, v);
    }
}

/* acc[j] += weight row w + j * ws by the widened row q, j < 4 (groups of 4 inputs). */
TSN_DSP_LOOP void tsn_dsp_mac_1x4(const uint32_t *q, int32_t groups, const int8_t *w,
                                   int32_t ws, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    const int8_t *w0 = w, *w1 = w + ws, *w2 = w + 2 * ws, *w3 = w + 3 * ws;
#if TSN_DSP_ASM_LOOPS
    /* 23 instructions for 16 MACs; the C below (the emulated path) does the same steps */
    if (groups > 0) {
        const uint32_t *const end = q + 2 * groups;
        uint32_t xe, xo, t, we;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "ldr %[t], [%[w0]], #4\n\t"
            "sxtb16 %[we], %[t]\n\t"
            "sxtb16 %[t], %[t], ror #8\n\t"
            "smlad %[a0], %[we], %[xe], %[a0]\n\t"
            "smlad %[a0], %[t], %[xo], %[a0]\n\t"
            "ldr %[t], [%[w1]], #4\n\t"
            "sxtb16 %[we], %[t]\n\t"
            "sxtb16 %[t], %[t], ror #8\n\t"
            "smlad %[a1], %[we], %[xe], %[a1]\n\t"
            "smlad %[a1], %[t], %[xo], %[a1]\n\t"
            "ldr %[t], [%[w2]], #4\n\t"
            "sxtb16 %[we], %[t]\n\t"
            "sxtb16 %[t], %[t], ror #8\n\t"
            "smlad %[a2], %[we], %[xe], %[a2]\n\t"
            "smlad %[a2], %[t], %[xo], %[a2]\n\t"
            "ldr %[t], [%[w3]], #4\n\t"
            "sxtb16 %[we], %[t]\n\t"
            "sxtb16 %[t], %[t], ror #8\n\t"
            "smlad %[a3], %[we], %[xe], %[a3]\n\t"
            "smlad %[a3], %[t], %[xo], %[a3]\n\t"
            "cmp %[q], %[end]\n\t"
            "bne 1b"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [q] "+r"(q),
              [w0] "+r"(w0), [w1] "+r"(w1), [w2] "+r"(w2), [w3] "+r"(w3), [xe] "=&r"(xe),
              [xo] "=&r"(xo), [t] "=&r"(t), [we] "=&r"(we)
            : [end] "r"(end)
            : "cc", "memory");
    }
#else
    int32_t k;
    for (k = 0; k < groups; ++k) {
        const uint32_t xe = q[2 * k], xo = q[2 * k + 1];
        uint32_t v = tsn_ld4(w0 + 4 * k);
        a0 = tsn_smlad(tsn_sxtb16_ror8(v), xo, tsn_smlad(tsn_sxtb16(v), xe, a0));
        v = tsn_ld4(w1 + 4 * k);
        a1 = tsn_smlad(tsn_sxtb16_ror8(v), xo, tsn_smlad(tsn_sxtb16(v), xe, a1));
        v = tsn_ld4(w2 + 4 * k);
        a2 = tsn_smlad(tsn_sxtb16_ror8(v), xo, tsn_smlad(tsn_sxtb16(v), xe, a2));
        v = tsn_ld4(w3 + 4 * k);
        a3 = tsn_smlad(tsn_sxtb16_ror8(v), xo, tsn_smlad(tsn_sxtb16(v), xe, a3));
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

/* out[k] from (acc[k] >> ashift) (+ bias), channels oc + k, k < n (ashift 4: the INT4 rows'
 * sums, exactly 16 times the true ones; >> of a negative int is arithmetic where this builds). */
static inline void tsn_dsp_requant_singles(const tsn_dsp_io *io, const tsn_requant *quant,
                                           const int32_t *bias, int32_t oc, int32_t n,
                                           const int32_t *acc, int ashift, int8_t *out)
{
    const int32_t off = io->output_offset, lo = io->act_min, hi = io->act_max;
    const int full = lo == -128 && hi == 127;
    int32_t k;
    for (k = 0; k < n; ++k) {
        const int32_t c = oc + k;
        const int32_t q = quant->per_channel ? c : 0;
        const int32_t b = bias != NULL ? bias[c] : 0;
        int32_t rs1;
        uint32_t k_lo, k_hi;
        if (full && tsn_dsp_rq_fold(quant->multiplier[q], quant->shift[q], off, &rs1, &k_lo,
                                    &k_hi)) { /* tsn_dsp_requant.h */
            out[k] = (int8_t)tsn_clamp(
                tsn_dsp_rq_right((acc[k] >> ashift) + b, quant->multiplier[q], k_lo, k_hi, rs1),
                -128, 127);
        } else {
            const tsn_dsp_rq rq = tsn_dsp_rq_of(quant->multiplier[q], quant->shift[q]);
            out[k] = (int8_t)tsn_clamp(tsn_dsp_rq_apply(&rq, (acc[k] >> ashift) + b) + off, lo, hi);
        }
    }
}

/* out[0 .. out_c) for one input row x of `depth` bytes and weight rows of `depth` bytes: the
 * row widened once per 2 * TSN_DSP_Q15_WORDS inputs, four weight rows per pass. */
static inline void tsn_dsp_row1(const tsn_dsp_io *io, const tsn_requant *quant,
                                const int8_t *x, int32_t depth, const int8_t *weights,
                                const int32_t *bias, int32_t out_c, int8_t *out)
{
    enum { PIECE = 2 * TSN_DSP_Q15_WORDS };
    uint32_t q[TSN_DSP_Q15_WORDS];
    const uint32_t off2 = tsn_dup16(io->input_offset);
    const int32_t body = depth & ~3;
    int32_t oc, k, at, i;
    for (oc = 0; oc < out_c; oc += TSN_DSP_CHUNK) {
        int32_t accs[TSN_DSP_CHUNK + 3] = {0};
        const int32_t n = out_c - oc < TSN_DSP_CHUNK ? out_c - oc : TSN_DSP_CHUNK;
        const int8_t *w = weights + oc * depth;
        for (at = 0; at < body; at += PIECE) {
            const int32_t len = body - at < PIECE ? body - at : PIECE;
            tsn_dsp_widen1(x + at, len >> 2, off2, q);
            for (k = 0; k + 4 <= n; k += 4) {
                tsn_dsp_mac_1x4(q, len >> 2, w + k * depth + at, depth, accs + k);
            }
            for (; k < n; ++k) { /* 1 to 3 rows left: the first of them 4 times */
                int32_t rest[4] = {0, 0, 0, 0};
                tsn_dsp_mac_1x4(q, len >> 2, w + k * depth + at, 0, rest);
                accs[k] += rest[0];
            }
        }
        for (i = body; i < depth; ++i) {
            const int32_t xs = x[i] + io->input_offset;
            for (k = 0; k < n; ++k) {
                accs[k] += w[k * depth + i] * xs;
            }
        }
        tsn_dsp_requant_singles(io, quant, bias, oc, n, accs, 0, out + oc);
    }
}

/* ---- one or two output pixels of a one-group convolution, from segments ----------------- */

/* `len` contiguous input bytes at `in` times the `len` weights at `f_at` of each filter. */
typedef struct {
    const int8_t *in;
    int32_t f_at;
    int32_t len;
} tsn_dsp_seg;

/* out[oc] for all out_c filters of f_size weights each (filter oc at filter + oc * f_size). */
static inline void tsn_dsp_pixel(const tsn_dsp_io *io, const tsn_requant *quant,
                                 const tsn_dsp_seg *seg, int32_t nseg, const int8_t *filter,
                                 int32_t f_size, const int32_t *bias, int32_t out_c, int8_t *out)
{
    int32_t oc, s, k;
    for (oc = 0; oc + 4 <= out_c; oc += 4) {
        int32_t acc[4] = {0, 0, 0, 0};
        const int8_t *f = filter + oc * f_size;
        for (s = 0; s < nseg; ++s) {
            tsn_dsp_dot_1x4(seg[s].in, f + seg[s].f_at, f_size, seg[s].len, io->input_offset,
                            acc);
        }
        for (k = 0; k < 4; ++k) {
            out[oc + k] = tsn_dsp_output(io, quant, bias, oc + k, acc[k]);
        }
    }
    for (; oc < out_c; ++oc) {
        int32_t acc = 0;
        const int8_t *f = filter + oc * f_size;
        for (s = 0; s < nseg; ++s) {
            acc = tsn_dsp_dot_1x1(seg[s].in, f + seg[s].f_at, seg[s].len, io->input_offset, acc);
        }
        out[oc] = tsn_dsp_output(io, quant, bias, oc, acc);
    }
}

/* Two pixels whose segments differ only in their input (pixel 1's at seg[s].in + delta). */
static inline void tsn_dsp_pixel_pair(const tsn_dsp_io *io, const tsn_requant *quant,
                                      const tsn_dsp_seg *seg, int32_t nseg, ptrdiff_t delta,
                                      const int8_t *filter, int32_t f_size, const int32_t *bias,
                                      int32_t out_c, int8_t *out0, int8_t *out1)
{
    int32_t oc, s, total = 0, aligned = 1;
    for (s = 0; s < nseg; ++s) {
        total += seg[s].len;
        aligned = aligned && (seg[s].len & 3) == 0;
    }
    if (aligned && nseg == 1 && seg[0].len <= TSN_DSP_Q15_WORDS) {
        /* one segment (1x1 convolution, fully connected): inputs widened once */
        uint32_t q[TSN_DSP_Q15_WORDS];
        const int32_t groups = seg[0].len >> 2;
        const int8_t *f0 = filter + seg[0].f_at;
        tsn_dsp_widen2(seg[0].in, seg[0].in + delta, groups, tsn_dup16(io->input_offset), q);
        for (oc = 0; oc < out_c; oc += TSN_DSP_CHUNK) {
            int32_t accs[2 * TSN_DSP_CHUNK + 2];
            const int32_t n = out_c - oc < TSN_DSP_CHUNK ? out_c - oc : TSN_DSP_CHUNK;
            int32_t k;
            for (k = 0; k < n; k += 2) {
                int32_t acc[4] = {0, 0, 0, 0};
                tsn_dsp_mac_2x2(q, groups, f0, k + 1 < n ? f0 + f_size : f0, acc);
                accs[2 * k] = acc[0];
                accs[2 * k + 1] = acc[2];
                accs[2 * k + 2] = acc[1];
                accs[2 * k + 3] = acc[3];
                f0 += 2 * f_size;
            }
            tsn_dsp_requant_pairs(io, quant, bias, oc, n, accs, out0 + oc, out1 + oc);
        }
        return;
    }
    if (aligned) {
        /* Inputs widened once per TSN_DSP_Q15_WORDS-element piece of the segments (per chunk
         * of TSN_DSP_CHUNK filters), reused by every filter pair of the chunk. */
        uint32_t q[TSN_DSP_Q15_WORDS];
        tsn_dsp_seg piece[TSN_DSP_MAX_SEGS + 1]; /* .in: index in q; .f_at, .len as seg's */
        const uint32_t off2 = tsn_dup16(io->input_offset);
        (void)total;
        for (oc = 0; oc < out_c; oc += TSN_DSP_CHUNK) {
            /* accs[2k], accs[2k+1]: channel oc + k, pixels 0 and 1 */
            int32_t accs[2 * TSN_DSP_CHUNK + 2] = {0};
            const int32_t n = out_c - oc < TSN_DSP_CHUNK ? out_c - oc : TSN_DSP_CHUNK;
            int32_t k, p, pieces, used, done = 0; /* done: elements of seg[s] consumed */
            s = 0;
            while (s < nseg) {
                for (used = 0, pieces = 0; s < nseg && used < TSN_DSP_Q15_WORDS; ++pieces) {
                    const int32_t left = seg[s].len - done;
                    const int32_t len = left < TSN_DSP_Q15_WORDS - used
                                            ? left : TSN_DSP_Q15_WORDS - used;
                    tsn_dsp_widen2(seg[s].in + done, seg[s].in + done + delta, len >> 2, off2,
                                   q + used);
                    if (pieces > 0 &&
                        piece[pieces - 1].f_at + piece[pieces - 1].len == seg[s].f_at + done) {
                        --pieces; /* weights run on (whole filter rows): one piece */
                        piece[pieces].len += len;
                    } else {
                        piece[pieces].in = NULL;
                        piece[pieces].f_at = seg[s].f_at + done;
                        piece[pieces].len = len;
                    }
                    used += len;
                    done += len;
                    if (done == seg[s].len) {
                        ++s;
                        done = 0;
                    }
                }
                for (k = 0; k < n; k += 2) {
                    int32_t acc[4];
                    const int8_t *f0 = filter + (oc + k) * f_size;
                    const int8_t *f1 = k + 1 < n ? f0 + f_size : f0; /* odd last: twice */
                    acc[0] = accs[2 * k];
                    acc[2] = accs[2 * k + 1];
                    acc[1] = accs[2 * k + 2];
                    acc[3] = accs[2 * k + 3];
                    for (p = 0, used = 0; p < pieces; ++p) {
                        tsn_dsp_mac_2x2(q + used, piece[p].len >> 2, f0 + piece[p].f_at,
                                        f1 + piece[p].f_at, acc);
                        used += piece[p].len;
                    }
                    accs[2 * k] = acc[0];
                    accs[2 * k + 1] = acc[2];
                    accs[2 * k + 2] = acc[1];
                    accs[2 * k + 3] = acc[3];
                }
            }
            tsn_dsp_requant_pairs(io, quant, bias, oc, n, accs, out0 + oc, out1 + oc);
        }
        return;
    }
    for (oc = 0; oc + 2 <= out_c; oc += 2) {
        int32_t acc[4] = {0, 0, 0, 0};
        const int8_t *f = filter + oc * f_size;
        for (s = 0; s < nseg; ++s) {
            tsn_dsp_dot_2x2(seg[s].in, seg[s].in + delta, f + seg[s].f_at,
                            f + f_size + seg[s].f_at, seg[s].len, io->input_offset, acc);
        }
        tsn_dsp_output2(io, quant, bias, oc, acc[0], acc[2], out0 + oc, out1 + oc);
        tsn_dsp_output2(io, quant, bias, oc + 1, acc[1], acc[3], out0 + oc + 1, out1 + oc + 1);
    }
    if (oc < out_c) {
        int32_t acc0 = 0, acc1 = 0;
        const int8_t *f = filter + oc * f_size;
        for (s = 0; s < nseg; ++s) {
            acc0 = tsn_dsp_dot_1x1(seg[s].in, f + seg[s].f_at, seg[s].len, io->input_offset,
                                   acc0);
            acc1 = tsn_dsp_dot_1x1(seg[s].in + delta, f + seg[s].f_at, seg[s].len,
                                   io->input_offset, acc1);
        }
        out0[oc] = tsn_dsp_output(io, quant, bias, oc, acc0);
        out1[oc] = tsn_dsp_output(io, quant, bias, oc, acc1);
    }
}

/* ---- one output row of a one-group convolution ----------------------------------------- */

static inline tsn_dsp_io tsn_dsp_io_of_conv(const tsn_conv_params *params)
{
    tsn_dsp_io io;
    io.input_offset = params->input_offset;
    io.output_offset = params->output_offset;
    io.act_min = params->act_min;
    io.act_max = params->act_max;
    return io;
}

/* Whether tsn_dsp_conv_row handles the convolution (else the portable loops run). */
static inline int tsn_dsp_conv_ok(const tsn_conv_params *params, int32_t f_h, int32_t f_w)
{
    return params->dilation_w == 1 ? f_h <= TSN_DSP_MAX_SEGS : f_h * f_w <= TSN_DSP_MAX_SEGS;
}

/* Segments of output column ox: rows[fy] is input row in_y(fy), or NULL outside the image. */
static inline int32_t tsn_dsp_segments(const tsn_conv_params *params, const int8_t *const *rows,
                                       int32_t in_w, int32_t in_c, int32_t f_h, int32_t f_w,
                                       int32_t ox, tsn_dsp_seg *seg)
{
    const int32_t in_x_origin = ox * params->stride_w - params->pad_left;
    int32_t fy, fx, n = 0;
    for (fy = 0; fy < f_h; ++fy) {
        if (rows[fy] == NULL) {
            continue;
        }
        if (params->dilation_w == 1) {
            const int32_t fx0 = in_x_origin < 0 ? -in_x_origin : 0;
            const int32_t fx1 = in_w - in_x_origin < f_w ? in_w - in_x_origin : f_w;
            if (fx1 > fx0) {
                seg[n].in = rows[fy] + (in_x_origin + fx0) * in_c;
                seg[n].f_at = (fy * f_w + fx0) * in_c;
                seg[n].len = (fx1 - fx0) * in_c;
                ++n;
            }
        } else {
            for (fx = 0; fx < f_w; ++fx) {
                const int32_t in_x = in_x_origin + params->dilation_w * fx;
                if (in_x >= 0 && in_x < in_w) {
                    seg[n].in = rows[fy] + in_x * in_c;
                    seg[n].f_at = (fy * f_w + fx) * in_c;
                    seg[n].len = in_c;
                    ++n;
                }
            }
        }
    }
    return n;
}

/* Two pixels (x origins x0, x1) of a one-group convolution with dilation_w 1 whose segments
 * differ (image borders): their whole windows over the in-image rows, widened with 0 for the
 * positions outside the image (x + input_offset there is what the portable kernel skips, so a
 * zero adds the same nothing). The in-image rows are consecutive filter rows: one run of
 * weights. Returns 0 (nothing done) when the window exceeds TSN_DSP_Q15_WORDS. */
static inline int tsn_dsp_window_pair(const tsn_dsp_io *io, const tsn_requant *quant,
                                      const int8_t *const *rows, int32_t in_w, int32_t in_c,
                                      int32_t f_h, int32_t f_w, int32_t x0, int32_t x1,
                                      const int8_t *filter, const int32_t *bias, int32_t out_c,
                                      int8_t *out0, int8_t *out1)
{
    uint32_t q[TSN_DSP_Q15_WORDS];
    int32_t tail0[3], tail1[3];
    const int32_t row_len = f_w * in_c, f_size = f_h * row_len;
    int32_t fy0 = 0, fy1 = f_h, total, groups, tail, t, oc, k, j;
    while (fy0 < f_h && rows[fy0] == NULL) {
        ++fy0;
    }
    while (fy1 > fy0 && rows[fy1 - 1] == NULL) {
        --fy1;
    }
    total = (fy1 - fy0) * row_len;
    if (total > TSN_DSP_Q15_WORDS) {
        return 0;
    }
    for (k = fy0; k < fy1; ++k) {
        if (rows[k] == NULL) {
            return 0; /* a hole (dilation_h): the weights would not run on */
        }
    }
    groups = total >> 2;
    tail = total & 3;
    t = 0;
    {
        int32_t v0[4], v1[4], fy, fx, ic;
        for (fy = fy0; fy < fy1; ++fy) {
            for (fx = 0; fx < f_w; ++fx) {
                const int8_t *p0 = x0 + fx >= 0 && x0 + fx < in_w ? rows[fy] + (x0 + fx) * in_c
                                                                : NULL;
                const int8_t *p1 = x1 + fx >= 0 && x1 + fx < in_w ? rows[fy] + (x1 + fx) * in_c
                                                                : NULL;
                for (ic = 0; ic < in_c; ++ic) {
                    v0[t & 3] = p0 != NULL ? p0[ic] + io->input_offset : 0;
                    v1[t & 3] = p1 != NULL ? p1[ic] + io->input_offset : 0;
                    if ((t & 3) == 3) {
                        q[t - 3] = tsn_pair16(v0[0], v0[2]);
                        q[t - 2] = tsn_pair16(v0[1], v0[3]);
                        q[t - 1] = tsn_pair16(v1[0], v1[2]);
                        q[t] = tsn_pair16(v1[1], v1[3]);
                    }
                    ++t;
                }
            }
        }
        for (j = 0; j < tail; ++j) {
            tail0[j] = v0[j];
            tail1[j] = v1[j];
        }
    }
    filter += fy0 * row_len;
    for (oc = 0; oc < out_c; oc += TSN_DSP_CHUNK) {
        int32_t accs[2 * TSN_DSP_CHUNK + 2];
        const int32_t n = out_c - oc < TSN_DSP_CHUNK ? out_c - oc : TSN_DSP_CHUNK;
        for (k = 0; k < n; k += 2) {
            int32_t acc[4] = {0, 0, 0, 0};
            const int8_t *f0 = filter + (oc + k) * f_size;
            const int8_t *f1 = k + 1 < n ? f0 + f_size : f0; /* odd last: twice */
            tsn_dsp_mac_2x2(q, groups, f0, f1, acc);
            for (j = 0; j < tail; ++j) {
                acc[0] += f0[4 * groups + j] * tail0[j];
                acc[1] += f1[4 * groups + j] * tail0[j];
                acc[2] += f0[4 * groups + j] * tail1[j];
                acc[3] += f1[4 * groups + j] * tail1[j];
            }
            accs[2 * k] = acc[0];
            accs[2 * k + 1] = acc[2];
            accs[2 * k + 2] = acc[1];
            accs[2 * k + 3] = acc[3];
        }
        tsn_dsp_requant_pairs(io, quant, bias, oc, n, accs, out0 + oc, out1 + oc);
    }
    return 1;
}

/* Output row `out` (out_w pixels of out_c, out_stride apart) of a one-group convolution whose needed input rows
 * are rows[0 .. f_h) (NULL: outside the image). Pixels two by two: from their segments when
 * these agree (interior), else from their zero-padded windows; a last odd pixel pairs with
 * itself (computed twice, written once per output). */
static inline void tsn_dsp_conv_row(const tsn_conv_params *params, const tsn_requant *quant,
                                    const int8_t *const *rows, int32_t in_w, int32_t in_c,
                                    int32_t f_h, int32_t f_w, const int8_t *filter,
                                    const int32_t *bias, int32_t out_w, int32_t out_c,
                                    int32_t out_stride, int8_t *out)
{
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    const int32_t f_size = f_h * f_w * in_c;
    tsn_dsp_seg seg0[TSN_DSP_MAX_SEGS], seg1[TSN_DSP_MAX_SEGS];
    int32_t ox = 0;
    while (ox < out_w) {
        const int32_t ox1 = ox + 1 < out_w ? ox + 1 : ox;
        const int32_t n0 = tsn_dsp_segments(params, rows, in_w, in_c, f_h, f_w, ox, seg0);
        int same = tsn_dsp_segments(params, rows, in_w, in_c, f_h, f_w, ox1, seg1) == n0;
        int32_t s;
        for (s = 0; same && s < n0; ++s) {
            same = seg1[s].f_at == seg0[s].f_at && seg1[s].len == seg0[s].len;
        }
        if (same) {
            tsn_dsp_pixel_pair(&io, quant, seg0, n0,
                               (ptrdiff_t)(ox1 - ox) * params->stride_w * in_c, filter, f_size,
                               bias, out_c, out + ox * out_stride, out + ox1 * out_stride);
        } else if (params->dilation_w != 1 ||
                   !tsn_dsp_window_pair(&io, quant, rows, in_w, in_c, f_h, f_w,
                                        ox * params->stride_w - params->pad_left,
                                        ox1 * params->stride_w - params->pad_left, filter,
                                        bias, out_c, out + ox * out_stride, out + ox1 * out_stride)) {
            tsn_dsp_pixel(&io, quant, seg0, n0, filter, f_size, bias, out_c, out + ox * out_stride);
            ox += 1;
            continue;
        }
        ox = ox1 + 1;
    }
}

/* ---- depthwise: one channel at a time, from zero-point-padded rows on the stack --------- */

/* Stack of the depthwise path: (span + 1) padded rows, and the packed filter of one channel. */
#define TSN_DSP_DW_STACK_BYTES 1024
#define TSN_DSP_DW_MAX_CHUNKS 32

/* The padded rows of tsn_dsp_dw_channel, one per layer call: when a channel's whole padded
 * plane fits, its pad bytes stay for the next channel, which copies only the input bytes. */
/* rows + dst <- `count` rows of n input bytes from in + src, in_stride apart, row_step from a row
 * to the next (tsn_dsp_dw_gather). */
typedef struct {
    int32_t dst, count, src, row_step, n;
} tsn_dsp_dw_copy;
typedef struct {
    int8_t bytes[TSN_DSP_DW_STACK_BYTES];
    int padded;            /* 0 before the first channel */
    tsn_dsp_dw_copy copy;  /* tsn_dsp_dw3_plane's, set with padded */
    int32_t per_run;       /* likewise: output rows requantized together */
} tsn_dsp_dw_rows;

/* Whether tsn_dsp_dw_channel handles the depthwise convolution (else the portable loops). */
static inline int tsn_dsp_dw_ok(const tsn_conv_params *params, int32_t f_h, int32_t f_w,
                                int32_t in_h, int32_t out_w)
{
    const int32_t span = (f_h - 1) * params->dilation_h + 1;
    const int32_t ring = span < in_h ? span : in_h;
    const int32_t chunks = (f_w + 3) / 4;
    const int32_t width = (out_w - 1) * params->stride_w + 4 * chunks;
    return params->dilation_w == 1 && f_h * chunks <= TSN_DSP_DW_MAX_CHUNKS &&
           width <= TSN_DSP_DW_STACK_BYTES && (ring + 1) * width <= TSN_DSP_DW_STACK_BYTES;
}

/* One output row of a depthwise convolution of 3 padded rows of <= 4 taps each. */
static inline void tsn_dsp_dw_row3(const tsn_conv_params *params, const tsn_dsp_rq *rq,
                                   int32_t bias, const int8_t *const *row_at,
                                   const uint32_t *taps, int8_t *out, int32_t out_stride,
                                   int32_t out_w)
{
    const uint32_t off2 = tsn_dup16(params->input_offset);
    const uint32_t t0e = taps[0], t0o = taps[1], t1e = taps[2], t1o = taps[3];
    const uint32_t t2e = taps[4], t2o = taps[5];
    const int32_t stride = params->stride_w;
    const int8_t *r0 = row_at[0], *r1 = row_at[1], *r2 = row_at[2];
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    int32_t accs[TSN_DSP_CHUNK];
    int32_t ox, k;
    for (ox = 0; ox < out_w; ox += TSN_DSP_CHUNK) {
        const int32_t n = out_w - ox < TSN_DSP_CHUNK ? out_w - ox : TSN_DSP_CHUNK;
        for (k = 0; k < n; ++k) {
            uint32_t v;
            int32_t acc;
            v = tsn_ld4(r0);
            acc = tsn_smlad(tsn_sxtab16(off2, v), t0e, 0);
            acc = tsn_smlad(tsn_sxtab16_ror8(off2, v), t0o, acc);
            v = tsn_ld4(r1);
            acc = tsn_smlad(tsn_sxtab16(off2, v), t1e, acc);
            acc = tsn_smlad(tsn_sxtab16_ror8(off2, v), t1o, acc);
            v = tsn_ld4(r2);
            acc = tsn_smlad(tsn_sxtab16(off2, v), t2e, acc);
            accs[k] = tsn_smlad(tsn_sxtab16_ror8(off2, v), t2o, acc);
            r0 += stride;
            r1 += stride;
            r2 += stride;
        }
        tsn_dsp_requant_run(&io, rq, bias, accs, n, out + ox * out_stride, out_stride);
    }
}

/* Row `row` (width bytes) = input row `src` (in_w elements at stride in_stride) between
 * pad_left and right padding bytes of value pad. */
static inline void tsn_dsp_dw_pad_row(int8_t *row, int32_t width, const int8_t *src,
                                      int32_t in_stride, int32_t in_w, int32_t pad_left,
                                      int8_t pad)
{
    const int32_t end = pad_left + in_w < width ? pad_left + in_w : width;
    int32_t x = 0;
    for (; x < pad_left && x < width; ++x) {
        row[x] = pad;
    }
    for (src += (x - pad_left) * in_stride; x < end; ++x, src += in_stride) {
        row[x] = *src;
    }
    for (; x < width; ++x) {
        row[x] = pad;
    }
}

/* The whole output plane of a 3-row, <= 4-tap depthwise from the padded plane `rows`
 * (width bytes per row), in raster order: no per-row work but pointer steps. */
static inline void tsn_dsp_dw_plane3(const tsn_conv_params *params, const tsn_dsp_rq *rq,
                                     int32_t bias, const int8_t *rows, int32_t width,
                                     const uint32_t *taps, int8_t *out, int32_t out_stride,
                                     int32_t out_h, int32_t out_w)
{
    const uint32_t off2 = tsn_dup16(params->input_offset);
    const uint32_t t0e = taps[0], t0o = taps[1], t1e = taps[2], t1o = taps[3];
    const uint32_t t2e = taps[4], t2o = taps[5];
    const int32_t sw = params->stride_w, row_step = params->stride_h * width;
    const int32_t d1 = params->dilation_h * width, d2 = 2 * d1;
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    const int32_t total = out_h * out_w;
    const int8_t *line = rows, *r = rows;
    int32_t accs[TSN_DSP_CHUNK];
    int32_t i, k, ox = 0;
    for (i = 0; i < total; i += TSN_DSP_CHUNK) {
        const int32_t n = total - i < TSN_DSP_CHUNK ? total - i : TSN_DSP_CHUNK;
        for (k = 0; k < n; ++k) {
            uint32_t v;
            int32_t acc;
            v = tsn_ld4(r);
            acc = tsn_smlad(tsn_sxtab16(off2, v), t0e, 0);
            acc = tsn_smlad(tsn_sxtab16_ror8(off2, v), t0o, acc);
            v = tsn_ld4(r + d1);
            acc = tsn_smlad(tsn_sxtab16(off2, v), t1e, acc);
            acc = tsn_smlad(tsn_sxtab16_ror8(off2, v), t1o, acc);
            v = tsn_ld4(r + d2);
            acc = tsn_smlad(tsn_sxtab16(off2, v), t2e, acc);
            accs[k] = tsn_smlad(tsn_sxtab16_ror8(off2, v), t2o, acc);
            r += sw;
            if (++ox == out_w) {
                ox = 0;
                line += row_step;
                r = line;
            }
        }
        tsn_dsp_requant_run(&io, rq, bias, accs, n, out + i * out_stride, out_stride);
    }
}

/* Output row `out` from the padded rows row_at[0 .. f_h) (taps as tsn_dsp_dw_channel's). */
static inline void tsn_dsp_dw_out_row(const tsn_conv_params *params, const tsn_dsp_rq *rq,
                                      int32_t bias, const int8_t *const *row_at,
                                      const uint32_t *taps, int32_t f_h, int32_t chunks,
                                      int8_t *out, int32_t out_stride, int32_t out_w)
{
    const uint32_t off2 = tsn_dup16(params->input_offset);
    int32_t ox, fy, k;
    if (f_h == 3 && chunks == 1) { /* 3 rows of up to 4 taps (3x3): taps in registers */
        tsn_dsp_dw_row3(params, rq, bias, row_at, taps, out, out_stride, out_w);
        return;
    }
    for (ox = 0; ox < out_w; ++ox) {
        const int32_t at = ox * params->stride_w;
        const uint32_t *t = taps;
        int32_t acc = 0;
        for (fy = 0; fy < f_h; ++fy) {
            const int8_t *r = row_at[fy] + at;
            for (k = 0; k < chunks; ++k) {
                const uint32_t v = tsn_ld4(r);
                r += 4;
                acc = tsn_smlad(tsn_sxtab16(off2, v), t[0], acc);
                acc = tsn_smlad(tsn_sxtab16_ror8(off2, v), t[1], acc);
                t += 2;
            }
        }
        acc = tsn_dsp_rq_apply(rq, acc + bias) + params->output_offset;
        out[ox * out_stride] = (int8_t)tsn_clamp(acc, params->act_min, params->act_max);
    }
}

#include "tsn_dsp_dw.h"

/* One channel of a depthwise convolution (dilation_w 1). Element (y, x) of the input channel is
 * in[(y * in_w + x) * in_stride], filter tap t is element f_first + t * f_stride of filter (int8,
 * or packed `bits` wide), output (y, x) goes to
 * out[(y * out_w + x) * out_stride]. The input rows go to the stack padded with -input_offset
 * (x + input_offset = 0 adds nothing, as the portable kernel's skipped positions), rows outside
 * the image are padding rows, so every tap is in range: 4 taps per LDR, two SMLADs, in `buf`
 * (the caller's, one per layer call). The whole
 * padded plane when it fits in TSN_DSP_DW_STACK_BYTES (copied before any output is written),
 * else a ring of rows copied when first needed, in increasing order: then a caller writing its
 * output over its input must only need rows already copied (tsn_depthwise_conv2d_inplace_s8
 * checks it). */
static inline void tsn_dsp_dw_channel(tsn_dsp_dw_rows *buf, const tsn_conv_params *params,
                                      const tsn_dsp_rq *rq, int32_t bias, const int8_t *in,
                                      int32_t in_stride, int32_t in_h, int32_t in_w,
                                      const int8_t *filter, int32_t f_first, int32_t f_stride,
                                      int bits, int32_t f_h, int32_t f_w, int8_t *out,
                                      int32_t out_stride, int32_t out_h, int32_t out_w)
{
    const int32_t span = (f_h - 1) * params->dilation_h + 1;
    const int32_t ring = span < in_h ? span : in_h;
    const int32_t chunks = (f_w + 3) / 4;
    const int32_t width = (out_w - 1) * params->stride_w + 4 * chunks;
    const int32_t y_first = -params->pad_top;
    const int32_t plane = (out_h - 1) * params->stride_h + span; /* rows y_first .. */
    const int8_t pad = (int8_t)-params->input_offset; /* input_offset in [-127, 128] */
    const int dw3 = f_h == 3 && f_w == 3 && params->stride_w <= 2 &&
                    (plane * width + 4 <= TSN_DSP_DW_STACK_BYTES ||
                     span * width + 4 <= TSN_DSP_DW_STACK_BYTES); /* tsn_dsp_dw.h */
    int8_t *const rows = buf->bytes;
    uint32_t taps[2 * TSN_DSP_DW_MAX_CHUNKS], w3[5];
    int32_t t9[9], bias3 = 0;
    const int8_t *row_at[TSN_DSP_DW_MAX_CHUNKS];
    int32_t fy, k, x, oy, copied = 0;

    for (fy = 0; fy < f_h && !dw3; ++fy) { /* tap pairs (4k, 4k+2), (4k+1, 4k+3), 0 past f_w */
        for (k = 0; k < chunks; ++k) {
            int32_t t4[4];
            for (x = 0; x < 4; ++x) {
                const int32_t fx = 4 * k + x;
                const int32_t e = f_first + (fy * f_w + fx) * f_stride;
                t4[x] = fx >= f_w ? 0 : bits == 8 ? filter[e] : tsn_packed_at(filter, e, bits);
            }
            taps[2 * (fy * chunks + k)] = tsn_pair16(t4[0], t4[2]);
            taps[2 * (fy * chunks + k) + 1] = tsn_pair16(t4[1], t4[3]);
        }
    }
    if (dw3) { /* raw bytes: input_offset * sum of taps goes into the bias */
        if (bits == 8) { /* unrolled: the taps stay in registers */
            const int8_t *f = filter + f_first;
            t9[0] = f[0], t9[1] = f[f_stride], t9[2] = f[2 * f_stride];
            t9[3] = f[3 * f_stride], t9[4] = f[4 * f_stride], t9[5] = f[5 * f_stride];
            t9[6] = f[6 * f_stride], t9[7] = f[7 * f_stride], t9[8] = f[8 * f_stride];
        } else {
            for (k = 0; k < 9; ++k) {
                t9[k] = tsn_packed_at(filter, f_first + k * f_stride, bits);
            }
        }
        bias3 = tsn_dsp_i32((uint32_t)bias + (uint32_t)params->input_offset *
                                                 (uint32_t)tsn_dsp_dw3_taps(t9, w3));
    }
    if (plane * width + (dw3 ? 4 : 0) <= TSN_DSP_DW_STACK_BYTES) {
        if (dw3) {
            tsn_dsp_dw3_plane(buf, params, rq, bias3, in, in_stride, in_h, in_w, width, plane, w3,
                              out, out_stride, out_h, out_w);
            return;
        }
        tsn_dsp_dw_fill(rows, width, plane, in, in_stride, in_h, in_w, y_first, params->pad_left,
                        pad, buf->padded);
        buf->padded = 1;
        if (f_h == 3 && chunks == 1) {
            tsn_dsp_dw_plane3(params, rq, bias, rows, width, taps, out, out_stride, out_h,
                              out_w);
            return;
        }
        for (oy = 0; oy < out_h; ++oy) {
            for (fy = 0; fy < f_h; ++fy) {
                row_at[fy] = rows + (oy * params->stride_h + fy * params->dilation_h) * width;
            }
            tsn_dsp_dw_out_row(params, rq, bias, row_at, taps, f_h, chunks,
                               out + oy * out_w * out_stride, out_stride, out_w);
        }
        return;
    }
    buf->padded = 0; /* rows moved and filled row by row */
    if (dw3) { /* the window fits (dw3's condition) */
        tsn_dsp_dw3_window(params, rq, bias3, in, in_stride, in_h, in_w, rows, width, w3, out,
                           out_stride, out_h, out_w);
        return;
    }
    tsn_dsp_dw_pad_row(rows + ring * width, width, in, in_stride, 0, width, pad);
    for (oy = 0; oy < out_h; ++oy) {
        const int32_t in_y_origin = oy * params->stride_h - params->pad_top;
        const int32_t end = in_y_origin + span;
        const int32_t need = end < in_h ? (end < 0 ? 0 : end) : in_h;
        for (; copied < need; ++copied) {
            tsn_dsp_dw_pad_row(rows + (copied % ring) * width, width,
                               in + copied * in_w * in_stride, in_stride, in_w, params->pad_left,
                               pad);
        }
        for (fy = 0; fy < f_h; ++fy) {
            const int32_t in_y = in_y_origin + params->dilation_h * fy;
            row_at[fy] = in_y >= 0 && in_y < in_h ? rows + (in_y % ring) * width
                                                  : rows + ring * width;
        }
        tsn_dsp_dw_out_row(params, rq, bias, row_at, taps, f_h, chunks,
                           out + oy * out_w * out_stride, out_stride, out_w);
    }
}

/* ---- packed sub-byte weights: unpacked by chunks of filters into int8 on the stack ------ */

#define TSN_DSP_UNPACK_BYTES 2048

/* dst[i] = element first + i of a packed stream (tsn_packed_at), i < count. */
static inline void tsn_dsp_unpack(const int8_t *packed, int32_t first, int32_t count, int bits,
                                  int8_t *dst)
{
    int32_t i = 0;
    if (bits == 4 && (first & 1) == 0) { /* whole bytes: low nibble, then high nibble */
        const int8_t *p = packed + (first >> 1);
        for (; i + 2 <= count; i += 2) {
            const int32_t b = *p++;
            /* sign-extending shifts of negative values are arithmetic where this path builds */
            dst[i] = (int8_t)((int32_t)((uint32_t)b << 28) >> 28);
            dst[i + 1] = (int8_t)(b >> 4);
        }
    }
    for (; i < count; ++i) {
        dst[i] = (int8_t)tsn_packed_at(packed, first + i, bits);
    }
}

/* quant restricted to the channels from oc on. */
static inline tsn_requant tsn_dsp_quant_from(const tsn_requant *quant, int32_t oc)
{
    tsn_requant q = *quant;
    if (q.per_channel) {
        q.multiplier += oc;
        q.shift += oc;
    }
    return q;
}

/* ---- fully connected with packed INT4 weights, straight from the nibbles --------------- */

/* A weight word holds elements e0..e7 (byte k: e(2k) low nibble, e(2k+1) high nibble).
 * (w << 4) & 0xF0F0F0F0 has 16*e0, 16*e2, 16*e4, 16*e6 in its bytes, w & 0xF0F0F0F0 has
 * 16*e1, 16*e3, 16*e5, 16*e7: SXTB16 with and without ROR #8 gives (e0, e4), (e2, e6),
 * (e1, e5), (e3, e7), times 16, with no sign-extension work. The input row is widened to the
 * matching lanes, q[4k..4k+3] = (x0, x4), (x2, x6), (x1, x5), (x3, x7) of its k-th 8 bytes
 * (+ offset). The sums are 16 times the true ones, exactly (|16 * sum| < 2^31 for rows of at most
 * TSN_DSP_S4_MAX_DEPTH elements), so >> 4 gives them back. */
static inline void tsn_dsp_widen_s4(const int8_t *x, int32_t groups, uint32_t off2, uint32_t *q)
{
    int32_t k;
    for (k = 0; k < groups; ++k) {
        const uint32_t a = tsn_ld4(x + 8 * k), b = tsn_ld4(x + 8 * k + 4);
        const uint32_t c = (a & 0xFFFFu) | (b << 16); /* bytes x0 x1 x4 x5 (PKHBT) */
        const uint32_t d = (b & 0xFFFF0000u) | (a >> 16); /* bytes x2 x3 x6 x7 (PKHTB) */
        q[4 * k] = tsn_sxtab16(off2, c);
        q[4 * k + 1] = tsn_sxtab16(off2, d);
        q[4 * k + 2] = tsn_sxtab16_ror8(off2, c);
        q[4 * k + 3] = tsn_sxtab16_ror8(off2, d);
    }
}

/* acc[j] += 16 * (packed INT4 row w + j * ws bytes) . (widened row), j < 2, 8 inputs a group. */
TSN_DSP_LOOP void tsn_dsp_mac_s4_1x2(const uint32_t *q, int32_t groups, const int8_t *w,
                                      int32_t ws, int32_t *acc)
{
    int32_t a0 = acc[0], a1 = acc[1];
    const int8_t *w0 = w, *w1 = w + ws;
#if TSN_DSP_ASM_LOOPS
    /* 26 instructions for 16 MACs: both rows' words loaded first, the mask in a register
     * (AND with a shifted operand: no LSL), each pair of widened inputs loaded once */
    if (groups > 0) {
        const uint32_t *const end = q + 4 * groups;
        const uint32_t mask = 0xF0F0F0F0u;
        uint32_t x0, x1, t0, t1, lo, u;
        __asm__ volatile(
            "1:\n\t"
            "ldr %[t0], [%[w0]], #4\n\t"
            "ldr %[t1], [%[w1]], #4\n\t"
            "ldrd %[x0], %[x1], [%[q]], #8\n\t"
            "and %[lo], %[mask], %[t0], lsl #4\n\t"
            "sxtb16 %[u], %[lo], ror #8\n\t"
            "sxtb16 %[lo], %[lo]\n\t"
            "smlad %[a0], %[lo], %[x0], %[a0]\n\t"
            "smlad %[a0], %[u], %[x1], %[a0]\n\t"
            "and %[lo], %[mask], %[t1], lsl #4\n\t"
            "sxtb16 %[u], %[lo], ror #8\n\t"
            "sxtb16 %[lo], %[lo]\n\t"
            "smlad %[a1], %[lo], %[x0], %[a1]\n\t"
            "smlad %[a1], %[u], %[x1], %[a1]\n\t"
            "ldrd %[x0], %[x1], [%[q]], #8\n\t"
            "and %[t0], %[t0], %[mask]\n\t"
            "sxtb16 %[u], %[t0], ror #8\n\t"
            "sxtb16 %[t0], %[t0]\n\t"
            "smlad %[a0], %[t0], %[x0], %[a0]\n\t"
            "smlad %[a0], %[u], %[x1], %[a0]\n\t"
            "and %[t1], %[t1], %[mask]\n\t"
            "sxtb16 %[u], %[t1], ror #8\n\t"
            "sxtb16 %[t1], %[t1]\n\t"
            "smlad %[a1], %[t1], %[x0], %[a1]\n\t"
            "smlad %[a1], %[u], %[x1], %[a1]\n\t"
            "cmp %[q], %[end]\n\t"
            "bne 1b"
            : [a0] "+r"(a0), [a1] "+r"(a1), [q] "+r"(q), [w0] "+r"(w0), [w1] "+r"(w1),
              [x0] "=&r"(x0), [x1] "=&r"(x1), [t0] "=&r"(t0), [t1] "=&r"(t1), [lo] "=&r"(lo),
              [u] "=&r"(u)
            : [end] "r"(end), [mask] "r"(mask)
            : "cc", "memory");
    }
#else
    int32_t k;
    for (k = 0; k < groups; ++k) {
        uint32_t t = tsn_ld4(w0 + 4 * k), lo = (t << 4) & 0xF0F0F0F0u;
        t &= 0xF0F0F0F0u;
        a0 = tsn_smlad(tsn_sxtb16(lo), q[4 * k], a0);
        a0 = tsn_smlad(tsn_sxtb16_ror8(lo), q[4 * k + 1], a0);
        a0 = tsn_smlad(tsn_sxtb16(t), q[4 * k + 2], a0);
        a0 = tsn_smlad(tsn_sxtb16_ror8(t), q[4 * k + 3], a0);
        t = tsn_ld4(w1 + 4 * k);
        lo = (t << 4) & 0xF0F0F0F0u;
        t &= 0xF0F0F0F0u;
        a1 = tsn_smlad(tsn_sxtb16(lo), q[4 * k], a1);
        a1 = tsn_smlad(tsn_sxtb16_ror8(lo), q[4 * k + 1], a1);
        a1 = tsn_smlad(tsn_sxtb16(t), q[4 * k + 2], a1);
        a1 = tsn_smlad(tsn_sxtb16_ror8(t), q[4 * k + 3], a1);
    }
#endif
    acc[0] = a0;
    acc[1] = a1;
}

/* One input row of `depth` (even, <= TSN_DSP_S4_MAX_DEPTH) inputs against packed INT4 weight
 * rows (row o starts at byte o * depth / 2): out[0 .. out_c). */
static inline void tsn_dsp_row1_s4(const tsn_dsp_io *io, const tsn_requant *quant,
                                   const int8_t *x, int32_t depth, const int8_t *weights,
                                   const int32_t *bias, int32_t out_c, int8_t *out)
{
    enum { PIECE = 2 * TSN_DSP_Q15_WORDS }; /* inputs per widening: 8 per 4 words */
    uint32_t q[TSN_DSP_Q15_WORDS];
    const uint32_t off2 = tsn_dup16(io->input_offset);
    const int32_t body = depth & ~7, row_bytes = depth >> 1;
    int32_t oc, k, at, i;
    for (oc = 0; oc < out_c; oc += TSN_DSP_CHUNK) {
        int32_t accs[TSN_DSP_CHUNK + 1] = {0};
        const int32_t n = out_c - oc < TSN_DSP_CHUNK ? out_c - oc : TSN_DSP_CHUNK;
        for (at = 0; at < body; at += PIECE) {
            const int32_t len = body - at < PIECE ? body - at : PIECE;
            tsn_dsp_widen_s4(x + at, len >> 3, off2, q);
            for (k = 0; k < n; k += 2) { /* an odd last row: twice */
                const int8_t *w = weights + (oc + k) * row_bytes + (at >> 1);
                tsn_dsp_mac_s4_1x2(q, len >> 3, w, k + 1 < n ? row_bytes : 0, accs + k);
            }
        }
        int ashift = 4; /* the sums are 16 times the true ones: shifted back in the requant */
        if (body < depth) { /* a tail in C: back to 1x first */
            for (k = 0; k < n; ++k) {
                /* exact: a multiple of 16; >> of a negative int is arithmetic where this builds */
                int32_t acc = accs[k] >> 4;
                for (i = body; i < depth; ++i) {
                    acc += tsn_s4_at(weights, (oc + k) * depth + i) * (x[i] + io->input_offset);
                }
                accs[k] = acc;
            }
            ashift = 0;
        }
        tsn_dsp_requant_singles(io, quant, bias, oc, n, accs, ashift, out + oc);
    }
}

/* ---- four output pixels at a time from their widened windows (int8 or packed INT4) ------- */

/* The windows of 4 output pixels of a row (whole filter rows over the in-image input rows;
 * positions outside the image widened as 0, which adds what the portable kernel's skipped
 * positions add: nothing) are widened once per piece into q, group by group: a group is 4 int8
 * (2 words per pixel: bytes 0, 2 and 1, 3, as tsn_dsp_widen2) or 8 INT4 elements (4 words per
 * pixel, the lane order of tsn_dsp_widen_s4), pixels 0..3 one after the other. Each filter's
 * weights then run once over the 4 pixels: the weight widening (SXTB16, or for INT4 the nibble
 * masks of tsn_dsp_mac_s4_1x2) is shared by 4 pixels. INT4 sums are 16 times the true ones
 * (exact for windows of at most TSN_DSP_S4_MAX_DEPTH elements) and shifted back before the
 * bias. */
#define TSN_DSP_QUAD_WORDS 512
#define TSN_DSP_S4_MAX_DEPTH 65536

/* a_p + int8 weights w (4 a group) . pixel p's widened inputs, p < 4. */
static inline TSN_DSP_INLINE tsn_dsp_acc4 tsn_dsp_mac_4x1_regs(tsn_dsp_acc4 a, const uint32_t *q,
                                                               int32_t groups, const int8_t *w)
{
    int32_t a0 = a.a0, a1 = a.a1, a2 = a.a2, a3 = a.a3;
    int32_t k, singles = groups; /* groups one at a time, in C */
#if TSN_DSP_ASM_LOOPS
    /* 31 instructions for 32 MACs: two groups a pass, their 8 weights in one LDRD (which
     * needs a word-aligned w: the generated constants are; other callers take the C loop) */
    singles = ((uintptr_t)w & 3) != 0 ? groups : groups & 1;
#endif
    for (k = 0; k < singles; ++k) {
        const uint32_t v = tsn_ld4(w);
        const uint32_t we = tsn_sxtb16(v), wo = tsn_sxtb16_ror8(v);
        a0 = tsn_smlad(wo, q[1], tsn_smlad(we, q[0], a0));
        a1 = tsn_smlad(wo, q[3], tsn_smlad(we, q[2], a1));
        a2 = tsn_smlad(wo, q[5], tsn_smlad(we, q[4], a2));
        a3 = tsn_smlad(wo, q[7], tsn_smlad(we, q[6], a3));
        q += 8;
        w += 4;
    }
#if TSN_DSP_ASM_LOOPS
    groups -= singles;
    if (groups > 0) {
        const uint32_t *const end = q + 8 * groups;
        uint32_t t0, t1, we0, we1, xe, xo;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[t0], %[t1], [%[w]], #8\n\t"
            "sxtb16 %[we0], %[t0]\n\t"
            "sxtb16 %[t0], %[t0], ror #8\n\t"
            "sxtb16 %[we1], %[t1]\n\t"
            "sxtb16 %[t1], %[t1], ror #8\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "smlad %[a0], %[we0], %[xe], %[a0]\n\t"
            "smlad %[a0], %[t0], %[xo], %[a0]\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "smlad %[a1], %[we0], %[xe], %[a1]\n\t"
            "smlad %[a1], %[t0], %[xo], %[a1]\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "smlad %[a2], %[we0], %[xe], %[a2]\n\t"
            "smlad %[a2], %[t0], %[xo], %[a2]\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "smlad %[a3], %[we0], %[xe], %[a3]\n\t"
            "smlad %[a3], %[t0], %[xo], %[a3]\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "smlad %[a0], %[we1], %[xe], %[a0]\n\t"
            "smlad %[a0], %[t1], %[xo], %[a0]\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "smlad %[a1], %[we1], %[xe], %[a1]\n\t"
            "smlad %[a1], %[t1], %[xo], %[a1]\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "smlad %[a2], %[we1], %[xe], %[a2]\n\t"
            "smlad %[a2], %[t1], %[xo], %[a2]\n\t"
            "ldrd %[xe], %[xo], [%[q]], #8\n\t"
            "smlad %[a3], %[we1], %[xe], %[a3]\n\t"
            "smlad %[a3], %[t1], %[xo], %[a3]\n\t"
            "cmp %[q], %[end]\n\t"
            "bne 1b"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [q] "+r"(q),
              [w] "+r"(w), [t0] "=&r"(t0), [t1] "=&r"(t1), [we0] "=&r"(we0), [we1] "=&r"(we1),
              [xe] "=&r"(xe), [xo] "=&r"(xo)
            : [end] "r"(end)
            : "cc", "memory");
    }
#endif
    a.a0 = a0;
    a.a1 = a1;
    a.a2 = a2;
    a.a3 = a3;
    return a;
}

/* a_p + 16 * (packed INT4 weights w, 8 a group) . pixel p's widened inputs, p < 4. */
static inline TSN_DSP_INLINE tsn_dsp_acc4 tsn_dsp_mac_s4_4x1_regs(tsn_dsp_acc4 a,
                                                                  const uint32_t *q,
                                                                  int32_t groups,
                                                                  const int8_t *w)
{
    int32_t a0 = a.a0, a1 = a.a1, a2 = a.a2, a3 = a.a3;
#if TSN_DSP_ASM_LOOPS
    /* 33 instructions for 32 MACs: the mask in a register (AND with a shifted operand), the
     * high nibbles' lanes of the 4 pixels first, the pointer stepped by the last LDRD */
    if (groups > 0) {
        const uint32_t *const end = q + 16 * groups;
        const uint32_t mask = 0xF0F0F0F0u;
        uint32_t t, u0, u1, x, y;
        __asm__ volatile(
            "1:\n\t"
            "ldr %[t], [%[w]], #4\n\t"
            "and %[u1], %[t], %[mask]\n\t"
            "sxtb16 %[u0], %[u1]\n\t"
            "sxtb16 %[u1], %[u1], ror #8\n\t"
            "ldrd %[x], %[y], [%[q], #8]\n\t"
            "smlad %[a0], %[u0], %[x], %[a0]\n\t"
            "smlad %[a0], %[u1], %[y], %[a0]\n\t"
            "ldrd %[x], %[y], [%[q], #24]\n\t"
            "smlad %[a1], %[u0], %[x], %[a1]\n\t"
            "smlad %[a1], %[u1], %[y], %[a1]\n\t"
            "ldrd %[x], %[y], [%[q], #40]\n\t"
            "smlad %[a2], %[u0], %[x], %[a2]\n\t"
            "smlad %[a2], %[u1], %[y], %[a2]\n\t"
            "ldrd %[x], %[y], [%[q], #56]\n\t"
            "smlad %[a3], %[u0], %[x], %[a3]\n\t"
            "smlad %[a3], %[u1], %[y], %[a3]\n\t"
            "and %[u1], %[mask], %[t], lsl #4\n\t"
            "sxtb16 %[u0], %[u1]\n\t"
            "sxtb16 %[u1], %[u1], ror #8\n\t"
            "ldrd %[x], %[y], [%[q], #16]\n\t"
            "smlad %[a1], %[u0], %[x], %[a1]\n\t"
            "smlad %[a1], %[u1], %[y], %[a1]\n\t"
            "ldrd %[x], %[y], [%[q], #32]\n\t"
            "smlad %[a2], %[u0], %[x], %[a2]\n\t"
            "smlad %[a2], %[u1], %[y], %[a2]\n\t"
            "ldrd %[x], %[y], [%[q], #48]\n\t"
            "smlad %[a3], %[u0], %[x], %[a3]\n\t"
            "smlad %[a3], %[u1], %[y], %[a3]\n\t"
            "ldrd %[x], %[y], [%[q]], #64\n\t"
            "smlad %[a0], %[u0], %[x], %[a0]\n\t"
            "smlad %[a0], %[u1], %[y], %[a0]\n\t"
            "cmp %[q], %[end]\n\t"
            "bne 1b"
            : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [q] "+r"(q),
              [w] "+r"(w), [t] "=&r"(t), [u0] "=&r"(u0), [u1] "=&r"(u1), [x] "=&r"(x),
              [y] "=&r"(y)
            : [end] "r"(end), [mask] "r"(mask)
            : "cc", "memory");
    }
#else
    int32_t k;
    for (k = 0; k < groups; ++k) {
        uint32_t t = tsn_ld4(w + 4 * k), lo = (t << 4) & 0xF0F0F0F0u;
        uint32_t u0, u1, u2, u3;
        t &= 0xF0F0F0F0u;
        u0 = tsn_sxtb16(lo);
        u1 = tsn_sxtb16_ror8(lo);
        u2 = tsn_sxtb16(t);
        u3 = tsn_sxtb16_ror8(t);
        a0 = tsn_smlad(u3, q[3], tsn_smlad(u2, q[2], tsn_smlad(u1, q[1], tsn_smlad(u0, q[0], a0))));
        a1 = tsn_smlad(u3, q[7], tsn_smlad(u2, q[6], tsn_smlad(u1, q[5], tsn_smlad(u0, q[4], a1))));
        a2 = tsn_smlad(u3, q[11], tsn_smlad(u2, q[10], tsn_smlad(u1, q[9], tsn_smlad(u0, q[8], a2))));
        a3 = tsn_smlad(u3, q[15], tsn_smlad(u2, q[14], tsn_smlad(u1, q[13], tsn_smlad(u0, q[12], a3))));
        q += 16;
    }
#endif
    a.a0 = a0;
    a.a1 = a1;
    a.a2 = a2;
    a.a3 = a3;
    return a;
}

/* acc[p] += int8 weights w (4 a group) . pixel p's widened inputs, p < 4. */
TSN_DSP_LOOP void tsn_dsp_mac_4x1(const uint32_t *q, int32_t groups, const int8_t *w,
                                   int32_t *acc)
{
    tsn_dsp_acc4_store(tsn_dsp_mac_4x1_regs(tsn_dsp_acc4_load(acc), q, groups, w), acc);
}

/* acc[p] += 16 * (packed INT4 weights w, 8 a group) . pixel p's widened inputs, p < 4. */
TSN_DSP_LOOP void tsn_dsp_mac_s4_4x1(const uint32_t *q, int32_t groups, const int8_t *w,
                                      int32_t *acc)
{
    tsn_dsp_acc4_store(tsn_dsp_mac_s4_4x1_regs(tsn_dsp_acc4_load(acc), q, groups, w), acc);
}

/* Whether tsn_dsp_conv_row4 handles a one-group convolution with weights of `bits` (8 or 4). */
static inline int tsn_dsp_quad_ok(const tsn_conv_params *params, int32_t f_h, int32_t f_w,
                                  int32_t in_c, int bits)
{
    return f_h <= TSN_DSP_MAX_SEGS && (bits == 8 ? (in_c & 3) == 0
                                                 : bits == 4 && (in_c & 7) == 0 &&
                                                       f_h * f_w * in_c <= TSN_DSP_S4_MAX_DEPTH) &&
           params->dilation_w >= 1;
}

/* One pixel's `groups` groups of elements from x (int8, or packed INT4 for bits 4), widened
 * into d, d + step, ...: words (x + off) of elements (0, 2), (1, 3) of a group (INT4: of each
 * half of 8), the layout of tsn_dsp_mac_4x1 / tsn_dsp_mac_s4_4x1 for step 4 * lanes. */
static inline TSN_DSP_INLINE void tsn_dsp_widen_run(const int8_t *x, int32_t groups, int bits,
                                                    uint32_t off2, int32_t step, uint32_t *d)
{
    int32_t k;
    if (bits == 4) {
#if TSN_DSP_ASM_LOOPS
        if (step == 16 && groups > 0) { /* 4 pixels: 12 instructions a group */
            uint32_t *const end = d + 16 * groups;
            uint32_t a, b, c, u;
            __asm__ volatile("1:\n\t"
                             "ldr %[a], [%[x]], #4\n\t"
                             "ldr %[b], [%[x]], #4\n\t"
                             "pkhbt %[c], %[a], %[b], lsl #16\n\t"
                             "pkhtb %[b], %[b], %[a], asr #16\n\t"
                             "sxtab16 %[a], %[off2], %[c], ror #8\n\t"
                             "sxtab16 %[u], %[off2], %[b], ror #8\n\t"
                             "strd %[a], %[u], [%[d], #8]\n\t"
                             "sxtab16 %[a], %[off2], %[c]\n\t"
                             "sxtab16 %[u], %[off2], %[b]\n\t"
                             "strd %[a], %[u], [%[d]], #64\n\t"
                             "cmp %[d], %[end]\n\t"
                             "bne 1b"
                             : [x] "+r"(x), [d] "+r"(d), [a] "=&r"(a), [b] "=&r"(b),
                               [c] "=&r"(c), [u] "=&r"(u)
                             : [off2] "r"(off2), [end] "r"(end)
                             : "cc", "memory");
            return;
        }
#endif
        for (k = 0; k < groups; ++k, d += step, x += 8) {
            const uint32_t a = tsn_ld4(x), b = tsn_ld4(x + 4);
            const uint32_t c = (a & 0xFFFFu) | (b << 16);
            const uint32_t f = (b & 0xFFFF0000u) | (a >> 16);
            d[0] = tsn_sxtab16(off2, c);
            d[1] = tsn_sxtab16(off2, f);
            d[2] = tsn_sxtab16_ror8(off2, c);
            d[3] = tsn_sxtab16_ror8(off2, f);
        }
        return;
    }
#if TSN_DSP_ASM_LOOPS
    if (step == 8 && groups > 0) { /* 4 pixels: 6 instructions a group */
        uint32_t *const end = d + 8 * groups;
        uint32_t t, u;
        __asm__ volatile("1:\n\t"
                         "ldr %[t], [%[x]], #4\n\t"
                         "sxtab16 %[u], %[off2], %[t]\n\t"
                         "sxtab16 %[t], %[off2], %[t], ror #8\n\t"
                         "strd %[u], %[t], [%[d]], #32\n\t"
                         "cmp %[d], %[end]\n\t"
                         "bne 1b"
                         : [x] "+r"(x), [d] "+r"(d), [t] "=&r"(t), [u] "=&r"(u)
                         : [off2] "r"(off2), [end] "r"(end)
                         : "cc", "memory");
        return;
    }
#endif
    for (k = 0; k < groups; ++k, d += step, x += 4) {
        const uint32_t v = tsn_ld4(x);
        d[0] = tsn_sxtab16(off2, v);
        d[1] = tsn_sxtab16_ror8(off2, v);
    }
}

/* Elements [e0, e0 + count) of the windows of the npix (4 or 1) pixels with x origins x0[]
 * (filter rows from rows[0], cells of in_c elements, f_w cells a row) widened into q; e0 and
 * count are multiples of the group size. */
static inline TSN_DSP_INLINE void tsn_dsp_widen_quad(const int8_t *const *rows, int32_t in_w,
                                                     int32_t in_c, int32_t f_w,
                                                     int32_t dilation_w, const int32_t *x0,
                                                     int32_t npix, int32_t e0, int32_t count,
                                                     int bits, uint32_t off2, uint32_t *q)
{
    const int32_t row_len = f_w * in_c;
    const int32_t lanes = bits == 4 ? 4 : 2, step = npix * lanes, per = bits == 4 ? 8 : 4;
    int32_t e = e0;
    while (e < e0 + count) {
        const int32_t fy = e / row_len, rem = e - fy * row_len, fx = rem / in_c;
        const int32_t ic = rem - fx * in_c;
        int32_t run = in_c - ic < e0 + count - e ? in_c - ic : e0 + count - e;
        int32_t groups, p, k;
        uint32_t *base;
        if (dilation_w == 1) { /* the rest of the filter row at once where no pixel leaves the image */
            const int32_t to_end = row_len - rem < e0 + count - e ? row_len - rem : e0 + count - e;
            const int32_t last_fx = (rem + to_end - 1) / in_c;
            int inside = 1;
            for (p = 0; p < npix; ++p) {
                inside = inside && x0[p] + fx >= 0 && x0[p] + last_fx < in_w;
            }
            run = inside ? to_end : run;
        }
        groups = run / per;
        base = q + (e - e0) / per * step;
        for (p = 0; p < npix; ++p) {
            const int32_t in_x = x0[p] + fx * dilation_w;
            uint32_t *d = base + p * lanes;
            if (in_x < 0 || in_x >= in_w) {
                for (k = 0; k < groups; ++k, d += step) {
                    d[0] = 0;
                    d[1] = 0;
                    if (bits == 4) {
                        d[2] = 0;
                        d[3] = 0;
                    }
                }
            } else {
                tsn_dsp_widen_run(rows[fy] + in_x * in_c + ic, groups, bits, off2, step, d);
            }
        }
        e += run;
    }
}

/* One channel of tsn_dsp_requant_block, any requantization: its usual right-shift form in a
 * loop of its own (>> of a negative int is arithmetic wherever this path builds). */
TSN_DSP_LOOP void tsn_dsp_requant_channel(const tsn_dsp_io *io, int32_t mult, int32_t shift,
                                          int32_t b, const int32_t *a, int32_t np,
                                          int32_t ashift, int8_t *o, int32_t out_stride)
{
    const int32_t off = io->output_offset, lo = io->act_min, hi = io->act_max;
    const tsn_dsp_rq rq = tsn_dsp_rq_of(mult, shift);
    int32_t p;
    if (tsn_dsp_rq_run_ok(&rq, io)) {
        tsn_dsp_rq_right_run(&rq, io, b, a, np, ashift, o, out_stride);
    } else if (rq.mode == TSN_DSP_RQ_RIGHT) {
        const int32_t m = rq.multiplier, rs1 = rq.rs1;
        const uint32_t k_lo = rq.k_lo, k_hi = rq.k_hi;
        for (p = 0; p < np; ++p) {
            const int32_t v = tsn_dsp_rq_right((a[p] >> ashift) + b, m, k_lo, k_hi, rs1);
            o[p * out_stride] = (int8_t)tsn_clamp(v + off, lo, hi);
        }
    } else {
        for (p = 0; p < np; ++p) {
            const int32_t v = tsn_dsp_rq_apply(&rq, (a[p] >> ashift) + b);
            o[p * out_stride] = (int8_t)tsn_clamp(v + off, lo, hi);
        }
    }
}

/* tsn_dsp_requant_block for np < 4 (a row's last one or two pixels): the right-shift form with
 * its folded constants output by output, the rest by tsn_dsp_requant_channel. */
TSN_DSP_LOOP void tsn_dsp_requant_short(const tsn_dsp_io *io, const tsn_requant *quant,
                                        const int32_t *bias, int32_t oc, int32_t n,
                                        const int32_t *acc, int32_t npix, int32_t np,
                                        int32_t ashift, int8_t *out, int32_t out_stride)
{
    const int full = io->act_min == -128 && io->act_max == 127;
    int32_t k, p;
    for (k = 0; k < n; ++k) {
        const int32_t q = quant->per_channel ? oc + k : 0;
        const int32_t m = quant->multiplier[q], b = bias != NULL ? bias[oc + k] : 0;
        const int32_t *a = acc + npix * k;
        int8_t *o = out + oc + k;
        int32_t rs1;
        uint32_t k_lo, k_hi;
        if (full && tsn_dsp_rq_fold(m, quant->shift[q], io->output_offset, &rs1, &k_lo, &k_hi)) {
            for (p = 0; p < np; ++p) { /* >> of a negative int: arithmetic here */
                const int32_t v = tsn_dsp_rq_right((a[p] >> ashift) + b, m, k_lo, k_hi, rs1);
                o[p * out_stride] = (int8_t)tsn_clamp(v, -128, 127);
            }
        } else {
            tsn_dsp_requant_channel(io, m, quant->shift[q], b, a, np, ashift, o, out_stride);
        }
    }
}

/* out[p * out_stride + oc + k] from acc[npix * k + p] >> ashift (+ bias), k < n, p < np (the
 * sums of INT4 weights are exact multiples of 16: ashift 4): 4 pixels of full-range channels
 * with the right-shift form straight-line (tsn_dsp_rq4), the rest by tsn_dsp_requant_channel;
 * np < 4 by tsn_dsp_requant_short. */
TSN_DSP_LOOP void tsn_dsp_requant_block(const tsn_dsp_io *io, const tsn_requant *quant,
                                        const int32_t *bias, int32_t oc, int32_t n,
                                        const int32_t *acc, int32_t npix, int32_t np,
                                        int32_t ashift, int8_t *out, int32_t out_stride)
{
    const int32_t off = io->output_offset;
    const int fast = io->act_min == -128 && io->act_max == 127;
    const int32_t step = quant->per_channel ? 1 : 0;
    const int32_t *mp = quant->multiplier + oc * step, *shp = quant->shift + oc * step;
    int32_t k;
    if (np != 4) {
        tsn_dsp_requant_short(io, quant, bias, oc, n, acc, npix, np, ashift, out, out_stride);
        return;
    }
    for (k = 0; k < n; ++k, mp += step, shp += step) {
        const int32_t b = bias != NULL ? bias[oc + k] : 0;
        int32_t rs1;
        uint32_t k_lo, k_hi;
        if (fast && tsn_dsp_rq_fold(*mp, *shp, off, &rs1, &k_lo, &k_hi)) {
            /* tsn_dsp_rq_run_ok, the constants folded once (tsn_dsp_requant.h) */
            tsn_dsp_rq4(acc + npix * k, ashift, b, *mp, k_lo, k_hi, rs1, out + oc + k,
                        out_stride);
        } else {
            tsn_dsp_requant_channel(io, *mp, *shp, b, acc + npix * k, np, ashift,
                                    out + oc + k, out_stride);
        }
    }
}

/* Whether tsn_dsp_conv4_fused requantizes this layer: full activation range and every
 * channel's requantization folds (tsn_dsp_rq_fold); else tsn_dsp_requant_block. */
static inline int tsn_dsp_fuse_ok(const tsn_dsp_io *io, const tsn_requant *quant, int32_t out_c)
{
    const int32_t count = quant->per_channel ? out_c : 1;
    int32_t c, rs1;
    uint32_t k_lo, k_hi;
    if (io->act_min != -128 || io->act_max != 127) {
        return 0;
    }
    for (c = 0; c < count; ++c) {
        if (!tsn_dsp_rq_fold(quant->multiplier[c], quant->shift[c], io->output_offset, &rs1,
                             &k_lo, &k_hi)) {
            return 0;
        }
    }
    return 1;
}

/* Words of tsn_dsp_conv4_fused's table a channel: bias, m, k_lo, k_hi, rs1 (tsn_dsp_rq_fold);
 * tsn_dsp_conv_row4 keeps the table of up to TSN_DSP_FUSE_CHANNELS channels (a multiple of
 * TSN_DSP_CHUNK; 1.25 KB of stack), built once a call for layers of at most that many. Tables
 * have one word more: the asm loads the bias after the last entry (unused). */
#define TSN_DSP_FUSE_WORDS 5
#define TSN_DSP_FUSE_CHANNELS 64

/* table[TSN_DSP_FUSE_WORDS * k ..] for channels oc + k, k < n, of a layer of tsn_dsp_fuse_ok. */
static inline void tsn_dsp_fuse_table(const tsn_dsp_io *io, const tsn_requant *quant,
                                      const int32_t *bias, int32_t oc, int32_t n, int32_t *table)
{
    int32_t k, rs1;
    uint32_t k_lo, k_hi;
    for (k = 0; k < n; ++k, table += TSN_DSP_FUSE_WORDS) {
        const int32_t q = quant->per_channel ? oc + k : 0;
        tsn_dsp_rq_folded(quant->shift[q], io->output_offset, &rs1, &k_lo, &k_hi);
        table[0] = bias != NULL ? bias[oc + k] : 0;
        table[1] = quant->multiplier[q];
        table[2] = (int32_t)k_lo;
        table[3] = (int32_t)k_hi;
        table[4] = rs1;
    }
}

/* The constants of channels oc .. oc + n (n <= TSN_DSP_CHUNK) in `table` of `cap` channels,
 * which holds those from *table_oc on (-1: none yet), rebuilt from oc when they are not there:
 * once a call for layers of at most `cap` channels. */
static inline const int32_t *tsn_dsp_fuse_table_for(const tsn_dsp_io *io,
                                                    const tsn_requant *quant,
                                                    const int32_t *bias, int32_t oc, int32_t n,
                                                    int32_t out_c, int32_t *table, int32_t cap,
                                                    int32_t *table_oc)
{
    if (*table_oc < 0 || oc < *table_oc || oc + n > *table_oc + cap) {
        *table_oc = oc;
        tsn_dsp_fuse_table(io, quant, bias, oc, out_c - oc < cap ? out_c - oc : cap, table);
    }
    return table + TSN_DSP_FUSE_WORDS * (oc - *table_oc);
}

#if TSN_DSP_ASM_LOOPS
/* The state of tsn_dsp_conv4_fused's asm loop, copied to its stack and read and stepped there
 * at these offsets. */
typedef struct {
    const uint32_t *q, *q_end;                 /* 0, 4: the widened inputs */
    const int32_t *table, *table_end;          /* 8, 12: the channel's constants, stepped */
    int8_t *out;                               /* 16: the channel's first output, stepped */
    int32_t out_stride;                        /* 20 */
    const int8_t *w;                           /* 24: the first channel's weights */
    int32_t w_skip;                            /* 28: from the end of a filter's run to the next */
    const int32_t *acc;                        /* 32: its accumulators (4 a channel) or NULL */
    int32_t slow;                              /* 36: acc or w_skip to apply */
} tsn_dsp_fuse_state;

/* The loop of tsn_dsp_conv4_fused: a function all asm (naked), so that its registers are fixed:
 * the widened inputs of a pixel come in one LDM to r4-r7 (4 words; LDM fills registers in
 * number order), and all of r0-r12 and lr are free at every -O level (the state on the stack,
 * [sp, #offset]). Per channel: the accumulators r0-r3 START (int8 from the bias, loaded into
 * r0 by FIRST or by the previous channel's NEXT; INT4 from 0) plus, when `slow`, the state's
 * acc (and w (r12) on by w_skip, from w - w_skip at first); the MAC loop over the groups, UNITS
 * of one group (labels 3, 5, 6, 7), entered by ENTRY so that the groups left are a whole number
 * of passes (Duff), until q (r11) reaches q_end (END); the table entry loaded (r4 bias, r5 m,
 * r6 k_lo, r7 k_hi, r8 rs1; r10 then at the next entry), ADD (INT4: the bias after >> 4), the 4
 * outputs requantized (tsn_dsp_rq4_regs, lo r11, hi lr) and stored (r9 out, r4 stride). */
#define TSN_DSP_FUSE_FN(NAME, FIRST, START, NEXT, ENTRY, UNITS, END, ADD)                       \
    __attribute__((naked, noinline, unused)) static void NAME(                                 \
        __attribute__((unused)) const tsn_dsp_fuse_state *st)                                   \
    {                                                                                           \
        __asm__ volatile(                                                                       \
            "push {r4-r11, lr}\n\t"                                                             \
            "ldmia r0, {r1-r10}\n\t"                                                            \
            "push {r1-r10}\n\t"                                                                 \
            "sub r12, r7, r8\n\t"                                                               \
            "ldr r10, [sp, #8]\n\t" FIRST                                                       \
            "1:\n\t" START                                                                      \
            "mov r1, r0\n\t"                                                                    \
            "mov r2, r0\n\t"                                                                    \
            "mov r3, r0\n\t"                                                                    \
            "ldr r4, [sp, #36]\n\t"                                                             \
            "cbz r4, 2f\n\t"                                                                    \
            "ldr r4, [sp, #28]\n\t"                                                             \
            "add r12, r12, r4\n\t"                                                              \
            "ldr r4, [sp, #32]\n\t"                                                             \
            "cbz r4, 2f\n\t"                                                                    \
            "ldmia r4!, {r5-r8}\n\t"                                                            \
            "add r0, r0, r5\n\t"                                                                \
            "add r1, r1, r6\n\t"                                                                \
            "add r2, r2, r7\n\t"                                                                \
            "add r3, r3, r8\n\t"                                                                \
            "str r4, [sp, #32]\n\t"                                                             \
            "2:\n\t"                                                                            \
            "ldrd r11, lr, [sp]\n\t" ENTRY UNITS END                                            \
            "ldr r10, [sp, #8]\n\t"                                                             \
            "ldmia r10!, {r4-r8}\n\t"                                                           \
            "str r10, [sp, #8]\n\t" ADD("r0") ADD("r1") ADD("r2") ADD("r3")                     \
            "ldrd r9, r4, [sp, #16]\n\t"                                                        \
            "add r11, r9, #1\n\t"                                                               \
            "str r11, [sp, #16]\n\t" TSN_DSP_FUSE_RQ("r0") "strb lr, [r9]\n\t" NEXT           \
            TSN_DSP_FUSE_RQ("r1") "strb lr, [r9, r4]\n\t"                                       \
            "add r9, r9, r4, lsl #1\n\t" TSN_DSP_FUSE_RQ("r2") "strb lr, [r9]\n\t"              \
            TSN_DSP_FUSE_RQ("r3") "strb lr, [r9, r4]\n\t"                                       \
            "ldr r5, [sp, #12]\n\t"                                                             \
            "cmp r10, r5\n\t"                                                                   \
            "bne 1b\n\t"                                                                        \
            "add sp, sp, #40\n\t"                                                               \
            "pop {r4-r11, pc}");                                                                \
    }
#define TSN_DSP_FUSE_RQ(X) TSN_DSP_RQ_ASM_TEXT(X, "r11", "lr", "r6", "r7", "r5", "r8")
/* int8: the bias of the table entry at r10 (the next channel's: after the last, the word
 * past the table, which the callers' tables have) */
#define TSN_DSP_FUSE_BIAS "ldr r0, [r10]\n\t"
#define TSN_DSP_FUSE_ZERO "mov r0, #0\n\t"
#define TSN_DSP_FUSE_ADD_NONE(X) ""
#define TSN_DSP_FUSE_ADD_S4(X) "add " X ", r4, " X ", asr #4\n\t"

/* int8, a group: 16 MACs in 13 instructions (the weight word by LDR: any alignment). Four a
 * pass (54 instructions for 64 MACs), entered at the first, second, third or fourth. */
#define TSN_DSP_FUSE_PIXELS_S8(A, B)                                                            \
    "ldmia r11!, {r4-r7}\n\t"                                                                   \
    "smlad " A ", r10, r4, " A "\n\t"                                                           \
    "smlad " A ", r8, r5, " A "\n\t"                                                            \
    "smlad " B ", r10, r6, " B "\n\t"                                                           \
    "smlad " B ", r8, r7, " B "\n\t"
#define TSN_DSP_FUSE_UNIT_S8                                                                    \
    "ldr r8, [r12], #4\n\t"                                                                     \
    "sxtb16 r10, r8\n\t"                                                                        \
    "sxtb16 r8, r8, ror #8\n\t" TSN_DSP_FUSE_PIXELS_S8("r0", "r1") TSN_DSP_FUSE_PIXELS_S8("r2", "r3")
#define TSN_DSP_FUSE_UNITS_S8                                                                   \
    "3:\n\t" TSN_DSP_FUSE_UNIT_S8 "5:\n\t" TSN_DSP_FUSE_UNIT_S8 "6:\n\t" TSN_DSP_FUSE_UNIT_S8    \
    "7:\n\t" TSN_DSP_FUSE_UNIT_S8
#define TSN_DSP_FUSE_END_S8                                                                     \
    "cmp r11, lr\n\t"                                                                           \
    "bne 3b\n\t"

/* INT4, a group (8 elements, a weight word, the 4 lanes of tsn_dsp_mac_s4_4x1's C loop in r9,
 * lr, r10, r8): 32 MACs in 28 instructions, two a pass (59 for 64: q_end from the stack, no
 * register left), entered at the first or second. */
#define TSN_DSP_FUSE_PIXEL_S4(A)                                                                \
    "ldmia r11!, {r4-r7}\n\t"                                                                   \
    "smlad " A ", r9, r4, " A "\n\t"                                                            \
    "smlad " A ", lr, r5, " A "\n\t"                                                            \
    "smlad " A ", r10, r6, " A "\n\t"                                                           \
    "smlad " A ", r8, r7, " A "\n\t"
#define TSN_DSP_FUSE_UNIT_S4                                                                    \
    "ldr lr, [r12], #4\n\t"                                                                     \
    "and r8, lr, #0xF0F0F0F0\n\t"                                                               \
    "lsl lr, lr, #4\n\t"                                                                        \
    "and lr, lr, #0xF0F0F0F0\n\t"                                                               \
    "sxtb16 r9, lr\n\t"                                                                         \
    "sxtb16 lr, lr, ror #8\n\t"                                                                 \
    "sxtb16 r10, r8\n\t"                                                                        \
    "sxtb16 r8, r8, ror #8\n\t" TSN_DSP_FUSE_PIXEL_S4("r0") TSN_DSP_FUSE_PIXEL_S4("r1")          \
    TSN_DSP_FUSE_PIXEL_S4("r2") TSN_DSP_FUSE_PIXEL_S4("r3")
#define TSN_DSP_FUSE_UNITS_S4 "3:\n\t" TSN_DSP_FUSE_UNIT_S4 "5:\n\t" TSN_DSP_FUSE_UNIT_S4
#define TSN_DSP_FUSE_END_S4                                                                     \
    "ldr r4, [sp, #4]\n\t"                                                                      \
    "cmp r11, r4\n\t"                                                                           \
    "bne 3b\n\t"

#define TSN_DSP_FUSE_S8(NAME, ENTRY)                                                            \
    TSN_DSP_FUSE_FN(NAME, TSN_DSP_FUSE_BIAS, "", TSN_DSP_FUSE_BIAS, ENTRY, TSN_DSP_FUSE_UNITS_S8, \
                    TSN_DSP_FUSE_END_S8, TSN_DSP_FUSE_ADD_NONE)
#define TSN_DSP_FUSE_S4(NAME, ENTRY)                                                            \
    TSN_DSP_FUSE_FN(NAME, "", TSN_DSP_FUSE_ZERO, "", ENTRY, TSN_DSP_FUSE_UNITS_S4,             \
                    TSN_DSP_FUSE_END_S4, TSN_DSP_FUSE_ADD_S4)
TSN_DSP_FUSE_S8(tsn_dsp_fuse_s8_0, "")
TSN_DSP_FUSE_S8(tsn_dsp_fuse_s8_1, "b 7f\n\t")
TSN_DSP_FUSE_S8(tsn_dsp_fuse_s8_2, "b 6f\n\t")
TSN_DSP_FUSE_S8(tsn_dsp_fuse_s8_3, "b 5f\n\t")
TSN_DSP_FUSE_S4(tsn_dsp_fuse_s4_0, "")
TSN_DSP_FUSE_S4(tsn_dsp_fuse_s4_1, "b 5f\n\t")
#endif

/* tsn_dsp_mac_4x1 (bits 8) or tsn_dsp_mac_s4_4x1 (bits 4) then tsn_dsp_requant_block's
 * tsn_dsp_rq4 for n channels, filter k at w + k * ws, its constants at table[TSN_DSP_FUSE_WORDS
 * * k] (tsn_dsp_fuse_table), outputs from out + k, 4 pixels, in one loop: the accumulators stay
 * in registers from the first MAC to the output byte, starting from acc[4k ..] when acc !=
 * NULL, else 0. */
static inline void tsn_dsp_conv4_fused(const int32_t *table, int32_t n, const uint32_t *q,
                                       int32_t groups, const int8_t *w, int32_t ws, int bits,
                                       const int32_t *acc, int8_t *out, int32_t out_stride)
{
#if TSN_DSP_ASM_LOOPS
    if (n > 0) { /* and groups > 0: the callers' */
        static void (*const s8[4])(const tsn_dsp_fuse_state *) = {
            tsn_dsp_fuse_s8_0, tsn_dsp_fuse_s8_1, tsn_dsp_fuse_s8_2, tsn_dsp_fuse_s8_3};
        tsn_dsp_fuse_state state;
        state.q = q;
        state.q_end = q + (bits == 4 ? 16 : 8) * groups;
        state.table = table;
        state.table_end = table + TSN_DSP_FUSE_WORDS * n;
        state.out = out;
        state.out_stride = out_stride;
        state.w = w;
        state.w_skip = ws - 4 * groups;
        state.acc = acc;
        state.slow = acc != NULL || state.w_skip != 0;
        /* int8 starts from the bias (int32 addition wraps: the order does not matter); INT4
         * adds it after the >> 4 */
        if (bits == 4) {
            (groups & 1 ? tsn_dsp_fuse_s4_1 : tsn_dsp_fuse_s4_0)(&state);
        } else {
            s8[groups & 3](&state);
        }
    }
#else
    int32_t k;
    for (k = 0; k < n; ++k, w += ws, table += TSN_DSP_FUSE_WORDS) {
        tsn_dsp_acc4 a = {0, 0, 0, 0};
        if (acc != NULL) {
            a = tsn_dsp_acc4_load(acc + 4 * k);
        }
        a = bits == 4 ? tsn_dsp_mac_s4_4x1_regs(a, q, groups, w)
                      : tsn_dsp_mac_4x1_regs(a, q, groups, w);
        tsn_dsp_rq4_regs(a, bits == 4 ? 4 : 0, 0, table[0], table[1], (uint32_t)table[2],
                         (uint32_t)table[3], table[4], out + k, out_stride);
    }
#endif
}

/* Output row `out` (out_w pixels of out_c, out_stride apart) of a one-group convolution with
 * weights of `bits` (8, or 4: packed INT4 as TFLite stores them) whose input rows are
 * rows[0 .. f_h) (NULL outside the image; tsn_dsp_quad_ok), 4 pixels at a time; the last 3
 * pixels as a group of 4 (the last repeated, written once), the last 1 or 2 one by one
 * (their windows widened alone, 2 or 4 filters a pass: tsn_dsp_mac_s4_1x2 / tsn_dsp_mac_1x4).
 * reverse: the groups from the last pixel down. A group's windows are widened before any of its
 * outputs is written when they fit in one piece (at most TSN_DSP_QUAD_WORDS / 2 elements for
 * int8, / 4 for INT4), which lets an in-place caller overwrite inputs already consumed. */
static inline TSN_DSP_INLINE void tsn_dsp_conv_row4(const tsn_conv_params *params,
                                                    const tsn_requant *quant,
                                     const int8_t *const *rows, int32_t in_w, int32_t in_c,
                                     int32_t f_h, int32_t f_w, const int8_t *filter, int bits,
                                     const int32_t *bias, int32_t out_w, int32_t out_c,
                                     int32_t out_stride, int8_t *out, int reverse)
{
    uint32_t q[TSN_DSP_QUAD_WORDS];
    int32_t accs[4 * TSN_DSP_CHUNK];
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    const uint32_t off2 = tsn_dup16(io.input_offset);
    const int32_t per = bits == 4 ? 8 : 4, lanes = bits == 4 ? 4 : 2;
    const int32_t row_len = f_w * in_c, f_size = f_h * row_len;
    int32_t table[TSN_DSP_FUSE_WORDS * TSN_DSP_FUSE_CHANNELS + 1]; /* tsn_dsp_fuse_table_for */
    int32_t fy0 = 0, fy1 = f_h, total, done, oc, k, p, at, table_oc = -1;
    int fuse, pointwise;
    while (fy0 < f_h && rows[fy0] == NULL) {
        ++fy0;
    }
    while (fy1 > fy0 && rows[fy1 - 1] == NULL) {
        --fy1;
    }
    total = (fy1 - fy0) * row_len; /* rows between fy0 and fy1 are in the image */
    fuse = tsn_dsp_fuse_ok(&io, quant, out_c);
    /* 1x1 (pointwise) layers take a short way: their general one costs more than the MACs of
     * narrow layers (VWW's first: 8 input channels) */
    pointwise = fuse && f_h == 1 && f_w == 1 && total > 0 &&
                total <= TSN_DSP_QUAD_WORDS / (4 * lanes) * per;
    for (done = 0; done < out_w;) {
        const int32_t left = out_w - done;
        if (pointwise && left >= 4) { /* 4 pixels inside the image: widened, then all filters */
            const int32_t x_step = params->stride_w;
            const int32_t x_first = (reverse ? out_w - done - 4 : done) * x_step - params->pad_left;
            if (x_first >= 0 && x_first + 3 * x_step < in_w) {
                int8_t *const o = out + (reverse ? out_w - done - 4 : done) * out_stride;
                for (p = 0; p < 4; ++p) {
                    tsn_dsp_widen_run(rows[0] + (x_first + p * x_step) * in_c, in_c / per, bits,
                                      off2, 4 * lanes, q + lanes * p);
                }
                for (oc = 0; oc < out_c; oc += TSN_DSP_FUSE_CHANNELS) {
                    const int32_t n = out_c - oc < TSN_DSP_FUSE_CHANNELS ? out_c - oc
                                                                         : TSN_DSP_FUSE_CHANNELS;
                    tsn_dsp_conv4_fused(tsn_dsp_fuse_table_for(&io, quant, bias, oc, n, out_c,
                                                               table, TSN_DSP_FUSE_CHANNELS,
                                                               &table_oc),
                                        n, q, in_c / per, filter + oc * in_c / (8 / bits),
                                        in_c / (8 / bits), bits, NULL, o + oc, out_stride);
                }
                done += 4;
                continue;
            }
        }
        const int32_t npix = left > 2 ? 4 : 1, np = left < npix ? left : npix;
        const int32_t ox = reverse ? out_w - done - np : done; /* the group's first pixel */
        const int32_t piece = TSN_DSP_QUAD_WORDS / (npix * lanes) * per; /* elements at once */
        int32_t x0[4];
        for (p = 0; p < npix; ++p) {
            x0[p] = (ox + (p < np ? p : np - 1)) * params->stride_w - params->pad_left;
        }
        if (total <= piece) {
            tsn_dsp_widen_quad(rows + fy0, in_w, in_c, f_w, params->dilation_w, x0, npix, 0,
                               total, bits, off2, q);
        }
        for (oc = 0; oc < out_c; oc += TSN_DSP_CHUNK) {
            const int32_t n = out_c - oc < TSN_DSP_CHUNK ? out_c - oc : TSN_DSP_CHUNK;
            const int fused = fuse && np == 4 && total > 0; /* the last piece requantized as it ends */
            for (k = 0; k < (fused && total <= piece ? 0 : 4 * n); ++k) {
                accs[k] = 0;
            }
            for (at = 0; at < total; at += piece) {
                const int32_t len = total - at < piece ? total - at : piece;
                const int32_t e = (oc * f_size + fy0 * row_len + at) / (8 / bits);
                const int32_t ws = f_size / (8 / bits); /* bytes from a filter to the next */
                if (total > piece) {
                    tsn_dsp_widen_quad(rows + fy0, in_w, in_c, f_w, params->dilation_w, x0,
                                       npix, at, len, bits, off2, q);
                }
                if (fused && at + len == total) {
                    int8_t *const o = out + ox * out_stride + oc;
                    const int32_t *const from = at == 0 ? NULL : accs;
                    const int32_t *const t =
                        tsn_dsp_fuse_table_for(&io, quant, bias, oc, n, out_c, table,
                                               TSN_DSP_FUSE_CHANNELS, &table_oc);
                    tsn_dsp_conv4_fused(t, n, q, len / per, filter + e, ws, bits, from, o,
                                        out_stride);
                } else if (npix == 4) {
                    for (k = 0; k < n; ++k) {
                        if (bits == 4) {
                            tsn_dsp_mac_s4_4x1(q, len / per, filter + e + k * ws, accs + 4 * k);
                        } else {
                            tsn_dsp_mac_4x1(q, len / per, filter + e + k * ws, accs + 4 * k);
                        }
                    }
                } else if (bits == 4) { /* an odd last filter: twice */
                    for (k = 0; k < n; k += 2) {
                        tsn_dsp_mac_s4_1x2(q, len / per, filter + e + k * ws,
                                           k + 1 < n ? ws : 0, accs + k);
                    }
                } else {
                    for (k = 0; k + 4 <= n; k += 4) {
                        tsn_dsp_mac_1x4(q, len / per, filter + e + k * ws, ws, accs + k);
                    }
                    for (; k < n; ++k) { /* 1 to 3 filters left: each 4 times */
                        int32_t rest[4] = {0, 0, 0, 0};
                        tsn_dsp_mac_1x4(q, len / per, filter + e + k * ws, 0, rest);
                        accs[k] += rest[0];
                    }
                }
            }
            if (!fused) {
                tsn_dsp_requant_block(&io, quant, bias, oc, n, accs, npix, np,
                                      bits == 4 ? 4 : 0, out + ox * out_stride, out_stride);
            }
        }
        done += np;
    }
}

/* tsn_dsp_conv_row4 out of line, for kernels whose other paths call deep kernels of their own
 * (gathered windows, segments, unpacked filters): its 4 KB of stack (the widened windows, the
 * fused table) is taken only while it runs, not under theirs (inlined into the in-place INT4
 * 1x1 kernel, whose rows of in_c not a multiple of 8 unpack filters, it overflowed 8 KB). int8
 * weights, an output row of out_w pixels of out_c, in increasing order. */
TSN_DSP_LOOP __attribute__((unused)) void tsn_dsp_conv_row4_apart(
    const tsn_conv_params *params, const tsn_requant *quant, const int8_t *const *rows,
    int32_t in_w, int32_t in_c, int32_t f_h, int32_t f_w, const int8_t *filter,
    const int32_t *bias, int32_t out_w, int32_t out_c, int8_t *out)
{
    tsn_dsp_conv_row4(params, quant, rows, in_w, in_c, f_h, f_w, filter, 8, bias, out_w, out_c,
                      out_c, out, 0);
}

/* The same for a flat 1x1 convolution (tsn_dsp_flat_1x1) of `pixels` pixels in place in
 * `data` (outputs from the last pixel down when out_c > in_c): one row, its shape constant. */
TSN_DSP_LOOP __attribute__((unused)) void tsn_dsp_conv_flat4_inplace(
    const tsn_conv_params *params, const tsn_requant *quant, int8_t *data, int32_t pixels,
    int32_t in_c, const int8_t *filter, int bits, const int32_t *bias, int32_t out_c)
{
    const int8_t *row = data;
    tsn_dsp_conv_row4(params, quant, &row, pixels, in_c, 1, 1, filter, bits, bias, pixels, out_c,
                      out_c, data, out_c > in_c);
}

#endif /* TSN_DSP */

#endif /* TSN_DSP_H */
