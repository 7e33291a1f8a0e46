/*
 * tsn_avgpool_s8 — int8 average pooling (input and output share scale and zero point, as
 * TFLite requires for AVERAGE_POOL_2D).
 *
 * Bit-exact with TFLM reference_integer_ops::AveragePool
 * (tensorflow/lite/kernels/internal/reference/integer_ops/pooling.h): only the window
 * positions inside the input are summed and counted (padding is excluded from the divisor);
 * the average is the sum divided by the count rounded half away from zero; then clamp.
 * DSP path (tsn_dsp.h): four channels summed at once in 16-bit lanes (SXTAB16), exact for
 * windows of at most 255 positions (255 * 128 < 2^15), the same sums.
 */
#include "tsn.h"
#include "tsn_dsp.h"
#include "tsn_math.h"

#include <stddef.h>

/* The output of a window summing to acc over count positions. */
static int8_t tsn_avg_out(int32_t acc, int32_t count, const tsn_pool_params *params)
{
    /* Round half away from zero; C99 division truncates toward zero. */
    acc = acc > 0 ? (acc + count / 2) / count : (acc - count / 2) / count;
    return (int8_t)tsn_clamp(acc, params->act_min, params->act_max);
}

#if TSN_DSP
/* Lane 0 or 1 (bits 0-15 or 16-31) of v as a signed 16-bit value. */
static int32_t tsn_lane16(uint32_t v, int hi)
{
    return (int32_t)(int16_t)(uint16_t)(hi ? v >> 16 : v);
}
#endif

/**
 * @param params      strides >= 1, filter size >= 1, leading padding >= 0,
 *                    act_min <= act_max (fused activation in the output's int8 domain)
 * @param input_dims  NHWC; input int8 [n][h][w][c]
 * @param output_dims NHWC with the same n and c; output int8
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers, inconsistent shapes, or a window
 *         that lies entirely in the padding (TFLM fails the same way).
 */
tsn_status tsn_avgpool_s8(const tsn_pool_params *params,
                          const tsn_dims *input_dims, const int8_t *input,
                          const tsn_dims *output_dims, int8_t *output)
{
    int32_t batches, in_h, in_w, depth, out_h, out_w;
    int32_t b, oy, ox, c, fy, fx;

    if (params == NULL || input_dims == NULL || input == NULL || output_dims == NULL ||
        output == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    batches = input_dims->n;
    in_h = input_dims->h;
    in_w = input_dims->w;
    depth = input_dims->c;
    out_h = output_dims->h;
    out_w = output_dims->w;
    if (batches <= 0 || in_h <= 0 || in_w <= 0 || depth <= 0 || out_h <= 0 || out_w <= 0 ||
        output_dims->n != batches || output_dims->c != depth || params->stride_h <= 0 ||
        params->stride_w <= 0 || params->filter_h <= 0 || params->filter_w <= 0 ||
        params->pad_top < 0 || params->pad_left < 0 || params->act_min > params->act_max) {
        return TSN_ERROR_ARGUMENT;
    }

    for (b = 0; b < batches; ++b) {
        for (oy = 0; oy < out_h; ++oy) {
            const int32_t in_y_origin = oy * params->stride_h - params->pad_top;
            const int32_t fy_start = in_y_origin < 0 ? -in_y_origin : 0;
            const int32_t fy_end = params->filter_h < in_h - in_y_origin ? params->filter_h
                                                                          : in_h - in_y_origin;
            for (ox = 0; ox < out_w; ++ox) {
                const int32_t in_x_origin = ox * params->stride_w - params->pad_left;
                const int32_t fx_start = in_x_origin < 0 ? -in_x_origin : 0;
                const int32_t fx_end = params->filter_w < in_w - in_x_origin
                                           ? params->filter_w
                                           : in_w - in_x_origin;
                int8_t *out = output + ((b * out_h + oy) * out_w + ox) * depth;
#if TSN_DSP
                const int32_t rows = fy_end - fy_start, cols = fx_end - fx_start;
                if ((depth & 3) == 0 && rows > 0 && cols > 0 && rows * cols <= 255) {
                    for (c = 0; c < depth; c += 4) { /* lanes: channels c, c + 2 | c + 1, c + 3 */
                        uint32_t even = 0, odd = 0;
                        for (fy = fy_start; fy < fy_end; ++fy) {
                            const int8_t *x = input + ((b * in_h + in_y_origin + fy) * in_w +
                                                       in_x_origin + fx_start) * depth + c;
                            for (fx = fx_start; fx < fx_end; ++fx, x += depth) {
                                const uint32_t v = tsn_ld4(x);
                                even = tsn_sxtab16(even, v);
                                odd = tsn_sxtab16_ror8(odd, v);
                            }
                        }
                        out[c] = tsn_avg_out(tsn_lane16(even, 0), rows * cols, params);
                        out[c + 1] = tsn_avg_out(tsn_lane16(odd, 0), rows * cols, params);
                        out[c + 2] = tsn_avg_out(tsn_lane16(even, 1), rows * cols, params);
                        out[c + 3] = tsn_avg_out(tsn_lane16(odd, 1), rows * cols, params);
                    }
                    continue;
                }
#endif
                for (c = 0; c < depth; ++c) {
                    int32_t acc = 0;
                    int32_t count = 0;
                    for (fy = fy_start; fy < fy_end; ++fy) {
                        for (fx = fx_start; fx < fx_end; ++fx) {
                            const int32_t in_y = in_y_origin + fy;
                            const int32_t in_x = in_x_origin + fx;
                            acc += input[((b * in_h + in_y) * in_w + in_x) * depth + c];
                            ++count;
                        }
                    }
                    if (count == 0) {
                        return TSN_ERROR_ARGUMENT;
                    }
                    out[c] = tsn_avg_out(acc, count, params);
                }
            }
        }
    }
    return TSN_OK;
}
