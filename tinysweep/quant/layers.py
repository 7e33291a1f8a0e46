"""Which Keras layers carry weights, their bits, and which TFLite weight op each one became.

`weight_layers(model)` lists the layers whose kernels the converter turns into CONV_2D,
DEPTHWISE_CONV_2D or FULLY_CONNECTED filters, in graph order; `layers:` of a configuration may
name them (exactly or as a glob: "dense*"), "first" and "last" are the first and last of this
list. The converter names every op's tensors after the Keras ops they were fused from
("model/conv2d_3/BiasAdd;model/batch_normalization_3/FusedBatchNormV3;..."), so an op belongs
to the weight layer whose name is one path component of those names.
"""
from __future__ import annotations

import fnmatch

from tinysweep.quant.config import LAYER_RULES, QuantConfigError


def _weight_classes():
    from tinysweep.tfcompat import keras
    L = keras.layers
    keep = (L.Dense, L.Conv1D, L.Conv2D, L.DepthwiseConv2D, L.SeparableConv1D, L.SeparableConv2D)
    drop = (L.Conv1DTranspose, L.Conv2DTranspose)   # TRANSPOSE_CONV: not a weight op here
    return keep, drop


def walk_layers(model):
    for layer in model.layers:
        if hasattr(layer, "layers") and layer.layers:     # a nested model
            yield from walk_layers(layer)
        else:
            yield layer


def weight_layers(model) -> list[str]:
    """Names of the layers with weights (Conv1D/2D, DepthwiseConv2D, SeparableConv, Dense), in
    graph order (nested models flattened)."""
    keep, drop = _weight_classes()
    return [l.name for l in walk_layers(model) if isinstance(l, keep) and not isinstance(l, drop)]


def resolve_layer_bits(model, config) -> dict[str, int]:
    """Every weight layer -> its bits: the configuration's bits, then the rules (first, last),
    then layer names or globs (the most specific wins)."""
    names = weight_layers(model)
    bits = {n: config.bits for n in names}
    where = f"quantize.configs.{config.name}.layers"
    rules = {k: v for k, v in config.layers.items() if k in LAYER_RULES}
    for rule, b in rules.items():
        if names:
            bits[names[0 if rule == "first" else -1]] = b
    for key, b in config.layers.items():
        if key in rules:
            continue
        hits = [key] if key in bits else fnmatch.filter(names, key)
        if not hits:
            raise QuantConfigError(
                f"{where}: {key!r} matches no layer; layers with weights: {', '.join(names)} "
                f"(or the rules {', '.join(LAYER_RULES)})")
        for n in hits:
            bits[n] = b
    return bits


def op_layer_names(op_names: list[list[str]], layers: list[str]) -> list[str]:
    """The weight layer of every weight op, given the tensor names of each op (filter, bias,
    output) in op order: the layer whose name is a path component of them. Ops matching no
    layer, or several, are resolved by order when the counts agree; else ValueError."""
    found = []
    for names in op_names:
        parts = {p for n in names for piece in n.split(";") for p in piece.split("/")}
        found.append([l for l in layers if l in parts])
    if all(len(f) == 1 for f in found):
        return [f[0] for f in found]
    if len(op_names) == len(layers):     # one op per layer: the converter keeps graph order
        return list(layers)
    bad = next(i for i, f in enumerate(found) if len(f) != 1)
    raise ValueError(f"cannot tell which layer weight op {bad} ({op_names[bad][0]}) belongs to "
                     f"(candidates: {', '.join(found[bad]) or 'none'}; layers with weights: "
                     f"{', '.join(layers)})")


__all__ = ["weight_layers", "resolve_layer_bits", "op_layer_names"]
