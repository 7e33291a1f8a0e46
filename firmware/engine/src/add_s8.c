/*
 * tsn_add_s8 — elementwise int8 addition of two tensors of the same shape.
 *
 * Bit-exact with TFLM reference_integer_ops::Add (tensorflow/lite/kernels/internal/reference/
 * integer_ops/add.h, the non-broadcast path): each input is offset by its zero point, shifted
 * left by left_shift (20 for int8) and rescaled with its own multiplier (< 1) to twice the
 * larger input scale; the sum is requantized to the output scale, offset and clamped.
 * All requantizations are MultiplyByQuantizedMultiplier with double rounding.
 */
#include "tsn.h"
#include "tsn_dsp.h"
#include "tsn_math.h"

#include <stddef.h>

#if TSN_DSP
/* The larger-scale input's rescale is by 0.5 (multiplier 2^30, shift 0: TFLM's twice_max), so
 * its SRDHM of (x + offset) * 2^left_shift is exact for left_shift >= 1:
 * floor(((x + offset) * 2^(ls + 30) + 2^30) / 2^31) = (x + offset) * 2^(ls - 1). */
static inline int tsn_add_halves(int32_t multiplier, int32_t shift, int32_t left_shift)
{
    return multiplier == ((int32_t)1 << 30) && shift == 0 && left_shift >= 1;
}

/* The DSP loop when input a is halved (tsn_add_halves), input b halved too (b_halves) or
 * rescaled in the right-shift form rb, and the output requantization is rb's form too:
 * 2 SMLALs an element at most, the mode tests out of the loop. */
TSN_DSP_LOOP void tsn_add_halved(const tsn_add_params *params, int b_halves,
                                 const int8_t *xa, int32_t off_a, const int8_t *xb,
                                 int32_t off_b, const tsn_dsp_rq *rb, const tsn_dsp_rq *ro,
                                 int32_t size, int8_t *output)
{
    const int ls = params->left_shift;
    const int32_t mb = rb->multiplier, rsb = rb->rs1, mo = ro->multiplier, rso = ro->rs1;
    const uint32_t klb = rb->k_lo, khb = rb->k_hi, klo = ro->k_lo, kho = ro->k_hi;
    const int32_t ha = off_a * ((int32_t)1 << (ls - 1)); /* offsets pre-shifted */
    const int32_t hb = off_b * ((int32_t)1 << (b_halves ? ls - 1 : ls));
    const int32_t off = params->output_offset, lo = params->act_min, hi = params->act_max;
    int32_t i;
#if TSN_DSP_ASM_LOOPS
    if (!b_halves && ls == 20 && rso <= TSN_DSP_RQ_FOLD_MAX_RS1 && size > 0) {
        /* TFLM's int8 left shift: 29 instructions an element; the output offset folded into
         * the high word of K as in tsn_dsp_rq_right_run, the other constants from k[] */
        const int32_t k[8] = {hb, ha, (int32_t)klb, (int32_t)khb, (int32_t)klo,
                              (int32_t)(kho + ((uint32_t)off << rso)), lo, hi};
        const int8_t *const end = xb + size;
        int32_t a, b, l, h;
        __asm__ volatile(
            "1:\n\t"
            "ldr %[l], [%[k]]\n\t"
            "ldrsb %[b], [%[xb]], #1\n\t"
            "add %[b], %[l], %[b], lsl #20\n\t"
            "ldrd %[l], %[h], [%[k], #8]\n\t"
            "and %[a], %[b], #0x80000000\n\t"
            "subs %[l], %[l], %[a]\n\t"
            "sbc %[h], %[h], #0\n\t"
            "smlal %[l], %[h], %[b], %[mb]\n\t"
            "asr %[h], %[h], %[rsb]\n\t"
            "ldr %[l], [%[k], #4]\n\t"
            "ldrsb %[a], [%[xa]], #1\n\t"
            "add %[a], %[l], %[a], lsl #19\n\t"
            "add %[a], %[a], %[h]\n\t"
            "ldrd %[l], %[h], [%[k], #16]\n\t"
            "and %[b], %[a], #0x80000000\n\t"
            "subs %[l], %[l], %[b]\n\t"
            "sbc %[h], %[h], #0\n\t"
            "smlal %[l], %[h], %[a], %[mo]\n\t"
            "asr %[h], %[h], %[rso]\n\t"
            "ldrd %[l], %[b], [%[k], #24]\n\t"
            "cmp %[h], %[l]\n\t"
            "it lt\n\t"
            "movlt %[h], %[l]\n\t"
            "cmp %[h], %[b]\n\t"
            "it gt\n\t"
            "movgt %[h], %[b]\n\t"
            "strb %[h], [%[o]], #1\n\t"
            "cmp %[xb], %[end]\n\t"
            "bne 1b"
            : [xa] "+r"(xa), [xb] "+r"(xb), [o] "+r"(output), [a] "=&r"(a), [b] "=&r"(b),
              [l] "=&r"(l), [h] "=&r"(h)
            : [k] "r"(k), [end] "r"(end), [mb] "r"(mb), [mo] "r"(mo), [rsb] "r"(rsb),
              [rso] "r"(rso)
            : "cc", "memory");
        return;
    }
#endif
    for (i = 0; i < size; ++i) {
        const int32_t sa = (int32_t)xa[i] * ((int32_t)1 << (ls - 1)) + ha;
        const int32_t sb = b_halves ? (int32_t)xb[i] * ((int32_t)1 << (ls - 1)) + hb
                                    : tsn_dsp_rq_right((int32_t)xb[i] * ((int32_t)1 << ls) + hb,
                                                       mb, klb, khb, rsb);
        const int32_t acc = tsn_dsp_rq_right(sa + sb, mo, klo, kho, rso);
        output[i] = (int8_t)tsn_clamp(acc + off, lo, hi);
    }
}
#endif

/**
 * @param params  from tinysweep.quant_math.add_params: offsets, left_shift in [0, 20],
 *                multipliers with shifts in [-31, 30], act_min <= act_max
 * @param size    number of elements (> 0) of input1, input2 and output
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or invalid sizes/parameters.
 *         output may alias either input (each element is read before it is written).
 */
tsn_status tsn_add_s8(const tsn_add_params *params, int32_t size, const int8_t *input1,
                      const int8_t *input2, int8_t *output)
{
    int32_t i;

    if (params == NULL || input1 == NULL || input2 == NULL || output == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    if (size <= 0 || params->left_shift < 0 || params->left_shift > 20 ||
        params->act_min > params->act_max) {
        return TSN_ERROR_ARGUMENT;
    }
#if TSN_DSP
    {
        /* the same three requantizations, prepared once (tsn_dsp_rq_apply, bit for bit) */
        const tsn_dsp_rq r1 = tsn_dsp_rq_of(params->input1_multiplier, params->input1_shift);
        const tsn_dsp_rq r2 = tsn_dsp_rq_of(params->input2_multiplier, params->input2_shift);
        const tsn_dsp_rq ro = tsn_dsp_rq_of(params->output_multiplier, params->output_shift);
        const int h1 = tsn_add_halves(params->input1_multiplier, params->input1_shift,
                                      params->left_shift);
        const int h2 = tsn_add_halves(params->input2_multiplier, params->input2_shift,
                                      params->left_shift);
        if (ro.mode == TSN_DSP_RQ_RIGHT && h1 && h2) {
            tsn_add_halved(params, 1, input1, params->input1_offset, input2,
                           params->input2_offset, &r2, &ro, size, output);
            return TSN_OK;
        }
        if (ro.mode == TSN_DSP_RQ_RIGHT && h1 && r2.mode == TSN_DSP_RQ_RIGHT) {
            tsn_add_halved(params, 0, input1, params->input1_offset, input2,
                           params->input2_offset, &r2, &ro, size, output);
            return TSN_OK;
        }
        if (ro.mode == TSN_DSP_RQ_RIGHT && h2 && r1.mode == TSN_DSP_RQ_RIGHT) {
            /* the sum commutes */
            tsn_add_halved(params, 0, input2, params->input2_offset, input1,
                           params->input1_offset, &r1, &ro, size, output);
            return TSN_OK;
        }
        for (i = 0; i < size; ++i) {
            const int32_t a = ((int32_t)input1[i] + params->input1_offset) *
                              ((int32_t)1 << params->left_shift);
            const int32_t b = ((int32_t)input2[i] + params->input2_offset) *
                              ((int32_t)1 << params->left_shift);
            const int32_t acc = tsn_dsp_rq_apply(&ro, tsn_dsp_rq_apply(&r1, a) +
                                                          tsn_dsp_rq_apply(&r2, b));
            output[i] = (int8_t)tsn_clamp(acc + params->output_offset, params->act_min,
                                          params->act_max);
        }
        return TSN_OK;
    }
#endif
    for (i = 0; i < size; ++i) {
        const int32_t a = ((int32_t)input1[i] + params->input1_offset) * ((int32_t)1 << params->left_shift);
        const int32_t b = ((int32_t)input2[i] + params->input2_offset) * ((int32_t)1 << params->left_shift);
        const int32_t sa = tsn_requantize(a, params->input1_multiplier, params->input1_shift);
        const int32_t sb = tsn_requantize(b, params->input2_multiplier, params->input2_shift);
        int32_t acc = tsn_requantize(sa + sb, params->output_multiplier, params->output_shift);
        acc += params->output_offset;
        output[i] = (int8_t)tsn_clamp(acc, params->act_min, params->act_max);
    }
    return TSN_OK;
}
