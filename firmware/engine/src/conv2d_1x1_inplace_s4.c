/*
 * tsn_conv2d_1x1_inplace_s4 — tsn_conv2d_1x1_inplace_s8 with 4-bit weights stored packed as
 * TFLite INT4 (tsn_conv2d_s4's packing): the in-place pointwise convolution of packed models,
 * with the arithmetic of tsn_conv2d_s4 exactly (tsn_packed.h).
 *
 * The write order is tsn_conv2d_1x1_inplace_s8's: increasing when out_c <= in_c, decreasing
 * when out_c > in_c, so a write only lands on consumed input. The DSP path (in_c a multiple of
 * 8, at most TSN_DSP_QUAD_WORDS / 2) runs all n*h*w pixels as one flat row, 4 pixels at a time,
 * straight over `data` (tsn_dsp_conv_row4). Otherwise the image rows go one by one: a row of
 * input is copied to `scratch` and its output row computed from there by tsn_conv2d_s4's code.
 */
#include "tsn.h"
#include "tsn_packed.h"

/**
 * Parameters and return value as tsn_conv2d_1x1_inplace_s8, except:
 * @param filter      packed INT4 (two per byte, element 2k in the low nibble; ceil(out_c * in_c
 *                    / 2) bytes), element k of the s8 kernel's flat filter array.
 * @param scratch     int8, one input row: in_w * in_c bytes, not overlapping `data`
 */
tsn_status tsn_conv2d_1x1_inplace_s4(const tsn_conv_params *params, const tsn_requant *quant,
                                     const tsn_dims *input_dims,
                                     const tsn_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias,
                                     const tsn_dims *output_dims, int8_t *data, int8_t *scratch)
{
    return tsn_conv2d_1x1_inplace_packed(params, quant, input_dims, filter_dims, filter, bias,
                                         output_dims, data, scratch, 4, tsn_conv2d_s4);
}
