/*
 * tsn_conv2d_s4 — 2-D convolution with int8 activations and 4-bit weights stored packed as
 * TFLite INT4 (two per byte, element 2k in the low nibble, 2k+1 in the high nibble, range [-8,
 * 7]; sign-extended two's complement, the stream running on across rows). Weights are read
 * packed, one element at a time (tsn_packed.h); the arithmetic is that of tsn_conv2d_s8 exactly.
 */
#include "tsn.h"
#include "tsn_packed.h"

/**
 * Parameters and return value as tsn_conv2d_s8, except:
 * @param filter      packed INT4: element k of the s8 kernel's flat filter array lives in
 *                    byte k / 2; ceil((filter_dims->n * h * w * c) / 2) bytes.
 */
tsn_status tsn_conv2d_s4(const tsn_conv_params *params, const tsn_requant *quant,
                         const tsn_dims *input_dims, const int8_t *input,
                         const tsn_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias,
                         const tsn_dims *output_dims, int8_t *output)
{
    return tsn_conv2d_packed(params, quant, input_dims, input, filter_dims, filter, bias,
                             output_dims, output, 4);
}
