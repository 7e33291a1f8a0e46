/*
 * Test-only probe: exposes the internal static inline helpers of tsn_math.h with external
 * linkage so tests/firmware/test_kernels.py can check them through ctypes. Not engine code.
 */
#include "tsn_math.h"

int32_t tsn_probe_srdhm(int32_t a, int32_t b);
int32_t tsn_probe_rounding_divide_by_pot(int32_t x, int32_t exponent);
int32_t tsn_probe_requantize(int32_t x, int32_t multiplier, int32_t shift);
int32_t tsn_probe_exp_on_negative_values_q5(int32_t a);
int32_t tsn_probe_get_reciprocal(int32_t x, int32_t integer_digits, int32_t *num_bits_over_unit);

int32_t tsn_probe_srdhm(int32_t a, int32_t b)
{
    return tsn_srdhm(a, b);
}

int32_t tsn_probe_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    return tsn_rounding_divide_by_pot(x, (int)exponent);
}

int32_t tsn_probe_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    return tsn_requantize(x, multiplier, shift);
}

int32_t tsn_probe_exp_on_negative_values_q5(int32_t a)
{
    return tsn_exp_on_negative_values_q5(a);
}

int32_t tsn_probe_get_reciprocal(int32_t x, int32_t integer_digits, int32_t *num_bits_over_unit)
{
    int bits = 0;
    const int32_t r = tsn_get_reciprocal(x, (int)integer_digits, &bits);
    *num_bits_over_unit = bits;
    return r;
}
