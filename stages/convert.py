"""Generate C for one int8 .tflite: model.c, model.h and model.json in one folder.

    python stages/convert.py --model models/kws/w8/model.tflite --profile kws01 \
        --out models/kws/w8/c

The folder appears complete or not at all. Output is byte-identical for the same .tflite and
profile; model.h and model.json carry the model's sha256. Models using ops, types or parameters
the tsn kernels lack fail with one line: "op X (type, detail) at node N is not supported".
"""
import sys

from tinysweep.cli import Parser
from tinysweep.codegen import Unsupported
from tinysweep.codegen.convert import convert


def main(argv=None):
    ap = Parser(prog="convert", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="an int8 .tflite")
    ap.add_argument("--profile", required=True,
                    help="MLPerf Tiny model name the device reports (kws01, vww01, ic01, ad01)")
    ap.add_argument("--out", required=True, help="folder to create (replaced if present)")
    ap.add_argument("--weight-bits", type=int, choices=(8, 4, 2), default=8,
                    help="8: weights as stored (int8, or packed INT4/INT2); 4 or 2: pack int8 "
                         "weights to that width (every weight must lie on the grid |q| <= 7 / 1)")
    a = ap.parse_args(argv)
    try:
        info = convert(a.model, a.profile, a.out, a.weight_bits)
    except (OSError, ValueError, Unsupported) as e:
        sys.exit(f"convert: {e}")
    print(f"convert: {len(info['ops'])} ops, {info['macs']} MACs, "
          f"{info['weights_bytes']} B weights ({info['weights_stored_bits']}-bit), {info['arena_bytes']} B arena -> {a.out}")


if __name__ == "__main__":
    main()
