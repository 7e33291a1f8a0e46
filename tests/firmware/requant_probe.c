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

#include "tsn_dsp.h"

#if TSN_DSP
int32_t tsn_probe_dsp_requant_mismatches(int32_t n, uint32_t seed);

static uint32_t tsn_probe_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* n random (x, multiplier, shift) through tsn_dsp_rq_of / tsn_dsp_rq_apply (the DSP path's
 * requantization) and, where it applies, tsn_dsp_rq_fold / tsn_dsp_rq4 (with a random output
 * offset, INT4's >> 4) against tsn_requantize; returns how many differ. Multipliers: QuantizeMultiplier's
 * range [2^30, 2^31), its ends, and any int32; shifts in [-36, 35]; x: any magnitude, ends. */
int32_t tsn_probe_dsp_requant_mismatches(int32_t n, uint32_t seed)
{
    static const int32_t ends[] = {0, 1, -1, 2, -2, 3, -3, TSN_INT32_MAX, TSN_INT32_MIN,
                                   TSN_INT32_MIN + 1, TSN_INT32_MAX - 1, 1 << 30, -(1 << 30)};
    uint32_t s = seed | 1u;
    int32_t i, bad = 0;
    for (i = 0; i < n; ++i) {
        const uint32_t kind = tsn_probe_next(&s) % 4, xk = tsn_probe_next(&s) % 8;
        const uint32_t r = tsn_probe_next(&s), r2 = tsn_probe_next(&s);
        const int32_t m = kind == 0   ? (int32_t)((1u << 30) + r % (1u << 30))
                          : kind == 1 ? (int32_t)((1u << 30) + r % 3u)
                          : kind == 2 ? (int32_t)(0x7FFFFFFFu - r % 3u)
                                      : (int32_t)(r ^ 0x80000000u) + TSN_INT32_MIN;
        const int32_t shift = (int32_t)(r2 % 72u) - 36;
        const uint32_t v = tsn_probe_next(&s) >> (tsn_probe_next(&s) % 32u);
        const int32_t x = xk == 0 ? ends[r2 % 13u]
                          : xk < 4 ? (int32_t)(v >> 1)
                                   : -(int32_t)(v >> 1) - (int32_t)(xk & 1u);
        const tsn_dsp_rq q = tsn_dsp_rq_of(m, shift);
        const int32_t off = (int32_t)(r2 % 256u) - 128, ashift = (int32_t)(xk & 1u) * 4;
        int32_t rs1, p;
        uint32_t k_lo, k_hi;
        bad += tsn_dsp_rq_apply(&q, x) != tsn_requantize(x, m, shift);
        if (tsn_dsp_rq_fold(m, shift, off, &rs1, &k_lo, &k_hi)) { /* tsn_dsp_requant.h */
            const int32_t acc[4] = {x, x >> 3, -(x >> 2), x >> 17};
            int8_t out[8];
            tsn_dsp_rq4(acc, ashift, 0, m, k_lo, k_hi, rs1, out, 2);
            for (p = 0; p < 4; ++p) {
                const int32_t want = tsn_requantize(acc[p] >> ashift, m, shift) + off;
                bad += out[2 * p] != (int8_t)tsn_clamp(want, -128, 127);
            }
        }
    }
    return bad;
}
#endif
