"""The full cocotb regression (``make sim``): >= 200 random models with several samples
each, and the trained digits model on 100 test samples; RTL == golden, spike by spike.

Environment: SIM=verilator|icarus (default verilator), WAVES=1, CFSNN_SEED=N to replay,
SIM_MODELS=N to change the number of random models.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cfsnn import memmap as MM  # noqa: E402
from cfsnn.testing import random_codes, random_model  # noqa: E402
from sim import regress  # noqa: E402

RANDOM_PARAMS = MM.BuildParams(lanes=4, max_layers=4, max_neurons=32, neuron_words=64,
                               weight_words=2048, input_depth=512, t_max=16)
DIGITS_PARAMS = MM.BuildParams(lanes=8, max_layers=4, max_neurons=256, neuron_words=64,
                               weight_words=4096, input_depth=1024, t_max=16)


def random_items(rng, n, dirpath, samples=3, params=RANDOM_PARAMS):
    out = []
    k = 0
    while len(out) < n:
        model = random_model(rng, max_width=20, T=int(rng.integers(1, 9)),
                             n_layers=int(rng.integers(1, 4)), v_bits=int(rng.integers(6, 17)))
        dynamic = bool(rng.random() < 0.5)
        if params.check_fits(model, dynamic):
            continue
        codes = random_codes(rng, model, samples, static=not dynamic)
        out.append((f"m{k:03d}", model, codes, dynamic))
        k += 1
    return regress.write_items(Path(dirpath), out)


def _seed():
    return int(os.environ.get("CFSNN_SEED", "1204"))


skip = pytest.mark.skipif(regress.available(regress.simulator()) is not None,
                          reason=str(regress.available(regress.simulator())))


@skip
@pytest.mark.parametrize("chunk", range(4))
def test_random_models(tmp_path, chunk):
    n = int(os.environ.get("SIM_MODELS", "200"))
    seed = _seed() * 10 + chunk
    print(f"seed={seed} (replay with CFSNN_SEED={_seed()})")
    runner, bdir = regress.build(RANDOM_PARAMS)
    items = random_items(np.random.default_rng(seed), -(-n // 4), tmp_path)
    res = regress.run_job(runner, bdir, RANDOM_PARAMS, items, seed, f"random-{chunk}")
    print(regress.summary(res))
    assert all(not r["problems"] for r in res["results"])


@skip
def test_digits_model(tmp_path):
    from cfsnn.cli import main
    from cfsnn.data import load_digits
    from cfsnn import load_model, golden
    out = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--hidden", "128", "--T", "4", "--seed", "0",
                 "--out", str(out), "--no-progress"]) == 0
    model = load_model(out / "model.cfsnn")
    ds = load_digits(model.in_bits)
    x = ds.x_test[:100]
    items = [{"tag": "digits", "model": str(out / "model.cfsnn"),
              "codes": str(tmp_path / "codes.npy"), "dynamic": False}]
    np.save(tmp_path / "codes.npy", x.astype(np.int64))
    runner, bdir = regress.build(DIGITS_PARAMS)
    res = regress.run_job(runner, bdir, DIGITS_PARAMS, items, _seed(), "digits", stall=0.1)
    r = res["results"][0]
    assert not r["problems"], r["problems"]
    assert r["samples"] == 100
    cyc, bound = np.array(r["cycles"]), np.array(r["bound"])
    fixed = np.array(r["fixed"])
    g = golden.run(model, x)
    acc = float((g.predictions == ds.y_test[:100]).mean())
    print(f"digits on RTL: 100 samples equal to golden (accuracy {100 * acc:.1f} %); "
          f"cycles/inference mean {cyc.mean():.0f}, event-driven bound mean {bound.mean():.0f}, "
          f"ratio {cyc.sum() / bound.sum():.3f}; documented overhead mean {fixed.mean():.0f}")
    assert (cyc <= 1.15 * bound + fixed).all()


def trained_digits(dirpath):
    """The digits model of the demo (64-128-10, T = 4, CF, K = 2, seed 0) and its test codes."""
    from cfsnn.cli import main
    from cfsnn.data import load_digits
    from cfsnn import load_model
    out = Path(dirpath) / "digits"
    assert main(["train", "--dataset", "digits", "--hidden", "128", "--T", "4", "--seed", "0",
                 "--out", str(out), "--no-progress"]) == 0
    model = load_model(out / "model.cfsnn")
    return out / "model.cfsnn", load_digits(model.in_bits).x_test


@skip
@pytest.mark.parametrize("chunk", range(2))
def test_gate_level_random_models(tmp_path, chunk):
    """The synthesised iCE40 netlist (see tests/sim/test_gate_level.py) on random models."""
    from cfsnn_hw.boards.build import ICE40_PARAMS
    n = int(os.environ.get("SIM_GL_MODELS", "20"))
    seed = _seed() * 10 + 5 + chunk
    print(f"seed={seed} (replay with CFSNN_SEED={_seed()})")
    runner, bdir = regress.build(ICE40_PARAMS, gate_level=True)
    items = random_items(np.random.default_rng(seed), -(-n // 2), tmp_path, samples=2,
                         params=ICE40_PARAMS)
    res = regress.run_job(runner, bdir, ICE40_PARAMS, items, seed, f"gl-random-{chunk}",
                          core="ice40")
    print(regress.summary(res))
    assert all(not r["problems"] for r in res["results"])


@skip
def test_gate_level_digits_model(tmp_path):
    """The synthesised iCE40 netlist on the digits model, 100 test samples."""
    from cfsnn_hw.boards.build import ICE40_PARAMS
    model_path, x = trained_digits(tmp_path)
    np.save(tmp_path / "codes.npy", x[:100].astype(np.int64))
    items = [{"tag": "digits", "model": str(model_path), "codes": str(tmp_path / "codes.npy"),
              "dynamic": False}]
    runner, bdir = regress.build(ICE40_PARAMS, gate_level=True)
    res = regress.run_job(runner, bdir, ICE40_PARAMS, items, _seed(), "gl-digits", stall=0.05,
                          core="ice40")
    r = res["results"][0]
    assert not r["problems"], r["problems"]
    assert r["samples"] == 100
    print(f"digits on the iCE40 netlist: 100 samples equal to golden; cycles/inference mean "
          f"{np.mean(r['cycles']):.0f}, event-driven bound mean {np.mean(r['bound']):.0f}")
