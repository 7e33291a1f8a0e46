"""tinysweep.quant_math against hand-derived values and TFLite/TFLM's definitions."""
import math

import numpy as np
import pytest

from tinysweep import quant_math as qm


def test_round_half_away_is_cpp_round():
    assert [qm.round_half_away(v) for v in (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5)] == [-3, -2, -1, 1, 2, 3]
    assert qm.round_half_away(0.49999999999999994) == 0
    assert qm.round_half_away(-0.49999999999999994) == 0
    assert qm.round_half_away(2 ** 52 + 1.0) == 2 ** 52 + 1


@pytest.mark.parametrize("real, expected", [
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.25, (1 << 30, -1)),
    (0.75, (3 << 29, 0)),
    (3.0, (3 << 29, 2)),
    (0.0, (0, 0)),
    (2.0 ** -31, (1 << 30, -30)),
    (2.0 ** -32, (1 << 30, -31)),
    (2.0 ** -33, (0, 0)),               # shift < -31 -> flushed to multiplier 0
    (1.0 - 2.0 ** -40, (1 << 30, 1)),   # q_fixed rounds up to 2^31 -> halved, shift + 1
])
def test_quantize_multiplier_known_values(real, expected):
    assert qm.quantize_multiplier(real) == expected


def test_quantize_multiplier_range_and_accuracy():
    rng = np.random.default_rng(0)
    for real in 10.0 ** rng.uniform(-9, 3, 2000):
        m, s = qm.quantize_multiplier(float(real))
        assert (1 << 30) <= m < (1 << 31)
        assert -31 <= s <= 30
        assert abs(m * 2.0 ** (s - 31) / real - 1) <= 2.0 ** -31


def test_conv_multipliers_use_double_products_of_float32_scales():
    s_in, s_out = np.float32(0.0371), np.float32(0.1234)
    s_w = np.float32([0.0021, 0.00173, 0.0009])
    mults, shifts = qm.conv_per_channel_multipliers(s_in, s_w, s_out)
    for m, s, w in zip(mults, shifts, s_w):
        assert (m, s) == qm.quantize_multiplier(float(s_in) * float(w) / float(s_out))


def test_fc_per_tensor_multiplier_uses_a_float32_product():
    """TFLM GetQuantizedConvolutionMultipler: static_cast<double>(input_scale * filter_scale)
    (a float32 product). Find scales where that differs from the double product, and check
    the float32 one is used."""
    rng = np.random.default_rng(1)
    for _ in range(20000):
        s_in, s_w, s_out = np.float32(rng.uniform(1e-3, 1e-1, 3))
        via_f32 = qm.quantize_multiplier(float(s_in * s_w) / float(s_out))
        via_f64 = qm.quantize_multiplier(float(s_in) * float(s_w) / float(s_out))
        if via_f32 != via_f64:
            break
    else:
        pytest.fail("no float32/double product disagreement found")
    assert qm.fc_per_tensor_multiplier(s_in, s_w, s_out) == via_f32
    assert qm.fc_per_channel_multipliers(s_in, [s_w], s_out) == ([via_f64[0]], [via_f64[1]])


def test_activation_range():
    assert qm.activation_range("NONE", 0.1, 3) == (-128, 127)
    assert qm.activation_range("RELU", 0.1, -128) == (-128, 127)
    assert qm.activation_range("RELU", 0.05, -50) == (-50, 127)
    assert qm.activation_range("RELU6", 0.05, -50) == (-50, 70)
    assert qm.activation_range("RELU6", 6 / 255, -128) == (-128, 127)
    assert qm.activation_range("RELU6", 0.01, 0) == (0, 127)
    # f / scale is a float32 quotient rounded half away from zero: 6 / 12 = 0.5 -> 1
    assert qm.activation_range("RELU6", 12.0, 0) == (0, 1)
    assert qm.activation_range("RELU_N1_TO_1", 2.0, 0) == (-1, 1)
    with pytest.raises(ValueError):
        qm.activation_range("TANH", 0.1, 0)


@pytest.mark.parametrize("in_size, k, stride, dilation, out, pad", [
    (49, 10, 2, 1, 25, 4),   # KWS first conv: total padding 9 -> 4 before, 5 after
    (10, 4, 2, 1, 5, 1),
    (8, 3, 1, 1, 8, 1),
    (8, 2, 1, 1, 8, 0),      # even kernel: the extra padding goes after
    (9, 3, 2, 1, 5, 1),
    (11, 3, 1, 2, 11, 2),
    (5, 1, 2, 1, 3, 0),
    (25, 25, 1, 1, 25, 12),
])
def test_same_padding(in_size, k, stride, dilation, out, pad):
    assert qm.same_padding(in_size, k, stride, dilation) == (out, pad)


def test_valid_output():
    assert qm.valid_output(12, 3, 2) == 5
    assert qm.valid_output(16, 10, 1) == 7
    assert qm.valid_output(25, 25, 1) == 1
    assert qm.valid_output(11, 3, 1, dilation=2) == 7


# ---- softmax -------------------------------------------------------------------------------

@pytest.mark.parametrize("scale, beta, expected", [
    # 2^-8 * 2^26 = 2^18 -> (2^30, 19); radius floor(31 * 2^26 / 2^19) = 3968
    (1 / 256, 1.0, (1 << 30, 19, -3968)),
    # 0.5 * 2^26 = 2^25 -> (2^30, 26); radius floor(31 * 2^26 / 2^26) = 31
    (0.5, 1.0, (1 << 30, 26, -31)),
    # beta * scale * 2^26 >= 2^31 - 1 is capped there: (2^31 - 1, 31), radius floor(0.97) = 0
    (100.0, 1.0, ((1 << 31) - 1, 31, 0)),
    (0.25, 2.0, (1 << 30, 26, -31)),
])
def test_softmax_params_known_values(scale, beta, expected):
    assert qm.softmax_params(scale, beta) == expected


def test_softmax_params_follow_tflm_definition():
    rng = np.random.default_rng(2)
    for scale in np.float32(10.0 ** rng.uniform(-6, 1.5, 500)):
        mult, shift, diff_min = qm.softmax_params(scale)
        real = min(float(scale) * 2.0 ** 26, 2.0 ** 31 - 1)
        assert (mult, shift) == qm.quantize_multiplier(real)
        assert 0 <= shift <= 31 and (1 << 30) <= mult < (1 << 31)
        assert diff_min == -math.floor(31 * 2.0 ** 26 / 2.0 ** shift)
        # diff_min is the most negative input difference whose rescaled value fits in Q5.26
        assert diff_min * mult * 2.0 ** shift / 2.0 ** 31 >= -32 * 2.0 ** 26


def test_softmax_params_rejects_tiny_scales():
    with pytest.raises(ValueError):
        qm.softmax_params(1e-9)


def test_calculate_input_radius():
    assert qm.calculate_input_radius(5, 19) == 3968
    assert qm.calculate_input_radius(5, 26) == 31
    assert qm.calculate_input_radius(5, 31) == 0
    assert qm.calculate_input_radius(5, 23) == 248


# ---- reference integer arithmetic ----------------------------------------------------------

def test_srdhm_reference():
    f = qm.saturating_rounding_doubling_high_mul
    assert f(qm.INT32_MIN, qm.INT32_MIN) == qm.INT32_MAX
    assert f(1 << 30, 1 << 30) == 1 << 29
    assert f(3, 1 << 30) == 2          # 1.5 -> 2
    assert f(-3, 1 << 30) == -1        # -1.5 -> -1: the nudge 1 - 2^30 rounds negative ties up
    assert f(qm.INT32_MAX, qm.INT32_MAX) == qm.INT32_MAX - 1
    assert f(qm.INT32_MIN, qm.INT32_MAX) == -qm.INT32_MAX


def test_rounding_divide_by_pot_reference():
    f = qm.rounding_divide_by_pot
    assert [f(v, 1) for v in (-5, -3, -1, 1, 3, 5)] == [-3, -2, -1, 1, 2, 3]
    assert f(qm.INT32_MIN, 31) == -1
    assert f(qm.INT32_MAX, 31) == 1
    assert f(-(1 << 30), 31) == -1 and f((1 << 30) - 1, 31) == 0
    assert f(12345, 0) == 12345


def test_multiply_by_quantized_multiplier_reference():
    """Double rounding: within 1 of the exact rational result; single rounding: exactly
    round-half-up of it. Plus the cases where the two differ."""
    rng = np.random.default_rng(3)
    for _ in range(5000):
        x = int(rng.integers(-(1 << 24), 1 << 24))
        m = int(rng.integers(1 << 30, 1 << 31))
        s = int(rng.integers(-31, 1))
        exact = x * m / 2.0 ** (31 - s)
        single = qm.multiply_by_quantized_multiplier_single_rounding(x, m, s)
        assert single == math.floor(x * m / 2 ** (31 - s) + 0.5) or \
            single == (x * m + (1 << (30 - s))) >> (31 - s)
        assert abs(qm.multiply_by_quantized_multiplier(x, m, s) - exact) <= 1
    # SRDHM rounds 0.5 away (2 -> 1), then 1/2 rounds away again: 1; single rounding: 0.25 -> 0
    assert qm.multiply_by_quantized_multiplier(1, 1 << 30, -1) == 1
    assert qm.multiply_by_quantized_multiplier_single_rounding(1, 1 << 30, -1) == 0
    assert qm.multiply_by_quantized_multiplier(-5, 1 << 30, -1) == -1
    # left shift wraps modulo 2^32 (TFLM computes x * (1 << left_shift) in int32)
    assert qm.multiply_by_quantized_multiplier(1 << 29, 1 << 30, 3) == 0
    assert qm.multiply_by_quantized_multiplier(qm.INT32_MIN, qm.INT32_MIN, 0) == qm.INT32_MAX
    assert qm.multiply_by_quantized_multiplier(12345, 0, 0) == 0
