"""Post-training quantization with the TFLite converter."""
import numpy as np

from tinysweep.tfcompat import tf


def quantize_int8(model, calibration_inputs: np.ndarray) -> bytes:
    """Full-integer int8 PTQ (int8 weights per channel, int8 activations, int8 input/output).

    `calibration_inputs` are float model inputs, one per row; the converter sees each as a
    batch of one, as MLPerf Tiny's reference scripts do."""
    def representative():
        for x in calibration_inputs:
            yield [np.asarray(x[None], dtype=np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()
