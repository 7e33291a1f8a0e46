/*
 * tsn_math.h — internal integer arithmetic shared by the tsn kernels (not public API).
 *
 * Transcriptions of gemmlowp's fixed-point primitives and of TensorFlow Lite Micro's
 * tensorflow/lite/kernels/internal/common.h, in portable C99:
 *   - tsn_srdhm:              gemmlowp SaturatingRoundingDoublingHighMul
 *   - tsn_rounding_divide_by_pot: gemmlowp RoundingDivideByPOT (round half away from zero)
 *   - tsn_requantize:         TFLM MultiplyByQuantizedMultiplier, DOUBLE rounding (default build,
 *                             TFLITE_SINGLE_ROUNDING off)
 *   - tsn_exp_on_negative_values, tsn_get_reciprocal: what int8 softmax needs.
 *
 * Conventions: a fixed-point value "Qi" is an int32 raw with i integer bits and 31 - i
 * fractional bits (gemmlowp FixedPoint<int32_t, i>). Shifts of negative numbers are written
 * so that they do not depend on implementation-defined behaviour.
 */
#ifndef TSN_MATH_H
#define TSN_MATH_H

#include <stddef.h>
#include <stdint.h>

#include "tsn.h"

#define TSN_INT32_MIN ((int32_t)(-2147483647 - 1))
#define TSN_INT32_MAX ((int32_t)2147483647)

/* Arithmetic shift right (floor division by 2^n), 0 <= n <= 31, without relying on the
 * implementation-defined >> of negative values. Compiles to one ASR on gcc/clang. */
static inline int32_t tsn_asr(int32_t x, int n)
{
    return x < 0 ? (int32_t)~(~(uint32_t)x >> n) : (int32_t)((uint32_t)x >> n);
}

/* x * 2^n with two's-complement wrap-around (as TFLM's x * (1 << n)), 0 <= n <= 31. */
static inline int32_t tsn_shl_wrap(int32_t x, int n)
{
    uint32_t u = (uint32_t)x << n;
    return u <= (uint32_t)TSN_INT32_MAX ? (int32_t)u : (int32_t)(u - 2147483648u) + TSN_INT32_MIN;
}

/* gemmlowp SaturatingRoundingDoublingHighMul: a * b / 2^31 rounded to nearest (positive ties
 * up, negative ties toward zero: the nudge is 2^30 or 1 - 2^30 and the quotient truncates),
 * saturating the single overflow case a == b == INT32_MIN. */
static inline int32_t tsn_srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int64_t nudge;
    if (a == TSN_INT32_MIN && b == TSN_INT32_MIN) {
        return TSN_INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp RoundingDivideByPOT: x / 2^exponent rounded half away from zero, 0 <= exponent <= 31. */
static inline int32_t tsn_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return tsn_asr(x, exponent) + (remainder > threshold ? 1 : 0);
}

/* TFLM MultiplyByQuantizedMultiplier (double rounding):
 *   RoundingDivideByPOT(SRDHM(x * 2^max(shift,0), multiplier), max(-shift,0)).
 * QuantizeMultiplier yields shift in [-31, 30] (or multiplier 0 with shift 0); shifts outside
 * [-31, 31] never occur and are clamped to it here only to keep every shift defined. */
static inline int32_t tsn_requantize(int32_t x, int32_t multiplier, int32_t shift)
{
    const int left_shift = shift > 0 ? (shift > 31 ? 31 : (int)shift) : 0;
    const int right_shift = shift > 0 ? 0 : (shift < -31 ? 31 : (int)-shift);
    return tsn_rounding_divide_by_pot(tsn_srdhm(tsn_shl_wrap(x, left_shift), multiplier),
                                      right_shift);
}

/* TFLM MultiplyByQuantizedMultiplierGreaterThanOne: SRDHM(x * 2^left_shift, multiplier). */
static inline int32_t tsn_requantize_gt_one(int32_t x, int32_t multiplier, int32_t left_shift)
{
    return tsn_srdhm(tsn_shl_wrap(x, (int)left_shift), multiplier);
}

static inline int32_t tsn_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* ---- gemmlowp fixed point, as used by int8 softmax ---------------------------------------- */

/* gemmlowp SaturatingRoundingMultiplyByPOT<exponent> for exponent > 0 (saturating left shift). */
static inline int32_t tsn_sat_shl(int32_t x, int exponent)
{
    const int32_t threshold = (int32_t)(((int64_t)1 << (31 - exponent)) - 1);
    if (x > threshold) {
        return TSN_INT32_MAX;
    }
    if (x < -threshold) {
        return TSN_INT32_MIN;
    }
    return tsn_shl_wrap(x, exponent);
}

/* gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl: a is Q0 in [-1/4, 0). */
static inline int32_t tsn_exp_on_interval_neg_quarter_0(int32_t a)
{
    const int32_t constant_term = 1895147668;      /* exp(-1/8), Q0 */
    const int32_t constant_1_over_3 = 715827883;   /* 1/3, Q0 */
    const int32_t x = a + ((int32_t)1 << 28);      /* a + 1/8 */
    const int32_t x2 = tsn_srdhm(x, x);
    const int32_t x3 = tsn_srdhm(x2, x);
    const int32_t x4 = tsn_srdhm(x2, x2);
    const int32_t x4_over_4 = tsn_rounding_divide_by_pot(x4, 2);
    const int32_t poly =
        tsn_rounding_divide_by_pot(tsn_srdhm(x4_over_4 + x3, constant_1_over_3) + x2, 1);
    return constant_term + tsn_srdhm(constant_term, x + poly);
}

/* gemmlowp exp_on_negative_values for a Q5 input (kScaledDiffIntegerBits = 5): returns exp(a)
 * as Q0 (exp(0) saturates to INT32_MAX). a <= 0. */
static inline int32_t tsn_exp_on_negative_values_q5(int32_t a)
{
    enum { kIntegerBits = 5, kFractionalBits = 26 };
    static const int32_t multipliers[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1)   */
        290630308,  /* exp(-2)   */
        39332535,   /* exp(-4)   */
        720401,     /* exp(-8)   */
        242,        /* exp(-16)  */
    };
    const int32_t one_quarter = (int32_t)1 << (kFractionalBits - 2);
    const int32_t mask = one_quarter - 1;
    const int32_t a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
    /* Rescale Q5 -> Q0: saturating multiply by 2^5. */
    int32_t result =
        tsn_exp_on_interval_neg_quarter_0(tsn_sat_shl(a_mod_quarter_minus_one_quarter, kIntegerBits));
    const int32_t remainder = (int32_t)((uint32_t)a_mod_quarter_minus_one_quarter - (uint32_t)a);
    int k;
    for (k = 0; k < 7; ++k) {
        /* barrel shifter exponents -2 .. +4, all < kIntegerBits */
        const int shift_amount = kFractionalBits - 2 + k;
        if (remainder & ((int32_t)1 << shift_amount)) {
            result = tsn_srdhm(result, multipliers[k]);
        }
    }
    /* kIntegerBits == 5: gemmlowp's clamp below -32 does not apply. */
    if (a == 0) {
        result = TSN_INT32_MAX; /* Q0 One() */
    }
    return result;
}

/* gemmlowp one_over_one_plus_x_for_x_in_0_1: a is Q0 in [0, 1), returns 1 / (1 + a) as Q0. */
static inline int32_t tsn_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    /* RoundingHalfSum(a, One()) with One() == INT32_MAX */
    const int64_t sum = (int64_t)a + (int64_t)TSN_INT32_MAX;
    const int64_t sign = sum >= 0 ? 1 : -1;
    const int32_t half_denominator = (int32_t)((sum + sign) / 2);
    const int32_t constant_48_over_17 = 1515870810;   /* Q2 */
    const int32_t constant_neg_32_over_17 = -1010580540; /* Q2 */
    const int32_t one_q2 = (int32_t)1 << 29;
    int32_t x = constant_48_over_17 + tsn_srdhm(half_denominator, constant_neg_32_over_17);
    int i;
    for (i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = tsn_srdhm(half_denominator, x); /* Q2 */
        const int32_t one_minus = one_q2 - half_denominator_times_x;            /* Q2 */
        x = x + tsn_sat_shl(tsn_srdhm(x, one_minus), 2); /* Q4 -> Q2 */
    }
    /* ExactMulByPot<-1> (Q2 -> Q1, same raw), then Rescale Q1 -> Q0. */
    return tsn_sat_shl(x, 1);
}

/* TFLM GetReciprocal: x is a positive fixed-point value with x_integer_digits integer bits.
 * Returns 1/x as Q0 scaled by 2^-num_bits_over_unit. */
static inline int32_t tsn_get_reciprocal(int32_t x, int x_integer_digits, int *num_bits_over_unit)
{
    int headroom_plus_one = 0;
    uint32_t ux = (uint32_t)x;
    uint32_t shifted_sum_minus_one;
    while (headroom_plus_one < 32 && !(ux & 0x80000000u)) {
        ux <<= 1;
        ++headroom_plus_one;
    }
    *num_bits_over_unit = x_integer_digits - headroom_plus_one;
    shifted_sum_minus_one = ux - 0x80000000u;
    return tsn_one_over_one_plus_x_for_x_in_0_1((int32_t)shifted_sum_minus_one);
}

/* ---- packed sub-byte weights (TFLite INT4 / INT2 layout) ---------------------------------- */

/* Element i (>= 0) of a packed INT4 stream: two per byte, element 2k in the LOW nibble and
 * 2k+1 in the HIGH nibble, two's complement (sign-extended: [-8, 7]). The stream runs on across
 * rows, so a row of odd length starts in the middle of a byte. As TFLite's
 * tensor_utils::UnpackPackedIntToInt8(bit_width = 4). */
static inline int32_t tsn_s4_at(const int8_t *packed, int32_t i)
{
    const uint32_t byte = (uint8_t)packed[i >> 1];
    const uint32_t nibble = (i & 1) ? (byte >> 4) : (byte & 0xFu);
    return (int32_t)(nibble ^ 0x8u) - 8;
}

/* Element i (>= 0) of a packed INT2 stream: four per byte, element 4k + j in bits [2j, 2j+2)
 * (LSB first), two's complement (sign-extended: [-2, 1]). As
 * tensor_utils::UnpackPackedIntToInt8(bit_width = 2). */
static inline int32_t tsn_s2_at(const int8_t *packed, int32_t i)
{
    const uint32_t byte = (uint8_t)packed[i >> 2];
    const uint32_t crumb = (byte >> (2 * (i & 3))) & 0x3u;
    return (int32_t)(crumb ^ 0x2u) - 2;
}

/* Element i of a packed stream of `bits` (4 or 2) bits. Called with a constant, so it folds. */
static inline int32_t tsn_packed_at(const int8_t *packed, int32_t i, int bits)
{
    return bits == 4 ? tsn_s4_at(packed, i) : tsn_s2_at(packed, i);
}

/* The argument checks every convolution-family kernel shares: non-NULL parameters,
 * quantization, shapes and filter; positive input, output and filter extents; the same batch
 * count in and out; strides and dilations >= 1; non-negative padding; act_min <= act_max.
 * Relations between channels (groups, depth multiplier, in-place limits) stay with each kernel. */
static inline int tsn_conv_args_valid(const tsn_conv_params *params, const tsn_requant *quant,
                                      const tsn_dims *input_dims, const tsn_dims *filter_dims,
                                      const int8_t *filter, const tsn_dims *output_dims)
{
    return params != NULL && quant != NULL && quant->multiplier != NULL &&
           quant->shift != NULL && input_dims != NULL && filter_dims != NULL && filter != NULL &&
           output_dims != NULL && input_dims->n > 0 && input_dims->h > 0 && input_dims->w > 0 &&
           input_dims->c > 0 && filter_dims->h > 0 && filter_dims->w > 0 &&
           output_dims->h > 0 && output_dims->w > 0 && output_dims->c > 0 &&
           output_dims->n == input_dims->n && params->stride_h > 0 && params->stride_w > 0 &&
           params->dilation_h > 0 && params->dilation_w > 0 && params->pad_top >= 0 &&
           params->pad_left >= 0 && params->act_min <= params->act_max;
}

#endif /* TSN_MATH_H */
