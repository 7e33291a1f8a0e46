/*
 * tsn_depthwise_conv2d_inplace_s4 — tsn_depthwise_conv2d_inplace_s8 with 4-bit weights
 * stored packed as TFLite INT4, read packed (tsn_packed.h): the in-place depthwise convolution
 * of packed models, with the arithmetic of tsn_depthwise_conv2d_s4 exactly.
 */
#include "tsn.h"
#include "tsn_packed.h"

/**
 * Parameters and return value as tsn_depthwise_conv2d_inplace_s8, except:
 * @param filter      packed INT4 (two per byte, element 2k in the low nibble; ceil(h * w * c / 2) bytes), element k of the s8 kernel's flat filter array.
 */
tsn_status tsn_depthwise_conv2d_inplace_s4(const tsn_conv_params *params,
                                           const tsn_requant *quant,
                                           const tsn_dims *input_dims,
                                           const tsn_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias,
                                           const tsn_dims *output_dims, int8_t *data,
                                           int8_t *scratch)
{
    return tsn_depthwise_conv2d_inplace_packed(params, quant, input_dims, filter_dims, filter,
                                               bias, output_dims, data, scratch, 4);
}
