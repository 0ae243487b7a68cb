"""Datasets as integer input codes.

- ``digits``: scikit-learn's bundled 8x8 handwritten digits (1,797 images, pixel values
  0..16), split 70/30 stratified with seed 0. Ships inside scikit-learn: no download.
- ``idx:DIR``: MNIST-format IDX files in a local directory: ``train-images*``,
  ``train-labels*``, ``t10k-images*``, ``t10k-labels*`` (``-idx3-ubyte`` or ``.idx3-ubyte``
  names, gzipped or not). Pixel values 0..255.

Pixels become unsigned codes of ``in_bits`` bits: code = round(pixel * (2^in_bits - 1) / max).
"""

from __future__ import annotations

import glob
import gzip
import os
import struct
from dataclasses import dataclass

import numpy as np

from . import formats as F
from .errors import DataError


@dataclass
class Dataset:
    """Train and test codes ([N, n_in] uint8) and labels ([N] int64)."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    in_bits: int
    input_shape: tuple
    n_classes: int

    @property
    def n_in(self) -> int:
        return self.x_train.shape[1]


def to_codes(pixels: np.ndarray, pixel_max: int, in_bits: int) -> np.ndarray:
    """Map pixels in [0, pixel_max] to codes in [0, 2^in_bits - 1] (round half to even)."""
    if not F.IN_BITS_RANGE[0] <= in_bits <= F.IN_BITS_RANGE[1]:
        raise DataError(f"in_bits must be in {list(F.IN_BITS_RANGE)}, not {in_bits}")
    hi = F.unsigned_max(in_bits)
    p = np.clip(np.asarray(pixels, dtype=np.float64), 0, pixel_max)
    return np.rint(p * hi / pixel_max).astype(np.uint8)


def load_digits(in_bits: int = 4) -> Dataset:
    from sklearn.datasets import load_digits as _ld
    from sklearn.model_selection import train_test_split
    d = _ld()
    x = to_codes(d.data, 16, in_bits)
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.3, stratify=y, random_state=0)
    return Dataset("digits", xtr, ytr, xte, yte, in_bits, (8, 8), 10)


# -- IDX -----------------------------------------------------------------------------------
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (gzipped or not); DataError names the file and the problem."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise DataError(f"{path}: damaged gzip data ({e})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise DataError(f"{path}: unknown IDX data type 0x{code:02x}")
    if ndim < 1 or len(raw) < 4 + 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dt = np.dtype(_IDX_TYPES[code])
    n = int(np.prod(dims, dtype=np.int64)) * dt.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != n:
        raise DataError(f"{path}: expected {n} data bytes for shape {dims}, found {len(body)}"
                        f" (truncated?)")
    return np.frombuffer(body, dtype=dt).reshape(dims)


def _find(d: str, prefix: str, kind: str) -> str:
    hits = sorted(p for p in glob.glob(os.path.join(d, f"{prefix}-{kind}*"))
                  if os.path.isfile(p))
    if not hits:
        raise DataError(f"{d}: no file named {prefix}-{kind}* (expected MNIST-format IDX files "
                        f"train-images, train-labels, t10k-images, t10k-labels)")
    if len(hits) > 1:
        raise DataError(f"{d}: more than one {prefix}-{kind}* file: "
                        f"{', '.join(os.path.basename(h) for h in hits)}")
    return hits[0]


def load_idx(d: str, in_bits: int = 4) -> Dataset:
    if not os.path.isdir(d):
        raise DataError(f"idx:{d}: not a directory")
    parts = {}
    for split in ("train", "t10k"):
        xi = read_idx(_find(d, split, "images"))
        yi = read_idx(_find(d, split, "labels"))
        if xi.ndim < 2:
            raise DataError(f"{d}: {split} images must have at least 2 dimensions, found "
                            f"shape {xi.shape}")
        if yi.ndim != 1 or len(yi) != len(xi):
            raise DataError(f"{d}: {split} has {len(xi)} images but labels of shape {yi.shape}")
        if xi.dtype != np.uint8:
            raise DataError(f"{d}: {split} images must be unsigned bytes, found {xi.dtype}")
        parts[split] = (xi, yi.astype(np.int64))
    shape = parts["train"][0].shape[1:]
    if parts["t10k"][0].shape[1:] != shape:
        raise DataError(f"{d}: train images are {shape} but test images are "
                        f"{parts['t10k'][0].shape[1:]}")
    ys = np.concatenate([parts["train"][1], parts["t10k"][1]])
    if ys.min() < 0:
        raise DataError(f"{d}: negative labels")
    n_classes = int(ys.max()) + 1
    if n_classes < 2:
        raise DataError(f"{d}: labels must name at least 2 classes")
    flat = lambda a: to_codes(a.reshape(len(a), -1), 255, in_bits)
    return Dataset(f"idx:{d}", flat(parts["train"][0]), parts["train"][1],
                   flat(parts["t10k"][0]), parts["t10k"][1], in_bits, tuple(shape), n_classes)


def write_idx(path: str, array: np.ndarray, gz: bool = False) -> None:
    """Write an IDX file (used by tests and by users converting their data)."""
    a = np.asarray(array)
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}.get(a.dtype)
    if code is None:
        raise DataError(f"write_idx supports uint8 and int8 arrays, not {a.dtype}")
    data = bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
    if gz:
        data = gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)


def load_dataset(spec: str, in_bits: int = 4) -> Dataset:
    """``digits`` or ``idx:DIR``."""
    if spec == "digits":
        return load_digits(in_bits)
    if spec.startswith("idx:"):
        return load_idx(spec[4:], in_bits)
    raise DataError(f"unknown dataset {spec!r} (use 'digits' or 'idx:DIR')")
