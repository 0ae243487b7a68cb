"""Gate-level check (make test's share; make sim runs more): the iCE40 core as Yosys
synthesises it for the iCEBreaker (synth_ice40 netlist of SB_LUT4, SB_CARRY, SB_DFF*,
SB_RAM40_4K, SB_SPRAM256KA and SB_MAC16 cells, simulated with Yosys' cell models) runs the
cocotb bench: a random model and the trained digits model, every logit, prediction, spike
and counter equal to the golden model. It catches synthesis/simulation mismatches: while it
was written it caught two (Yosys' DSP inference on a reset-less product register, and on
hand-placed SB_MAC16 blocks)."""

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from sim import regress  # noqa: E402
from sim.test_regression import random_items, trained_digits  # noqa: E402

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
