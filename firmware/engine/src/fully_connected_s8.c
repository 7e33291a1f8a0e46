/*
 * tsn_fully_connected_s8 — int8 fully connected layer (weights [out][in], zero point 0).
 *
 * Bit-exact with TFLM reference_integer_ops::FullyConnected (per-tensor) and
 * FullyConnectedPerChannel (tensorflow/lite/kernels/internal/reference/integer_ops/
 * fully_connected.h): acc = sum w * (x + input_offset), + bias, MultiplyByQuantizedMultiplier
 * (double rounding), + output offset, clamp.
 */
#include "tsn.h"
#include "tsn_dsp.h"
#include "tsn_math.h"

#include <stddef.h>

/**
 * @param params       input_offset = -zp_in, output_offset = zp_out, act_min <= act_max.
 * @param quant        per_channel == 0 (what the TFLite converter emits for FULLY_CONNECTED):
 *                     one entry; otherwise output_depth entries.
 * @param batches      number of input rows (> 0)
 * @param input_depth  elements per input row (> 0); input int8 [batches][input_depth]
 * @param output_depth output units (> 0); weights int8 [output_depth][input_depth]
 * @param bias         int32 [output_depth] or NULL
 * @param output       int8 [batches][output_depth]
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or non-positive sizes.
 */
tsn_status tsn_fully_connected_s8(const tsn_fc_params *params, const tsn_requant *quant,
                                  int32_t batches, int32_t input_depth, const int8_t *input,
                                  int32_t output_depth, const int8_t *weights,
                                  const int32_t *bias,
                                  int8_t *output)
{
    int32_t b, o, i;

    if (params == NULL || quant == NULL || quant->multiplier == NULL || quant->shift == NULL ||
        input == NULL || weights == NULL || output == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    if (batches <= 0 || input_depth <= 0 || output_depth <= 0 ||
        params->act_min > params->act_max) {
        return TSN_ERROR_ARGUMENT;
    }

#if TSN_DSP
    {
        /* rows two by two (weights read once per pair), a last odd row alone */
        tsn_dsp_io io;
        tsn_dsp_seg seg;
        io.input_offset = params->input_offset;
        io.output_offset = params->output_offset;
        io.act_min = params->act_min;
        io.act_max = params->act_max;
        seg.f_at = 0;
        seg.len = input_depth;
        for (b = 0; b + 1 < batches; b += 2) {
            seg.in = input + b * input_depth;
            tsn_dsp_pixel_pair(&io, quant, &seg, 1, input_depth, weights, input_depth, bias,
                               output_depth, output + b * output_depth,
                               output + (b + 1) * output_depth);
        }
        if (b < batches) {
            tsn_dsp_row1(&io, quant, input + b * input_depth, input_depth, weights, bias,
                         output_depth, output + b * output_depth);
        }
        return TSN_OK;
    }
#endif

    for (b = 0; b < batches; ++b) {
        const int8_t *in_row = input + b * input_depth;
        for (o = 0; o < output_depth; ++o) {
            const int8_t *w_row = weights + o * input_depth;
            const int32_t q = quant->per_channel ? o : 0;
            int32_t acc = 0;
            for (i = 0; i < input_depth; ++i) {
                acc += (int32_t)w_row[i] * ((int32_t)in_row[i] + params->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            acc = tsn_requantize(acc, quant->multiplier[q], quant->shift[q]);
            acc += params->output_offset;
            acc = tsn_clamp(acc, params->act_min, params->act_max);
            output[b * output_depth + o] = (int8_t)acc;
        }
    }
    return TSN_OK;
}
