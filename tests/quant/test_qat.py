"""QAT fine-tuning: after the converter folds BatchNorm, the weights lie on the grid QAT trained
for (min-max PTQ changes none), tflite-micro runs the result, and at 2 bits QAT beats PTQ."""
import numpy as np
import pytest

from helpers import tflm_outputs
from tinysweep.quant import QuantConfig, graph, ptq, qat_finetune, weight_layers


def _conv_model(seed: int = 0):
    """Functional: conv+BN, depthwise (no bias)+BN, conv without BN, dense+BN, dense (softmax)."""
    from tinysweep.benchmarks.reference_models import randomize
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inp = L.Input((8, 8, 1))
    x = L.ReLU()(L.BatchNormalization()(L.Conv2D(6, 3, padding="same", name="conv")(x)))
    x = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, use_bias=False, name="dw")(x)))
    x = L.Conv2D(8, 1, activation="relu", name="pw")(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.ReLU()(L.BatchNormalization()(L.Dense(12, name="fc")(x)))
    model = keras.Model(inp, L.Dense(4, activation="softmax", name="out")(x))
    randomize(model, np.random.default_rng(seed))   # BN statistics far from 0/1: folding matters
    return model


def _mlp(hidden=(32, 32)):
    """Sequential: (dense + BN + ReLU) x len(hidden), dense softmax over 10 classes."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    layers = [L.Input((64,))]
    for units in hidden:
        layers += [L.Dense(units), L.BatchNormalization(), L.ReLU()]
    return keras.Sequential(layers + [L.Dense(10, activation="softmax")])


def _off_grid(model, tflite: bytes, calibration) -> dict:
    """{layer: largest |q x s - folded float weight| / s} over the .tflite's weight ops, the
    folded float weights from the float conversion of `model`; also checks |q| <= L."""
    _, float_buf = graph.conversions(model, calibration)
    int8 = graph.read(tflite)
    from tinysweep.weight_grid import weight_ops
    out = {}
    ops = list(weight_ops(int8))
    for (sg, op), fop in zip(ops, graph.weight_op_pairs(tflite, float_buf)):
        t = sg.tensors[op.inputs[1]]
        s = np.asarray(t.quantization.scale, np.float64)
        step = s.reshape([-1 if d == fop.axis else 1 for d in range(fop.w.ndim)]) \
            if s.size > 1 else s[0]
        out[fop.index] = (float(np.max(np.abs(fop.q8 * step - fop.w) / step)),
                          int(np.abs(fop.q8.astype(int)).max()))
    return out


@pytest.mark.parametrize("granularity,bits,rng", [("per_channel", 2, "minmax"),
                                                  ("per_tensor", 3, "mse")])
def test_folded_weights_on_the_grid(granularity, bits, rng):
    """Conv/depthwise/dense with and without a following BN, one layer at 8 and one at 4 bits:
    min-max PTQ of the QAT model reproduces the folded float weights exactly."""
    model = _conv_model()
    data = np.random.default_rng(1)
    x = data.normal(0, 1, (96, 8, 8, 1)).astype(np.float32)
    y = data.integers(0, 4, 96)
    config = QuantConfig(name=f"{bits}qat", bits=bits, method="qat", range=rng,
                         granularity=granularity, layers={"first": 8, "fc": 4},
                         qat_epochs=1, qat_learning_rate=1e-3, qat_batch_size=32)
    record = {}
    tuned = qat_finetune(model, config, x, y, x[:32], y[:32], seed=0, record=record)
    assert record["folded_batchnorm"] == ["conv", "dw", "fc"]
    calibration = x[:16]
    tflite, info = ptq(tuned, calibration, config.replace(range="minmax"))
    limits = {l["name"]: 2 ** (l["bits"] - 1) - 1 for l in info["layers"]}
    assert limits == {"conv": 127, "dw": 3 if bits == 3 else 1, "pw": limits["dw"], "fc": 7,
                      "out": limits["dw"]}
    for (error, top), layer in zip(_off_grid(tuned, tflite, calibration).values(),
                                   info["layers"]):
        assert error < 1e-3, f"{layer['name']}: {error} steps off the grid"
        assert top == limits[layer["name"]], layer       # the grid's end is reached


def test_model_is_not_changed_and_reproducible():
    model = _mlp((16,))
    before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(0).normal(0, 1, (64, 64)).astype(np.float32)
    y = np.arange(64) % 10
    config = QuantConfig(name="2qat", bits=2, method="qat", qat_epochs=1, qat_batch_size=16,
                         qat_learning_rate=1e-3)
    a = qat_finetune(model, config, x, y, x, y, seed=3)
    b = qat_finetune(model, config, x, y, x, y, seed=3)
    assert all(np.array_equal(u, v) for u, v in zip(before, model.get_weights()))
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_autoencoder_mse():
    """An autoencoder given labels (ad's features hold all-normal labels) reconstructs its
    input; the loss is MSE and the result on the grid."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    model = keras.Sequential([L.Input((16,)), L.Dense(8), L.BatchNormalization(), L.ReLU(),
                              L.Dense(16)])
    x = np.random.default_rng(0).normal(0, 1, (128, 16)).astype(np.float32)
    config = QuantConfig(name="4qat", bits=4, method="qat", qat_epochs=2, qat_batch_size=32,
                         qat_learning_rate=1e-3)
    record = {}
    labels = np.zeros(len(x), np.int64)
    tuned = qat_finetune(model, config, x, labels, x[:32], labels[:32], seed=0, record=record)
    assert record["task"] == "reconstruct" and record["loss"] == "mean_squared_error"
    assert len(record["val_history"]) == 3
    tflite, _ = ptq(tuned, x[:16], config.replace(range="minmax"))
    assert all(e < 1e-3 for e, _ in _off_grid(tuned, tflite, x[:16]).values())


def test_qat_beats_ptq_at_2_bits_in_tflite_micro():
    """Handwritten digits (sklearn's 8x8 set, real data), an MLP at 2 bits everywhere: plain
    min-max PTQ collapses, QAT recovers; accuracy measured by tflite-micro on the int8 model."""
    from sklearn.datasets import load_digits
    from tinysweep.tfcompat import keras
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    train, val, test = order[:1300], order[1300:1500], order[1500:]
    keras.utils.set_random_seed(0)
    model = _mlp((32, 32))
    model.compile(keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy")
    model.fit(x[train], y[train], batch_size=32, epochs=15, verbose=0)
    config = QuantConfig(name="2qat", bits=2, method="qat", qat_epochs=6, qat_batch_size=32,
                         qat_learning_rate=3e-3)
    tuned = qat_finetune(model, config, x[train], y[train], x[val], y[val], seed=0)
    calibration = x[val][:64]

    def tflm_accuracy(tflite):
        from tinysweep.oracle import input_quantization
        scale, zero_point, _ = input_quantization(tflite)
        q = np.clip(np.round(x[test] / scale) + zero_point, -128, 127).astype(np.int8)
        return float(np.mean(tflm_outputs(tflite, q).argmax(1) == y[test]))

    float_acc = float(np.mean(model.predict(x[test], verbose=0).argmax(1) == y[test]))
    ptq_acc = tflm_accuracy(ptq(model, calibration, config.replace(method="ptq"))[0])
    qat_acc = tflm_accuracy(ptq(tuned, calibration, config.replace(range="minmax"))[0])
    print(f"digits MLP: float {float_acc:.3f}, w2 PTQ {ptq_acc:.3f}, w2 QAT {qat_acc:.3f}")
    assert qat_acc > ptq_acc + 0.2
    assert qat_acc > float_acc - 0.1
    assert weight_layers(tuned) == weight_layers(model)
