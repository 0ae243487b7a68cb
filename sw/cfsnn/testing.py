"""Random models and inputs for tests and benches (pytest, cocotb, the driver tests).

Every generator takes a ``numpy.random.Generator``; callers seed it and print the seed.
The models deliberately reach the corners of the contract: theta = 1, K = 7, leak shift 15,
narrow membranes that saturate, weights at the ends of their range, all-zero inputs.
"""

from __future__ import annotations

import numpy as np

from . import formats as F
from .model import Layer, Model


def _bits_for(v: int) -> int:
    """Signed width that holds [-v, v]."""
    return max(1, int(v).bit_length()) + 1


def random_model(rng: np.random.Generator, *, n_layers: int | None = None,
                 max_width: int = 24, T: int | None = None, in_bits: int | None = None,
                 w_bits: int | None = None, v_bits: int | None = None,
                 n_in: int | None = None, n_classes: int | None = None,
                 extreme: bool | None = None) -> Model:
    """A valid random model; acc_bits is the smallest width that the weights need."""
    if extreme is None:
        extreme = bool(rng.random() < 0.3)
    n_layers = int(rng.integers(1, 4)) if n_layers is None else n_layers   # CF layers
    T = int(rng.integers(1, F.T_MAX + 1)) if T is None else T
    in_bits = int(rng.integers(1, 9)) if in_bits is None else in_bits
    w_bits = int(rng.integers(2, 9)) if w_bits is None else w_bits
    v_bits = int(rng.integers(6, 17)) if v_bits is None else v_bits
    n_in = int(rng.integers(1, max_width + 1)) if n_in is None else n_in
    n_classes = int(rng.integers(2, 11)) if n_classes is None else n_classes
    wlo, whi = F.signed_range(w_bits)
    vmax = F.signed_range(v_bits)[1]
    sizes = [n_in] + [int(rng.integers(1, max_width + 1)) for _ in range(n_layers)] + [n_classes]
    layers = []
    for i in range(n_layers + 1):
        n_i, n_o = sizes[i], sizes[i + 1]
        if extreme:
            w = rng.choice([wlo, whi, 0, 1, -1], size=(n_o, n_i))
        else:
            w = rng.integers(wlo, whi + 1, size=(n_o, n_i))
        w = w * (rng.random((n_o, n_i)) < rng.uniform(0.3, 1.0))       # some zero weights
        bmax = max(1, vmax // 4)
        b = rng.integers(-bmax, bmax + 1, size=n_o)
        leak = int(rng.choice([0, 1, 2, 4, 15])) if not extreme else int(rng.choice([0, 15]))
        if i < n_layers:
            K = int(rng.integers(1, F.K_MAX + 1)) if not extreme else int(rng.choice([1, F.K_MAX]))
            tmax = max(1, vmax // (K + 1)) if not extreme else vmax
            if extreme and rng.random() < 0.5:
                theta = np.ones(n_o, np.int64)
            else:
                theta = np.exp(rng.uniform(0, np.log(tmax), size=n_o)).astype(np.int64).clip(1, vmax)
            layers.append(Layer("cf", w.astype(np.int64), b.astype(np.int64), theta, K=K,
                                bipolar=bool(rng.random() < 0.6),
                                reset=str(rng.choice(F.RESETS)), leak_shift=leak))
        else:
            layers.append(Layer("readout", w.astype(np.int64), b.astype(np.int64), None,
                                leak_shift=leak))
    m = Model(T=T, layers=layers, in_bits=in_bits, v_bits=v_bits, w_bits=w_bits, acc_bits=48)
    need = max(max(int(abs(lo).max()), int(abs(hi).max())) for lo, hi in
               (m.acc_bounds(i) for i in range(len(layers))))
    m.acc_bits = min(F.ACC_BITS_RANGE[1], max(F.ACC_BITS_RANGE[0], v_bits, _bits_for(need)))
    return m.validate()


def fitting_model(rng: np.random.Generator, params, **kw) -> Model:
    """A :func:`random_model` (max_width 24 unless given) that a core built with ``params``
    (a cfsnn.memmap.BuildParams) runs with static and with per-step inputs."""
    kw.setdefault("max_width", 24)
    while True:
        m = random_model(rng, **kw)
        if not params.check_fits(m, dynamic=True) and m.acc_bits <= params.acc_bits:
            return m


def random_codes(rng: np.random.Generator, model: Model, batch: int,
                 static: bool | None = None, density: float | None = None) -> np.ndarray:
    """Input codes [B, N_in] (static) or [B, T, N_in]; some samples all zero or all maximal."""
    static = bool(rng.random() < 0.5) if static is None else static
    shape = (batch, model.n_in) if static else (batch, model.T, model.n_in)
    hi = F.unsigned_max(model.in_bits)
    x = rng.integers(0, hi + 1, size=shape)
    density = rng.uniform(0.05, 1.0) if density is None else density
    x = x * (rng.random(shape) < density)
    if batch >= 3:
        x[0] = 0          # all-zero input
        x[1] = hi         # every input at its maximum
    return x.astype(np.int64)
