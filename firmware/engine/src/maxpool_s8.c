/*
 * tsn_maxpool_s8 — int8 max pooling (input and output share scale and zero point, as TFLite
 * requires for MAX_POOL_2D).
 *
 * Bit-exact with TFLM reference_integer_ops::MaxPool
 * (tensorflow/lite/kernels/internal/reference/integer_ops/pooling.h): the maximum over the
 * window positions inside the input (padding never wins), then the fused-activation clamp.
 */
#include "tsn.h"
#include "tsn_math.h"

#include <stddef.h>

/**
 * @param params      strides >= 1, filter size >= 1, leading padding >= 0, act_min <= act_max
 * @param input_dims  NHWC; input int8 [n][h][w][c]
 * @param output_dims NHWC with the same n and c; output int8
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers, inconsistent shapes, or a window
 *         that lies entirely in the padding.
 */
tsn_status tsn_maxpool_s8(const tsn_pool_params *params,
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
                if (fy_start >= fy_end || fx_start >= fx_end) {
                    return TSN_ERROR_ARGUMENT;
                }
                for (c = 0; c < depth; ++c) {
                    int32_t max = -128;
                    for (fy = fy_start; fy < fy_end; ++fy) {
                        for (fx = fx_start; fx < fx_end; ++fx) {
                            const int32_t v =
                                input[((b * in_h + in_y_origin + fy) * in_w + in_x_origin + fx) *
                                          depth + c];
                            max = v > max ? v : max;
                        }
                    }
                    output[((b * out_h + oy) * out_w + ox) * depth + c] =
                        (int8_t)tsn_clamp(max, params->act_min, params->act_max);
                }
            }
        }
    }
    return TSN_OK;
}
