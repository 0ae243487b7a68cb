"""Functional core of the circulate-firing (CF) neuron: float form, with TSL-SG backward.

Forward (SPEC section 1), for t = 0..T-1, U = 0 before t = 0::

    H[t] = lam * U[t-1] + I[t]                           charge
    S[t] = clamp(trunc(H[t] / theta), lo, K)             fire: sign(H) * min(K, floor(|H|/theta))
    U[t] = H[t] - theta * S[t]   or   0 where S[t] != 0  reset

``lo`` is -K for a bipolar layer and 0 for a unipolar one; ``trunc`` rounds toward zero, so
for H < 0 it gives -floor(|H|/theta), the bipolar negative spike, and the clamp at 0 gives
the unipolar case.

Backward (SPEC section 2): dS/dH is replaced by a sum of arctan bumps, one per step edge
(+-c for c in theta, 2 theta, ..., K theta), with a width alpha_t for each time step::

    dS/dH ~= sum_c g(alpha_t, (H - c)/theta) / theta,   g(a, x) = (a/2) / (1 + (pi a x / 2)^2)
    dS/dalpha_t ~= sum_c dG/da(alpha_t, (H - c)/theta), dG/da(a, x) = (x/2) / (1 + (pi a x/2)^2)

where G(a, x) = atan(pi a x / 2)/pi + 1/2 is the smooth primitive of the bump.
:func:`cf_multistep_reference` is that definition written with plain autograd (slow);
:class:`CFMultiStep` is the fast hand-written forward and backward over all steps, checked
against it in tests/nn/test_functional.py.

Speed: the loop runs over time steps on [B, N] slices, which stay in cache; every per-step
operation writes into a preallocated buffer. This keeps the neuron's cost near that of a
few element-wise passes over the layer output (see ``cfsnn bench train-step``).

The function also returns per-step sums of relu(h) and relu(-h), h = H/theta, which the
positive-negative balanced (PNB) loss uses (SPEC section 3), with their gradients.
"""

from __future__ import annotations

import math

import torch

RESETS = ("subtract", "zero")


def _edges(K: int, bipolar: bool) -> list[int]:
    return list(range(1, K + 1)) + ([-j for j in range(1, K + 1)] if bipolar else [])


class CFMultiStep(torch.autograd.Function):
    """Multi-step CF neuron. Inputs: I [T, B, ...], alpha [T]; see :func:`cf_multistep`."""

    @staticmethod
    def forward(I, alpha, theta, K, bipolar, reset, lam, detach_reset, backend):
        if backend == "numba":
            return _forward_numba(I, theta, K, bipolar, reset, lam)
        return _forward_torch(I, theta, K, bipolar, reset, lam)

    @staticmethod
    def setup_context(ctx, inputs, output):
        I, alpha, theta, K, bipolar, reset, lam, detach_reset, backend = inputs
        S, stats, H = output
        ctx.save_for_backward(H, S, alpha)
        ctx.cfg = (theta, K, bipolar, reset, lam, detach_reset, backend)
        ctx.mark_non_differentiable(H)
        ctx.set_materialize_grads(False)  # unused outputs give None, not big zero tensors

    @staticmethod
    def backward(ctx, gS, gstats, _gH):
        H, S, alpha = ctx.saved_tensors
        learn_alpha = ctx.needs_input_grad[1]
        *cfg, backend = ctx.cfg
        impl = _backward_numba if backend == "numba" else _backward_torch
        gI, galpha = impl(H, S, alpha, gS, gstats, learn_alpha, *cfg)
        return gI, galpha, None, None, None, None, None, None, None


def _forward_numba(I, theta, K, bipolar, reset, lam):
    from . import kernels
    T = I.shape[0]
    H = torch.empty(I.shape, dtype=I.dtype)
    S = torch.empty(I.shape, dtype=I.dtype)
    sums = kernels.forward(I.detach().reshape(T, -1).numpy(), theta, K, bipolar, reset, lam,
                           S.view(T, -1).numpy(), H.view(T, -1).numpy())
    tot, ab = torch.from_numpy(sums).to(I.dtype).unbind(1)
    stats = torch.stack([ab + tot, ab - tot], dim=1) / (2 * theta)
    return S, stats, H


def _backward_numba(H, S, alpha, gS, gstats, learn_alpha, theta, K, bipolar, reset, lam,
                    detach_reset):
    from . import kernels
    T = H.shape[0]
    gI = torch.empty_like(H)
    g = gS.contiguous() if gS is not None else torch.zeros_like(H)
    if gstats is not None:
        gp, gn = gstats.to(torch.float64).numpy().T
    else:
        gp = gn = torch.zeros(T, dtype=torch.float64).numpy()
    alphas = alpha.detach().to(torch.float64).numpy()
    dots = kernels.backward(H.view(T, -1).numpy(), S.view(T, -1).numpy(), g.view(T, -1).numpy(),
                            alphas, theta, K, bipolar, reset, lam,
                            reset == "subtract" and not detach_reset, gp, gn, learn_alpha,
                            gI.view(T, -1).numpy())
    galpha = None
    if learn_alpha:
        galpha = torch.from_numpy(dots / (2 * (math.pi * alphas / 2))).to(H.dtype)
    return gI, galpha


def _forward_torch(I, theta, K, bipolar, reset, lam):
    T = I.shape[0]
    H = torch.empty(I.shape, dtype=I.dtype)
    S = torch.empty(I.shape, dtype=I.dtype)
    sums = torch.empty(T, 2, dtype=I.dtype)   # per step: sum H, sum |H|
    U = torch.empty(I.shape[1:], dtype=I.dtype)
    buf = torch.empty_like(U)
    lo = -K if bipolar else 0
    for t in range(T):
        Ht, St = H[t], S[t]
        # charge
        if t == 0:
            Ht.copy_(I[0])
        elif lam == 1.0:
            torch.add(I[t], U, out=Ht)
        else:
            torch.add(I[t], U, alpha=lam, out=Ht)
        # fire: trunc(H / theta) = sign(H) floor(|H| / theta), clamped to [lo, K]
        torch.div(Ht, theta, rounding_mode="trunc", out=St)
        St.clamp_(lo, K)
        # statistics for the PNB loss
        torch.sum(Ht, dim=None, out=sums[t, 0])
        torch.abs(Ht, out=buf)
        torch.sum(buf, dim=None, out=sums[t, 1])
        # reset
        if t == T - 1:
            break
        if reset == "subtract":
            torch.add(Ht, St, alpha=-theta, out=U)
        else:  # U = H * (1 - min(|S|, 1)); arithmetic masks are faster than boolean ones
            torch.abs(St, out=buf).clamp_(max=1)
            torch.addcmul(Ht, Ht, buf, value=-1, out=U)
    tot, ab = sums[:, 0], sums[:, 1]
    stats = torch.stack([ab + tot, ab - tot], dim=1) / (2 * theta)
    return S, stats, H


def _backward_torch(H, S, alpha, gS, gstats, learn_alpha, theta, K, bipolar, reset, lam,
                detach_reset):
    T = H.shape[0]
    dt = H.dtype
    edges = _edges(K, bipolar)
    alphas = alpha.detach().tolist()
    gI = torch.empty_like(H)
    dots = torch.zeros(T, dtype=dt) if learn_alpha else None
    shape = H.shape[1:]
    hz = torch.empty(shape, dtype=dt)
    z = torch.empty_like(hz)
    r = torch.empty_like(hz)
    accg = torch.empty_like(hz)
    acczr = torch.empty_like(hz) if learn_alpha else None
    gse_buf = torch.empty_like(hz)
    gu_buf = torch.empty_like(hz)
    zero_g = torch.zeros_like(hz) if gS is None else None
    gU = None  # gradient flowing into U[t] from step t+1
    full_reset_grad = reset == "subtract" and not detach_reset
    gstats_l = gstats.tolist() if gstats is not None else None
    for t in range(T - 1, -1, -1):
        Ht = H[t]
        a = alphas[t]
        c = math.pi * a / 2
        # surrogate: accg = sum_e 1/(1+z_e^2), acczr = sum_e z_e/(1+z_e^2),
        # z_e = pi a x_e / 2, x_e = H/theta - e
        torch.mul(Ht, c / theta, out=hz)
        for n, e in enumerate(edges):
            torch.sub(hz, e * c, out=z)
            dst = accg if n == 0 else r
            torch.mul(z, z, out=dst).add_(1.0).reciprocal_()
            if n == 0:
                if learn_alpha:
                    torch.mul(z, accg, out=acczr)
            else:
                accg.add_(r)
                if learn_alpha:
                    acczr.addcmul_(z, r)
        # gradient reaching S[t], the reset path included when it is not detached
        gse = gS[t] if gS is not None else zero_g
        if full_reset_grad and gU is not None:
            gse = torch.add(gse, gU, alpha=-theta, out=gse_buf)
        if learn_alpha:
            torch.dot(gse.reshape(-1), acczr.reshape(-1), out=dots[t])
        # dL/dH[t] = gse * dS/dH + dL/dU[t] * dU/dH
        gIt = gI[t]
        if gU is None:
            torch.mul(gse, accg, out=gIt).mul_(a / (2 * theta))
        else:
            if reset == "zero":  # dU/dH = 1 - min(|S|, 1)
                torch.abs(S[t], out=z).clamp_(max=1)
                gU.addcmul_(gU, z, value=-1)
            torch.addcmul(gU, gse, accg, value=a / (2 * theta), out=gIt)
        if gstats_l is not None:
            # d/dH of gp * sum relu(h) + gn * sum relu(-h):
            # sign(H) (gp + gn) / 2theta + |sign(H)| (gp - gn) / 2theta, zero at H = 0
            gp, gn = gstats_l[t]
            if gp != 0.0 or gn != 0.0:
                torch.sign(Ht, out=z)
                if gp != -gn:
                    gIt.add_(z, alpha=(gp + gn) / (2 * theta))
                if gp != gn:
                    gIt.add_(z.abs_(), alpha=(gp - gn) / (2 * theta))
        if t > 0:
            if lam == 1.0 and reset != "zero":
                gU = gIt
            else:
                gU = torch.mul(gIt, lam, out=gu_buf)
    galpha = None
    if learn_alpha:
        cs = torch.tensor([math.pi * a / 2 for a in alphas], dtype=dt)
        galpha = dots / (2 * cs)
    return gI, galpha


BACKENDS = ("numba", "torch")


def _check(I, alpha, theta, K, bipolar, reset, backend="torch"):
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, found {backend!r}")
    if backend == "numba" and I.device.type != "cpu":
        raise ValueError(f"backend 'numba' runs on the CPU; the input is on {I.device} "
                         f"(use backend='torch')")
    if I.dim() < 2:
        raise ValueError(f"I must be shaped [T, B, ...], found {tuple(I.shape)}")
    if alpha.shape != (I.shape[0],):
        raise ValueError(f"alpha must have one value per step, shape ({I.shape[0]},), "
                         f"found {tuple(alpha.shape)}")
    if not theta > 0:
        raise ValueError(f"theta must be > 0, found {theta}")
    if not (isinstance(K, int) and K >= 1):
        raise ValueError(f"K must be an int >= 1, found {K!r}")
    if reset not in RESETS:
        raise ValueError(f"reset must be one of {RESETS}, found {reset!r}")


def cf_multistep(I: torch.Tensor, alpha: torch.Tensor, *, theta: float = 1.0, K: int = 2,
                 bipolar: bool = True, reset: str = "subtract", lam: float = 0.5,
                 detach_reset: bool = True, backend: str = "numba"):
    """Run the CF neuron over all steps.

    Parameters
    ----------
    I : input current [T, B, ...]
    alpha : surrogate width for each step, [T], > 0 (may require grad: TSL-SG)
    theta, K, bipolar, reset, lam : neuron parameters (SPEC section 1)
    detach_reset : if True the reset path U = H - theta S passes no surrogate gradient
        (dU/dH = 1); if False it passes 1 - theta dS/dH. Zero reset is always detached.
    backend : "numba" (fused CPU kernels, :mod:`cfsnn.nn.kernels`) or "torch" (tensor
        operations per step; any device). Both compute the same function; the choice is
        explicit and never switched behind the caller's back.

    Returns
    -------
    S : spikes [T, B, ...], integers in [lo, K] stored as floats
    stats : [T, 2], per step sum(relu(H/theta)) and sum(relu(-H/theta)), differentiable
    H : membrane before reset [T, B, ...], no gradient
    """
    _check(I, alpha, theta, K, bipolar, reset, backend)
    return CFMultiStep.apply(I, alpha.to(I.dtype), float(theta), int(K), bool(bipolar), reset,
                             float(lam), bool(detach_reset), backend)


def smooth_primitive(a, x):
    """G(a, x) = atan(pi a x / 2) / pi + 1/2, the primitive of the surrogate bump."""
    return torch.atan(math.pi * a * x / 2) / math.pi + 0.5


def cf_multistep_reference(I, alpha, *, theta=1.0, K=2, bipolar=True, reset="subtract",
                           lam=0.5, detach_reset=True):
    """The definition, unrolled with plain autograd (slow; for tests and documentation).

    Spikes are the hard staircase in the forward pass; gradients are those of the smooth
    primitive summed over the step edges (straight-through form ``S_hard + G - G.detach()``).
    """
    _check(I, alpha, theta, K, bipolar, reset)
    T = I.shape[0]
    U = torch.zeros_like(I[0])
    lo = -K if bipolar else 0
    Ss, Hs, stats = [], [], []
    for t in range(T):
        H = lam * U + I[t]
        hard = torch.clamp(torch.trunc(H / theta), lo, K).detach()
        a = alpha[t]
        G = sum(smooth_primitive(a, (H - j * theta) / theta) for j in range(1, K + 1))
        if bipolar:
            G = G - sum(smooth_primitive(a, (-H - j * theta) / theta) for j in range(1, K + 1))
        S = hard + (G - G.detach())
        if reset == "subtract":
            U = H - theta * (S.detach() if detach_reset else S)
        else:
            U = H * (hard == 0).to(H.dtype)
        h = H / theta
        stats.append(torch.stack([torch.relu(h).sum(), torch.relu(-h).sum()]))
        Ss.append(S)
        Hs.append(H.detach())
    return torch.stack(Ss), torch.stack(stats), torch.stack(Hs)
