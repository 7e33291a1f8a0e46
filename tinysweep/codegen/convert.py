"""One .tflite -> a folder with model.c, model.h, model.json (stages/convert.py and
`python -m tinysweep codegen`)."""
from pathlib import Path

from tinysweep.codegen.generate import generate
from tinysweep.codegen.reader import read_tflite
from tinysweep.io import atomic_dir


def convert(model, profile, out, weight_bits: int | str = 8) -> dict:
    """Write out/{model.c, model.h, model.json}; return the model.json contents."""
    model = Path(model)
    if not model.is_file():
        raise FileNotFoundError(f"model file {model} does not exist")
    try:
        parsed = read_tflite(model)
    except ValueError as e:
        raise ValueError(f"{model}: {e}") from None
    generated = generate(parsed, profile, weight_bits)
    with atomic_dir(out) as tmp:
        generated.write(tmp)
    return generated.info
