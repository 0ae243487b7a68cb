"""Program a connected board with the bitstream ``make bitstream`` built:
``python -m cfsnn_hw.boards.prog --board icebreaker|ulx3s [--bitstream FILE] [--flash]``
(``make prog BOARD=...``). Uses openFPGALoader (both boards) or iceprog (iCEBreaker) when one
is installed and says how to get one when not; exit status 2 for a missing tool or file."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

from .build import BOARDS

HOW_TO_GET = (
    "no programmer found. Install one of:\n"
    "  openFPGALoader  (both boards): Debian/Ubuntu 'apt install openfpgaloader', or the\n"
    "                  OSS CAD Suite (github.com/YosysHQ/oss-cad-suite-build), or build it\n"
    "                  from github.com/trabucayre/openFPGALoader\n"
    "  iceprog         (iCEBreaker): Debian/Ubuntu 'apt install fpga-icestorm', or the OSS CAD "
    "Suite\n"
    "then run 'make prog BOARD=...' again (or set OPENFPGALOADER / ICEPROG to the program).\n"
    "Linux needs access to the board's FTDI device: a udev rule, or run the programmer with sudo.")


def command(board: str, bitstream: str, flash: bool = False) -> list[str] | None:
    """The programming command for ``board``, or None when no programmer is installed."""
    ofl = os.environ.get("OPENFPGALOADER") or shutil.which("openFPGALoader")
    if board == "icebreaker":
        iceprog = os.environ.get("ICEPROG") or shutil.which("iceprog")
        if iceprog:
            # iceprog writes the SPI flash by default; -S loads the FPGA's RAM only
            return [iceprog, bitstream] if flash else [iceprog, "-S", bitstream]
        if ofl:
            return [ofl, "-b", "ice40_generic", *(["-f"] if flash else []), bitstream]
        return None
    if ofl:
        return [ofl, "-b", "ulx3s", "-f" if flash else "-m", bitstream]
    return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cfsnn_hw.boards.prog", description=__doc__)
    ap.add_argument("--board", required=True, help=f"one of: {', '.join(BOARDS)}")
    ap.add_argument("--bitstream", help="default build/<board>/cfsnn_<board>.bin|.bit")
    ap.add_argument("--flash", action="store_true",
                    help="write the configuration flash (survives power-off) instead of RAM")
    a = ap.parse_args(argv)
    if a.board not in BOARDS:
        print(f"cfsnn prog: error: unknown board {a.board!r} (known: {', '.join(BOARDS)})",
              file=sys.stderr)
        return 2
    b = BOARDS[a.board]
    bit = a.bitstream or os.path.join("build", b.name, f"cfsnn_{b.name}.{b.bitstream}")
    if not os.path.isfile(bit):
        print(f"cfsnn prog: error: no bitstream at {bit}: run 'make bitstream BOARD={b.name}' "
              f"first", file=sys.stderr)
        return 2
    cmd = command(b.name, bit, a.flash)
    if cmd is None:
        print(f"cfsnn prog: error: {HOW_TO_GET}", file=sys.stderr)
        return 2
    print("cfsnn prog:", " ".join(cmd))
    try:
        return subprocess.call(cmd)
    except OSError as e:
        print(f"cfsnn prog: error: cannot run {cmd[0]}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
