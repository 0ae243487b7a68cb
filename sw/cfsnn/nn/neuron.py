"""Thin module wrappers around the functional core."""

from __future__ import annotations

import math

import torch
from torch import nn

from .. import formats as F
from .functional import BACKENDS, RESETS, cf_multistep

SURROGATES = ("fixed", "layer", "step")

#: Named neuron configurations: all are the same CF neuron (SPEC section 1).
PRESETS = {
    "cf": dict(bipolar=True, reset="subtract"),          # K >= 2 by default
    "lif": dict(K=1, bipolar=False, reset="zero"),        # LIF, hard reset
    "lif-soft": dict(K=1, bipolar=False, reset="subtract"),  # LIF, reset by subtraction
    "ternary": dict(K=1, bipolar=True, reset="subtract"),
}


class CFNeuron(nn.Module):
    """Multi-step circulate-firing neuron: input and output shaped [T, B, ...].

    Parameters
    ----------
    T : number of time steps (one surrogate width per step with ``surrogate="step"``)
    K : largest circulate count, spikes lie in [-K, K] (bipolar) or [0, K]
    bipolar : fire negative spikes for negative membrane potentials
    reset : "subtract" (the residue keeps circulating) or "zero"
    leak_shift : k of lam = 1 - 2^-k (0: no leak)
    theta : firing threshold (float units)
    surrogate : "step" (TSL-SG: a learnable alpha per step), "layer" (one learnable alpha),
        or "fixed" (alpha = alpha_init, not learned)
    alpha_init : initial surrogate width
    detach_reset : the reset path passes no surrogate gradient (see cf_multistep)
    backend : "numba" (fused CPU kernels, the fastest on CPU) or "torch" (any device)

    Attributes
    ----------
    alpha : tensor [T], the surrogate width of each step (always positive: exp of a parameter)
    """

    def __init__(self, T: int, K: int = 2, bipolar: bool = True, reset: str = "subtract",
                 leak_shift: int = 1, theta: float = 1.0, surrogate: str = "step",
                 alpha_init: float = 2.0, detach_reset: bool = True, backend: str = "numba"):
        super().__init__()
        if isinstance(T, bool) or not isinstance(T, int) or not 1 <= T <= F.T_MAX:
            raise ValueError(f"T must be an int in [1, {F.T_MAX}], not {T!r}")
        if isinstance(K, bool) or not isinstance(K, int) or not 1 <= K <= F.K_MAX:
            raise ValueError(f"K must be an int in [1, {F.K_MAX}], not {K!r}")
        if reset not in RESETS:
            raise ValueError(f"reset must be one of {RESETS}, not {reset!r}")
        if isinstance(leak_shift, bool) or not isinstance(leak_shift, int) \
                or not 0 <= leak_shift <= F.LEAK_SHIFT_MAX:
            raise ValueError(f"leak_shift must be an int in [0, {F.LEAK_SHIFT_MAX}], "
                             f"not {leak_shift!r}")
        if not (isinstance(theta, (int, float)) and theta > 0):
            raise ValueError(f"theta must be a positive number, not {theta!r}")
        if surrogate not in SURROGATES:
            raise ValueError(f"surrogate must be one of {SURROGATES}, not {surrogate!r}")
        if not alpha_init > 0:
            raise ValueError(f"alpha_init must be > 0, not {alpha_init!r}")
        self.T, self.K, self.bipolar, self.reset = T, K, bool(bipolar), reset
        self.leak_shift, self.theta, self.surrogate = leak_shift, float(theta), surrogate
        self.detach_reset = bool(detach_reset)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.backend = backend
        n = {"step": T, "layer": 1, "fixed": 1}[surrogate]
        init = torch.full((n,), math.log(alpha_init))
        if surrogate == "fixed":
            self.register_buffer("log_alpha", init)
        else:
            self.log_alpha = nn.Parameter(init)

    @property
    def lam(self) -> float:
        return F.leak_lambda(self.leak_shift)

    @property
    def alpha(self) -> torch.Tensor:
        return torch.exp(self.log_alpha).expand(self.T)

    def forward(self, I: torch.Tensor, return_stats: bool = False):
        if I.shape[0] != self.T:
            raise ValueError(f"input must be shaped [T={self.T}, B, ...], found {tuple(I.shape)}")
        S, stats, _ = cf_multistep(I, self.alpha, theta=self.theta, K=self.K,
                                   bipolar=self.bipolar, reset=self.reset, lam=self.lam,
                                   detach_reset=self.detach_reset, backend=self.backend)
        return (S, stats) if return_stats else S

    def extra_repr(self) -> str:
        return (f"T={self.T}, K={self.K}, bipolar={self.bipolar}, reset={self.reset!r}, "
                f"leak_shift={self.leak_shift}, theta={self.theta}, "
                f"surrogate={self.surrogate!r}, backend={self.backend!r}")
