/*
 * tsn_quantize_f32_s8 — QUANTIZE float32 -> int8 at a model's input edge.
 *
 * Bit-exact with TFLM reference_ops::AffineQuantize: q = round(x / scale) + zero_point with the
 * division in float32 and round half away from zero (std::round), clamped to [-128, 127].
 * No libm: the rounding is done on the integer part, exact for every float.
 */
#include "tsn.h"

#include <stddef.h>

/* std::round of a float already clamped to [-2^24, 2^24] (all floats beyond 2^23 are integers). */
static int32_t tsn_round_half_away_f32(float y)
{
    const int32_t t = (int32_t)y; /* truncation toward zero */
    const float frac = y - (float)t; /* exact: |y| < 2^24 */
    if (frac >= 0.5f) {
        return t + 1;
    }
    if (frac <= -0.5f) {
        return t - 1;
    }
    return t;
}

/**
 * @param params  the int8 tensor's scale (> 0) and zero point
 * @param size    number of elements (> 0)
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers, size <= 0 or scale <= 0.
 *         NaN inputs quantize to the zero point.
 */
tsn_status tsn_quantize_f32_s8(const tsn_affine_params *params, int32_t size, const float *input,
                               int8_t *output)
{
    int32_t k;

    if (params == NULL || input == NULL || output == NULL || size <= 0 || !(params->scale > 0.0f)) {
        return TSN_ERROR_ARGUMENT;
    }
    for (k = 0; k < size; ++k) {
        float y = input[k] / params->scale;
        int32_t q;
        if (!(y == y)) {
            y = 0.0f;
        }
        y = y > 16777216.0f ? 16777216.0f : (y < -16777216.0f ? -16777216.0f : y);
        q = tsn_round_half_away_f32(y) + params->zero_point;
        output[k] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
    }
    return TSN_OK;
}
