/*
 * tsn_softmax_s8 — int8 → int8 softmax over the last dimension (output scale 1/256,
 * zero point -128).
 *
 * Bit-exact with TFLM reference_ops::Softmax for int8 in/out
 * (tensorflow/lite/kernels/internal/reference/softmax.h, the gemmlowp fixed-point path that
 * TFLM's SoftmaxQuantized calls for int8): differences to the row maximum are rescaled to Q5
 * (kScaledDiffIntegerBits = 5), exponentiated with exp_on_negative_values, summed in Q12
 * (kAccumulationIntegerBits = 12), and each exp is multiplied by the fixed-point reciprocal of
 * the sum. Differences below diff_min give exactly -128.
 */
#include "tsn.h"
#include "tsn_math.h"

#include <stddef.h>

/**
 * @param params  input_multiplier / input_left_shift / diff_min from
 *                tinysweep.quant_math.softmax_params(input_scale, beta) (TFLM
 *                PreprocessSoftmaxScaling + CalculateInputRadius); input_left_shift in [0, 31],
 *                diff_min <= 0.
 * @param rows    number of independent rows (> 0)
 * @param depth   elements per row (> 0); input/output int8 [rows][depth]
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or invalid sizes/parameters, or when
 *         a row's sum of exponentials leaves the range TFLM accepts (possible only for
 *         depth >= 512; TFLM aborts there).
 */
tsn_status tsn_softmax_s8(const tsn_softmax_params *params, int32_t rows, int32_t depth,
                          const int8_t *input, int8_t *output)
{
    enum { kScaledDiffIntegerBits = 5, kAccumulationIntegerBits = 12 };
    int32_t r, c;

    if (params == NULL || input == NULL || output == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    if (rows <= 0 || depth <= 0 || params->input_left_shift < 0 ||
        params->input_left_shift > 31 || params->diff_min > 0) {
        return TSN_ERROR_ARGUMENT;
    }

    for (r = 0; r < rows; ++r) {
        const int8_t *in_row = input + r * depth;
        int8_t *out_row = output + r * depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0; /* Q12 */
        int32_t reciprocal;      /* Q0 */
        int num_bits_over_unit;
        int exponent;

        for (c = 0; c < depth; ++c) {
            if (in_row[c] > max_in_row) {
                max_in_row = in_row[c];
            }
        }
        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in_row[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t scaled_diff = tsn_requantize_gt_one(
                    diff, params->input_multiplier, params->input_left_shift); /* Q5 */
                /* Rescale<12>(Q0) == RoundingDivideByPOT by 12 */
                sum_of_exps += tsn_rounding_divide_by_pot(
                    tsn_exp_on_negative_values_q5(scaled_diff), kAccumulationIntegerBits);
            }
        }

        reciprocal = tsn_get_reciprocal(sum_of_exps, kAccumulationIntegerBits, &num_bits_over_unit);
        /* TFLM checks 0 <= exponent <= 31 (it can only fail for rows of >= 512 elements). */
        exponent = num_bits_over_unit + 31 - 8;
        if (exponent < 0 || exponent > 31) {
            return TSN_ERROR_ARGUMENT;
        }

        for (c = 0; c < depth; ++c) {
            const int32_t diff = (int32_t)in_row[c] - max_in_row;
            if (diff >= params->diff_min) {
                const int32_t scaled_diff = tsn_requantize_gt_one(
                    diff, params->input_multiplier, params->input_left_shift);
                const int32_t exp_in_0 = tsn_exp_on_negative_values_q5(scaled_diff);
                const int32_t unsat = tsn_rounding_divide_by_pot(
                    tsn_srdhm(reciprocal, exp_in_0), exponent);
                out_row[c] = (int8_t)tsn_clamp(unsat - 128, -128, 127);
            } else {
                out_row[c] = -128;
            }
        }
    }
    return TSN_OK;
}
