"""A bits configuration: the weight bit-width and the method that puts the weights on its grid.

`QuantConfig.from_params(name, entry)` reads one entry of params `quantize.configs` and refuses
bad input with a one-line `QuantConfigError` naming the key and its allowed values.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

NAME = re.compile(r"[2-8](?:[a-z][a-z0-9]*)?")
BITS = range(2, 9)
METHODS = ("ptq", "qat")
RANGES = ("minmax", "percentile", "mse")
GRANULARITIES = ("per_channel", "per_tensor")
LAYER_RULES = ("first", "last")
KEYS = ("method", "range", "percentile", "granularity", "bias_correction", "adaround",
        "adaround_iterations", "layers", "qat")
QAT_KEYS = ("epochs", "learning_rate", "batch_size")


class QuantConfigError(ValueError):
    """A bad bits configuration; the message is one line naming the key and allowed values."""


@dataclass(frozen=True)
class QuantConfig:
    name: str                           # "4", "2qat": a bit-width 2-8 and an optional variant
    bits: int                           # default weight bits of every weight layer
    method: str = "ptq"                 # "ptq" | "qat"
    range: str = "minmax"               # weight range setting: minmax | percentile | mse
    percentile: float = 99.99           # of |w| per channel (or tensor), for range percentile
    granularity: str = "per_channel"    # one weight scale per output channel, or per tensor
    bias_correction: bool = False       # empirical, on the calibration set, layer by layer
    adaround: bool = False              # learned rounding on the calibration set
    adaround_iterations: int = 1000     # Adam steps per layer (1000: on these small layers the
                                        # loss flattens by ~600; the paper's 10k buys little)
    layers: Mapping[str, int] = field(default_factory=dict)  # layer name or first/last -> bits
    qat_epochs: int = 0                 # method qat
    qat_learning_rate: float = 1e-4
    qat_batch_size: int = 64

    @classmethod
    def from_params(cls, name, entry) -> "QuantConfig":
        where = f"quantize.configs.{name}"
        name = str(name)
        if not NAME.fullmatch(name):
            raise QuantConfigError(
                f"{where}: bad configuration name {name!r}: a weight bit-width 2-8, optionally "
                f"followed by a variant of lowercase letters/digits starting with a letter "
                f"(8, 4, 2, 4qat, 4mix)")
        entry = {} if entry is None else entry
        if not isinstance(entry, Mapping):
            raise QuantConfigError(f"{where}: must be a mapping of {', '.join(KEYS)}")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise QuantConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(KEYS)})")
        kw = {"name": name, "bits": int(name[0])}
        for key, allowed in (("method", METHODS), ("range", RANGES),
                             ("granularity", GRANULARITIES)):
            if key in entry:
                if entry[key] not in allowed:
                    raise QuantConfigError(f"{where}.{key}: {entry[key]!r} is not one of "
                                           f"{', '.join(allowed)}")
                kw[key] = entry[key]
        for key in ("bias_correction", "adaround"):
            if key in entry:
                if not isinstance(entry[key], bool):
                    raise QuantConfigError(f"{where}.{key}: {entry[key]!r} is not true or false")
                kw[key] = entry[key]
        if "percentile" in entry:
            p = entry["percentile"]
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 50 < p <= 100:
                raise QuantConfigError(f"{where}.percentile: {p!r} is not a number in (50, 100]")
            kw["percentile"] = float(p)
        if "adaround_iterations" in entry:
            kw["adaround_iterations"] = _positive_int(entry["adaround_iterations"],
                                                      f"{where}.adaround_iterations")
        if "layers" in entry:
            kw["layers"] = _layers(entry["layers"], f"{where}.layers")
        if "qat" in entry:
            kw.update(_qat(entry["qat"], f"{where}.qat"))
        return cls(**kw)

    def options(self) -> dict:
        """Everything that defines the configuration (JSON-able); options that do not apply to
        it (percentile of another range, QAT settings of a PTQ configuration) are left out."""
        o = {"bits": self.bits, "method": self.method, "range": self.range}
        if self.range == "percentile":
            o["percentile"] = self.percentile
        o.update(granularity=self.granularity, bias_correction=self.bias_correction,
                 adaround=self.adaround)
        if self.adaround:
            o["adaround_iterations"] = self.adaround_iterations
        o["layers"] = dict(self.layers)
        if self.method == "qat":
            o.update(qat_epochs=self.qat_epochs, qat_learning_rate=self.qat_learning_rate,
                     qat_batch_size=self.qat_batch_size)
        return o

    def replace(self, **changes) -> "QuantConfig":
        from dataclasses import replace
        return replace(self, **changes)


def _positive_int(v, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise QuantConfigError(f"{where}: {v!r} is not a whole number >= 1")
    return v


def check_bits(v, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v not in BITS:
        raise QuantConfigError(f"{where}: bits {v!r} is not a whole number 2-8")
    return v


def _layers(v, where: str) -> dict:
    if not isinstance(v, Mapping):
        raise QuantConfigError(f"{where}: must map a layer name or a rule "
                               f"({', '.join(LAYER_RULES)}) to bits 2-8")
    out = {}
    for key, bits in v.items():
        if not isinstance(key, str) or not key:
            raise QuantConfigError(f"{where}: key {key!r} is not a layer name or a rule "
                                   f"({', '.join(LAYER_RULES)})")
        out[key] = check_bits(bits, f"{where}.{key}")
    return out


def _qat(v, where: str) -> dict:
    if not isinstance(v, Mapping):
        raise QuantConfigError(f"{where}: must be a mapping of {', '.join(QAT_KEYS)}")
    unknown = sorted(set(v) - set(QAT_KEYS))
    if unknown:
        raise QuantConfigError(f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(QAT_KEYS)})")
    out = {}
    if "epochs" in v:
        e = v["epochs"]
        if isinstance(e, bool) or not isinstance(e, int) or e < 0:
            raise QuantConfigError(f"{where}.epochs: {e!r} is not a whole number >= 0")
        out["qat_epochs"] = e
    if "learning_rate" in v:
        lr = v["learning_rate"]
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise QuantConfigError(f"{where}.learning_rate: {lr!r} is not a number > 0")
        out["qat_learning_rate"] = float(lr)
    if "batch_size" in v:
        out["qat_batch_size"] = _positive_int(v["batch_size"], f"{where}.batch_size")
    return out


__all__ = ["QuantConfig", "QuantConfigError", "check_bits", "BITS", "METHODS", "RANGES",
           "GRANULARITIES", "LAYER_RULES", "KEYS"]
