"""Losses: the task loss (plain or TET-style) and the positive-negative balanced loss."""

from __future__ import annotations

import torch
from torch.nn import functional as Fn

from .net import CFOutput


def task_loss(out: CFOutput, target: torch.Tensor, tet: bool = False) -> torch.Tensor:
    """Cross-entropy of the readout.

    Default: on the time-averaged readout, logits / T (with the default non-leaky readout
    that is the mean over steps of the readout input; the argmax is that of the logits).
    ``tet=True``: the mean over steps t of the cross-entropy of the running average
    U[t] / (t + 1) (TET-style: every step is asked to classify).
    """
    T = out.readout.shape[0]
    if not tet:
        return Fn.cross_entropy(out.logits / T, target)
    steps = torch.arange(1, T + 1, dtype=out.readout.dtype)[:, None, None]
    avg = out.readout / steps                              # [T, B, C]
    return Fn.cross_entropy(avg.flatten(0, 1), target.repeat(T))


def pnb_terms(out: CFOutput) -> tuple[torch.Tensor, torch.Tensor]:
    """P and N of every CF layer (SPEC section 3): mean relu(h) and mean relu(-h), h = H/theta.

    Returns two tensors of shape [L_cf].
    """
    Ps, Ns = [], []
    for S, st in zip(out.spikes, out.stats):
        n = S.numel()
        Ps.append(st[:, 0].sum() / n)
        Ns.append(st[:, 1].sum() / n)
    if not Ps:
        z = torch.zeros(0)
        return z, z
    return torch.stack(Ps), torch.stack(Ns)


def pnb_loss(out: CFOutput) -> torch.Tensor:
    """L_pnb = mean over CF layers of (P - N)^2."""
    P, N = pnb_terms(out)
    if P.numel() == 0:
        return torch.zeros(())
    return ((P - N) ** 2).mean()
