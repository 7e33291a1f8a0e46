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

#define TSN_DSP_MAX_SEGS 16
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
#if !defined(TSN_DSP_EMULATE)
    /* GCC spills pointers out of this loop in C: 24 instructions for 16 MACs in asm, the
     * instructions and their order of the C loop below (emulated on the host) */
    if (n >= 4) {
        const int8_t *const end = x0 + (n & ~3);
        uint32_t t0, t1, t2, t3, t4, t5;
        __asm__ volatile(
            "1:\n\t"
            "ldr %[t0], [%[x0]], #4\n\t"
            "ldr %[t1], [%[x1]], #4\n\t"
            "ldr %[t2], %[off2]\n\t"
            "sxtab16 %[t3], %[t2], %[t0]\n\t"
            "sxtab16 %[t0], %[t2], %[t0], ror #8\n\t"
            "sxtab16 %[t4], %[t2], %[t1]\n\t"
            "sxtab16 %[t1], %[t2], %[t1], ror #8\n\t"
            "ldr %[t2], [%[w0]], #4\n\t"
            "sxtb16 %[t5], %[t2]\n\t"
            "sxtb16 %[t2], %[t2], ror #8\n\t"
            "smlad %[a00], %[t5], %[t3], %[a00]\n\t"
            "smlad %[a00], %[t2], %[t0], %[a00]\n\t"
            "smlad %[a10], %[t5], %[t4], %[a10]\n\t"
            "smlad %[a10], %[t2], %[t1], %[a10]\n\t"
            "ldr %[t2], [%[w1]], #4\n\t"
            "sxtb16 %[t5], %[t2]\n\t"
            "sxtb16 %[t2], %[t2], ror #8\n\t"
            "smlad %[a01], %[t5], %[t3], %[a01]\n\t"
            "smlad %[a01], %[t2], %[t0], %[a01]\n\t"
            "smlad %[a11], %[t5], %[t4], %[a11]\n\t"
            "smlad %[a11], %[t2], %[t1], %[a11]\n\t"
            "ldr %[t2], %[end]\n\t"
            "cmp %[x0], %[t2]\n\t"
            "bne 1b"
            : [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11),
              [x0] "+r"(x0), [x1] "+r"(x1), [w0] "+r"(w0), [w1] "+r"(w1), [t0] "=&r"(t0),
              [t1] "=&r"(t1), [t2] "=&r"(t2), [t3] "=&r"(t3), [t4] "=&r"(t4), [t5] "=&r"(t5)
            : [off2] "m"(off2), [end] "m"(end)
            : "cc", "memory");
    }
    for (i = n & 3; i > 0; --i) {
#else
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
#endif
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

/* tsn_requantize, the same function in fewer instructions for shift in [-31, 0] and a
 * multiplier other than INT32_MIN (what QuantizeMultiplier yields for multipliers below 1):
 * gemmlowp's SRDHM (a * m + nudge) / 2^31, truncated, equals floor((a * m + 2^30) / 2^31) for
 * every a, m (one SMLAL); the rounding right shift is tsn_rounding_divide_by_pot's. */
static inline int32_t tsn_dsp_requantize(int32_t x, int32_t m, int32_t shift)
{
    if (shift > 0 || shift < -31 || m == TSN_INT32_MIN) {
        return tsn_requantize(x, m, shift);
    } else {
        const int rs = (int)-shift;
        const uint64_t p = (uint64_t)((int64_t)x * m) + ((uint64_t)1 << 30);
        const uint32_t u = (uint32_t)(p >> 31);
        const int32_t r = u <= (uint32_t)TSN_INT32_MAX ? (int32_t)u
                                                      : (int32_t)(u - 2147483648u) + TSN_INT32_MIN;
        const int32_t mask = (int32_t)((1u << rs) - 1u);
        /* >> of a negative int is arithmetic on every compiler that builds this path */
        return (r >> rs) + ((r & mask) > (mask >> 1) + (r < 0 ? 1 : 0) ? 1 : 0);
    }
}

static inline int8_t tsn_dsp_output(const tsn_dsp_io *io, const tsn_requant *quant,
                                    const int32_t *bias, int32_t oc, int32_t acc)
{
    const int32_t q = quant->per_channel ? oc : 0;
    if (bias != NULL) {
        acc += bias[oc];
    }
    acc = tsn_dsp_requantize(acc, quant->multiplier[q], quant->shift[q]);
    acc += io->output_offset;
    return (int8_t)tsn_clamp(acc, io->act_min, io->act_max);
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
    int32_t oc, s;
    for (oc = 0; oc + 2 <= out_c; oc += 2) {
        int32_t acc[4] = {0, 0, 0, 0};
        const int8_t *f = filter + oc * f_size;
        for (s = 0; s < nseg; ++s) {
            tsn_dsp_dot_2x2(seg[s].in, seg[s].in + delta, f + seg[s].f_at,
                            f + f_size + seg[s].f_at, seg[s].len, io->input_offset, acc);
        }
        out0[oc] = tsn_dsp_output(io, quant, bias, oc, acc[0]);
        out0[oc + 1] = tsn_dsp_output(io, quant, bias, oc + 1, acc[1]);
        out1[oc] = tsn_dsp_output(io, quant, bias, oc, acc[2]);
        out1[oc + 1] = tsn_dsp_output(io, quant, bias, oc + 1, acc[3]);
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

/* Output row `out` (out_w pixels of out_c) of a one-group convolution whose needed input rows
 * are rows[0 .. f_h) (NULL: outside the image); pixels in pairs where their segments agree. */
static inline void tsn_dsp_conv_row(const tsn_conv_params *params, const tsn_requant *quant,
                                    const int8_t *const *rows, int32_t in_w, int32_t in_c,
                                    int32_t f_h, int32_t f_w, const int8_t *filter,
                                    const int32_t *bias, int32_t out_w, int32_t out_c,
                                    int8_t *out)
{
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    const int32_t f_size = f_h * f_w * in_c;
    const ptrdiff_t delta = (ptrdiff_t)params->stride_w * in_c;
    tsn_dsp_seg seg0[TSN_DSP_MAX_SEGS], seg1[TSN_DSP_MAX_SEGS];
    int32_t ox = 0;
    while (ox < out_w) {
        const int32_t n0 = tsn_dsp_segments(params, rows, in_w, in_c, f_h, f_w, ox, seg0);
        int pair = ox + 1 < out_w;
        int32_t s;
        if (pair) {
            pair = tsn_dsp_segments(params, rows, in_w, in_c, f_h, f_w, ox + 1, seg1) == n0;
            for (s = 0; pair && s < n0; ++s) {
                pair = seg1[s].f_at == seg0[s].f_at && seg1[s].len == seg0[s].len;
            }
        }
        if (pair) {
            tsn_dsp_pixel_pair(&io, quant, seg0, n0, delta, filter, f_size, bias, out_c,
                               out + ox * out_c, out + (ox + 1) * out_c);
            ox += 2;
        } else {
            tsn_dsp_pixel(&io, quant, seg0, n0, filter, f_size, bias, out_c, out + ox * out_c);
            ox += 1;
        }
    }
}

#endif /* TSN_DSP */

#endif /* TSN_DSP_H */
