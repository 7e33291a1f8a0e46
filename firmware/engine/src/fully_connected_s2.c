/*
 * tsn_fully_connected_s2 — fully connected layer with int8 activations and 2-bit weights stored
 * packed as TFLite INT2 (four per byte, LSB first, range [-2, 1]; sign-extended two's
 * complement, the stream running on across rows). Weights are read packed, one element at a time
 * (tsn_packed.h); the arithmetic is that of tsn_fully_connected_s8 exactly.
 */
#include "tsn.h"
#include "tsn_packed.h"

/**
 * Parameters and return value as tsn_fully_connected_s8, except:
 * @param weights     packed INT2: element k of the s8 kernel's flat weights array lives in
 *                    byte k / 4; ceil((output_depth * input_depth) / 4) bytes.
 */
tsn_status tsn_fully_connected_s2(const tsn_fc_params *params, const tsn_requant *quant,
                                  int32_t batches, int32_t input_depth, const int8_t *input,
                                  int32_t output_depth, const int8_t *weights,
                                  const int32_t *bias,
                                  int8_t *output)
{
    return tsn_fully_connected_packed(params, quant, batches, input_depth, input,
                                      output_depth, weights, bias, output, 2);
}
