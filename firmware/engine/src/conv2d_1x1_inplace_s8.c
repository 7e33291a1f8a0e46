/*
 * tsn_conv2d_1x1_inplace_s8 — int8 1x1 stride-1 convolution (no padding, one group) whose
 * output overwrites its input in the same buffer.
 *
 * Arithmetic is tsn_conv2d_s8's, term for term (TFLM reference_integer_ops::ConvPerChannel):
 * only the memory access pattern differs. The n*h*w pixels are a flat sequence; pixel p's input
 * is data[p*in_c .. p*in_c + in_c) and its output data[p*out_c .. p*out_c + out_c). One pixel's
 * out_c results are accumulated into `scratch` and then copied over the buffer:
 *   - out_c <= in_c: pixels in increasing order. Writing pixel p touches bytes below
 *     (p+1)*out_c <= (p+1)*in_c, where only already consumed input pixels lie.
 *   - out_c >  in_c: pixels in decreasing order. Writing pixel p touches bytes from
 *     p*out_c >= p*in_c upwards, where only already consumed input pixels lie.
 * So `data` must hold max(in, out) bytes: n*h*w*max(in_c, out_c).
 */
#include "tsn.h"
#include "tsn_dsp.h"
#include "tsn_math.h"

#include <stddef.h>

/* One output pixel: out_c results from in_c inputs at `in_px`, into `dst`. */
static void tsn_pointwise_pixel(const tsn_conv_params *params, const tsn_requant *quant,
                                int32_t in_c, const int8_t *in_px, int32_t out_c,
                                const int8_t *filter, const int32_t *bias, int8_t *dst)
{
    int32_t oc, ic;
    for (oc = 0; oc < out_c; ++oc) {
        const int32_t q = quant->per_channel ? oc : 0;
        const int8_t *f_px = filter + oc * in_c;
        int32_t acc = 0;
        for (ic = 0; ic < in_c; ++ic) {
            acc += (int32_t)f_px[ic] * ((int32_t)in_px[ic] + params->input_offset);
        }
        if (bias != NULL) {
            acc += bias[oc];
        }
        acc = tsn_requantize(acc, quant->multiplier[q], quant->shift[q]);
        acc += params->output_offset;
        acc = tsn_clamp(acc, params->act_min, params->act_max);
        dst[oc] = (int8_t)acc;
    }
}

/**
 * @param params      as tsn_conv2d_s8; stride 1, no padding (dilation is irrelevant for 1x1).
 * @param quant       per_channel != 0 → out_c entries, else one shared entry.
 * @param input_dims  input shape NHWC
 * @param filter_dims n = out_c, h = w = 1, c = input_dims->c
 * @param filter      int8 [out_c][1][1][in_c]
 * @param bias        int32 [out_c] or NULL
 * @param output_dims n, h, w as the input's, c = out_c
 * @param data        int8, n*h*w*max(in_c, out_c) bytes: the input on entry, the output on return
 * @param scratch     int8, tsn_conv2d_1x1_inplace_s8_scratch_bytes(output_dims) = out_c bytes,
 *                    not overlapping `data`
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or inconsistent shapes/parameters
 *         (data is then untouched).
 */
tsn_status tsn_conv2d_1x1_inplace_s8(const tsn_conv_params *params, const tsn_requant *quant,
                                     const tsn_dims *input_dims,
                                     const tsn_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias,
                                     const tsn_dims *output_dims, int8_t *data, int8_t *scratch)
{
    int32_t pixels, in_c, out_c, p, oc;

    if (params == NULL || quant == NULL || quant->multiplier == NULL || quant->shift == NULL ||
        input_dims == NULL || filter_dims == NULL || filter == NULL || output_dims == NULL ||
        data == NULL || scratch == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    in_c = input_dims->c;
    out_c = output_dims->c;
    if (input_dims->n <= 0 || input_dims->h <= 0 || input_dims->w <= 0 || in_c <= 0 ||
        out_c <= 0 || output_dims->n != input_dims->n || output_dims->h != input_dims->h ||
        output_dims->w != input_dims->w || filter_dims->n != out_c || filter_dims->h != 1 ||
        filter_dims->w != 1 || filter_dims->c != in_c || params->stride_h != 1 ||
        params->stride_w != 1 || params->pad_top != 0 || params->pad_left != 0 ||
        params->act_min > params->act_max) {
        return TSN_ERROR_ARGUMENT;
    }
    pixels = input_dims->n * input_dims->h * input_dims->w;

#if TSN_DSP
    if (tsn_dsp_quad_ok(params, 1, 1, in_c, 8) && in_c <= TSN_DSP_QUAD_WORDS / 2) {
        /* the pixels as one row, 4 at a time, each group's inputs widened before its outputs
         * are written: in the order above (reverse when out_c > in_c) */
        tsn_dsp_conv_flat4_inplace(params, quant, data, pixels, in_c, filter, 8, bias, out_c);
        return TSN_OK;
    }
    if (out_c <= TSN_DSP_PAIR_MAX_OUT) {
        /* pixels two by two: the pair's outputs wait in scratch and on the stack until both
         * inputs are consumed; the pair (p, p + 1) is written in the same order as above */
        const tsn_dsp_io io = tsn_dsp_io_of_conv(params);
        int8_t second[TSN_DSP_PAIR_MAX_OUT];
        const int up = out_c <= in_c;
        int32_t k;
        for (k = 0; k + 1 < pixels; k += 2) {
            const int32_t lo = up ? k : pixels - 2 - k;
            tsn_dsp_seg seg;
            seg.in = data + lo * in_c;
            seg.f_at = 0;
            seg.len = in_c;
            tsn_dsp_pixel_pair(&io, quant, &seg, 1, in_c, filter, in_c, bias, out_c, scratch,
                               second);
            for (oc = 0; oc < out_c; ++oc) {
                data[lo * out_c + oc] = scratch[oc];
                data[(lo + 1) * out_c + oc] = second[oc];
            }
        }
        if (k < pixels) {
            const int32_t last = up ? pixels - 1 : 0;
            tsn_dsp_row1(&io, quant, data + last * in_c, in_c, filter, bias, out_c, scratch);
            for (oc = 0; oc < out_c; ++oc) {
                data[last * out_c + oc] = scratch[oc];
            }
        }
        return TSN_OK;
    }
#endif

    if (out_c <= in_c) {
        for (p = 0; p < pixels; ++p) {
            tsn_pointwise_pixel(params, quant, in_c, data + p * in_c, out_c, filter, bias, scratch);
            for (oc = 0; oc < out_c; ++oc) {
                data[p * out_c + oc] = scratch[oc];
            }
        }
    } else {
        for (p = pixels - 1; p >= 0; --p) {
            tsn_pointwise_pixel(params, quant, in_c, data + p * in_c, out_c, filter, bias, scratch);
            for (oc = 0; oc < out_c; ++oc) {
                data[p * out_c + oc] = scratch[oc];
            }
        }
    }
    return TSN_OK;
}
