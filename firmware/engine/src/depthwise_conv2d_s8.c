/*
 * tsn_depthwise_conv2d_s8 — int8 depthwise convolution with depth multiplier.
 *
 * Bit-exact with TFLM reference_integer_ops::DepthwiseConvPerChannel
 * (tensorflow/lite/kernels/internal/reference/integer_ops/depthwise_conv.h): output channel
 * oc = ic * depth_multiplier + m; padded input positions are skipped; bias added after the
 * dot product; MultiplyByQuantizedMultiplier (double rounding), output offset, clamp.
 */
#include "tsn.h"
#include "tsn_dsp.h"
#include "tsn_math.h"

#include <stddef.h>

/**
 * @param params      as tsn_conv2d_s8, plus depth_multiplier >= 1.
 * @param quant       per_channel != 0 → one entry per output channel (filter_dims->c entries).
 * @param input_dims  input shape NHWC; input int8 [n][h][w][c]
 * @param filter_dims n = 1, h/w = kernel, c = output channels = input c * depth_multiplier
 * @param filter      int8 [1][kh][kw][out_c]
 * @param bias        int32 [out_c] or NULL
 * @param output_dims output shape NHWC (c = out_c); output int8
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or inconsistent shapes/parameters.
 */
tsn_status tsn_depthwise_conv2d_s8(const tsn_conv_params *params, const tsn_requant *quant,
                                   const tsn_dims *input_dims, const int8_t *input,
                                   const tsn_dims *filter_dims, const int8_t *filter,
                                   const int32_t *bias,
                                   const tsn_dims *output_dims, int8_t *output)
{
    int32_t batches, in_h, in_w, in_c, f_h, f_w, out_h, out_w, out_c, mult;
    int32_t b, oy, ox, ic, m, fy, fx;

    if (!tsn_conv_args_valid(params, quant, input_dims, filter_dims, filter, output_dims) ||
        input == NULL || output == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    batches = input_dims->n;
    in_h = input_dims->h;
    in_w = input_dims->w;
    in_c = input_dims->c;
    f_h = filter_dims->h;
    f_w = filter_dims->w;
    out_h = output_dims->h;
    out_w = output_dims->w;
    out_c = output_dims->c;
    mult = params->depth_multiplier;
    if (mult <= 0 || filter_dims->n != 1 || filter_dims->c != out_c || out_c != in_c * mult) {
        return TSN_ERROR_ARGUMENT;
    }

#if TSN_DSP
    if (tsn_dsp_dw_ok(params, f_h, f_w, in_h, out_w)) {
        tsn_dsp_dw_rows rows;
        rows.padded = 0;
        for (ic = 0; ic < in_c; ++ic) {
            for (m = 0; m < mult; ++m) {
                const int32_t oc = ic * mult + m;
                const int32_t q = quant->per_channel ? oc : 0;
                const tsn_dsp_rq rq = tsn_dsp_rq_of(quant->multiplier[q], quant->shift[q]);
                for (b = 0; b < batches; ++b) {
                    tsn_dsp_dw_channel(&rows, params, &rq, bias != NULL ? bias[oc] : 0,
                                       input + b * in_h * in_w * in_c + ic, in_c, in_h, in_w,
                                       filter, oc, out_c, 8, f_h, f_w,
                                       output + b * out_h * out_w * out_c + oc, out_c, out_h,
                                       out_w);
                }
            }
        }
        return TSN_OK;
    }
#endif

    for (b = 0; b < batches; ++b) {
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t in_y_origin = oy * params->stride_h - params->pad_top;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t in_x_origin = ox * params->stride_w - params->pad_left;
                for (ic = 0; ic < in_c; ++ic) {
                    for (m = 0; m < mult; ++m) {
                        const int32_t oc = ic * mult + m;
                        const int32_t q = quant->per_channel ? oc : 0;
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
                                in_val = input[((b * in_h + in_y) * in_w + in_x) * in_c + ic];
                                f_val = filter[(fy * f_w + fx) * out_c + oc];
                                acc += f_val * (in_val + params->input_offset);
                            }
                        }
                        if (bias != NULL) {
                            acc += bias[oc];
                        }
                        acc = tsn_requantize(acc, quant->multiplier[q], quant->shift[q]);
                        acc += params->output_offset;
                        acc = tsn_clamp(acc, params->act_min, params->act_max);
                        output[((b * out_h + oy) * out_w + ox) * out_c + oc] = (int8_t)acc;
                    }
                }
            }
        }
    }
    return TSN_OK;
}
