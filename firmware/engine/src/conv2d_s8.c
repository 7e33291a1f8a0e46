/*
 * tsn_conv2d_s8 — int8 2-D convolution, per-channel (or per-tensor) requantization.
 *
 * Bit-exact with TFLM reference_integer_ops::ConvPerChannel
 * (tensorflow/lite/kernels/internal/reference/integer_ops/conv.h): padded input positions are
 * skipped (they contribute nothing to the accumulator), the bias is added after the dot
 * product, then MultiplyByQuantizedMultiplier (double rounding), output offset, clamp.
 * Grouped convolution is supported as in TFLM: groups = input_dims->c / filter_dims->c.
 */
#include "tsn.h"
#include "tsn_dsp.h"
#include "tsn_dsp_mac.h"
#include "tsn_math.h"

#include <stddef.h>

/**
 * @param params      offsets (input_offset = -zp_in, output_offset = zp_out), strides >= 1,
 *                    leading padding >= 0, dilations >= 1, act_min <= act_max in [-128, 127].
 *                    depth_multiplier is ignored.
 * @param quant       requantization: per_channel != 0 → one entry per output channel
 *                    (filter_dims->n entries); otherwise one shared entry.
 * @param input_dims  input shape NHWC; input int8 [n][h][w][c]
 * @param filter_dims filter shape OHWI (n = output channels, c = input channels per group)
 * @param filter      int8 [out_c][kh][kw][in_c / groups], typically [-127, 127]
 * @param bias        int32 [out_c] (scale s_in * s_w[c]) or NULL
 * @param output_dims output shape NHWC (n = input n, c = filter n); output int8
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or inconsistent shapes/parameters.
 */
tsn_status tsn_conv2d_s8(const tsn_conv_params *params, const tsn_requant *quant,
                         const tsn_dims *input_dims, const int8_t *input,
                         const tsn_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias,
                         const tsn_dims *output_dims, int8_t *output)
{
    int32_t batches, in_h, in_w, in_c, f_h, f_w, f_c, out_h, out_w, out_c;
    int32_t groups, filters_per_group;
    int32_t b, oy, ox, oc, fy, fx, ic;

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
    f_c = filter_dims->c;
    out_h = output_dims->h;
    out_w = output_dims->w;
    out_c = output_dims->c;
    if (f_c <= 0 || filter_dims->n != out_c || in_c % f_c != 0) {
        return TSN_ERROR_ARGUMENT;
    }
    groups = in_c / f_c;
    if (out_c % groups != 0) {
        return TSN_ERROR_ARGUMENT;
    }
    filters_per_group = out_c / groups;

#if TSN_DSP
    if (groups == 1 && tsn_dsp_conv_ok(params, f_h, f_w)) {
        /* a flat 1x1 convolution: one row of all pixels (one call site: the row functions
         * stay inlined, the stack one frame deep) */
        const int flat = tsn_dsp_quad_ok(params, f_h, f_w, in_c, 8) &&
                         tsn_dsp_flat_1x1(params, input_dims, filter_dims, output_dims);
        const int32_t row_in = flat ? batches * in_h * in_w : in_w;
        const int32_t row_out = flat ? row_in : out_w;
        const int8_t *rows[TSN_DSP_MAX_SEGS];
        for (b = 0; b < (flat ? 1 : batches); ++b) {
            if (!tsn_dsp_quad_ok(params, f_h, f_w, in_c, 8) &&
                tsn_dsp_gather_ok(f_h, f_w, in_c)) {
                /* the stems: 4-pixel groups across the output rows */
                const tsn_dsp_plane src = {input + b * in_h * in_w * in_c, in_h, in_h};
                tsn_dsp_conv_row_gather(params, quant, &src, in_w, in_c, f_h, f_w, filter, bias,
                                        out_w, 0, out_h * out_w, out_c, out_c,
                                        output + b * out_h * out_w * out_c);
                continue;
            }
            for (oy = 0; oy < (flat ? 1 : out_h); ++oy) {
                for (fy = 0; fy < f_h; ++fy) {
                    const int32_t in_y = oy * params->stride_h - params->pad_top +
                                         params->dilation_h * fy;
                    rows[fy] = in_y < 0 || in_y >= in_h ? NULL
                                                        : input + (b * in_h + in_y) * in_w * in_c;
                }
                if (tsn_dsp_quad_ok(params, f_h, f_w, in_c, 8)) {
                    tsn_dsp_conv_row4_apart(params, quant, rows, row_in, in_c, f_h, f_w, filter,
                                            bias, row_out, out_c,
                                            output + (b * out_h + oy) * out_w * out_c);
                } else {
                    tsn_dsp_conv_row(params, quant, rows, in_w, in_c, f_h, f_w, filter, bias,
                                     out_w, out_c, out_c,
                                     output + (b * out_h + oy) * out_w * out_c);
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
                for (oc = 0; oc < out_c; ++oc) {
                    const int32_t group = oc / filters_per_group;
                    const int32_t q = quant->per_channel ? oc : 0;
                    int32_t acc = 0;
                    for (fy = 0; fy < f_h; ++fy) {
                        const int32_t in_y = in_y_origin + params->dilation_h * fy;
                        if (in_y < 0 || in_y >= in_h) {
                            continue;
                        }
                        for (fx = 0; fx < f_w; ++fx) {
                            const int32_t in_x = in_x_origin + params->dilation_w * fx;
                            const int8_t *in_px;
                            const int8_t *f_px;
                            if (in_x < 0 || in_x >= in_w) {
                                continue;
                            }
                            in_px = input + (((b * in_h + in_y) * in_w + in_x) * in_c) + group * f_c;
                            f_px = filter + (((oc * f_h + fy) * f_w + fx) * f_c);
                            for (ic = 0; ic < f_c; ++ic) {
                                acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + params->input_offset);
                            }
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
    return TSN_OK;
}
