"""Build a tiny conv/depthwise/conv/dense model with tfmot n-bit QAT (4-bit weights, 8-bit
activations), train one epoch on random data and convert it with the int8 converter: real INT4
weight tensors. Usage: python qat_int4_model.py OUT.tflite (own process: tf_keras only)."""
import os, sys
os.environ["TF_USE_LEGACY_KERAS"] = "1"
import numpy as np
from tinysweep.tfcompat import tf, keras
import tensorflow_model_optimization as tfmot
rng = np.random.default_rng(0)
keras.utils.set_random_seed(0)
inp = keras.layers.Input((12, 8, 1))
x = keras.layers.Conv2D(6, (3, 3), strides=2, padding="same", activation="relu")(inp)
x = keras.layers.DepthwiseConv2D((3, 3), padding="same", activation="relu")(x)
x = keras.layers.Conv2D(5, (1, 1), activation="relu")(x)
x = keras.layers.Flatten()(x)
out = keras.layers.Dense(4)(x)
model = keras.Model(inp, out)
nb = tfmot.quantization.keras.experimental.default_n_bit
annotated = tfmot.quantization.keras.quantize_annotate_model(model)
q = tfmot.quantization.keras.quantize_apply(
    annotated, scheme=nb.DefaultNBitQuantizeScheme(num_bits_weight=4, num_bits_activation=8))
X = rng.normal(0, 1, (64, 12, 8, 1)).astype(np.float32)
Y = rng.normal(0, 1, (64, 4)).astype(np.float32)
q.compile("adam", "mse")
q.fit(X, Y, epochs=1, batch_size=16, verbose=0)
conv = tf.lite.TFLiteConverter.from_keras_model(q)
conv.optimizations = [tf.lite.Optimize.DEFAULT]
conv.representative_dataset = lambda: ([X[i:i + 1]] for i in range(16))
conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
conv.inference_input_type = tf.int8
conv.inference_output_type = tf.int8
open(sys.argv[1], "wb").write(conv.convert())
