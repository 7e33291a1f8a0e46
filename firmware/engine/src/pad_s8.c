/*
 * tsn_pad_s8 — constant padding of an int8 NHWC tensor with the zero point (TFLite PAD /
 * PADV2 without explicit constant: TFLM pads with the output zero point, which equals the
 * input's). Bit-exact with TFLM reference_ops::Pad for int8.
 */
#include "tsn.h"

#include <stddef.h>
#include <string.h>

/**
 * @param params      leading padding per dimension (>= 0); pad_value in [-128, 127]
 * @param input_dims  NHWC, every dimension > 0
 * @param output_dims NHWC, each dimension >= input + leading padding (the rest is trailing
 *                    padding)
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or inconsistent shapes.
 */
tsn_status tsn_pad_s8(const tsn_pad_params *params, const tsn_dims *input_dims,
                      const int8_t *input, const tsn_dims *output_dims, int8_t *output)
{
    int32_t b, y, x;
    const tsn_dims *i, *o;

    if (params == NULL || input_dims == NULL || input == NULL || output_dims == NULL ||
        output == NULL) {
        return TSN_ERROR_ARGUMENT;
    }
    i = input_dims;
    o = output_dims;
    if (i->n <= 0 || i->h <= 0 || i->w <= 0 || i->c <= 0 || params->pad_n < 0 ||
        params->pad_h < 0 || params->pad_w < 0 || params->pad_c < 0 ||
        o->n < i->n + params->pad_n || o->h < i->h + params->pad_h ||
        o->w < i->w + params->pad_w || o->c < i->c + params->pad_c ||
        params->pad_value < -128 || params->pad_value > 127) {
        return TSN_ERROR_ARGUMENT;
    }
    memset(output, (int)(int8_t)params->pad_value, (size_t)o->n * o->h * o->w * o->c);
    for (b = 0; b < i->n; ++b) {
        for (y = 0; y < i->h; ++y) {
            for (x = 0; x < i->w; ++x) {
                const int32_t out_index =
                    (((b + params->pad_n) * o->h + y + params->pad_h) * o->w + x + params->pad_w) *
                        o->c + params->pad_c;
                memcpy(&output[out_index], &input[((b * i->h + y) * i->w + x) * i->c],
                       (size_t)i->c);
            }
        }
    }
    return TSN_OK;
}
