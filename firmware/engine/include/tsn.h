/*
 * tsn — tinysweep's integer inference engine: public API.
 *
 * Arithmetic is bit-exact with TensorFlow Lite Micro's reference kernels (double-rounding
 * requantization, see shared notes int8-arithmetic.md). All quantization parameters are
 * computed at code-generation time (tinysweep/quant_math.py); kernels only apply them.
 * Naming follows CMSIS-NN: tsn_<op>_<dtype>, one public function per source file, status returns.
 * Layouts are TFLite's: activations NHWC, conv filters OHWI, depthwise filters 1HW(C*M),
 * fully-connected weights [out][in].
 */
#ifndef TSN_H
#define TSN_H

#include <stdint.h>

typedef enum {
    TSN_OK = 0,
    TSN_ERROR_ARGUMENT = -1, /* a NULL pointer or an inconsistent shape */
} tsn_status;

/* Tensor shape, NHWC. For filters: n = output channels, h/w = kernel, c = input channels. */
typedef struct {
    int32_t n, h, w, c;
} tsn_dims;

/* Requantization of int32 accumulators: out = SRDHM(acc << max(shift,0), multiplier)
 * then rounding divide by 2^max(-shift,0). One entry per output channel, or a single entry
 * shared by all channels when per_channel == 0. */
typedef struct {
    const int32_t *multiplier;
    const int32_t *shift;
    int32_t per_channel;
} tsn_requant;

/* Convolution and depthwise convolution. */
typedef struct {
    int32_t input_offset;     /* -input zero point */
    int32_t output_offset;    /* +output zero point */
    int32_t stride_h, stride_w;
    int32_t pad_top, pad_left; /* leading padding (SAME) or 0 (VALID) */
    int32_t dilation_h, dilation_w;
    int32_t depth_multiplier; /* depthwise only: output channels per input channel */
    int32_t act_min, act_max; /* fused activation clamp, in the output's int8 domain */
} tsn_conv_params;

typedef struct {
    int32_t input_offset;
    int32_t output_offset;
    int32_t act_min, act_max;
} tsn_fc_params;

typedef struct {
    int32_t stride_h, stride_w;
    int32_t filter_h, filter_w;
    int32_t pad_top, pad_left;
    int32_t act_min, act_max;
} tsn_pool_params;

/* Softmax, int8 in and int8 out (output scale 1/256, zero point -128), as TFLM. */
typedef struct {
    int32_t input_multiplier; /* from beta * input_scale, kScaledDiffIntegerBits = 5 */
    int32_t input_left_shift;
    int32_t diff_min;
} tsn_softmax_params;

tsn_status tsn_conv2d_s8(const tsn_conv_params *params, const tsn_requant *quant,
                         const tsn_dims *input_dims, const int8_t *input,
                         const tsn_dims *filter_dims, const int8_t *filter,
                         const int32_t *bias, /* may be NULL */
                         const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_depthwise_conv2d_s8(const tsn_conv_params *params, const tsn_requant *quant,
                                   const tsn_dims *input_dims, const int8_t *input,
                                   const tsn_dims *filter_dims, /* n=1, c=output channels */
                                   const int8_t *filter,
                                   const int32_t *bias, /* may be NULL */
                                   const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_fully_connected_s8(const tsn_fc_params *params, const tsn_requant *quant,
                                  int32_t batches, int32_t input_depth, const int8_t *input,
                                  int32_t output_depth, const int8_t *weights,
                                  const int32_t *bias, /* may be NULL */
                                  int8_t *output);

tsn_status tsn_avgpool_s8(const tsn_pool_params *params,
                          const tsn_dims *input_dims, const int8_t *input,
                          const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_softmax_s8(const tsn_softmax_params *params, int32_t rows, int32_t depth,
                          const int8_t *input, int8_t *output);

/* ==== Sub-byte weights: packed INT4 / INT2 (issue 3) ====================================== *
 * int8 activations, weights stored packed exactly as TFLite's INT4 / INT2 tensors and read
 * packed (no unpacking into RAM). INT4: two per byte, element 2k in the LOW nibble and 2k+1 in
 * the HIGH nibble, range [-8, 7]. INT2: four per byte, LSB first, range [-2, 1]. Both are
 * sign-extended two's complement; element k is the k-th element of the s8 kernel's flat weight
 * array, so the stream runs on across rows (an odd row length straddles a byte). Signatures,
 * checks and arithmetic are those of the s8 kernels; the weight pointer is to the packed bytes
 * (ceil(elements * bits / 8) of them). */

tsn_status tsn_conv2d_s4(const tsn_conv_params *params, const tsn_requant *quant,
                         const tsn_dims *input_dims, const int8_t *input,
                         const tsn_dims *filter_dims, const int8_t *filter, /* packed INT4 */
                         const int32_t *bias, const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_conv2d_s2(const tsn_conv_params *params, const tsn_requant *quant,
                         const tsn_dims *input_dims, const int8_t *input,
                         const tsn_dims *filter_dims, const int8_t *filter, /* packed INT2 */
                         const int32_t *bias, const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_depthwise_conv2d_s4(const tsn_conv_params *params, const tsn_requant *quant,
                                   const tsn_dims *input_dims, const int8_t *input,
                                   const tsn_dims *filter_dims,
                                   const int8_t *filter, /* packed INT4 */
                                   const int32_t *bias,
                                   const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_depthwise_conv2d_s2(const tsn_conv_params *params, const tsn_requant *quant,
                                   const tsn_dims *input_dims, const int8_t *input,
                                   const tsn_dims *filter_dims,
                                   const int8_t *filter, /* packed INT2 */
                                   const int32_t *bias,
                                   const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_fully_connected_s4(const tsn_fc_params *params, const tsn_requant *quant,
                                  int32_t batches, int32_t input_depth, const int8_t *input,
                                  int32_t output_depth, const int8_t *weights, /* packed INT4 */
                                  const int32_t *bias, int8_t *output);

tsn_status tsn_fully_connected_s2(const tsn_fc_params *params, const tsn_requant *quant,
                                  int32_t batches, int32_t input_depth, const int8_t *input,
                                  int32_t output_depth, const int8_t *weights, /* packed INT2 */
                                  const int32_t *bias, int8_t *output);
/* ==== end of sub-byte weights ============================================================== */
/* ==== Elementwise, pooling, reduction, padding and edge (de)quantization ops ================
 * (ADD, MAX_POOL_2D, MEAN, PAD, QUANTIZE, DEQUANTIZE; parameters from tinysweep/quant_math.py) */

/* ADD, int8: both inputs rescaled to a common scale after a left shift (20 for int8), summed,
 * requantized to the output (TFLM reference_integer_ops::Add). Shifts in [-31, 30]. */
typedef struct {
    int32_t input1_offset, input2_offset; /* -zero points of the inputs */
    int32_t output_offset;                /* +output zero point */
    int32_t left_shift;                   /* 20 */
    int32_t input1_multiplier, input1_shift;
    int32_t input2_multiplier, input2_shift;
    int32_t output_multiplier, output_shift;
    int32_t act_min, act_max;
} tsn_add_params;

/* MEAN over H and W of an NHWC tensor (output [n][c]). multiplier/shift already include the
 * division by h*w, as TFLM's QuantizedMeanOrSum folds it in. */
typedef struct {
    int32_t input_offset;  /* -input zero point */
    int32_t output_offset; /* +output zero point */
    int32_t multiplier, shift;
} tsn_mean_params;

/* PAD: leading padding per NHWC dimension; the trailing padding follows from the output dims. */
typedef struct {
    int32_t pad_n, pad_h, pad_w, pad_c;
    int32_t pad_value; /* the output zero point (int8) */
} tsn_pad_params;

/* QUANTIZE float32 -> int8 and DEQUANTIZE int8 -> float32: real = (q - zero_point) * scale. */
typedef struct {
    float scale;
    int32_t zero_point;
} tsn_affine_params;

tsn_status tsn_add_s8(const tsn_add_params *params, int32_t size, const int8_t *input1,
                      const int8_t *input2, int8_t *output);

tsn_status tsn_maxpool_s8(const tsn_pool_params *params,
                          const tsn_dims *input_dims, const int8_t *input,
                          const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_mean_s8(const tsn_mean_params *params, const tsn_dims *input_dims,
                       const int8_t *input, int8_t *output);

tsn_status tsn_pad_s8(const tsn_pad_params *params, const tsn_dims *input_dims,
                      const int8_t *input, const tsn_dims *output_dims, int8_t *output);

tsn_status tsn_quantize_f32_s8(const tsn_affine_params *params, int32_t size, const float *input,
                               int8_t *output);

tsn_status tsn_dequantize_s8_f32(const tsn_affine_params *params, int32_t size,
                                 const int8_t *input, float *output);

/* ==== end of elementwise/pooling/reduction/padding/edge ops ================================= */

/* ==== In-place convolutions: the output overwrites the input in one buffer ================
 * Arithmetic identical to tsn_conv2d_s8 / tsn_depthwise_conv2d_s8 (bit for bit); only the
 * memory access pattern differs. `data` holds the input on entry and the output on return (both
 * start at data[0]); `scratch` is a separate small buffer:
 *   tsn_conv2d_1x1_inplace_s8:      1x1 filter, stride 1, no padding, one group, any in_c/out_c;
 *                                   data n*h*w*max(in_c, out_c) bytes, scratch out_c bytes.
 *   tsn_depthwise_conv2d_inplace_s8: depth multiplier 1, out_h <= in_h, out_w <= in_w, no output
 *                                   row written over an input row not yet read (checked; holds
 *                                   for SAME and VALID); data n*in_h*in_w*c bytes, scratch a
 *                                   ring of min(span, in_h) rows of in_w bytes,
 *                                   span = (kh - 1) * dilation_h + 1. */

tsn_status tsn_conv2d_1x1_inplace_s8(const tsn_conv_params *params, const tsn_requant *quant,
                                     const tsn_dims *input_dims,
                                     const tsn_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias, /* may be NULL */
                                     const tsn_dims *output_dims, int8_t *data, int8_t *scratch);
/* The same with packed INT4 / INT2 filters (TFLite's packing, as tsn_conv2d_s4/_s2); scratch
 * one input row, in_w*in_c bytes. */
tsn_status tsn_conv2d_1x1_inplace_s4(const tsn_conv_params *params, const tsn_requant *quant,
                                     const tsn_dims *input_dims,
                                     const tsn_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias, /* may be NULL */
                                     const tsn_dims *output_dims, int8_t *data, int8_t *scratch);
tsn_status tsn_conv2d_1x1_inplace_s2(const tsn_conv_params *params, const tsn_requant *quant,
                                     const tsn_dims *input_dims,
                                     const tsn_dims *filter_dims, const int8_t *filter,
                                     const int32_t *bias, /* may be NULL */
                                     const tsn_dims *output_dims, int8_t *data, int8_t *scratch);

/* Any other one-group convolution whose output rows never overtake the input rows read (checked:
 * for every output row oy, (oy+1)*out_w*out_c <= rows_needed(oy)*in_w*in_c with
 * rows_needed(oy) = min(in_h, max(0, oy*stride_h - pad_top + span)); true e.g. for SAME/VALID
 * with out_w <= in_w and out_c <= in_c, or stride 2 with out_c <= 2*in_c); data
 * n*in_h*in_w*in_c bytes, scratch a ring of min(span, in_h) rows of in_w*in_c bytes. */
tsn_status tsn_conv2d_inplace_s8(const tsn_conv_params *params, const tsn_requant *quant,
                                 const tsn_dims *input_dims,
                                 const tsn_dims *filter_dims, const int8_t *filter,
                                 const int32_t *bias, /* may be NULL */
                                 const tsn_dims *output_dims, int8_t *data, int8_t *scratch);

tsn_status tsn_depthwise_conv2d_inplace_s8(const tsn_conv_params *params,
                                           const tsn_requant *quant,
                                           const tsn_dims *input_dims,
                                           const tsn_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias, /* may be NULL */
                                           const tsn_dims *output_dims, int8_t *data,
                                           int8_t *scratch);
/* The same with packed INT4 / INT2 filters (TFLite's packing, as tsn_depthwise_conv2d_s4/_s2). */
tsn_status tsn_depthwise_conv2d_inplace_s4(const tsn_conv_params *params,
                                           const tsn_requant *quant,
                                           const tsn_dims *input_dims,
                                           const tsn_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias, /* may be NULL */
                                           const tsn_dims *output_dims, int8_t *data,
                                           int8_t *scratch);
tsn_status tsn_depthwise_conv2d_inplace_s2(const tsn_conv_params *params,
                                           const tsn_requant *quant,
                                           const tsn_dims *input_dims,
                                           const tsn_dims *filter_dims, const int8_t *filter,
                                           const int32_t *bias, /* may be NULL */
                                           const tsn_dims *output_dims, int8_t *data,
                                           int8_t *scratch);
/* ==== end of in-place convolutions ========================================================= */

/* ==== Fused ops ===========================================================================
 * A chain [producer conv] -> consumer conv -> [residual ADD] run row by row (conv_chain_s8.c):
 * the tensors between the ops are never materialized. Batch 1; a layer is CONV_2D (one group)
 * or DEPTHWISE_CONV_2D with 8-, 4- or 2-bit weights, described by tsn_conv_layer. Bit-exact
 * with the ops run one after the other. */
/* The kernel of a layer: tsn_conv2d_s8/_s4/_s2 or tsn_depthwise_conv2d_s8/_s4/_s2 (a pointer,
 * so that a firmware links only the kernels its model uses). */
typedef tsn_status (*tsn_conv_kernel)(const tsn_conv_params *params, const tsn_requant *quant,
                                      const tsn_dims *input_dims, const int8_t *input,
                                      const tsn_dims *filter_dims, const int8_t *filter,
                                      const int32_t *bias, const tsn_dims *output_dims,
                                      int8_t *output);

typedef struct {
    tsn_conv_kernel kernel;
    const tsn_conv_params *params;
    const tsn_requant *quant;
    const tsn_dims *input_dims;
    const tsn_dims *filter_dims;
    const int8_t *filter;
    const int32_t *bias; /* may be NULL */
    const tsn_dims *output_dims;
} tsn_conv_layer;

tsn_status tsn_conv_chain_s8(const tsn_conv_layer *producer, /* may be NULL */
                             const tsn_conv_layer *consumer,
                             const tsn_add_params *add, /* may be NULL */
                             int32_t conv_is_input1, const int8_t *input, int8_t *output,
                             int8_t *window, int8_t *row);
/* ==== end of fused ops ===================================================================== */

#endif /* TSN_H */
