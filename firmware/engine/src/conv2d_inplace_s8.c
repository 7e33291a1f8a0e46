/*
 * tsn_conv2d_inplace_s8 — int8 2-D convolution (one group) whose output overwrites its input in
 * the same buffer, with a ring of input rows as scratch.
 *
 * Arithmetic is tsn_conv2d_s8's, term for term (TFLM reference_integer_ops::ConvPerChannel):
 * only the memory access pattern differs. Batch by batch, output row by output row: the input
 * rows the output row needs (a window of span = (kh-1)*dilation_h + 1 rows) are copied into a
 * ring of `span` rows of in_w*in_c bytes in `scratch`; the output row is computed from the ring
 * and written to the buffer at its NHWC place. Output row oy of batch b occupies bytes
 * [b*out_hwc + oy*out_w*out_c, b*out_hwc + (oy+1)*out_w*out_c); the kernel requires (and checks)
 * that this ends at or below the input rows already copied: (oy+1)*out_w*out_c <=
 * rows_needed(oy)*in_w*in_c (true e.g. for SAME/VALID with stride >= 1, out_w <= in_w and
 * out_c <= in_c).
 */
#include "tsn.h"
#include "tsn_dsp.h"
#include "tsn_dsp_mac.h"
#include "tsn_math.h"

#include <stddef.h>

/* Input rows [0, end) needed up to output row oy (clamped to [0, in_h]). */
static int32_t tsn_conv_rows_needed(int32_t oy, int32_t stride, int32_t pad, int32_t span,
                                    int32_t in_h)
{
    const int32_t end = oy * stride - pad + span;
    return end < in_h ? (end < 0 ? 0 : end) : in_h;
}

/**
 * @param params      as tsn_conv2d_s8 (depth_multiplier ignored).
 * @param quant       per_channel != 0 → out_c entries, else one shared entry.
 * @param input_dims  input shape NHWC
 * @param filter_dims OHWI: n = out_c, c = input_dims->c (one group)
 * @param filter      int8 [out_c][kh][kw][in_c]
 * @param bias        int32 [out_c] or NULL
 * @param output_dims output shape NHWC (n = input n); for every output row oy:
 *                    (oy+1)*out_w*out_c <= rows_needed(oy)*in_w*in_c, where
 *                    rows_needed(oy) = min(in_h, max(0, oy*stride_h - pad_top + span))
 * @param data        int8, n*in_h*in_w*in_c bytes: the input on entry, the output (its first
 *                    n*out_h*out_w*out_c bytes) on return
 * @param scratch     int8, min(span, in_h)*in_w*in_c bytes, span = (kh-1)*dilation_h + 1, not
 *                    overlapping `data`
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or inconsistent shapes/parameters
 *         (data is then untouched).
 */
tsn_status tsn_conv2d_inplace_s8(const tsn_conv_params *params, const tsn_requant *quant,
                                 const tsn_dims *input_dims,
                                 const tsn_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias,
                                 const tsn_dims *output_dims, int8_t *data, int8_t *scratch)
{
    int32_t batches, in_h, in_w, in_c, f_h, f_w, out_h, out_w, out_c, span, ring, row_bytes;
    int32_t b, oy, ox, oc, fy, fx, ic, copied, k;

    if (!tsn_conv_args_valid(params, quant, input_dims, filter_dims, filter, output_dims) ||
        data == NULL || scratch == NULL) {
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
    if (filter_dims->n != out_c || filter_dims->c != in_c) {
        return TSN_ERROR_ARGUMENT;
    }
    span = (f_h - 1) * params->dilation_h + 1;
    ring = span < in_h ? span : in_h;
    row_bytes = in_w * in_c;
    for (oy = 0; oy < out_h; ++oy) {
        const int32_t rows =
            tsn_conv_rows_needed(oy, params->stride_h, params->pad_top, span, in_h);
        if ((oy + 1) * out_w * out_c > rows * row_bytes) {
            return TSN_ERROR_ARGUMENT; /* a write would land on an input row not yet copied */
        }
    }

    for (b = 0; b < batches; ++b) {
        const int8_t *in_plane = data + b * in_h * row_bytes;
        int8_t *out_plane = data + b * out_h * out_w * out_c;
        copied = 0;
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t in_y_origin = oy * params->stride_h - params->pad_top;
            const int32_t need =
                tsn_conv_rows_needed(oy, params->stride_h, params->pad_top, span, in_h);
            for (; copied < need; ++copied) {
                int8_t *dst = scratch + (copied % ring) * row_bytes;
                const int8_t *src = in_plane + copied * row_bytes;
                for (k = 0; k < row_bytes; ++k) {
                    dst[k] = src[k];
                }
            }
#if TSN_DSP
            if (tsn_dsp_conv_ok(params, f_h, f_w)) {
                const int8_t *rows[TSN_DSP_MAX_SEGS];
                for (fy = 0; fy < f_h; ++fy) {
                    const int32_t in_y = in_y_origin + params->dilation_h * fy;
                    rows[fy] = in_y < 0 || in_y >= in_h ? NULL
                                                        : scratch + (in_y % ring) * row_bytes;
                }
                if (tsn_dsp_quad_ok(params, f_h, f_w, in_c, 8)) {
                    tsn_dsp_conv_row4_apart(params, quant, rows, in_w, in_c, f_h, f_w, filter,
                                            bias, out_w, out_c, out_plane + oy * out_w * out_c);
                } else if (tsn_dsp_gather_ok(f_h, f_w, in_c)) {
                    /* one output row a call: the ring holds only this row's input rows */
                    const tsn_dsp_plane src = {scratch, in_h, ring};
                    tsn_dsp_conv_row_gather(params, quant, &src, in_w, in_c, f_h, f_w, filter,
                                            bias, out_w, oy * out_w, out_w, out_c, out_c,
                                            out_plane);
                } else {
                    tsn_dsp_conv_row(params, quant, rows, in_w, in_c, f_h, f_w, filter, bias,
                                     out_w, out_c, out_c, out_plane + oy * out_w * out_c);
                }
                continue;
            }
#endif
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t in_x_origin = ox * params->stride_w - params->pad_left;
                for (oc = 0; oc < out_c; ++oc) {
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
                            in_px = scratch + (in_y % ring) * row_bytes + in_x * in_c;
                            f_px = filter + (((oc * f_h + fy) * f_w + fx) * in_c);
                            for (ic = 0; ic < in_c; ++ic) {
                                acc += (int32_t)f_px[ic] *
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
                    out_plane[(oy * out_w + ox) * out_c + oc] = (int8_t)acc;
                }
            }
        }
    }
    return TSN_OK;
}
