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
    def forward(I, alpha, theta, K, bipolar, reset, lam, detach_reset):
        T = I.shape[0]
        H = torch.empty(I.shape, dtype=I.dtype)
        S = torch.empty(I.shape, dtype=I.dtype)
        stats = torch.empty(T, 2, dtype=I.dtype)
        U = torch.zeros(I.shape[1:], dtype=I.dtype)
        lo = -K if bipolar else 0
        buf = torch.empty_like(U)
        for t in range(T):
            Ht, St = H[t], S[t]
            if t == 0:
                Ht.copy_(I[0])
            elif lam == 1.0:
                torch.add(I[t], U, out=Ht)
            else:
                torch.add(I[t], U, alpha=lam, out=Ht)
            # fire
            torch.div(Ht, theta, out=St)
            St.trunc_().clamp_(lo, K)
            # PNB statistics: sum relu(h), sum relu(-h) with h = H/theta
            tot = Ht.sum()
            torch.abs(Ht, out=buf)
            ab = buf.sum()
            stats[t, 0] = (ab + tot) / (2 * theta)
            stats[t, 1] = (ab - tot) / (2 * theta)
            # reset
            if reset == "subtract":
                torch.add(Ht, St, alpha=-theta, out=U)
            else:
                U.copy_(Ht).masked_fill_(St != 0, 0)
        return S, stats, H

    @staticmethod
    def setup_context(ctx, inputs, output):
        I, alpha, theta, K, bipolar, reset, lam, detach_reset = inputs
        S, stats, H = output
        ctx.save_for_backward(H, S, alpha)
        ctx.cfg = (theta, K, bipolar, reset, lam, detach_reset)
        ctx.input_shape = I.shape
        ctx.mark_non_differentiable(H)

    @staticmethod
    def backward(ctx, gS, gstats, _gH):
        H, S, alpha = ctx.saved_tensors
        theta, K, bipolar, reset, lam, detach_reset = ctx.cfg
        T = H.shape[0]
        learn_alpha = ctx.needs_input_grad[1]
        edges = _edges(K, bipolar)
        alphas = alpha.detach().tolist()
        gI = torch.empty_like(H)
        galpha = torch.zeros(T, dtype=H.dtype) if learn_alpha else None
        shape = H.shape[1:]
        hz = torch.empty(shape, dtype=H.dtype)
        z = torch.empty_like(hz)
        r = torch.empty_like(hz)
        accg = torch.empty_like(hz)
        acczr = torch.empty_like(hz) if learn_alpha else None
        gse = torch.empty_like(hz)
        gU = None  # gradient flowing into U[t] from step t+1
        full_reset_grad = reset == "subtract" and not detach_reset
        gstats_l = gstats.tolist() if gstats is not None else None
        for t in range(T - 1, -1, -1):
            Ht = H[t]
            a = alphas[t]
            c = math.pi * a / 2
            # z_e = pi a x / 2 with x = h - e = H/theta - e
            torch.mul(Ht, c / theta, out=hz)
            accg.zero_()
            if learn_alpha:
                acczr.zero_()
            for e in edges:
                torch.sub(hz, e * c, out=z)
                torch.mul(z, z, out=r)
                r.add_(1.0).reciprocal_()
                accg.add_(r)
                if learn_alpha:
                    acczr.addcmul_(z, r)
            # effective gradient into S[t]
            if gS is not None:
                gse.copy_(gS[t])
            else:
                gse.zero_()
            if full_reset_grad and gU is not None:
                gse.add_(gU, alpha=-theta)
            if learn_alpha:
                galpha[t] = torch.dot(gse.reshape(-1), acczr.reshape(-1)) / (2 * c)
            gIt = gI[t]
            torch.mul(gse, accg, out=gIt)
            gIt.mul_(a / (2 * theta))
            if gU is not None:
                if reset == "zero":
                    gIt.add_(gU.masked_fill_(S[t] != 0, 0))
                else:
                    gIt.add_(gU)
            if gstats_l is not None:
                gp, gn = gstats_l[t]
                if gp != 0.0 or gn != 0.0:
                    gIt.add_((Ht > 0).to(H.dtype), alpha=gp / theta)
                    gIt.sub_((Ht < 0).to(H.dtype), alpha=gn / theta)
            if t > 0:
                if gU is None:
                    gU = torch.empty_like(hz)
                torch.mul(gIt, lam, out=gU)
        return gI, galpha, None, None, None, None, None, None


def _check(I, alpha, theta, K, bipolar, reset):
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
                 detach_reset: bool = True):
    """Run the CF neuron over all steps.

    Parameters
    ----------
    I : input current [T, B, ...]
    alpha : surrogate width for each step, [T], > 0 (may require grad: TSL-SG)
    theta, K, bipolar, reset, lam : neuron parameters (SPEC section 1)
    detach_reset : if True the reset path U = H - theta S passes no surrogate gradient
        (dU/dH = 1); if False it passes 1 - theta dS/dH. Zero reset is always detached.

    Returns
    -------
    S : spikes [T, B, ...], integers in [lo, K] stored as floats
    stats : [T, 2], per step sum(relu(H/theta)) and sum(relu(-H/theta)), differentiable
    H : membrane before reset [T, B, ...], no gradient
    """
    _check(I, alpha, theta, K, bipolar, reset)
    return CFMultiStep.apply(I, alpha.to(I.dtype), float(theta), int(K), bool(bipolar), reset,
                             float(lam), bool(detach_reset))


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
