/*
 * tsn_mean_s8 — int8 MEAN over the H and W axes of an NHWC tensor (what Keras
 * GlobalAveragePooling2D converts to), output int8 [n][c] (keep_dims or not: same bytes).
 *
 * Bit-exact with TFLM's int8 MEAN (reference_ops::QuantizedMeanOrSum, compute_sum = false):
 * sum of (x - zp_in) over the h*w positions in int32, then MultiplyByQuantizedMultiplier
 * (double rounding) with the multiplier s_in/s_out divided by h*w as TFLM folds it in
 * (tinysweep.quant_math.mean_params), plus the output zero point, clamped to int8.
 */
#include "tsn.h"
#include "tsn_math.h"

#include <stddef.h>

/**
 * @param params      input_offset = -zp_in, output_offset = zp_out, multiplier/shift from
 *                    mean_params (shift in [-31, 30])
 * @param input_dims  NHWC; input int8 [n][h][w][c], h*w <= 2^23 (the int32 sum cannot overflow)
 * @param output      int8 [n][c]
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or invalid sizes.
 */
tsn_status tsn_mean_s8(const tsn_mean_params *params, const tsn_dims *input_dims,
                       const int8_t *input, int8_t *output)
{
    int32_t b, c, p, positions, depth;

    if (params == NULL || input_dims == NULL || input == NULL || output == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    if (input_dims->n <= 0 || input_dims->h <= 0 || input_dims->w <= 0 || input_dims->c <= 0 ||
        input_dims->h > (1 << 23) / input_dims->w) {
        return TSN_ERROR_ARGUMENT;
    }
    positions = input_dims->h * input_dims->w;
    depth = input_dims->c;
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *in = input + b * positions * depth;
        for (c = 0; c < depth; ++c) {
            int32_t acc = 0;
            for (p = 0; p < positions; ++p) {
                acc += (int32_t)in[p * depth + c] + params->input_offset;
            }
            acc = tsn_requantize(acc, params->multiplier, params->shift) + params->output_offset;
            output[b * depth + c] = (int8_t)tsn_clamp(acc, -128, 127);
        }
    }
    return TSN_OK;
}
