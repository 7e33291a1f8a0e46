/*
 * tsn_dequantize_s8_f32 — DEQUANTIZE int8 -> float32 at a model's output edge.
 *
 * Bit-exact with TFLM reference_ops::Dequantize: x = (float)((double)scale * (q - zero_point)),
 * the product in double as TFLM's DequantizationParams holds the scale as a double.
 */
#include "tsn.h"

#include <stddef.h>

/**
 * @param params  the int8 tensor's scale and zero point
 * @param size    number of elements (> 0)
 * @return TSN_OK, or TSN_ERROR_ARGUMENT on NULL pointers or size <= 0.
 */
tsn_status tsn_dequantize_s8_f32(const tsn_affine_params *params, int32_t size,
                                 const int8_t *input, float *output)
{
    int32_t k;

    if (params == NULL || input == NULL || output == NULL || size <= 0) {
        return TSN_ERROR_ARGUMENT;
    }
    for (k = 0; k < size; ++k) {
        output[k] = (float)((double)params->scale * (double)((int32_t)input[k] - params->zero_point));
    }
    return TSN_OK;
}
