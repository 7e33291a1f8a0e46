"""Code generation: a .tflite model -> C (model.c, model.h) calling the tsn kernels.

    from tinysweep.codegen import read_tflite, generate
    gen = generate(read_tflite("m.tflite"), profile="kws01")
    gen.write(out_dir)            # model.c, model.h, model.json
"""


class Unsupported(Exception):
    """The model uses an op, type or parameter the generator cannot turn into kernel calls.

    The message reads "op X (type, detail) at node N is not supported"."""


from tinysweep.codegen.reader import read_tflite, read_tflite_bytes  # noqa: E402
from tinysweep.codegen.generate import Generated, generate  # noqa: E402

__all__ = ["Unsupported", "read_tflite", "read_tflite_bytes", "generate", "Generated"]
