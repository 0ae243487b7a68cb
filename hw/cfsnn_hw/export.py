"""Write the core's Verilog: ``python -m cfsnn_hw.export --out build/cfcore.v [--lanes 8 ...]``."""

import argparse
import os
from dataclasses import fields

from amaranth.back import verilog

from cfsnn import memmap as MM
from cfsnn.model import atomic_write

from .core import CFCore


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m cfsnn_hw.export", description=__doc__)
    p.add_argument("--out", default="build/cfcore.v")
    defaults = MM.BuildParams()
    for f in fields(MM.BuildParams):
        default = None if f.name == "fire_lanes" else getattr(defaults, f.name)   # = lanes
        p.add_argument(f"--{f.name.replace('_', '-')}", type=int, default=default)
    a = p.parse_args(argv)
    try:
        params = MM.BuildParams(**{f.name: getattr(a, f.name) for f in fields(MM.BuildParams)})
    except ValueError as e:
        p.error(str(e))
    text = verilog.convert(CFCore(params=params), name="cfcore")
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    atomic_write(a.out, lambda f: f.write(text.encode()))
    print(f"wrote {a.out} ({len(text.splitlines())} lines) for {params}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
