"""TFLite / TFLM integer-arithmetic parameters, computed exactly as tflite-micro does.

Everything here runs at code-generation time; the C engine receives only the results
(multipliers, shifts, offsets). shared/notes/int8-arithmetic.md has the derivations.
"""
import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def round_half_away(x: float) -> int:
    """C's std::round: halves away from zero (numpy's np.round is half-to-even)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


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
    """TFLM GetQuantizedConvolutionMultipler: input*filter is a float32 product, then double."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(np.float32(output_scale)))


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
