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
#include "tsn_dsp.h"
#include "tsn_math.h"

#include <stddef.h>

/* Rows [0, end) of the input are needed up to output row oy (exclusive end, clamped). */
static int32_t tsn_rows_needed(int32_t oy, int32_t stride, int32_t pad, int32_t span, int32_t in_h)
{
    const int32_t end = oy * stride - pad + span;
    return end < in_h ? (end < 0 ? 0 : end) : in_h;
}

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
    int32_t batches, in_h, in_w, ch, f_h, f_w, out_h, out_w, span, stride_h, pad_top;
    int32_t b, c, oy, ox, fy, fx, copied, x;

    if (!tsn_conv_args_valid(params, quant, input_dims, filter_dims, filter, output_dims) ||
        data == NULL || scratch == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    batches = input_dims->n;
    in_h = input_dims->h;
    in_w = input_dims->w;
    ch = input_dims->c;
    f_h = filter_dims->h;
    f_w = filter_dims->w;
    out_h = output_dims->h;
    out_w = output_dims->w;
    stride_h = params->stride_h;
    pad_top = params->pad_top;
    if (params->depth_multiplier != 1 || output_dims->c != ch || filter_dims->n != 1 ||
        filter_dims->c != ch || out_h > in_h || out_w > in_w) {
        return TSN_ERROR_ARGUMENT;
    }
    span = (f_h - 1) * params->dilation_h + 1;
    for (oy = 0; oy < out_h; ++oy) {
        if ((oy + 1) * out_w > tsn_rows_needed(oy, stride_h, pad_top, span, in_h) * in_w) {
            return TSN_ERROR_ARGUMENT; /* a write would land on an input row not yet copied */
        }
    }

#if TSN_DSP
    if (tsn_dsp_dw_ok(params, f_h, f_w, in_h, out_w)) {
        /* the ring of rows is on the stack (padded); `scratch` is not needed */
        for (c = 0; c < ch; ++c) {
            const int32_t q = quant->per_channel ? c : 0;
            const tsn_dsp_rq rq = tsn_dsp_rq_of(quant->multiplier[q], quant->shift[q]);
            for (b = 0; b < batches; ++b) {
                tsn_dsp_dw_channel(params, &rq, bias != NULL ? bias[c] : 0,
                                   data + b * in_h * in_w * ch + c, ch, in_h, in_w, filter, c, ch,
                                   8, f_h, f_w, data + b * out_h * out_w * ch + c, ch, out_h,
                                   out_w);
            }
        }
        return TSN_OK;
    }
#endif

    for (c = 0; c < ch; ++c) {
        const int32_t q = quant->per_channel ? c : 0;
        for (b = 0; b < batches; ++b) {
            const int8_t *in_plane = data + b * in_h * in_w * ch + c;
            int8_t *out_plane = data + b * out_h * out_w * ch + c;
            copied = 0;
            for (oy = 0; oy < out_h; ++oy) {
                const int32_t in_y_origin = oy * stride_h - pad_top;
                const int32_t need = tsn_rows_needed(oy, stride_h, pad_top, span, in_h);
                for (; copied < need; ++copied) {
                    int8_t *row = scratch + (copied % span) * in_w;
                    for (x = 0; x < in_w; ++x) {
                        row[x] = in_plane[(copied * in_w + x) * ch];
                    }
                }
                for (ox = 0; ox < out_w; ++ox) {
                    const int32_t in_x_origin = ox * params->stride_w - params->pad_left;
                    int32_t acc = 0;
                    for (fy = 0; fy < f_h; ++fy) {
                        const int32_t in_y = in_y_origin + params->dilation_h * fy;
                        const int8_t *row;
                        if (in_y < 0 || in_y >= in_h) {
                            continue;
                        }
                        row = scratch + (in_y % span) * in_w;
                        for (fx = 0; fx < f_w; ++fx) {
                            const int32_t in_x = in_x_origin + params->dilation_w * fx;
                            int32_t in_val, f_val;
                            if (in_x < 0 || in_x >= in_w) {
                                continue;
                            }
                            in_val = row[in_x];
                            f_val = filter[(fy * f_w + fx) * ch + c];
                            acc += f_val * (in_val + params->input_offset);
                        }
                    }
                    if (bias != NULL) {
                        acc += bias[c];
                    }
                    acc = tsn_requantize(acc, quant->multiplier[q], quant->shift[q]);
                    acc += params->output_offset;
                    acc = tsn_clamp(acc, params->act_min, params->act_max);
                    out_plane[(oy * out_w + ox) * ch] = (int8_t)acc;
                }
            }
        }
    }
    return TSN_OK;
}
