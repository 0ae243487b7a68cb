"""CFNet: a multilayer CF network, its float forward, its export and its integer mode."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .. import formats as F
from ..model import Layer, Model
from .integer import IntOutput, run_int
from .neuron import CFNeuron
from .quant import QuantLinear


@dataclass
class CFOutput:
    """Float forward result.

    Attributes
    ----------
    logits : [B, C], readout membrane after the last step
    readout : [T, B, C], readout membrane after every step
    spikes : list of [T, B, N] per CF layer (float tensors holding integers)
    stats : list of [T, 2] per CF layer: sum relu(h), sum relu(-h) (PNB loss)
    """

    logits: torch.Tensor
    readout: torch.Tensor
    spikes: list
    stats: list


def codes_to_steps(codes: torch.Tensor, T: int, n_in: int) -> tuple[torch.Tensor, bool]:
    """[B, N_in] (static) or [B, T, N_in] codes -> ([B, N_in] or [T, B, N_in], static)."""
    if codes.dim() == 2 and codes.shape[1] == n_in:
        return codes, True
    if codes.dim() == 3 and codes.shape[1:] == (T, n_in):
        return codes.transpose(0, 1), False
    raise ValueError(f"codes must be shaped [B, {n_in}] or [B, {T}, {n_in}], "
                     f"found {tuple(codes.shape)}")


class CFNet(nn.Module):
    """Fully connected CF network: n_in -> hidden... (CF layers) -> n_classes (readout).

    The input is a batch of unsigned codes, [B, N_in] (direct encoding, the same codes at
    every step) or [B, T, N_in] (one frame per step); the float model sees
    code / (2^in_bits - 1). Keyword arguments after ``n_classes`` configure every CF layer
    (see :class:`CFNeuron`) and the integer formats.
    """

    def __init__(self, n_in: int, hidden, n_classes: int, *, T: int = 4, in_bits: int = 4,
                 K: int = 2, bipolar: bool = True, reset: str = "subtract", leak_shift: int = 1,
                 theta: float = 1.0, surrogate: str = "step", alpha_init: float = 2.0,
                 detach_reset: bool = True, readout_leak_shift: int = 0, w_bits: int = 8,
                 v_bits: int = 16, acc_bits: int = 24, qat: bool = True,
                 backend: str = "numba"):
        super().__init__()
        hidden = [int(h) for h in ([hidden] if isinstance(hidden, int) else hidden)]
        for name, v in (("n_in", n_in), ("n_classes", n_classes), *(("hidden", h) for h in hidden)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, not {v!r}")
        if n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, not {n_classes}")
        self.formats = F.Formats(in_bits=in_bits, w_bits=w_bits, v_bits=v_bits, acc_bits=acc_bits)
        if not (isinstance(readout_leak_shift, int) and 0 <= readout_leak_shift <= F.LEAK_SHIFT_MAX):
            raise ValueError(f"readout_leak_shift must be in [0, {F.LEAK_SHIFT_MAX}], "
                             f"not {readout_leak_shift!r}")
        self.config = dict(n_in=n_in, hidden=hidden, n_classes=n_classes, T=T, in_bits=in_bits,
                           K=K, bipolar=bipolar, reset=reset, leak_shift=leak_shift, theta=theta,
                           surrogate=surrogate, alpha_init=alpha_init, detach_reset=detach_reset,
                           readout_leak_shift=readout_leak_shift, w_bits=w_bits, v_bits=v_bits,
                           acc_bits=acc_bits)
        self.T, self.n_in, self.hidden = T, n_in, hidden
        self.readout_leak_shift = readout_leak_shift
        in_scale = 1.0 / self.formats.in_max
        # Lower bound of the weight scale so that the folded threshold stays <= theta_cap,
        # leaving room in the membrane for K + 1 thresholds before saturation.
        theta_cap = self.formats.v_range[1] // (K + 1)
        sizes = [n_in] + hidden
        self.fc = nn.ModuleList()
        self.neurons = nn.ModuleList()
        for i in range(len(hidden)):
            s_in = in_scale if i == 0 else 1.0
            self.fc.append(QuantLinear(sizes[i], sizes[i + 1], w_bits=w_bits, per_channel=True,
                                       in_scale=s_in, min_scale=theta / (s_in * theta_cap),
                                       qat=qat))
            self.neurons.append(CFNeuron(T, K=K, bipolar=bipolar, reset=reset,
                                         leak_shift=leak_shift, theta=theta, surrogate=surrogate,
                                         alpha_init=alpha_init, detach_reset=detach_reset,
                                         backend=backend))
        s_in = in_scale if not hidden else 1.0
        self.readout = QuantLinear(sizes[-1], n_classes, w_bits=w_bits, per_channel=False,
                                   in_scale=s_in, min_scale=1e-6 / s_in, qat=qat)

    # -- float -------------------------------------------------------------------------
    def set_qat(self, on: bool) -> None:
        for m in [*self.fc, self.readout]:
            m.qat = bool(on)

    def forward(self, codes: torch.Tensor) -> CFOutput:
        """Float forward on input codes [B, N_in] (static) or [B, T, N_in]."""
        x, static = codes_to_steps(codes, self.T, self.n_in)
        dt = torch.get_default_dtype()
        if static:
            return self.forward_frames(x.to(dt) / self.formats.in_max, static=True)
        frames = torch.empty(x.shape, dtype=dt).copy_(x)   # [T, B, N], contiguous
        return self.forward_frames(frames.div_(self.formats.in_max))

    def forward_frames(self, x: torch.Tensor, static: bool = False) -> CFOutput:
        """Float forward on normalised inputs: [T, B, N_in], or [B, N_in] if ``static``."""
        spikes, stats = [], []
        cur = x
        for i, (fc, neuron) in enumerate(zip(self.fc, self.neurons)):
            I = fc(cur)
            if i == 0 and static:   # the same current at every step: computed once
                I = I.unsqueeze(0).expand(self.T, *I.shape)
            S, st = neuron(I, return_stats=True)
            spikes.append(S)
            stats.append(st)
            cur = S
        Ir = self.readout(cur)
        if static and not self.fc:
            Ir = Ir.unsqueeze(0).expand(self.T, *Ir.shape)
        lam = F.leak_lambda(self.readout_leak_shift)
        if lam == 1.0:
            U = torch.cumsum(Ir, dim=0)
        else:
            us, u = [], torch.zeros_like(Ir[0])
            for t in range(self.T):
                u = lam * u + Ir[t]
                us.append(u)
            U = torch.stack(us)
        return CFOutput(logits=U[-1], readout=U, spikes=spikes, stats=stats)

    # -- integer -----------------------------------------------------------------------
    def export(self, meta: dict | None = None) -> Model:
        """The integer model (SPEC section 4) with per-channel scales folded into thresholds.

        Raises ModelError if the result breaks the contract (e.g. the accumulator could
        overflow acc_bits).
        """
        layers = []
        vmax = self.formats.v_range[1]
        for fc, n in zip(self.fc, self.neurons):
            w, b, d = fc.integer()
            theta = torch.round(n.theta / d).clamp(1, vmax).to(torch.int64)
            layers.append(Layer("cf", w.numpy(), b.numpy(), theta.numpy(), K=n.K,
                                bipolar=n.bipolar, reset=n.reset, leak_shift=n.leak_shift))
        w, b, _ = self.readout.integer()
        layers.append(Layer("readout", w.numpy(), b.numpy(), None,
                            leak_shift=self.readout_leak_shift))
        f = self.formats
        meta = dict(meta or {})
        meta.setdefault("config", self.config)
        meta.setdefault("readout_scale", float(self.readout.unit()[0]))
        return Model(T=self.T, layers=layers, in_bits=f.in_bits, v_bits=f.v_bits, w_bits=f.w_bits,
                     acc_bits=f.acc_bits, meta=meta).validate()

    def forward_int(self, codes) -> IntOutput:
        """Integer mode: the exported model run with torch integer arithmetic."""
        return run_int(self.export(), codes)
