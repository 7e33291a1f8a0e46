/*
 * tsn_conv2d_1x1_inplace_s2 — tsn_conv2d_1x1_inplace_s4 with 2-bit weights stored packed
 * (tsn_conv2d_s2's packing), with the arithmetic of tsn_conv2d_s2 exactly (tsn_packed.h): the
 * image rows one by one in tsn_conv2d_1x1_inplace_s8's order, each copied to `scratch` and its
 * output row computed from there by tsn_conv2d_s2's code.
 */
#include "tsn.h"
#include "tsn_packed.h"

/**
 * Parameters and return value as tsn_conv2d_1x1_inplace_s8, except:
 * @param filter      packed INT2 (four per byte, element 4k in the lowest two bits; ceil(out_c *
 *                    in_c / 4) bytes), element k of the s8 kernel's flat filter array.
 * @param scratch     int8, one input row: in_w * in_c bytes, not overlapping `data`
 */
tsn_status tsn_conv2d_1x1_inplace_s2(const tsn_conv_params *params, const tsn_requant *quant,
                                     const tsn_dims *input_dims,
                                     const tsn_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias,
                                     const tsn_dims *output_dims, int8_t *data, int8_t *scratch)
{
    return tsn_conv2d_1x1_inplace_packed(params, quant, input_dims, filter_dims, filter, bias,
                                         output_dims, data, scratch, 2, tsn_conv2d_s2);
}
