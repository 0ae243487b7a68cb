"""The golden model against hand-worked cases and a scalar rewrite of SPEC section 4."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cfsnn import golden
from cfsnn.errors import DataError
from cfsnn.model import Layer, Model
from cfsnn.testing import random_codes, random_model
from spec_reference import run_sample


def one_neuron(w=1, b=0, theta=3, K=2, bipolar=True, reset="subtract", leak=0, T=1,
               v_bits=16, in_bits=8):
    """in -> one CF neuron -> readout that copies its spike."""
    return Model(T=T, in_bits=in_bits, v_bits=v_bits, w_bits=8, acc_bits=24, layers=[
        Layer("cf", np.array([[w]]), np.array([b]), np.array([theta]), K=K, bipolar=bipolar,
              reset=reset, leak_shift=leak),
        Layer("readout", np.array([[1]]), np.array([0]), None)]).validate()


def step(model, codes_per_step):
    """Run one sample with one code per step; return (spikes [T], membranes [T])."""
    x = np.array(codes_per_step, dtype=np.int64).reshape(1, model.T, 1)
    r = golden.run(model, x, record_membranes=True)
    return r.spikes[0][0, :, 0].tolist(), r.membranes[0][0, :, 0].tolist()


@pytest.mark.parametrize("code,spike,residue", [
    (0, 0, 0), (2, 0, 2), (3, 1, 0), (5, 1, 2), (6, 2, 0), (9, 2, 3), (255, 2, 249)])
def test_positive_circulation_and_ties(code, spike, residue):
    # exactly k * theta fires k; beyond K * theta the residue keeps circulating
    assert step(one_neuron(), [code]) == ([spike], [residue])


@pytest.mark.parametrize("bipolar,spike,residue", [(True, -2, 0), (False, 0, -6)])
def test_negative_side(bipolar, spike, residue):
    assert step(one_neuron(w=-1, bipolar=bipolar), [6]) == ([spike], [residue])


def test_zero_reset():
    m = one_neuron(reset="zero", T=2)
    assert step(m, [5, 2]) == ([1, 0], [0, 2])


def test_saturation_both_ends():
    # v_bits = 6: H saturates to [-32, 31] before firing
    assert step(one_neuron(w=1, theta=10, K=7, v_bits=6), [200]) == ([3], [1])
    assert step(one_neuron(w=-1, theta=10, K=7, v_bits=6), [200]) == ([-3], [-2])


def test_most_negative_membrane_theta_one():
    # H = -32768: |H| needs 17 bits; theta = 1, K = 7 fires -7
    m = one_neuron(w=-128, b=-1000, theta=1, K=7, v_bits=16)   # a = -33640 saturates
    s, u = step(m, [255])
    assert (s, u) == ([-7], [-32768 + 7])


def test_leak_shift_15_on_negative_membrane():
    # U = -1: U - (U >> 15) = -1 - (-1) = 0 (arithmetic shift floors)
    m = one_neuron(w=-1, theta=3, K=1, bipolar=False, leak=15, T=2)
    s, u = step(m, [1, 0])
    assert (s, u) == ([0, 0], [-1, 0])
    m = one_neuron(w=1, theta=100, K=1, leak=15, T=2)
    assert step(m, [99, 0]) == ([0, 0], [99, 99])


def test_leak_shift_1():
    m = one_neuron(w=1, theta=100, K=1, leak=1, T=3)
    # 7 -> 7 - 3 = 4 -> 4 - 2 = 2
    assert step(m, [7, 0, 0]) == ([0, 0, 0], [7, 4, 2])
    m = one_neuron(w=-1, theta=100, K=1, leak=1, T=2)
    # -7 -> -7 - floor(-7/2) = -7 + 4 = -3
    assert step(m, [7, 0]) == ([0, 0], [-7, -3])


def test_readout_argmax_ties_go_to_lowest_index():
    m = Model(T=1, in_bits=1, layers=[
        Layer("cf", np.array([[1]]), np.array([0]), np.array([1]), K=1, bipolar=True),
        Layer("readout", np.array([[1], [2], [2]]), np.array([0, 0, 0]), None)]).validate()
    r = golden.run(m, np.array([[1], [0]]))
    assert_array_equal(r.logits, [[1, 2, 2], [0, 0, 0]])
    assert_array_equal(r.predictions, [1, 0])


def test_events_and_bound():
    m = Model(T=2, in_bits=2, layers=[
        Layer("cf", np.ones((3, 4), np.int64), np.zeros(3, np.int64), np.full(3, 2), K=1,
              reset="zero"),
        Layer("readout", np.ones((2, 3), np.int64), np.zeros(2, np.int64), None)]).validate()
    x = np.array([[[1, 0, 3, 0], [0, 0, 0, 0]]])
    r = golden.run(m, x)
    # step 0: 2 non-zero inputs -> a = 4 >= theta: all 3 neurons fire; step 1: nothing
    assert_array_equal(r.input_events[0], [[2, 0], [3, 0]])
    assert_array_equal(r.synops[0], [[6, 0], [6, 0]])
    assert_array_equal(r.event_bound(lanes=4), [2 + 2])   # ceil(6/4) + ceil(6/4)
    assert_array_equal(r.spike_counts(), [[3]])


@pytest.mark.parametrize("trial", range(40))
def test_golden_equals_scalar_spec(trial, seeded_rng):
    model = random_model(seeded_rng, max_width=10, T=int(seeded_rng.integers(1, 6)))
    x = random_codes(seeded_rng, model, 4)
    r = golden.run(model, x)
    for b in range(len(x)):
        logits, spikes = run_sample(model, x[b].tolist())
        assert_array_equal(r.logits[b], logits)
        for got, want in zip(r.spikes, spikes):
            assert_array_equal(got[b], want)


def test_static_equals_repeated_frames(seeded_rng):
    model = random_model(seeded_rng)
    x = random_codes(seeded_rng, model, 5, static=True)
    a = golden.run(model, x)
    b = golden.run(model, np.repeat(x[:, None, :], model.T, axis=1))
    assert_array_equal(a.logits, b.logits)
    for s1, s2 in zip(a.spikes, b.spikes):
        assert_array_equal(s1, s2)


@pytest.mark.parametrize("bad,msg", [
    (np.zeros((2, 3)), "shaped"), (np.full((1, 4), 16), r"\[0, 15\]"), (np.full((1, 4), -1), "lie in"),
    (np.full((1, 4), 0.5), "integers"), (np.zeros((1, 5, 4)), "shaped")])
def test_bad_codes(bad, msg):
    m = Model(T=2, in_bits=4, layers=[Layer("readout", np.ones((2, 4), np.int64),
                                            np.zeros(2, np.int64), None)]).validate()
    with pytest.raises(DataError, match=msg):
        golden.run(m, bad)
