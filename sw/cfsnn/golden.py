"""The bit-exact golden model: SPEC section 4 in vectorised integer numpy.

This is the reference that the PyTorch integer mode, the RTL and the FPGA are compared with,
spike by spike. It is written for clarity first; it is vectorised over the batch and the
neurons and loops only over time steps and layers.

The synaptic sum uses float64 BLAS: every partial sum is an integer bounded by the
accumulator bound that :meth:`cfsnn.model.Model.validate` proves (< 2^47), so float64
represents it exactly whatever the summation order, and the result equals the int64 sum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError
from .model import Model


@dataclass
class GoldenResult:
    """Everything one batch produced.

    Attributes
    ----------
    logits : int64 [B, C], readout membrane after the last step
    predictions : int64 [B], argmax of the logits, ties to the lowest index
    spikes : list of int8 [B, T, N], one per CF layer, every spike of every step
    input_events : int64 [B, L, T], non-zero inputs of each layer at each step
    synops : int64 [B, L, T], synaptic operations = non-zero inputs x fan-out
    membranes : list of int64 [B, T, N] per layer (U after each step), if recorded
    """

    logits: np.ndarray
    predictions: np.ndarray
    spikes: list
    input_events: np.ndarray
    synops: np.ndarray
    fan_out: np.ndarray
    membranes: list | None = None

    def spike_counts(self) -> np.ndarray:
        """Non-zero spike events per sample and CF layer, int64 [B, L_cf]."""
        return np.stack([(s != 0).sum(axis=(1, 2)) for s in self.spikes], axis=1) \
            if self.spikes else np.zeros((len(self.logits), 0), np.int64)

    def event_bound(self, lanes: int) -> np.ndarray:
        """Event-driven cycle bound per sample (SPEC section 5):
        sum over steps and layers of ceil(non-zero inputs x fan-out / lanes)."""
        work = self.input_events * self.fan_out[None, :, None]
        return (-(-work // lanes)).sum(axis=(1, 2))


def check_codes(model: Model, codes) -> np.ndarray:
    """Validate input codes: [B, N_in] (static) or [B, T, N_in], integers in range.

    Returns an int64 array of shape [B, T, N_in] or [B, 1, N_in] (static).
    """
    a = np.asarray(codes)
    if a.dtype.kind not in "iub":
        if a.dtype.kind == "f" and np.all(np.isfinite(a)) and np.all(a == np.round(a)):
            pass  # integral floats are accepted
        else:
            raise DataError(f"input codes must be integers, found dtype {a.dtype}")
    n_in, T = model.n_in, model.T
    if a.ndim == 2 and a.shape[1] == n_in:
        a = a[:, None, :]
    elif a.ndim == 3 and a.shape[1:] == (T, n_in):
        pass
    else:
        raise DataError(f"input codes must be shaped [B, {n_in}] or [B, {T}, {n_in}], "
                        f"found {a.shape}")
    a = a.astype(np.int64)
    hi = (1 << model.in_bits) - 1
    if a.size and (a.min() < 0 or a.max() > hi):
        raise DataError(f"input codes must lie in [0, {hi}] (in_bits={model.in_bits}), "
                        f"found [{a.min()}, {a.max()}]")
    return a


def neuron_update(u, a, layer, vmin: int, vmax: int):
    """One step of SPEC section 4 for a whole layer (or one neuron): membrane ``u`` and
    synaptic sum ``a`` (bias included) -> (new membrane, spikes). ``layer`` gives K, theta,
    bipolar, reset, leak_shift and kind; for a readout the spikes are zeros."""
    u = np.asarray(u, dtype=np.int64)
    k = layer.leak_shift
    leaked = u - (u >> k) if k else u
    h = np.clip(leaked + a, vmin, vmax)
    if layer.kind != "cf":
        return h, np.zeros_like(h)
    m = np.minimum(layer.K, np.abs(h) // layer.theta)
    sp = np.where(h >= 0, m, -m if layer.bipolar else 0)
    if layer.reset == "subtract":
        return h - sp * layer.theta, sp
    return np.where(sp != 0, 0, h), sp


def run(model: Model, codes, record_membranes: bool = False) -> GoldenResult:
    """Run ``model`` on a batch of input codes, exactly as SPEC section 4 says."""
    x = check_codes(model, codes)
    B, T = x.shape[0], model.T
    static = x.shape[1] == 1
    vmin, vmax = model.formats.v_range
    L = len(model.layers)
    weights = [l.weight.astype(np.float64).T for l in model.layers]
    U = [np.zeros((B, l.n_out), np.int64) for l in model.layers]
    spikes = [np.zeros((B, T, l.n_out), np.int8) for l in model.layers if l.kind == "cf"]
    mems = [np.zeros((B, T, l.n_out), np.int64) for l in model.layers] if record_membranes else None
    events = np.zeros((B, L, T), np.int64)
    a0 = None
    for t in range(T):
        s = x[:, 0 if static else t]
        ci = 0
        for i, layer in enumerate(model.layers):
            events[:, i, t] = np.count_nonzero(s, axis=1)
            if i == 0 and static and a0 is not None:
                a = a0
            else:
                a = (s.astype(np.float64) @ weights[i]).astype(np.int64) + layer.bias
                if i == 0 and static:
                    a0 = a
            u_next, sp = neuron_update(U[i], a, layer, vmin, vmax)
            U[i] = u_next
            if layer.kind == "cf":
                spikes[ci][:, t] = sp
                ci += 1
                s = sp
            if mems is not None:
                mems[i][:, t] = U[i]
    logits = U[-1]
    return GoldenResult(logits=logits, predictions=np.argmax(logits, axis=1),
                        spikes=spikes, input_events=events,
                        synops=events * np.array([l.n_out for l in model.layers])[None, :, None],
                        fan_out=np.array([l.n_out for l in model.layers], np.int64),
                        membranes=mems)
