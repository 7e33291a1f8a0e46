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
#include "tsn_dsp.h"
#include "tsn_dsp_mac.h"
#include "tsn_math.h"

#include <stddef.h>
#include <string.h>

#if TSN_DSP
/* The two DSP paths of tsn_conv2d_packed, each out of line (TSN_DSP_LOOP) so that the stack of
 * one (tsn_dsp_conv_row4's widened windows, the unpacked filters) is not reserved on top of the
 * other's. */

/* Filter bytes unpacked at once (word-aligned on the stack): enough for a 64-filter stem with
 * windows of up to 48 elements (KWS's 10x4x1 x 64), whose windows are then gathered once, not
 * once per chunk of filters. */
#define TSN_PACKED_UNPACK_BYTES 3072

/* tsn_dsp_conv_row out of line: its stack is not reserved on top of the unpacked filters' while
 * the gathered rows run. */
TSN_DSP_LOOP void tsn_conv2d_packed_row(const tsn_conv_params *params, const tsn_requant *quant,
                                        const int8_t *const *rows, int32_t in_w, int32_t in_c,
                                        int32_t f_h, int32_t f_w, const int8_t *filter,
                                        const int32_t *bias, int32_t out_w, int32_t out_c,
                                        int32_t out_stride, int8_t *out)
{
    tsn_dsp_conv_row(params, quant, rows, in_w, in_c, f_h, f_w, filter, bias, out_w, out_c,
                     out_stride, out);
}

/* Packed INT4 straight from the nibbles, four output pixels at a time (tsn_dsp_quad_ok). */
TSN_DSP_LOOP void tsn_conv2d_packed_quads(const tsn_conv_params *params,
                                          const tsn_requant *quant, const tsn_dims *input_dims,
                                          const int8_t *input, const tsn_dims *filter_dims,
                                          const int8_t *filter, const int32_t *bias,
                                          const tsn_dims *output_dims, int8_t *output, int bits)
{
    const int32_t batches = input_dims->n, in_h = input_dims->h, in_w = input_dims->w;
    const int32_t in_c = input_dims->c, f_h = filter_dims->h, f_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    /* a flat 1x1 convolution: one row of all pixels (one call site, as tsn_conv2d_s8) */
    const int flat = tsn_dsp_flat_1x1(params, input_dims, filter_dims, output_dims);
    const int32_t row_in = flat ? batches * in_h * in_w : in_w;
    const int32_t row_out = flat ? row_in : out_w;
    const int8_t *rows[TSN_DSP_MAX_SEGS];
    int32_t b, oy, fy;
    for (b = 0; b < (flat ? 1 : batches); ++b) {
        for (oy = 0; oy < (flat ? 1 : out_h); ++oy) {
            for (fy = 0; fy < f_h; ++fy) {
                const int32_t in_y = oy * params->stride_h - params->pad_top +
                                     params->dilation_h * fy;
                rows[fy] = in_y < 0 || in_y >= in_h
                               ? NULL : input + (b * in_h + in_y) * in_w * in_c;
            }
            tsn_dsp_conv_row4(params, quant, rows, row_in, in_c, f_h, f_w, filter, bits, bias,
                              row_out, out_c, out_c,
                              output + (b * out_h + oy) * out_w * out_c, 0);
        }
    }
}

/* Chunks of filters (f_size <= TSN_PACKED_UNPACK_BYTES) unpacked to int8 on the stack, then
 * the s8 DSP rows. */
TSN_DSP_LOOP void tsn_conv2d_packed_unpacked(const tsn_conv_params *params,
                                             const tsn_requant *quant,
                                             const tsn_dims *input_dims, const int8_t *input,
                                             const tsn_dims *filter_dims, const int8_t *filter,
                                             const int32_t *bias, const tsn_dims *output_dims,
                                             int8_t *output, int bits)
{
    const int32_t batches = input_dims->n, in_h = input_dims->h, in_w = input_dims->w;
    const int32_t in_c = input_dims->c, f_h = filter_dims->h, f_w = filter_dims->w;
    const int32_t out_h = output_dims->h, out_w = output_dims->w, out_c = output_dims->c;
    const int32_t f_size = f_h * f_w * filter_dims->c;
    const int32_t chunk = TSN_PACKED_UNPACK_BYTES / f_size;
    uint32_t words[TSN_PACKED_UNPACK_BYTES / 4]; /* word-aligned filters for the LDRD loops */
    int8_t *const unpacked = (int8_t *)words;
    const int8_t *rows[TSN_DSP_MAX_SEGS];
    int32_t oc0, b, oy, fy;
    for (oc0 = 0; oc0 < out_c; oc0 += chunk) {
        const int32_t n = out_c - oc0 < chunk ? out_c - oc0 : chunk;
        const tsn_requant q = tsn_dsp_quant_from(quant, oc0);
        tsn_dsp_unpack(filter, oc0 * f_size, n * f_size, bits, unpacked);
        for (b = 0; b < batches; ++b) {
            if (tsn_dsp_gather_ok(f_h, f_w, in_c)) { /* 4-pixel groups across the rows */
                const tsn_dsp_plane src = {input + b * in_h * in_w * in_c, in_h, in_h};
                tsn_dsp_conv_row_gather(params, &q, &src, in_w, in_c, f_h, f_w, unpacked,
                                        bias != NULL ? bias + oc0 : NULL, out_w, 0,
                                        out_h * out_w, n, out_c,
                                        output + b * out_h * out_w * out_c + oc0);
                continue;
            }
            for (oy = 0; oy < out_h; ++oy) {
                for (fy = 0; fy < f_h; ++fy) {
                    const int32_t in_y = oy * params->stride_h - params->pad_top +
                                         params->dilation_h * fy;
                    rows[fy] = in_y < 0 || in_y >= in_h
                                   ? NULL : input + (b * in_h + in_y) * in_w * in_c;
                }
                tsn_conv2d_packed_row(params, &q, rows, in_w, in_c, f_h, f_w, unpacked,
                                      bias != NULL ? bias + oc0 : NULL, out_w, n, out_c,
                                      output + (b * out_h + oy) * out_w * out_c + oc0);
            }
        }
    }
}
#endif

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

#if TSN_DSP
    if (groups == 1 && bits == 4 && tsn_dsp_quad_ok(params, f_h, f_w, in_c, bits)) {
        tsn_conv2d_packed_quads(params, quant, input_dims, input, filter_dims, filter, bias,
                                output_dims, output, bits);
        return TSN_OK;
    }
    if (groups == 1 && tsn_dsp_conv_ok(params, f_h, f_w) &&
        f_h * f_w * f_c <= TSN_PACKED_UNPACK_BYTES) {
        tsn_conv2d_packed_unpacked(params, quant, input_dims, input, filter_dims, filter, bias,
                                   output_dims, output, bits);
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
                                       filter, oc, out_c, bits, f_h, f_w,
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

#if TSN_DSP
    if (bits == 4 && (input_depth & 1) == 0 && input_depth <= TSN_DSP_S4_MAX_DEPTH) {
        /* straight from the nibbles, one input row at a time */
        tsn_dsp_io io;
        io.input_offset = params->input_offset;
        io.output_offset = params->output_offset;
        io.act_min = params->act_min;
        io.act_max = params->act_max;
        for (b = 0; b < batches; ++b) {
            tsn_dsp_row1_s4(&io, quant, input + b * input_depth, input_depth, weights, bias,
                            output_depth, output + b * output_depth);
        }
        return TSN_OK;
    }
    if (input_depth <= TSN_DSP_UNPACK_BYTES) {
        /* chunks of weight rows unpacked to int8 on the stack, then the s8 DSP loops */
        const int32_t chunk = TSN_DSP_UNPACK_BYTES / input_depth;
        int8_t unpacked[TSN_DSP_UNPACK_BYTES];
        tsn_dsp_io io;
        tsn_dsp_seg seg;
        io.input_offset = params->input_offset;
        io.output_offset = params->output_offset;
        io.act_min = params->act_min;
        io.act_max = params->act_max;
        seg.f_at = 0;
        seg.len = input_depth;
        for (o = 0; o < output_depth; o += chunk) {
            const int32_t n = output_depth - o < chunk ? output_depth - o : chunk;
            const tsn_requant q = tsn_dsp_quant_from(quant, o);
            const int32_t *bias_o = bias != NULL ? bias + o : NULL;
            tsn_dsp_unpack(weights, o * input_depth, n * input_depth, bits, unpacked);
            for (b = 0; b + 1 < batches; b += 2) {
                seg.in = input + b * input_depth;
                tsn_dsp_pixel_pair(&io, &q, &seg, 1, input_depth, unpacked, input_depth, bias_o,
                                   n, output + b * output_depth + o,
                                   output + (b + 1) * output_depth + o);
            }
            if (b < batches) {
                tsn_dsp_row1(&io, &q, input + b * input_depth, input_depth, unpacked, bias_o, n,
                             output + b * output_depth + o);
            }
        }
        return TSN_OK;
    }
#endif

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

/* tsn_conv2d_1x1_inplace_s4/_s2 (`bits` 4 or 2; description in conv2d_1x1_inplace_s4.c);
 * `rows_of` is tsn_conv2d_s4 / _s2, which computes a row from its copy in scratch (called, not
 * inlined: its code is linked once). */
static inline tsn_status tsn_conv2d_1x1_inplace_packed(
    const tsn_conv_params *params, const tsn_requant *quant, const tsn_dims *input_dims,
    const tsn_dims *filter_dims, const int8_t *filter, const int32_t *bias,
    const tsn_dims *output_dims, int8_t *data, int8_t *scratch, int bits,
    tsn_conv_kernel rows_of)
{
    int32_t rows, in_w, in_c, out_c, r;

    if (!tsn_conv_args_valid(params, quant, input_dims, filter_dims, filter, output_dims) ||
        data == NULL || scratch == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    in_w = input_dims->w;
    in_c = input_dims->c;
    out_c = output_dims->c;
    if (output_dims->h != input_dims->h || output_dims->w != in_w || filter_dims->n != out_c ||
        filter_dims->h != 1 || filter_dims->w != 1 || filter_dims->c != in_c ||
        params->stride_h != 1 || params->stride_w != 1 || params->pad_top != 0 ||
        params->pad_left != 0) {
        return TSN_ERROR_ARGUMENT;
    }
    rows = input_dims->n * input_dims->h;
    (void)bits; /* read by the DSP path only */

#if TSN_DSP
    if (bits == 4 && tsn_dsp_quad_ok(params, 1, 1, in_c, bits) &&
        in_c <= TSN_DSP_QUAD_WORDS / 2) {
        /* as tsn_conv2d_1x1_inplace_s8: the pixels as one row, 4 at a time, a group's inputs
         * widened (in one piece: in_c elements of 4 words per 8, for 4 pixels) before its
         * outputs are written, in the order below; `scratch` is not needed */
        tsn_dsp_conv_flat4_inplace(params, quant, data, rows * in_w, in_c, filter, bits, bias,
                                   out_c);
        return TSN_OK;
    }
#endif

    for (r = 0; r < rows; ++r) {
        /* rows in increasing order when out_c <= in_c, else decreasing; each copied to scratch
         * and computed from there (any path of the out-of-place kernel, `rows_of`) */
        const int32_t y = out_c <= in_c ? r : rows - 1 - r;
        const tsn_dims row_in = {1, 1, in_w, in_c};
        const tsn_dims row_out = {1, 1, in_w, out_c};
        tsn_status status;
        memcpy(scratch, data + (size_t)y * in_w * in_c, (size_t)in_w * in_c);
        status = rows_of(params, quant, &row_in, scratch, filter_dims, filter, bias, &row_out,
                         data + (size_t)y * in_w * out_c);
        if (status != TSN_OK) {
            return status;
        }
    }
    return TSN_OK;
}

/* tsn_depthwise_conv2d_inplace_s8/_s4/_s2 (`bits` 8, 4 or 2; description in
 * depthwise_conv2d_inplace_s8.c). */
/* Rows [0, end) of the input are needed up to output row oy (exclusive end, clamped). */
static inline int32_t tsn_dw_rows_needed(int32_t oy, int32_t stride, int32_t pad, int32_t span, int32_t in_h)
{
    const int32_t end = oy * stride - pad + span;
    return end < in_h ? (end < 0 ? 0 : end) : in_h;
}


static inline tsn_status tsn_depthwise_conv2d_inplace_packed(
    const tsn_conv_params *params, const tsn_requant *quant, const tsn_dims *input_dims,
    const tsn_dims *filter_dims, const int8_t *filter, const int32_t *bias,
    const tsn_dims *output_dims, int8_t *data, int8_t *scratch, int bits)
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
        if ((oy + 1) * out_w > tsn_dw_rows_needed(oy, stride_h, pad_top, span, in_h) * in_w) {
            return TSN_ERROR_ARGUMENT; /* a write would land on an input row not yet copied */
        }
    }

#if TSN_DSP
    if (tsn_dsp_dw_ok(params, f_h, f_w, in_h, out_w)) {
        tsn_dsp_dw_rows rows;
        rows.padded = 0;
        /* the ring of rows is on the stack (padded); `scratch` is not needed */
        for (c = 0; c < ch; ++c) {
            const int32_t q = quant->per_channel ? c : 0;
            const tsn_dsp_rq rq = tsn_dsp_rq_of(quant->multiplier[q], quant->shift[q]);
            for (b = 0; b < batches; ++b) {
                tsn_dsp_dw_channel(&rows, params, &rq, bias != NULL ? bias[c] : 0,
                                   data + b * in_h * in_w * ch + c, ch, in_h, in_w, filter, c, ch,
                                   bits, f_h, f_w, data + b * out_h * out_w * ch + c, ch, out_h,
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
                const int32_t need = tsn_dw_rows_needed(oy, stride_h, pad_top, span, in_h);
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
                            f_val = bits == 8 ? filter[(fy * f_w + fx) * ch + c]
                                          : tsn_packed_at(filter, (fy * f_w + fx) * ch + c, bits);
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

#endif /* TSN_PACKED_H */
