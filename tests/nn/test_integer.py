"""PyTorch integer mode == golden model, spike by spike, on random and corner-case models."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from numpy.testing import assert_array_equal

from cfsnn import golden
from cfsnn.model import Layer, Model
from cfsnn.nn import CFNet, run_int
from cfsnn.testing import random_codes, random_model


def assert_equal_runs(model, x):
    g = golden.run(model, x)
    t = run_int(model, x)
    assert_array_equal(t.logits.numpy(), g.logits)
    assert_array_equal(t.predictions.numpy(), g.predictions)
    assert len(t.spikes) == len(g.spikes)
    for a, b in zip(t.spikes, g.spikes):
        assert_array_equal(a.numpy(), b)


@pytest.mark.parametrize("trial", range(60))
def test_random_models(trial, seeded_rng):
    model = random_model(seeded_rng, max_width=32)
    assert_equal_runs(model, random_codes(seeded_rng, model, 8))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**32 - 1), extreme=st.booleans(), batch=st.integers(1, 6))
def test_random_models_hypothesis(seed, extreme, batch):
    print(f"seed={seed}")
    rng = np.random.default_rng(seed)
    model = random_model(rng, extreme=extreme)
    assert_equal_runs(model, random_codes(rng, model, batch))


@pytest.mark.parametrize("K,theta,leak,v_bits,bipolar,reset", [
    (7, 1, 15, 8, True, "subtract"),     # saturation with the smallest threshold
    (7, 1, 15, 16, True, "zero"),
    (1, 1, 0, 6, False, "zero"),
    (7, 127, 1, 8, True, "subtract"),   # theta = v_max
    (3, 5, 15, 10, False, "subtract"),
])
def test_corner_cases(K, theta, leak, v_bits, bipolar, reset, seeded_rng):
    n_in, n = 9, 6
    w = seeded_rng.choice([-128, 127, 0, 1, -1], size=(n, n_in))
    model = Model(T=16, in_bits=8, v_bits=v_bits, w_bits=8, acc_bits=24, layers=[
        Layer("cf", w, np.zeros(n, np.int64), np.full(n, theta), K=K, bipolar=bipolar,
              reset=reset, leak_shift=leak),
        Layer("cf", seeded_rng.integers(-128, 128, size=(n, n)), seeded_rng.integers(-50, 50, n),
              np.full(n, theta), K=K, bipolar=bipolar, reset=reset, leak_shift=leak),
        Layer("readout", seeded_rng.integers(-128, 128, size=(4, n)), np.zeros(4, np.int64), None,
              leak_shift=leak)]).validate()
    x = random_codes(seeded_rng, model, 6)
    assert_equal_runs(model, x)
    g = golden.run(model, x, record_membranes=True)
    vmin, vmax = model.formats.v_range
    assert any((m == vmax).any() or (m == vmin).any() for m in g.membranes) or v_bits > 10


def test_all_zero_input_gives_bias_only_dynamics(seeded_rng):
    model = random_model(seeded_rng)
    x = np.zeros((3, model.n_in), np.int64)
    assert_equal_runs(model, x)
    g = golden.run(model, x)
    assert (g.input_events[:, 0] == 0).all()


def test_trained_net_forward_int_equals_golden(seeded_rng):
    torch.manual_seed(0)
    net = CFNet(16, [12, 8], 3, T=5, K=3, leak_shift=2)
    x = torch.from_numpy(seeded_rng.integers(0, 16, size=(20, 16)))
    model = net.export()
    t = net.forward_int(x)
    g = golden.run(model, x.numpy())
    assert_array_equal(t.logits.numpy(), g.logits)
    for a, b in zip(t.spikes, g.spikes):
        assert_array_equal(a.numpy(), b)
