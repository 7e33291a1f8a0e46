/*
 * tsn_dsp_dw.h — internal: the depthwise 3x3 stride-1 inner loop and a requantization loop for
 * accumulators that already hold the bias (part of the DSP path, included by tsn_dsp.h only).
 *
 * 3 taps of a padded row, two outputs (x, x+1) per word of 4 input bytes b0..b3: with
 * e = (b0, b2) and o = (b1, b3) (SXTAB16 with and without ROR #8, input offset added),
 * out x = e.(w0, w2) [SMLAD] + b1*w1 [o bottom], out x+1 = o.(w0, w2) [SMLAD] + b2*w1 [e top]:
 * 6 MACs in 7 instructions. Same terms as the portable kernel, in another order of int32
 * additions (wrapping): bit-identical.
 */
#ifndef TSN_DSP_DW_H
#define TSN_DSP_DW_H

#if defined(TSN_DSP_EMULATE)

/* SMLABT / SMLATB: acc + bottom*top / top*bottom, modulo 2^32 */
static inline int32_t tsn_smlabt(uint32_t x, uint32_t y, int32_t acc)
{
    return tsn_emu_wrap((uint32_t)acc + (uint32_t)(tsn_emu_lane(x, 0) * tsn_emu_lane(y, 16)));
}

static inline int32_t tsn_smlatb(uint32_t x, uint32_t y, int32_t acc)
{
    return tsn_emu_wrap((uint32_t)acc + (uint32_t)(tsn_emu_lane(x, 16) * tsn_emu_lane(y, 0)));
}

#else

static inline int32_t tsn_smlabt(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlabt %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

static inline int32_t tsn_smlatb(uint32_t x, uint32_t y, int32_t acc)
{
    int32_t r;
    __asm__("smlatb %0, %1, %2, %3" : "=r"(r) : "r"(x), "r"(y), "r"(acc));
    return r;
}

#endif

/* Outputs gathered before one requantization loop runs over them. */
#define TSN_DSP_DW_ACCS 64

/* Taps of a 3x3 filter t[3 * fy + fx] for tsn_dsp_dw3_pairs: w[0..2] = (w0, w2) of rows 0..2,
 * w[3] = (w1 of row 0, w1 of row 1), w[4] = (w1 of row 2, 0). Returns the sum of the taps. */
static inline int32_t tsn_dsp_dw3_taps(const int32_t t[9], uint32_t w[5])
{
    int32_t fy, sum = 0;
    for (fy = 0; fy < 3; ++fy) {
        w[fy] = tsn_pair16(t[3 * fy], t[3 * fy + 2]);
        sum += t[3 * fy] + t[3 * fy + 1] + t[3 * fy + 2];
    }
    w[3] = tsn_pair16(t[1], t[4]);
    w[4] = tsn_pair16(t[7], 0);
    return sum;
}

/* acc[k] = the 3x3 window at column k of the rows r, r + d, r + 2d (raw bytes, no input
 * offset: the caller adds input_offset * sum of taps, which padding bytes of -input_offset make
 * exact), k < 2 * pairs. Reads bytes [0, 2 * pairs + 2) of each row. 24 instructions a pair. */
TSN_DSP_LOOP void tsn_dsp_dw3_pairs(const int8_t *r, int32_t d, const uint32_t *w,
                                    int32_t pairs, int32_t *acc)
{
    const uint32_t w0 = w[0], w1 = w[1], w2 = w[2], wm = w[3], wm2 = w[4];
#if TSN_DSP_ASM_LOOPS
    if (pairs > 0) {
        const int32_t *const end = acc + 2 * pairs;
        uint32_t v, e;
        int32_t a0, a1;
        __asm__ volatile(
            "1:\n\t"
            "ldr %[v], [%[r], %[d]]\n\t"
            "sxtb16 %[e], %[v]\n\t"
            "sxtb16 %[v], %[v], ror #8\n\t"
            "smuad %[a0], %[e], %[w1]\n\t"
            "smlabt %[a0], %[v], %[wm], %[a0]\n\t"
            "smuad %[a1], %[v], %[w1]\n\t"
            "smlatt %[a1], %[e], %[wm], %[a1]\n\t"
            "ldr %[v], [%[r], %[d], lsl #1]\n\t"
            "sxtb16 %[e], %[v]\n\t"
            "sxtb16 %[v], %[v], ror #8\n\t"
            "smlad %[a0], %[e], %[w2], %[a0]\n\t"
            "smlabb %[a0], %[v], %[wm2], %[a0]\n\t"
            "smlad %[a1], %[v], %[w2], %[a1]\n\t"
            "smlatb %[a1], %[e], %[wm2], %[a1]\n\t"
            "ldr %[v], [%[r]], #2\n\t"
            "sxtb16 %[e], %[v]\n\t"
            "sxtb16 %[v], %[v], ror #8\n\t"
            "smlad %[a0], %[e], %[w0], %[a0]\n\t"
            "smlabb %[a0], %[v], %[wm], %[a0]\n\t"
            "smlad %[a1], %[v], %[w0], %[a1]\n\t"
            "smlatb %[a1], %[e], %[wm], %[a1]\n\t"
            "strd %[a0], %[a1], [%[acc]], #8\n\t"
            "cmp %[acc], %[end]\n\t"
            "bne 1b"
            : [r] "+r"(r), [acc] "+r"(acc), [v] "=&r"(v), [e] "=&r"(e), [a0] "=&r"(a0),
              [a1] "=&r"(a1)
            : [d] "r"(d), [end] "r"(end), [w0] "r"(w0), [w1] "r"(w1), [w2] "r"(w2),
              [wm] "r"(wm), [wm2] "r"(wm2)
            : "cc", "memory");
    }
#else
    int32_t k;
    for (k = 0; k < pairs; ++k) {
        uint32_t v, e, o;
        int32_t a0, a1;
        v = tsn_ld4(r + d);
        e = tsn_sxtb16(v);
        o = tsn_sxtb16_ror8(v);
        a0 = tsn_smlabt(o, wm, tsn_smlad(e, w1, 0));
        a1 = tsn_smlatt(e, wm, tsn_smlad(o, w1, 0));
        v = tsn_ld4(r + 2 * d);
        e = tsn_sxtb16(v);
        o = tsn_sxtb16_ror8(v);
        a0 = tsn_smlabb(o, wm2, tsn_smlad(e, w2, a0));
        a1 = tsn_smlatb(e, wm2, tsn_smlad(o, w2, a1));
        v = tsn_ld4(r);
        e = tsn_sxtb16(v);
        o = tsn_sxtb16_ror8(v);
        acc[2 * k] = tsn_smlabb(o, wm, tsn_smlad(e, w0, a0));
        acc[2 * k + 1] = tsn_smlatb(e, wm, tsn_smlad(o, w0, a1));
        r += 2;
    }
#endif
}

/* out[p * stride] = clamp(requantize(acc[p] + bias) + output_offset), p < count: the form of
 * tsn_dsp_rq_right_run (tsn_dsp_rq_run_ok), two outputs an iteration (10.5 instructions an
 * output). */
TSN_DSP_LOOP void tsn_dsp_rq_run2(const tsn_dsp_rq *rq, const tsn_dsp_io *io, int32_t bias,
                                  const int32_t *acc, int32_t count, int8_t *out, int32_t stride)
{
    const int32_t m = rq->multiplier, rs1 = rq->rs1;
    const uint32_t k_lo = rq->k_lo;
    const uint32_t k_hi = rq->k_hi + ((uint32_t)io->output_offset << rs1);
#if TSN_DSP_ASM_LOOPS
    if (count >= 2) {
        const int32_t *const end = acc + (count & ~1);
        uint32_t x0, x1, lo, hi;
        __asm__ volatile(
            "1:\n\t"
            "ldrd %[x0], %[x1], [%[a]], #8\n\t"
            "add %[x0], %[x0], %[b]\n\t"
            "and %[lo], %[x0], #0x80000000\n\t"
            "subs %[lo], %[klo], %[lo]\n\t"
            "sbc %[hi], %[khi], #0\n\t"
            "smlal %[lo], %[hi], %[x0], %[m]\n\t"
            "asr %[hi], %[hi], %[rs1]\n\t"
            "ssat %[hi], #8, %[hi]\n\t"
            "strb %[hi], [%[o]]\n\t"
            "add %[o], %[o], %[s]\n\t"
            "add %[x1], %[x1], %[b]\n\t"
            "and %[lo], %[x1], #0x80000000\n\t"
            "subs %[lo], %[klo], %[lo]\n\t"
            "sbc %[hi], %[khi], #0\n\t"
            "smlal %[lo], %[hi], %[x1], %[m]\n\t"
            "asr %[hi], %[hi], %[rs1]\n\t"
            "ssat %[hi], #8, %[hi]\n\t"
            "strb %[hi], [%[o]]\n\t"
            "add %[o], %[o], %[s]\n\t"
            "cmp %[a], %[end]\n\t"
            "bne 1b"
            : [a] "+r"(acc), [o] "+r"(out), [x0] "=&r"(x0), [x1] "=&r"(x1), [lo] "=&r"(lo),
              [hi] "=&r"(hi)
            : [end] "r"(end), [b] "r"(bias), [klo] "r"(k_lo), [khi] "r"(k_hi), [m] "r"(m),
              [rs1] "r"(rs1), [s] "r"(stride)
            : "cc", "memory");
    }
    if (count & 1) {
        *out = (int8_t)tsn_clamp(tsn_dsp_rq_right(*acc + bias, m, k_lo, k_hi, rs1), -128, 127);
    }
#else
    int32_t p;
    for (p = 0; p < count; ++p) {
        const int32_t v = tsn_dsp_rq_right(acc[p] + bias, m, k_lo, k_hi, rs1);
        out[p * stride] = (int8_t)tsn_clamp(v, -128, 127);
    }
#endif
}

/* tsn_dsp_requant_run with tsn_dsp_rq_run2 for its fast form. */
static inline void tsn_dsp_requant_run2(const tsn_dsp_io *io, const tsn_dsp_rq *rq, int32_t bias,
                                        const int32_t *acc, int32_t n, int8_t *out,
                                        int32_t stride)
{
    if (tsn_dsp_rq_run_ok(rq, io)) {
        tsn_dsp_rq_run2(rq, io, bias, acc, n, out, stride);
    } else {
        tsn_dsp_requant_run(io, rq, bias, acc, n, out, stride);
    }
}

/* A 3x3 stride-1 depthwise channel (tsn_dsp_dw_channel's arguments) from a window of the
 * span = 2 * dilation_h + 1 padded rows an output row reads, width bytes each (width >=
 * out_w + 3): `rows` holds the padded plane (plane != 0: the window of row oy starts at row
 * oy * stride_h), or span * width bytes where the window slides down (rows kept are moved up,
 * new input rows copied in increasing order, when first needed: what the in-place callers
 * rely on). Outputs are requantized TSN_DSP_DW_ACCS at a time (rows are consecutive in the
 * output). bias here includes input_offset * sum of taps. */
static inline void tsn_dsp_dw3_channel(const tsn_conv_params *params, const tsn_dsp_rq *rq,
                                       int32_t bias, const int8_t *in, int32_t in_stride,
                                       int32_t in_h, int32_t in_w, int8_t *rows, int32_t width,
                                       int plane, const uint32_t *w, int8_t *out,
                                       int32_t out_stride, int32_t out_h, int32_t out_w)
{
    const int32_t step = params->stride_h, dil = params->dilation_h, span = 2 * dil + 1;
    const int8_t pad = (int8_t)-params->input_offset;
    const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
    int32_t accs[TSN_DSP_DW_ACCS + 1]; /* + the second of an odd run's last pair */
    int32_t oy, n = 0, ox, y, have = 0; /* window mode: the window holds rows [top, top+have) */
    int32_t top = -params->pad_top;
    for (oy = 0; oy < out_h; ++oy) {
        const int8_t *r = rows;
        if (plane) {
            r = rows + oy * step * width;
        } else {
            const int32_t first = oy * step - params->pad_top; /* the window's first row */
            const int32_t keep = top + have - first; /* rows of the window already there */
            if (oy > 0 && keep > 0) {
                memmove(rows, rows + (first - top) * width, (size_t)(keep * width));
            }
            for (y = oy > 0 && keep > 0 ? keep : 0; y < span; ++y) {
                const int32_t in_y = first + y;
                if (in_y >= 0 && in_y < in_h) {
                    tsn_dsp_dw_pad_row(rows + y * width, width, in + in_y * in_w * in_stride,
                                       in_stride, in_w, params->pad_left, pad);
                } else {
                    tsn_dsp_dw_pad_row(rows + y * width, width, in, in_stride, 0, width, pad);
                }
            }
            top = first;
            have = span;
        }
        for (ox = 0; ox < out_w;) {
            const int32_t room = TSN_DSP_DW_ACCS - n;
            const int32_t len = out_w - ox < room ? out_w - ox : room;
            tsn_dsp_dw3_pairs(r + ox, dil * width, w, (len + 1) / 2, accs + n);
            n += len;
            ox += len;
            if (n == TSN_DSP_DW_ACCS) {
                tsn_dsp_requant_run2(&io, rq, bias, accs, n, out, out_stride);
                out += n * out_stride;
                n = 0;
            }
        }
    }
    tsn_dsp_requant_run2(&io, rq, bias, accs, n, out, out_stride);
}

#endif /* TSN_DSP_DW_H */
