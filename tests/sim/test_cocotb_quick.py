"""A quick subset of the cocotb regression (make sim runs the full one): the generated
Verilog on a few random models, every logit and spike equal to the golden model."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from sim import regress  # noqa: E402
from sim.test_regression import RANDOM_PARAMS, random_items  # noqa: E402


@pytest.mark.skipif(regress.available(regress.simulator()) is not None,
                    reason=str(regress.available(regress.simulator())))
def test_quick_regression(tmp_path, seeded_rng):
    seed = int(seeded_rng.integers(2**31))
    print(f"bench seed={seed}")
    runner, bdir = regress.build(RANDOM_PARAMS)
    items = random_items(np.random.default_rng(seed), 6, tmp_path, samples=2)
    res = regress.run_job(runner, bdir, RANDOM_PARAMS, items, seed, f"quick-{os.getpid()}")
    print(regress.summary(res))
    assert all(not r["problems"] for r in res["results"])
    assert sum(r["samples"] for r in res["results"]) == 12
