"""Reading a firmware ELF with binutils (nm, size -A): symbols, sections, memory figures.

The memory split of a Cortex-M build (ports/cortex-m/sections.ld keeps code and constants in
separate output sections; the generated model.c names its constant tensors tensor_<N> and its
activation arena tsn_arena):
- flash = .text (code, vector table) + .rodata (constants) + .ARM.exidx + the .data image;
  weights = the tensor_<N> symbols, constants = the rest of .rodata and the .data image;
- RAM = .data + .bss + .stack; arena = tsn_arena, stack = .stack (reserved), other = the rest.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

WEIGHT_SYMBOL = re.compile(r"tensor_\d+")
ARENA_SYMBOL = "tsn_arena"
FLASH_SECTIONS = (".text", ".rodata", ".ARM.exidx", ".data")
RAM_SECTIONS = (".data", ".bss", ".stack")
CODE_SECTIONS = (".text", ".ARM.exidx")


class ElfError(RuntimeError):
    pass


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = "binutils-arm-none-eabi" if name.startswith("arm-none-eabi-") else "binutils"
        raise ElfError(f"{name} not found: install the Debian package {package} "
                       f"(gcc-arm-none-eabi brings it)")
    return path


def _run(cmd) -> str:
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise ElfError(f"{Path(cmd[0]).name} failed on {cmd[-1]}: {run.stderr.strip()}")
    return run.stdout


def symbols(elf, nm: str = "arm-none-eabi-nm") -> dict[str, tuple[int, int]]:
    """Symbol name -> (address, size) for every sized symbol, local ones included."""
    out = {}
    for line in _run([_tool(nm), "-S", str(elf)]).splitlines():
        parts = line.split()
        if len(parts) == 4:
            addr, size, _, name = parts
            out[name] = (int(addr, 16), int(size, 16))
        elif len(parts) == 3 and parts[1].upper() in "TDBR":
            out.setdefault(parts[2], (int(parts[0], 16), 0))
    return out


def address(elf, name: str, nm: str = "arm-none-eabi-nm") -> int:
    """Address of a function or object (Thumb bit cleared)."""
    found = symbols(elf, nm).get(name)
    if found is None:
        raise ElfError(f"{elf} has no symbol {name}: build it with a Cortex-M port")
    return found[0] & ~1


def sections(elf, size: str = "arm-none-eabi-size") -> dict[str, int]:
    """Section name -> bytes, from `size -A`."""
    out = {}
    for line in _run([_tool(size), "-A", str(elf)]).splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith(".") and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def memory(elf, size: str = "arm-none-eabi-size", nm: str = "arm-none-eabi-nm") -> dict:
    """Flash and RAM bytes of a Cortex-M firmware and their split (see the module doc)."""
    secs = sections(elf, size)
    syms = symbols(elf, nm)
    weights = sum(sz for name, (_, sz) in syms.items() if WEIGHT_SYMBOL.fullmatch(name))
    arena = syms.get(ARENA_SYMBOL, (0, 0))[1]
    flash = sum(secs.get(s, 0) for s in FLASH_SECTIONS)
    ram = sum(secs.get(s, 0) for s in RAM_SECTIONS)
    code = sum(secs.get(s, 0) for s in CODE_SECTIONS)
    stack = secs.get(".stack", 0)
    return {
        "flash_bytes": flash, "ram_bytes": ram,
        "flash": {"weights": weights, "code": code, "constants": flash - code - weights},
        "ram": {"arena": arena, "stack": stack, "other": ram - arena - stack},
        "sections": {k: v for k, v in secs.items() if k in FLASH_SECTIONS + RAM_SECTIONS},
    }
