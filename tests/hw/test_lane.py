"""CFLane (Amaranth simulator) against the golden model's per-neuron function."""

from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.sim import Simulator
from numpy.testing import assert_array_equal

from cfsnn import formats as F
from cfsnn.golden import neuron_update
from cfsnn_hw import CFLane


def lane_run(vectors, v_bits=16, acc_bits=24):
    """vectors: dicts of lane inputs; returns (u_next, spike) arrays."""
    dut = CFLane(v_bits=v_bits, acc_bits=acc_bits)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out = []

    async def tb(ctx):
        # one vector per cycle; a result comes out CFLane.LATENCY cycles after its vector
        for i in range(len(vectors) + CFLane.LATENCY):
            if i < len(vectors):
                v = vectors[i]
                for k, x in v.items():
                    if k == "acc":
                        x = v["acc"] + v["bias"]         # the lane takes a = W s + b
                    if k != "bias":
                        ctx.set(getattr(dut, k), x)
            if i >= CFLane.LATENCY:
                out.append((ctx.get(dut.u_next), ctx.get(dut.spike)))
            await ctx.tick()
    sim.add_testbench(tb)
    sim.run()
    return np.array(out).T


def golden_lane(v, model_vbits):
    vmin, vmax = F.signed_range(model_vbits)
    layer = SimpleNamespace(kind="readout" if v["readout"] else "cf", K=v["k"],
                            theta=v["theta"], bipolar=bool(v["bipolar"]),
                            reset="zero" if v["reset_zero"] else "subtract",
                            leak_shift=v["leak"])
    u, s = neuron_update(np.array([v["u"]]), v["acc"] + v["bias"], layer, vmin, vmax)
    return int(u[0]), int(s[0])


def random_vectors(rng, n, v_bits, model_vbits, extreme=False):
    vmin, vmax = F.signed_range(model_vbits)
    vs = []
    for _ in range(n):
        k = int(rng.integers(1, F.K_MAX + 1))
        if extreme:
            theta = int(rng.choice([1, 2, vmax, max(1, vmax // 7)]))
            u = int(rng.choice([vmin, vmax, 0, -1, 1]))
            acc = int(rng.choice([-(1 << 20), (1 << 20), 0, theta * k, -theta * k, theta * k - 1]))
        else:
            theta = int(rng.integers(1, max(2, vmax // (k + 1))))
            u = int(rng.integers(vmin, vmax + 1))
            acc = int(rng.integers(-4 * theta * k, 4 * theta * k + 1))
        vs.append(dict(acc=acc, bias=int(rng.integers(-theta, theta + 1)), u=u, theta=theta,
                       k=k, leak=int(rng.choice([0, 1, 2, 5, 15])),
                       bipolar=int(rng.integers(2)), reset_zero=int(rng.integers(2)),
                       readout=int(rng.random() < 0.15), vmin=vmin, vmax=vmax))
    return vs


@pytest.mark.parametrize("v_bits,model_vbits,extreme", [(16, 16, False), (16, 16, True),
                                                        (16, 8, False), (12, 6, True)])
def test_lane_equals_golden(v_bits, model_vbits, extreme, seeded_rng):
    vs = random_vectors(seeded_rng, 400, v_bits, model_vbits, extreme)
    u, s = lane_run(vs, v_bits=v_bits)
    want = np.array([golden_lane(v, model_vbits) for v in vs]).T
    assert_array_equal(u, want[0])
    assert_array_equal(s, want[1])


def test_lane_edge_cases():
    vmin, vmax = F.signed_range(16)
    base = dict(bias=0, k=7, leak=0, bipolar=1, reset_zero=0, readout=0, vmin=vmin, vmax=vmax)
    cases = [
        dict(base, acc=21, u=0, theta=3),            # tie at exactly 7 theta
        dict(base, acc=20, u=0, theta=3),            # just below
        dict(base, acc=-40000, u=0, theta=1),        # saturates at the most negative membrane
        dict(base, acc=40000, u=0, theta=1),         # saturates at the top
        dict(base, acc=0, u=-1, theta=5, leak=15),   # leak shift 15 of -1
        dict(base, acc=0, u=vmin, theta=1, leak=15),
        dict(base, acc=9, u=0, theta=3, k=2, reset_zero=1),
        dict(base, acc=-9, u=0, theta=3, bipolar=0),
    ]
    u, s = lane_run(cases)
    want = np.array([golden_lane(v, 16) for v in cases]).T
    assert_array_equal(u, want[0])
    assert_array_equal(s, want[1])
    assert s.tolist()[:4] == [7, 6, -7, 7]


@pytest.mark.parametrize("kw,err", [(dict(v_bits=2), ValueError), (dict(v_bits=30, acc_bits=24), ValueError),
                                    (dict(v_bits="16"), TypeError)])
def test_lane_rejects_bad_parameters(kw, err):
    with pytest.raises(err):
        CFLane(**kw)
