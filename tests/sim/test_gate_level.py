"""Gate-level check (make test's share; make sim runs more): the iCE40 core as Yosys
synthesises it for the iCEBreaker (synth_ice40 netlist of SB_LUT4, SB_CARRY, SB_DFF*,
SB_RAM40_4K, SB_SPRAM256KA and SB_MAC16 cells, simulated with Yosys' cell models) runs the
cocotb bench: a random model and the trained digits model, every logit, prediction, spike
and counter equal to the golden model. Then the whole SoC of the bitstream (UART, link and
core, one netlist) serves the driver on the simulated board.

It catches synthesis/simulation mismatches: it caught two in Yosys' DSP inference (on a
reset-less product register, and on hand-placed SB_MAC16 blocks), and two in Yosys' one-hot
recoding of state machines (fsm_encoding; the link stopped answering, the sequencer computed
wrong sums), which the build therefore does not use."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from sim import regress  # noqa: E402
from sim.test_regression import random_items, trained_digits  # noqa: E402

from numpy.testing import assert_array_equal  # noqa: E402

from cfsnn import golden, load_model  # noqa: E402
from cfsnn import memmap as MM  # noqa: E402
from cfsnn import protocol as PR  # noqa: E402
from cfsnn.driver import DeviceError, open_device  # noqa: E402
from cfsnn.testing import fitting_model, random_codes  # noqa: E402
from cfsnn_hw.boards.build import ICE40_PARAMS  # noqa: E402

pytestmark = pytest.mark.skipif(regress.available("verilator") is not None,
                                reason=str(regress.available("verilator")))


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    return trained_digits(tmp_path_factory.mktemp("gl"))


@pytest.fixture(scope="module")
def netlist_sim():
    return regress.build(ICE40_PARAMS, "verilator", gate_level=True)


def test_gate_level_random_models(netlist_sim, tmp_path, seeded_rng):
    runner, bdir = netlist_sim
    seed = int(seeded_rng.integers(2**31))
    print(f"bench seed={seed}")
    items = random_items(np.random.default_rng(seed), 2, tmp_path, samples=2,
                         params=ICE40_PARAMS)
    res = regress.run_job(runner, bdir, ICE40_PARAMS, items, seed, "gl-random", core="ice40")
    print(regress.summary(res))
    assert all(not r["problems"] for r in res["results"]), res["results"]
    assert sum(r["samples"] for r in res["results"]) == 4


def test_gate_level_digits_model(netlist_sim, tmp_path, digits_model):
    runner, bdir = netlist_sim
    model_path, x = digits_model
    np.save(tmp_path / "codes.npy", x[:8].astype(np.int64))
    items = [{"tag": "digits", "model": str(model_path), "codes": str(tmp_path / "codes.npy"),
              "dynamic": False}]
    res = regress.run_job(runner, bdir, ICE40_PARAMS, items, 1204, "gl-digits", stall=0.05,
                          core="ice40")
    r = res["results"][0]
    assert not r["problems"], r["problems"]
    assert r["samples"] == 8


@pytest.fixture(scope="module")
def soc_netlist_board():
    """The simulated board running the iCEBreaker SoC's netlist (4 clocks per UART bit)."""
    dev = open_device("sim", params=ICE40_PARAMS, gate_level=True, timeout=2.0, retries=3)
    yield dev
    dev.close()


@pytest.mark.parametrize("dynamic", [False, True])
def test_soc_netlist_random_model(soc_netlist_board, seeded_rng, dynamic):
    dev = soc_netlist_board
    assert dev.params == ICE40_PARAMS
    model = fitting_model(seeded_rng, dev.params)
    dev.load(model, dynamic=dynamic)
    x = random_codes(seeded_rng, model, 4, static=not dynamic)
    r, g = dev.infer(x), golden.run(model, x)
    assert_array_equal(r.logits, g.logits)
    assert_array_equal(r.predictions, g.predictions)
    assert_array_equal(r.spike_counts, g.spike_counts())


def test_soc_netlist_digits_model_and_link(soc_netlist_board, digits_model):
    dev = soc_netlist_board
    model_path, x = digits_model
    model = load_model(model_path)
    dev.load(model)
    r, g = dev.infer(x[:8]), golden.run(model, x[:8])
    assert_array_equal(r.logits, g.logits)
    assert_array_equal(r.spike_counts, g.spike_counts())
    # refusals and statistics come from the link's netlist too
    with pytest.raises(DeviceError, match="BAD_ADDRESS"):
        dev.transact(PR.Op.READ, PR.read_payload(MM.mem_addr(MM.Region.BIAS, 1 << 19), 1))
    stats = dev.link_stats()
    assert stats["frames_ok"] > 0 and stats["crc_errors"] == 0
