/*
 * tsn_depthwise_conv2d_inplace_s2 — tsn_depthwise_conv2d_inplace_s8 with 2-bit weights
 * stored packed as TFLite INT2, read packed (tsn_packed.h): the in-place depthwise convolution
 * of packed models, with the arithmetic of tsn_depthwise_conv2d_s2 exactly.
 */
#include "tsn.h"
#include "tsn_packed.h"

/**
 * Parameters and return value as tsn_depthwise_conv2d_inplace_s8, except:
 * @param filter      packed INT2 (four per byte, LSB first; ceil(h * w * c / 4) bytes), element k of the s8 kernel's flat filter array.
 */
tsn_status tsn_depthwise_conv2d_inplace_s2(const tsn_conv_params *params,
                                           const tsn_requant *quant,
                                           const tsn_dims *input_dims,
                                           const tsn_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias,
                                           const tsn_dims *output_dims, int8_t *data,
                                           int8_t *scratch)
{
    return tsn_depthwise_conv2d_inplace_packed(params, quant, input_dims, filter_dims, filter,
                                               bias, output_dims, data, scratch, 2);
}
