"""The integer model: what the exporter writes, the golden model runs and the hardware loads.

A model file (``model.cfsnn``) is a zip archive in numpy's ``.npz`` layout, read with
``allow_pickle=False``. It holds one JSON header (member ``header``, stored as a uint8
array) and three integer arrays per layer (``layer{i}_weight``, ``layer{i}_bias``,
``layer{i}_theta``; readout layers have no theta). docs/MODEL_FORMAT.md describes it field
by field. Everything is validated on load and before save; a bad field raises
:class:`~cfsnn.errors.ModelError` naming it.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import formats as F
from .errors import ModelError

FORMAT_NAME = "cfsnn-model"
FORMAT_VERSION = 1


@dataclass
class Layer:
    """One layer of the integer model.

    Attributes
    ----------
    kind : "cf" (circulate-firing, fires spikes) or "readout" (integrates, never fires)
    weight : int array [out, in]
    bias : int array [out]
    theta : int array [out] of per-neuron thresholds (>= 1); None for a readout
    K : largest circulate count, spikes lie in [-K, K] (cf only)
    bipolar : negative spikes allowed (cf only)
    reset : "subtract" or "zero" (cf only)
    leak_shift : k in lam = 1 - 2^-k; 0 means no leak
    """

    kind: str
    weight: np.ndarray
    bias: np.ndarray
    theta: np.ndarray | None = None
    K: int = 1
    bipolar: bool = False
    reset: str = "subtract"
    leak_shift: int = 0

    @property
    def n_in(self) -> int:
        return int(np.shape(self.weight)[1])

    @property
    def n_out(self) -> int:
        return int(np.shape(self.weight)[0])

    def spike_range(self) -> tuple[int, int]:
        return F.spike_range(self.K, self.bipolar)


@dataclass
class Model:
    """A quantised CF network, exactly as SPEC section 4 runs it.

    Build one by hand from its fields, by :func:`cfsnn.nn.CFNet.export`, or with
    :func:`load_model`; ``save(path)`` writes it.
    """

    T: int
    layers: list
    in_bits: int = 4
    v_bits: int = 16
    w_bits: int = 8
    acc_bits: int = 24
    meta: dict = field(default_factory=dict)

    # -- derived -------------------------------------------------------------------
    @property
    def formats(self) -> F.Formats:
        return F.Formats(in_bits=self.in_bits, w_bits=self.w_bits, v_bits=self.v_bits,
                         acc_bits=self.acc_bits)

    @property
    def n_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_classes(self) -> int:
        return self.layers[-1].n_out

    @property
    def cf_layers(self) -> list:
        return [l for l in self.layers if l.kind == "cf"]

    def input_range(self, i: int) -> tuple[int, int]:
        """Inclusive range of the inputs of layer ``i``."""
        if i == 0:
            return 0, F.unsigned_max(self.in_bits)
        return self.layers[i - 1].spike_range()

    def acc_bounds(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact per-neuron bounds of the accumulator a = W s + b of layer ``i``."""
        layer = self.layers[i]
        lo_s, hi_s = self.input_range(i)
        w = np.asarray(layer.weight, dtype=np.int64)
        b = np.asarray(layer.bias, dtype=np.int64)
        hi = b + np.maximum(w * lo_s, w * hi_s).sum(axis=1)
        lo = b + np.minimum(w * lo_s, w * hi_s).sum(axis=1)
        return lo, hi

    def footprint(self) -> list[dict]:
        """Memory a core needs for each layer, in bits."""
        rows = []
        for i, l in enumerate(self.layers):
            rows.append({
                "layer": i, "kind": l.kind, "n_in": l.n_in, "n_out": l.n_out,
                "weights": l.n_in * l.n_out, "weight_bits": l.n_in * l.n_out * self.w_bits,
                "bias_bits": l.n_out * self.acc_bits,
                "theta_bits": (l.n_out * self.v_bits) if l.kind == "cf" else 0,
                "membrane_bits": l.n_out * self.v_bits,
            })
        return rows

    # -- validation ----------------------------------------------------------------
    def validate(self, path: str | None = None) -> "Model":
        """Check every field against the contract; raise ModelError naming the first bad one."""
        def err(fld, msg):
            raise ModelError(fld, msg, path)

        for name, (lo, hi) in (("T", (1, F.T_MAX)), ("in_bits", F.IN_BITS_RANGE),
                               ("w_bits", F.W_BITS_RANGE), ("v_bits", F.V_BITS_RANGE),
                               ("acc_bits", F.ACC_BITS_RANGE)):
            v = getattr(self, name)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                err(name, f"must be an integer, found {v!r}")
            if not lo <= v <= hi:
                err(name, f"must be in [{lo}, {hi}], found {v}")
        if not isinstance(self.meta, dict):
            err("meta", "must be a dict")
        if not isinstance(self.layers, (list, tuple)) or len(self.layers) < 1:
            err("layers", "must be a non-empty list")
        fmt = self.formats
        for i, l in enumerate(self.layers):
            p = f"layers[{i}]"
            if not isinstance(l, Layer):
                err(p, f"must be a cfsnn.model.Layer, found {type(l).__name__}")
            last = i == len(self.layers) - 1
            if l.kind not in F.KINDS:
                err(f"{p}.kind", f"must be one of {F.KINDS}, found {l.kind!r}")
            if last and l.kind != "readout":
                err(f"{p}.kind", "the last layer must be a 'readout'")
            if not last and l.kind != "cf":
                err(f"{p}.kind", "every layer but the last must be 'cf'")
            w = _int_array(l.weight, f"{p}.weight", 2, err)
            n_out, n_in = w.shape
            if n_out < 1 or n_in < 1:
                err(f"{p}.weight", f"must have at least one row and column, shape is {w.shape}")
            want_in = self.layers[i - 1].n_out if i else None
            if want_in is not None and n_in != want_in:
                err(f"{p}.weight", f"has {n_in} inputs but layers[{i-1}] has {want_in} outputs")
            _in_range(w, *fmt.w_range, f"{p}.weight", f"w_bits={self.w_bits}", err)
            b = _int_array(l.bias, f"{p}.bias", 1, err)
            if b.shape != (n_out,):
                err(f"{p}.bias", f"shape must be ({n_out},), found {b.shape}")
            _in_range(b, *fmt.acc_range, f"{p}.bias", f"acc_bits={self.acc_bits}", err)
            if isinstance(l.leak_shift, bool) or not isinstance(l.leak_shift, (int, np.integer)) \
                    or not 0 <= l.leak_shift <= F.LEAK_SHIFT_MAX:
                err(f"{p}.leak_shift", f"must be an integer in [0, {F.LEAK_SHIFT_MAX}], "
                                       f"found {l.leak_shift!r}")
            if l.kind == "cf":
                if isinstance(l.K, bool) or not isinstance(l.K, (int, np.integer)) \
                        or not 1 <= l.K <= F.K_MAX:
                    err(f"{p}.K", f"must be an integer in [1, {F.K_MAX}], found {l.K!r}")
                if not isinstance(l.bipolar, (bool, np.bool_)):
                    err(f"{p}.bipolar", f"must be true or false, found {l.bipolar!r}")
                if l.reset not in F.RESETS:
                    err(f"{p}.reset", f"must be one of {F.RESETS}, found {l.reset!r}")
                if l.theta is None:
                    err(f"{p}.theta", "is missing (a cf layer needs one threshold per neuron)")
                th = _int_array(l.theta, f"{p}.theta", 1, err)
                if th.shape != (n_out,):
                    err(f"{p}.theta", f"shape must be ({n_out},), found {th.shape}")
                _in_range(th, *fmt.theta_range, f"{p}.theta", f"v_bits={self.v_bits}", err)
            elif l.theta is not None:
                err(f"{p}.theta", "a readout layer has no threshold")
        for i in range(len(self.layers)):
            lo, hi = self.acc_bounds(i)
            amin, amax = fmt.acc_range
            bad = np.flatnonzero((lo < amin) | (hi > amax))
            if bad.size:
                j = int(bad[0])
                err(f"layers[{i}].weight", f"the accumulator of neuron {j} can reach "
                    f"[{int(lo[j])}, {int(hi[j])}], outside acc_bits={self.acc_bits} "
                    f"[{amin}, {amax}] (overflow-prone weights; lower the weights or raise "
                    f"acc_bits)")
        return self

    # -- files ---------------------------------------------------------------------
    def header(self) -> dict:
        return {
            "format": FORMAT_NAME, "version": FORMAT_VERSION, "T": int(self.T),
            "in_bits": int(self.in_bits), "w_bits": int(self.w_bits),
            "v_bits": int(self.v_bits), "acc_bits": int(self.acc_bits),
            "layers": [
                {"kind": l.kind, "n_in": l.n_in, "n_out": l.n_out, "leak_shift": int(l.leak_shift),
                 **({"K": int(l.K), "bipolar": bool(l.bipolar), "reset": l.reset}
                    if l.kind == "cf" else {})}
                for l in self.layers],
            "meta": self.meta,
        }

    def save(self, path) -> None:
        """Validate, then write atomically (a temporary file renamed into place)."""
        path = os.fspath(path)
        self.validate()
        try:
            hdr = json.dumps(self.header(), sort_keys=True).encode()
        except (TypeError, ValueError) as e:
            raise ModelError("meta", f"is not JSON-serialisable ({e})") from None
        arrays = {"header": np.frombuffer(hdr, dtype=np.uint8)}
        wdt = _smallest_signed(self.w_bits)
        for i, l in enumerate(self.layers):
            arrays[f"layer{i}_weight"] = np.asarray(l.weight).astype(wdt)
            arrays[f"layer{i}_bias"] = np.asarray(l.bias).astype(np.int64)
            if l.kind == "cf":
                arrays[f"layer{i}_theta"] = np.asarray(l.theta).astype(np.int64)
        atomic_write(path, lambda f: np.savez_compressed(f, **arrays))

    @classmethod
    def load(cls, path) -> "Model":
        return load_model(path)


def atomic_write(path: str, write) -> None:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it in place.

    Nothing is left behind at ``path`` if ``write`` fails.
    """
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _smallest_signed(bits: int):
    for dt in (np.int8, np.int16, np.int32):
        if bits <= np.iinfo(dt).bits:
            return dt
    return np.int64


def _int_array(a, fld, ndim, err) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "iu":
        err(fld, f"must hold integers, found dtype {a.dtype}")
    if a.ndim != ndim:
        err(fld, f"must have {ndim} dimension(s), found shape {a.shape}")
    return a


def _in_range(a, lo, hi, fld, why, err) -> None:
    if a.size == 0:
        return
    a64 = a.astype(np.int64)
    bad = np.flatnonzero((a64 < lo) | (a64 > hi))
    if bad.size:
        j = int(bad[0])
        err(fld, f"value {int(a64.flat[j])} at flat index {j} is outside [{lo}, {hi}] ({why})")


def _hget(h: dict, key: str, typ, fld: str, path):
    if key not in h:
        raise ModelError(fld, "is missing from the header", path)
    v = h[key]
    ok = isinstance(v, typ) and not (typ is int and isinstance(v, bool))
    if not ok:
        raise ModelError(fld, f"must be {typ.__name__}, found {v!r}", path)
    return v


def load_model(path) -> Model:
    """Read and validate a model file; raise ModelError naming the bad field."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ModelError("file", f"cannot be read ({e.strerror})", path) from None
    try:
        npz = np.load(io.BytesIO(data), allow_pickle=False)
        names = set(npz.files)
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, AttributeError):
        raise ModelError("file", "is not a cfsnn model (not a readable npz archive; "
                                 "truncated or another format?)", path) from None

    def arr(name, fld):
        if name not in names:
            raise ModelError(fld, f"is missing (no member '{name}')", path)
        try:
            return npz[name]
        except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, KeyError) as e:
            raise ModelError(fld, f"cannot be read ({e}); the file is damaged or truncated",
                             path) from None

    raw = arr("header", "header")
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelError("header", f"must be a 1-D uint8 array, found {raw.dtype} {raw.shape}",
                         path)
    try:
        h = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ModelError("header", f"is not valid JSON ({e})", path) from None
    if not isinstance(h, dict):
        raise ModelError("header", "must be a JSON object", path)
    if h.get("format") != FORMAT_NAME:
        raise ModelError("header.format", f"must be {FORMAT_NAME!r}, found {h.get('format')!r}",
                         path)
    version = _hget(h, "version", int, "header.version", path)
    if version != FORMAT_VERSION:
        raise ModelError("header.version", f"version {version} is not supported (this cfsnn "
                                           f"reads version {FORMAT_VERSION})", path)
    kw = {k: _hget(h, k, int, k, path) for k in ("T", "in_bits", "w_bits", "v_bits", "acc_bits")}
    meta = h.get("meta", {})
    if not isinstance(meta, dict):
        raise ModelError("meta", "must be a JSON object", path)
    lh = _hget(h, "layers", list, "layers", path)
    layers = []
    for i, d in enumerate(lh):
        p = f"layers[{i}]"
        if not isinstance(d, dict):
            raise ModelError(p, "must be a JSON object", path)
        kind = _hget(d, "kind", str, f"{p}.kind", path)
        w = arr(f"layer{i}_weight", f"{p}.weight")
        b = arr(f"layer{i}_bias", f"{p}.bias")
        for key in ("n_in", "n_out"):
            n = _hget(d, key, int, f"{p}.{key}", path)
            got = w.shape[1 if key == "n_in" else 0] if w.ndim == 2 else None
            if got != n:
                raise ModelError(f"{p}.weight", f"shape {w.shape} does not match header "
                                                f"{key}={n}", path)
        leak = _hget(d, "leak_shift", int, f"{p}.leak_shift", path)
        if kind == "cf":
            layers.append(Layer(kind, w, b, arr(f"layer{i}_theta", f"{p}.theta"),
                                K=_hget(d, "K", int, f"{p}.K", path),
                                bipolar=_hget(d, "bipolar", bool, f"{p}.bipolar", path),
                                reset=_hget(d, "reset", str, f"{p}.reset", path),
                                leak_shift=leak))
        else:
            layers.append(Layer(kind, w, b, None, leak_shift=leak))
    model = Model(layers=layers, meta=meta, **kw)
    model.validate(path)
    # Store as int64 in memory: every consumer computes in int64.
    for l in model.layers:
        l.weight = l.weight.astype(np.int64)
        l.bias = l.bias.astype(np.int64)
        if l.theta is not None:
            l.theta = l.theta.astype(np.int64)
    return model
