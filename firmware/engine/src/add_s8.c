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
