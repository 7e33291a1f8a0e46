/*
 * tsn_depthwise_conv2d_inplace_s8 — int8 depthwise convolution, depth multiplier 1, whose
 * output overwrites its input in the same buffer (TinyEngine's in-place depthwise).
 *
 * Arithmetic is tsn_depthwise_conv2d_s8's, term for term (TFLM reference_integer_ops::
 * DepthwiseConvPerChannel): only the memory access pattern differs. Channel by channel (and,
 * within a channel, batch by batch): the channel's input plane (h*w bytes, strided by c in NHWC)
 * is copied to `scratch`, then the channel's output plane is computed from the scratch copy and
 * written to the channel-c slots of the buffer. Output pixel k of batch b goes to flat pixel
 * b*out_hw + k <= b*in_hw + k < (b+1)*in_hw, a channel-c slot whose input value has already been
 * copied; other channels are not touched. Requires out_h*out_w <= in_h*in_w (any stride, padding
 * or kernel size).
 */
#include "tsn.h"
#include "tsn_math.h"

#include <stddef.h>

/**
 * @param params      as tsn_depthwise_conv2d_s8, with depth_multiplier == 1.
 * @param quant       per_channel != 0 → c entries, else one shared entry.
 * @param input_dims  input shape NHWC
 * @param filter_dims n = 1, h/w = kernel, c = input_dims->c
 * @param filter      int8 [1][kh][kw][c]
 * @param bias        int32 [c] or NULL
 * @param output_dims output shape NHWC, same n and c, out_h*out_w <= in_h*in_w
 * @param data        int8, n*in_h*in_w*c bytes: the input on entry, the output (its first
 *                    n*out_h*out_w*c bytes) on return
 * @param scratch     int8, in_h*in_w bytes, not overlapping `data`
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
    int32_t batches, in_h, in_w, ch, f_h, f_w, out_h, out_w;
    int32_t b, c, k, oy, ox, fy, fx;

    if (params == NULL || quant == NULL || quant->multiplier == NULL || quant->shift == NULL ||
        input_dims == NULL || filter_dims == NULL || filter == NULL || output_dims == NULL ||
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
    if (batches <= 0 || in_h <= 0 || in_w <= 0 || ch <= 0 || f_h <= 0 || f_w <= 0 ||
        out_h <= 0 || out_w <= 0 || params->depth_multiplier != 1 ||
        output_dims->n != batches || output_dims->c != ch || filter_dims->n != 1 ||
        filter_dims->c != ch || out_h * out_w > in_h * in_w || params->stride_h <= 0 ||
        params->stride_w <= 0 || params->dilation_h <= 0 || params->dilation_w <= 0 ||
        params->pad_top < 0 || params->pad_left < 0 || params->act_min > params->act_max) {
        return TSN_ERROR_ARGUMENT;
    }

    for (c = 0; c < ch; ++c) {
        const int32_t q = quant->per_channel ? c : 0;
        for (b = 0; b < batches; ++b) {
            const int8_t *in_plane = data + b * in_h * in_w * ch + c;
            int8_t *out_plane = data + b * out_h * out_w * ch + c;
            for (k = 0; k < in_h * in_w; ++k) {
                scratch[k] = in_plane[k * ch];
            }
            for (oy = 0; oy < out_h; ++oy) {
                const int32_t in_y_origin = oy * params->stride_h - params->pad_top;
                for (ox = 0; ox < out_w; ++ox) {
                    const int32_t in_x_origin = ox * params->stride_w - params->pad_left;
                    int32_t acc = 0;
                    for (fy = 0; fy < f_h; ++fy) {
                        const int32_t in_y = in_y_origin + params->dilation_h * fy;
                        if (in_y < 0 || in_y >= in_h) {
                            continue;
                        }
                        for (fx = 0; fx < f_w; ++fx) {
                            const int32_t in_x = in_x_origin + params->dilation_w * fx;
                            int32_t in_val, f_val;
                            if (in_x < 0 || in_x >= in_w) {
                                continue;
                            }
                            in_val = scratch[in_y * in_w + in_x];
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
