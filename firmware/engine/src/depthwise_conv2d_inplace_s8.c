/*
 * tsn_depthwise_conv2d_inplace_s8 — int8 depthwise convolution, depth multiplier 1, whose
 * output overwrites its input in the same buffer (TinyEngine's in-place depthwise, with a
 * row ring instead of a whole channel plane).
 *
 * Arithmetic is tsn_depthwise_conv2d_s8's, term for term (TFLM reference_integer_ops::
 * DepthwiseConvPerChannel): only the memory access pattern differs. Channel by channel, batch by
 * batch, output row by output row: the input rows the output row needs (a window of
 * span = (kh-1)*dilation_h + 1 rows) are copied, strided by c in NHWC, into a ring of `span`
 * rows of in_w bytes in `scratch`; the output row is computed from the ring and written to the
 * channel-c slots of the buffer. Output pixel k of batch b goes to flat pixel b*out_hw + k. The
 * kernel requires (and checks) that every slot written while computing output row oy lies in an
 * input row already copied: (oy+1)*out_w - 1 < (copied rows)*in_w, which holds for SAME and
 * VALID padding with out_h <= in_h and out_w <= in_w; other channels are never touched.
 */
#include "tsn.h"
#include "tsn_packed.h"

#include <stddef.h>

/**
 * @param params      as tsn_depthwise_conv2d_s8, with depth_multiplier == 1.
 * @param quant       per_channel != 0 → c entries, else one shared entry.
 * @param input_dims  input shape NHWC
 * @param filter_dims n = 1, h/w = kernel, c = input_dims->c
 * @param filter      int8 [1][kh][kw][c]
 * @param bias        int32 [c] or NULL
 * @param output_dims output shape NHWC, same n and c, out_h <= in_h, out_w <= in_w, and
 *                    for every output row oy: (oy+1)*out_w <= rows_needed(oy)*in_w, where
 *                    rows_needed(oy) = min(in_h, oy*stride_h - pad_top + span)
 * @param data        int8, n*in_h*in_w*c bytes: the input on entry, the output (its first
 *                    n*out_h*out_w*c bytes) on return
 * @param scratch     int8, span*in_w bytes (span = (kh-1)*dilation_h + 1, at most in_h rows
 *                    are used), not overlapping `data`
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or inconsistent shapes/parameters
 *         (data is then untouched).
 */
tsn_status tsn_depthwise_conv2d_inplace_s8(const tsn_conv_params *params,
                                           const tsn_requant *quant,
                                           const tsn_dims *input_dims,
                                           const tsn_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias,
                                           const tsn_dims *output_dims, int8_t *data,
                                           int8_t *scratch)
{
    return tsn_depthwise_conv2d_inplace_packed(params, quant, input_dims, filter_dims, filter,
                                               bias, output_dims, data, scratch, 8);
}
