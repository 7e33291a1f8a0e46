/*
 * tsn_conv2d_add_s8 — CONV_2D followed by the residual ADD that consumes its output, fused so
 * that the convolution's output tensor never exists whole: each output row is computed into a
 * one-row scratch buffer by tsn_conv2d_s8, then added to the same row of the residual tensor,
 * which receives the ADD's output in place.
 *
 * Bit-exact with the two ops run one after the other (TFLM CONV_2D then ADD): the row is the
 * same int8 values tsn_conv2d_s8 writes for the whole tensor, and tsn_add_s8 is elementwise.
 */
#include "tsn.h"
#include "tsn_math.h"

#include <stddef.h>

/**
 * @param params, quant, input_dims, input, filter_dims, filter, bias, output_dims
 *                        as tsn_conv2d_s8 (one group)
 * @param add_params      the ADD's parameters (tinysweep.quant_math.add_params)
 * @param conv_is_input1  1 when the convolution output is the ADD's first input, 0 if second
 * @param residual        the ADD's other input (output_dims elements) on entry, its output on
 *                        return; must not overlap input or scratch
 * @param scratch         output_dims->w * output_dims->c bytes
 * @return TSN_OK, or the first error status of tsn_conv2d_s8 / tsn_add_s8 (TSN_ERROR_ARGUMENT
 *         on NULL pointers or invalid dimensions).
 */
tsn_status tsn_conv2d_add_s8(const tsn_conv_params *params, const tsn_requant *quant,
                             const tsn_dims *input_dims, const int8_t *input,
                             const tsn_dims *filter_dims, const int8_t *filter,
                             const int32_t *bias, const tsn_dims *output_dims,
                             const tsn_add_params *add_params, int32_t conv_is_input1,
                             int8_t *residual, int8_t *scratch)
{
    const tsn_dims row_dims = {1, 1, output_dims == NULL ? 0 : output_dims->w,
                               output_dims == NULL ? 0 : output_dims->c};
    int32_t b, oy;

    if (!tsn_conv_args_valid(params, quant, input_dims, filter_dims, filter, output_dims) ||
        input == NULL || add_params == NULL || residual == NULL || scratch == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    for (b = 0; b < input_dims->n; ++b) {
        const int8_t *image = input + (size_t)b * input_dims->h * input_dims->w * input_dims->c;
        for (oy = 0; oy < output_dims->h; ++oy) {
            /* output row oy of the whole tensor = output row 0 of the input rows from `first`
             * on: padding above becomes pad_top, rows above are skipped */
            const int32_t first = oy * params->stride_h - params->pad_top;
            const int32_t skip = first > 0 ? first : 0;
            tsn_conv_params row_params = *params;
            tsn_dims rows = {1, input_dims->h - skip, input_dims->w, input_dims->c};
            int8_t *out_row = residual +
                ((size_t)b * output_dims->h + (size_t)oy) * output_dims->w * output_dims->c;
            tsn_status status;
            if (rows.h <= 0) {
                return TSN_ERROR_ARGUMENT; /* a row of padding only: not SAME or VALID */
            }
            row_params.pad_top = first > 0 ? 0 : -first;
            status = tsn_conv2d_s8(&row_params, quant, &rows,
                                   image + (size_t)skip * input_dims->w * input_dims->c,
                                   filter_dims, filter, bias, &row_dims, scratch);
            if (status != TSN_OK) {
                return status;
            }
            status = conv_is_input1 ? tsn_add_s8(add_params, row_dims.w * row_dims.c, scratch,
                                                 out_row, out_row)
                                    : tsn_add_s8(add_params, row_dims.w * row_dims.c, out_row,
                                                 scratch, out_row);
            if (status != TSN_OK) {
                return status;
            }
        }
    }
    return TSN_OK;
}
