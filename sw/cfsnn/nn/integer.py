"""Integer mode in PyTorch: SPEC section 4 with torch int64 arithmetic.

It runs an exported :class:`~cfsnn.model.Model` and must give exactly the logits and spikes
of :mod:`cfsnn.golden` (numpy); the tests compare the two for equality. It is an independent
implementation (int64 matmul, torch shifts and floor division), so that a slip in one is
caught by the other.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..golden import check_codes
from ..model import Model


@dataclass
class IntOutput:
    """logits int64 [B, C]; predictions int64 [B]; spikes: list of int8 [B, T, N] per CF layer."""

    logits: torch.Tensor
    predictions: torch.Tensor
    spikes: list


def run_int(model: Model, codes) -> IntOutput:
    x = torch.from_numpy(check_codes(model, codes))  # [B, T or 1, N_in] int64
    B, T = x.shape[0], model.T
    vmin, vmax = model.formats.v_range
    Ws = [torch.as_tensor(l.weight, dtype=torch.int64) for l in model.layers]
    bs = [torch.as_tensor(l.bias, dtype=torch.int64) for l in model.layers]
    ths = [torch.as_tensor(l.theta, dtype=torch.int64) if l.theta is not None else None
           for l in model.layers]
    U = [torch.zeros(B, l.n_out, dtype=torch.int64) for l in model.layers]
    spikes = [torch.zeros(B, T, l.n_out, dtype=torch.int8) for l in model.layers if l.kind == "cf"]
    for t in range(T):
        s = x[:, 0 if x.shape[1] == 1 else t]
        ci = 0
        for i, l in enumerate(model.layers):
            a = s @ Ws[i].T + bs[i]
            u = U[i]
            k = l.leak_shift
            leaked = u - torch.bitwise_right_shift(u, k) if k > 0 else u
            H = torch.clamp(leaked + a, vmin, vmax)
            if l.kind == "readout":
                U[i] = H
                continue
            m = torch.clamp(torch.div(H.abs(), ths[i], rounding_mode="floor"), max=l.K)
            S = torch.where(H >= 0, m, -m if l.bipolar else torch.zeros_like(m))
            U[i] = H - S * ths[i] if l.reset == "subtract" else torch.where(S != 0, 0, H)
            spikes[ci][:, t] = S.to(torch.int8)
            ci += 1
            s = S
    logits = U[-1]
    return IntOutput(logits=logits, predictions=torch.argmax(logits, dim=1), spikes=spikes)
