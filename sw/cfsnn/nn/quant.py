"""Quantisation-aware linear layers (SPEC section 4).

Weights are quantised symmetrically to ``w_bits`` with one scale per output channel (CF
layers) or one per layer (the readout). Because hidden spikes are integers, a CF layer's
per-channel scale sigma_i folds exactly into its integer threshold and bias::

    theta_i = round(theta / d_i),  b_i = round(b / d_i),  d_i = sigma_i * in_scale

where ``in_scale`` is the float value of one input unit: 1/(2^in_bits - 1) for the first
layer (it sees codes) and 1 for layers fed by spikes. The quantised network then needs no
rescaling multipliers. During quantisation-aware training (``qat=True``) the forward pass
uses the fake-quantised weights round(W/sigma)*sigma and bias round(b/d)*d with a
straight-through gradient.
"""

from __future__ import annotations

import torch
from torch import nn

from .. import formats as F


def fake_quant(x: torch.Tensor, step: torch.Tensor, qmin=None, qmax=None) -> torch.Tensor:
    """round(x/step)*step (optionally clamped in units of step), straight-through gradient."""
    q = torch.round(x / step)
    if qmin is not None:
        q = q.clamp(qmin, qmax)
    return x + (q * step - x).detach()


class QuantLinear(nn.Linear):
    """``nn.Linear`` with symmetric fake-quantised weights and bias.

    Parameters
    ----------
    n_in, n_out : sizes
    w_bits : weight width
    per_channel : one scale per output channel (True) or per layer (False)
    in_scale : float value of one integer input unit
    min_scale : lower bound of the weight scale; keeps folded thresholds representable
    qat : use fake-quantised weights in forward
    """

    def __init__(self, n_in: int, n_out: int, *, w_bits: int = 8, per_channel: bool = True,
                 in_scale: float = 1.0, min_scale: float = 1e-8, qat: bool = True):
        super().__init__(n_in, n_out)
        if not (isinstance(w_bits, int) and F.W_BITS_RANGE[0] <= w_bits <= F.W_BITS_RANGE[1]):
            raise ValueError(f"w_bits must be an int in {F.W_BITS_RANGE}, not {w_bits!r}")
        if not in_scale > 0:
            raise ValueError(f"in_scale must be > 0, not {in_scale!r}")
        self.w_bits, self.per_channel = w_bits, bool(per_channel)
        self.in_scale, self.min_scale, self.qat = float(in_scale), float(min_scale), bool(qat)

    @property
    def qmax(self) -> int:
        return F.weight_qmax(self.w_bits)

    def scale(self) -> torch.Tensor:
        """Weight scale sigma, shape [n_out] (equal entries when per-layer); no gradient."""
        w = self.weight.detach().abs()
        amax = w.amax(dim=1) if self.per_channel else w.amax().expand(self.out_features)
        return torch.clamp(amax / self.qmax, min=self.min_scale)

    def unit(self) -> torch.Tensor:
        """d = sigma * in_scale: the float value of one unit of this layer's accumulator."""
        return self.scale() * self.in_scale

    def effective(self):
        """(weight, bias) used in forward."""
        if not self.qat:
            return self.weight, self.bias
        s = self.scale()
        w = fake_quant(self.weight, s[:, None], -self.qmax, self.qmax)
        b = fake_quant(self.bias, s * self.in_scale)
        return w, b

    def integer(self):
        """Integer weight [out, in] and bias [out] (int64 tensors) and the unit d [out]."""
        s = self.scale()
        d = s * self.in_scale
        w = torch.round(self.weight.detach() / s[:, None]).clamp(-self.qmax, self.qmax)
        b = torch.round(self.bias.detach() / d)
        return w.to(torch.int64), b.to(torch.int64), d

    def forward(self, x):
        w, b = self.effective()
        return nn.functional.linear(x, w, b)

    def extra_repr(self) -> str:
        return (super().extra_repr() + f", w_bits={self.w_bits}, per_channel={self.per_channel}, "
                f"qat={self.qat}")
