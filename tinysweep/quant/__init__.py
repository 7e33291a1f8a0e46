"""Weight quantization below 8 bits: configurations, layer selection, PTQ (range setting,
per-channel/per-tensor, bias correction, AdaRound) and QAT fine-tuning (qat.py)."""
from tinysweep.quant.config import QuantConfig, QuantConfigError
from tinysweep.quant.layers import resolve_layer_bits, weight_layers
from tinysweep.quant.ptq import ptq


def __getattr__(name):
    if name == "qat_finetune":           # QAT imports tfmot: only when asked for
        from tinysweep.quant.qat import qat_finetune
        return qat_finetune
    raise AttributeError(name)


__all__ = ["QuantConfig", "QuantConfigError", "ptq", "qat_finetune", "weight_layers",
           "resolve_layer_bits"]
