"""The CF neuron's hand-written forward and backward against the autograd definition."""

import pytest
import torch

from cfsnn.nn import CFNeuron, cf_multistep, cf_multistep_reference
from cfsnn.nn.functional import smooth_primitive

CONFIGS = [  # K, bipolar, reset, detach_reset, lam
    (2, True, "subtract", True, 0.5), (2, True, "subtract", False, 0.75),
    (1, False, "zero", True, 0.5), (1, False, "subtract", True, 1.0),
    (1, True, "subtract", True, 0.875), (3, False, "subtract", False, 1.0),
    (7, True, "zero", True, 1 - 2 ** -15),
]


def run(fn, I, alpha, w, ws, **kw):
    S, st, H = fn(I, alpha, **kw)
    loss = (S * w).sum() + (st * ws).sum()
    gI, ga = torch.autograd.grad(loss, (I, alpha))
    return S.detach(), st.detach(), H, gI, ga


@pytest.mark.parametrize("backend", ["numba", "torch"])
@pytest.mark.parametrize("cfg", CONFIGS)
def test_matches_reference_float64(backend, cfg, seeded_rng):
    K, bipolar, reset, detach, lam = cfg
    g = torch.Generator().manual_seed(int(seeded_rng.integers(2**31)))
    T, theta = 6, 0.7
    I = (torch.randn(T, 3, 50, generator=g, dtype=torch.float64) * 1.5).requires_grad_()
    alpha = (torch.rand(T, generator=g, dtype=torch.float64) * 3 + 0.5).requires_grad_()
    w = torch.randn(T, 3, 50, generator=g, dtype=torch.float64)
    ws = torch.randn(T, 2, generator=g, dtype=torch.float64)
    kw = dict(theta=theta, K=K, bipolar=bipolar, reset=reset, lam=lam, detach_reset=detach)
    got = run(lambda *a, **k: cf_multistep(*a, **k, backend=backend), I, alpha, w, ws, **kw)
    want = run(cf_multistep_reference, I, alpha, w, ws, **kw)
    for name, a, b in zip(["S", "stats", "H", "grad I", "grad alpha"], got, want):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9, msg=name)
    # spikes are integers in range
    S = got[0]
    assert torch.equal(S, S.round()) and S.max() <= K and S.min() >= (-K if bipolar else 0)


def test_backends_agree_float32(seeded_rng):
    g = torch.Generator().manual_seed(int(seeded_rng.integers(2**31)))
    I = (torch.randn(8, 16, 300, generator=g) * 2).requires_grad_()
    alpha = torch.full((8,), 4.0, requires_grad=True)
    w = torch.randn(8, 16, 300, generator=g)
    ws = torch.randn(8, 2, generator=g)
    a = run(lambda *x, **k: cf_multistep(*x, **k, backend="numba"), I, alpha, w, ws, K=2)
    b = run(lambda *x, **k: cf_multistep(*x, **k, backend="torch"), I, alpha, w, ws, K=2)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, rtol=1e-4, atol=1e-4)


def test_surrogate_integrates_to_staircase():
    # the bump of each edge integrates to 1: G(a, +inf) - G(a, -inf) = 1, for any a
    for a in (0.5, 2.0, 8.0):
        a = torch.tensor(a, dtype=torch.float64)
        hi = smooth_primitive(a, torch.tensor(1e9, dtype=torch.float64))
        lo = smooth_primitive(a, torch.tensor(-1e9, dtype=torch.float64))
        torch.testing.assert_close(hi - lo, torch.tensor(1.0, dtype=torch.float64))


def test_static_expanded_input_gradient(seeded_rng):
    """An input expanded over time (direct encoding) gets the sum of per-step gradients."""
    g = torch.Generator().manual_seed(int(seeded_rng.integers(2**31)))
    x = torch.randn(4, 20, generator=g, dtype=torch.float64, requires_grad=True)
    alpha = torch.full((5,), 3.0, dtype=torch.float64)
    for backend in ("numba", "torch"):
        S, _, _ = cf_multistep(x.unsqueeze(0).expand(5, 4, 20), alpha, backend=backend)
        (gx,) = torch.autograd.grad(S.sum(), x)
        S2, _, _ = cf_multistep_reference(x.unsqueeze(0).expand(5, 4, 20), alpha)
        (gx2,) = torch.autograd.grad(S2.sum(), x)
        torch.testing.assert_close(gx, gx2)


@pytest.mark.parametrize("surrogate,n", [("step", 4), ("layer", 1), ("fixed", 0)])
def test_surrogate_modes(surrogate, n):
    neuron = CFNeuron(4, surrogate=surrogate)
    assert sum(p.numel() for p in neuron.parameters()) == n
    I = torch.randn(4, 2, 8, requires_grad=True)
    neuron(I).sum().backward()
    if n:
        assert neuron.log_alpha.grad is not None and neuron.log_alpha.grad.shape == (n,)
    assert torch.all(neuron.alpha > 0) and neuron.alpha.shape == (4,)


@pytest.mark.parametrize("kw,msg", [
    (dict(K=0), "K"), (dict(K=8), "K"), (dict(reset="hard"), "reset"), (dict(leak_shift=16), "leak_shift"),
    (dict(theta=0), "theta"), (dict(surrogate="x"), "surrogate"), (dict(backend="cuda"), "backend"),
    (dict(alpha_init=0), "alpha_init")])
def test_neuron_rejects_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        CFNeuron(4, **kw)


def test_numba_refuses_non_cpu():
    I = torch.empty(2, 3, 4, device="meta")
    with pytest.raises(ValueError, match="CPU"):
        cf_multistep(I, torch.ones(2, device="meta"), backend="numba")


def test_presets_are_one_class():
    from cfsnn.nn import PRESETS
    lif = CFNeuron(3, **{**PRESETS["lif"]})
    x = torch.tensor([[[0.4, 1.5, -3.0, 2.0]]]).repeat(3, 1, 1)
    S = lif(x)
    # unipolar, K=1, zero reset: 1.5 fires then resets to 0 and charges again
    assert S[:, 0, 1].tolist() == [1.0, 1.0, 1.0]
    assert S[:, 0, 2].tolist() == [0.0, 0.0, 0.0]
    cf = CFNeuron(1, K=2)
    assert cf(torch.tensor([[[2.5, -2.5, 7.0]]])).flatten().tolist() == [2.0, -2.0, 2.0]
