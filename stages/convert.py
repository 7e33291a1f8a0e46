"""Generate C for one int8 .tflite: model.c, model.h and model.json in one folder.

    python stages/convert.py --model models/kws/w4/model.tflite --profile kws01 \
        --weight-bits auto --out models/kws/w4/c

The folder appears complete or not at all. Output is byte-identical for the same .tflite and
profile; model.h and model.json carry the model's sha256. Models using ops, types or parameters
the tsn kernels lack fail with one line: "op X (type, detail) at node N is not supported".
"""
import sys

from tinysweep.cli import Parser
from tinysweep.codegen import Unsupported
from tinysweep.codegen.convert import convert
from tinysweep.codegen.generate import AUTO


def main(argv=None):
    ap = Parser(prog="convert", description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="an int8 .tflite")
    ap.add_argument("--profile", required=True,
                    help="MLPerf Tiny model name the device reports (kws01, vww01, ic01, ad01)")
    ap.add_argument("--out", required=True, help="folder to create (replaced if present)")
    ap.add_argument("--weight-bits", choices=("8", "4", "2", AUTO), default="8",
                    help="8: weights as stored (int8, or packed INT4/INT2); 4 or 2: pack int8 "
                         "weights to that width (every weight must lie on the grid |q| <= 7 / 1); "
                         "auto: each weight tensor at the narrowest width whose grid holds it "
                         "(2 if |q| <= 1, 4 if <= 7; mixed precision)")
    a = ap.parse_args(argv)
    try:
        bits = a.weight_bits if a.weight_bits == AUTO else int(a.weight_bits)
        info = convert(a.model, a.profile, a.out, bits)
    except (OSError, ValueError, Unsupported) as e:
        sys.exit(f"convert: {e}")
    print(f"convert: {len(info['ops'])} ops, {info['macs']} MACs, "
          f"{info['weights_bytes']} B weights (stored at {_widths(info)}-bit), {info['arena_bytes']} B arena -> {a.out}")


def _widths(info) -> str:
    return "/".join(info.get("weights_by_bits") or [str(info["weights_stored_bits"])])


if __name__ == "__main__":
    main()
