/*
 * tsn_packed.h — internal bodies of the packed sub-byte weight kernels (not public API).
 *
 * One implementation per op, parametrized by the weight width `bits` (4 or 2); the public
 * tsn_<op>_s4 / tsn_<op>_s2 functions (one per source file) call these with a constant, so the
 * compiler specializes the unpacking. Weights are read straight from the packed array, one
 * element at a time into a register (tsn_packed_at in tsn_math.h): no filter is unpacked into
 * RAM. The element order is the s8 kernels' flat order (OHWI, 1HW(C*M), [out][in]), so a row of
 * odd length starts mid-byte. Everything else — argument checks, accumulation over in-image
 * positions only, bias, double-rounding requantization, output offset, clamp — is identical to
 * conv2d_s8.c, depthwise_conv2d_s8.c and fully_connected_s8.c.
 */
#ifndef TSN_PACKED_H
#define TSN_PACKED_H

#include "tsn.h"
#include "tsn_math.h"

#include <stddef.h>

static inline tsn_status tsn_conv2d_packed(const tsn_conv_params *params,
                                           const tsn_requant *quant,
                                           const tsn_dims *input_dims, const int8_t *input,
                                           const tsn_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias,
                                           const tsn_dims *output_dims, int8_t *output, int bits)
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
                            int32_t f_at; /* element index of filter[oc][fy][fx][0] */
                            if (in_x < 0 || in_x >= in_w) {
                                continue;
                            }
                            in_px = input + (((b * in_h + in_y) * in_w + in_x) * in_c) + group * f_c;
                            f_at = ((oc * f_h + fy) * f_w + fx) * f_c;
                            for (ic = 0; ic < f_c; ++ic) {
                                acc += tsn_packed_at(filter, f_at + ic, bits) *
                                       ((int32_t)in_px[ic] + params->input_offset);
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

static inline tsn_status tsn_depthwise_conv2d_packed(const tsn_conv_params *params,
                                                     const tsn_requant *quant,
                                                     const tsn_dims *input_dims,
                                                     const int8_t *input,
                                                     const tsn_dims *filter_dims,
                                                     const int8_t *filter,
                                                     const int32_t *bias,
                                                     const tsn_dims *output_dims,
                                                     int8_t *output, int bits)
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
                                f_val = tsn_packed_at(filter, (fy * f_w + fx) * out_c + oc, bits);
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

static inline tsn_status tsn_fully_connected_packed(const tsn_fc_params *params,
                                                    const tsn_requant *quant, int32_t batches,
                                                    int32_t input_depth, const int8_t *input,
                                                    int32_t output_depth, const int8_t *weights,
                                                    const int32_t *bias, int8_t *output,
                                                    int bits)
{
    int32_t b, o, i;

    if (params == NULL || quant == NULL || quant->multiplier == NULL || quant->shift == NULL ||
        input == NULL || weights == NULL || output == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    if (batches <= 0 || input_depth <= 0 || output_depth <= 0 ||
        params->act_min > params->act_max) {
        return TSN_ERROR_ARGUMENT;
    }

    for (b = 0; b < batches; ++b) {
        const int8_t *in_row = input + b * input_depth;
        for (o = 0; o < output_depth; ++o) {
            const int32_t w_at = o * input_depth; /* element index of weights[o][0] */
            const int32_t q = quant->per_channel ? o : 0;
            int32_t acc = 0;
            for (i = 0; i < input_depth; ++i) {
                acc += tsn_packed_at(weights, w_at + i, bits) *
                       ((int32_t)in_row[i] + params->input_offset);
            }
            if (bias != NULL) {
                acc += bias[o];
            }
            acc = tsn_requantize(acc, quant->multiplier[q], quant->shift[q]);
            acc += params->output_offset;
            acc = tsn_clamp(acc, params->act_min, params->act_max);
            output[b * output_depth + o] = (int8_t)acc;
        }
    }
    return TSN_OK;
}

#endif /* TSN_PACKED_H */
