"""TFLite / TFLM integer-arithmetic parameters, computed exactly as tflite-micro does.

Everything here runs at code-generation time; the C engine receives only the results
(multipliers, shifts, offsets). shared/notes/int8-arithmetic.md has the derivations.
"""
import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def round_half_away(x: float) -> int:
    """C's std::round: halves away from zero (numpy's np.round is half-to-even).

    Exact for every double (floor(|x| + 0.5) would round 0.49999999999999994 up)."""
    ax = abs(float(x))
    whole = math.floor(ax)
    r = whole + 1 if ax - whole >= 0.5 else whole
    return int(r) if x >= 0 else -int(r)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite QuantizeMultiplier: real ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31)."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return int(q_fixed), int(shift)


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    assert real > 1.0, real
    return quantize_multiplier(real)


def conv_per_channel_multipliers(input_scale, filter_scales, output_scale):
    """TFLM PopulateConvolutionQuantizationParams: one (multiplier, shift) per output channel.

    The product is formed in double from float32 scales."""
    in_s = float(np.float32(input_scale))
    out_s = float(np.float32(output_scale))
    pairs = [quantize_multiplier(in_s * float(np.float32(fs)) / out_s) for fs in filter_scales]
    return [m for m, _ in pairs], [s for _, s in pairs]


def fc_per_tensor_multiplier(input_scale, filter_scale, output_scale):
    """TFLM GetQuantizedConvolutionMultipler (the overload without bias, kernel_util.cc), used
    by FULLY_CONNECTED with a per-tensor filter scale: input*filter is a float32 product, then
    the division is in double. (The overload with bias only checks the bias scale.)"""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(np.float32(output_scale)))


def fc_per_channel_multipliers(input_scale, filter_scales, output_scale):
    """TFLM CalculateOpDataFullyConnected with per-channel filter scales: as conv (double)."""
    return conv_per_channel_multipliers(input_scale, filter_scales, output_scale)


SOFTMAX_SCALED_DIFF_INTEGER_BITS = 5


def softmax_params(input_scale: float, beta: float = 1.0) -> tuple[int, int, int]:
    """TFLM CalculateSoftmaxParams for int8 input and int8 output (softmax_common.cc).

    PreprocessSoftmaxScaling(beta, input_scale, kScaledDiffIntegerBits=5) followed by
    diff_min = -CalculateInputRadius(5, input_left_shift). beta and input_scale are float32
    fields widened to double. Returns (input_multiplier, input_left_shift, diff_min)."""
    bits = SOFTMAX_SCALED_DIFF_INTEGER_BITS
    beta_d = float(np.float32(beta))
    scale_d = float(np.float32(input_scale))
    max_real_multiplier = float((1 << 31) - 1)  # double-rounding build (TFLITE_SINGLE_ROUNDING off)
    real = min(beta_d * scale_d * float(1 << (31 - bits)), max_real_multiplier)
    if not real > 1.0:  # QuantizeMultiplierGreaterThanOne's TFLITE_CHECK_GT
        raise ValueError(f"softmax beta * input_scale too small: {beta_d * scale_d}")
    multiplier, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise ValueError(f"softmax left shift {left_shift} < 0")
    return multiplier, left_shift, -calculate_input_radius(bits, left_shift)


def calculate_input_radius(input_integer_bits: int, input_left_shift: int,
                           total_signed_bits: int = 31) -> int:
    """TFLite CalculateInputRadius (quantization_util.cc), in double then floor."""
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1)
                          * float(1 << (total_signed_bits - input_integer_bits))
                          / float(1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


# ---- Reference integer arithmetic (Python big integers), for tests and emulation -----------

def _wrap32(x: int) -> int:
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values."""
    if a == INT32_MIN and b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    num = ab + nudge
    q = abs(num) >> 31  # C++ int64 division truncates toward zero
    return _wrap32(q if num >= 0 else -q)


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent, round half away from zero; 0..31."""
    assert 0 <= exponent <= 31, exponent
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLM MultiplyByQuantizedMultiplier, double rounding (the default build).

    x * (1 << left_shift) wraps modulo 2^32 as the C++ does on every target."""
    left_shift = shift if shift > 0 else 0
    right_shift = 0 if shift > 0 else -shift
    return rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(_wrap32(x << left_shift), multiplier), right_shift)


def multiply_by_quantized_multiplier_single_rounding(x: int, multiplier: int, shift: int) -> int:
    """TFLITE_SINGLE_ROUNDING variant (what LiteRT may use): one rounding of x*M / 2^(31-shift)."""
    total_shift = 31 - shift
    rounded = (x * multiplier + (1 << (total_shift - 1))) >> total_shift
    return _wrap32(rounded)


def activation_range(fused: str, output_scale: float, output_zp: int, qmin=-128, qmax=127):
    """TFLM CalculateActivationRangeQuantized for NONE / RELU / RELU6 / RELU_N1_TO_1."""
    def quantize(x):
        return output_zp + round_half_away(float(np.float32(x) / np.float32(output_scale)))
    if fused == "NONE":
        return qmin, qmax
    if fused == "RELU":
        return max(qmin, quantize(0.0)), qmax
    if fused == "RELU6":
        return max(qmin, quantize(0.0)), min(qmax, quantize(6.0))
    if fused == "RELU_N1_TO_1":
        return max(qmin, quantize(-1.0)), min(qmax, quantize(1.0))
    raise ValueError(f"fused activation {fused} is not supported")


def same_padding(in_size: int, filter_size: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """TFLite ComputePaddingHeightWidth for SAME: (output size, leading pad)."""
    effective = (filter_size - 1) * dilation + 1
    out = (in_size + stride - 1) // stride
    total = max(0, (out - 1) * stride + effective - in_size)
    return out, total // 2


def valid_output(in_size: int, filter_size: int, stride: int, dilation: int = 1) -> int:
    effective = (filter_size - 1) * dilation + 1
    return (in_size - effective + stride) // stride


# ---- ADD, MEAN (TFLM Prepare of add.cc / reduce_common.cc) ---------------------------------

ADD_LEFT_SHIFT_INT8 = 20


def add_params(input1_scale, input1_zp, input2_scale, input2_zp, output_scale, output_zp,
               fused: str = "NONE") -> dict:
    """TFLM CalculateOpDataAdd for int8: fields of tsn_add_params.

    twice_max_input_scale = 2 * max(s1, s2) is a float32 (exact); the input multipliers are
    s_i / twice_max in double; the output multiplier twice_max / ((1 << 20) * s_out) with the
    denominator a float32 product (exact: a power of two). QuantizeMultiplierSmallerThanOneExp
    is QuantizeMultiplier for these values (all < 1)."""
    s1, s2, so = (np.float32(input1_scale), np.float32(input2_scale), np.float32(output_scale))
    twice_max = float(np.float32(2) * max(s1, s2))
    real1 = float(s1) / twice_max
    real2 = float(s2) / twice_max
    real_out = twice_max / float(np.float32(1 << ADD_LEFT_SHIFT_INT8) * so)
    m1, sh1 = quantize_multiplier(real1)
    m2, sh2 = quantize_multiplier(real2)
    mo, sho = quantize_multiplier(real_out)
    act_min, act_max = activation_range(fused, output_scale, int(output_zp))
    return dict(input1_offset=-int(input1_zp), input2_offset=-int(input2_zp),
                output_offset=int(output_zp), left_shift=ADD_LEFT_SHIFT_INT8,
                input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2, input2_shift=sh2,
                output_multiplier=mo, output_shift=sho, act_min=act_min, act_max=act_max)


def mean_params(input_scale, output_scale, num_elements: int) -> tuple[int, int]:
    """TFLM int8 MEAN: QuantizeMultiplier(double(s_in) / double(s_out)) in Prepare, then
    QuantizedMeanOrSum folds 1/num_elements into it: shift_n = min(floor(log2 n), 32,
    31 + shift); multiplier = (multiplier << shift_n) // n (int64, truncating);
    shift -= shift_n. Returns (multiplier, shift) for the sum of (x - zp_in)."""
    if num_elements <= 0:
        raise ValueError(f"mean over {num_elements} elements")
    m, s = quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))
    n_shift = min(num_elements.bit_length() - 1, 32, 31 + s)
    m = int((m << n_shift) // num_elements)   # m >= 0: floor == C++ truncation
    if m > INT32_MAX:
        m = _wrap32(m)                          # static_cast<int32_t> (cannot happen: m < 2^31)
    return m, s - n_shift
