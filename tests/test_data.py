"""Datasets: the bundled digits and MNIST-format IDX directories."""

import gzip

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cfsnn.data import load_dataset, load_digits, read_idx, to_codes, write_idx
from cfsnn.errors import DataError


def make_idx_dir(d, rng, n_train=40, n_test=12, shape=(5, 4), gz=False, dotted=False):
    d.mkdir(exist_ok=True)
    sep = "." if dotted else "-"
    ext = ".gz" if gz else ""
    data = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, size=(n, *shape)).astype(np.uint8)
        y = rng.integers(0, 3, size=n).astype(np.uint8)
        y[:3] = [0, 1, 2]
        write_idx(str(d / f"{split}-images{sep}idx3-ubyte{ext}"), x, gz=gz)
        write_idx(str(d / f"{split}-labels{sep}idx1-ubyte{ext}"), y, gz=gz)
        data[split] = (x, y)
    return data


def test_digits_split():
    ds = load_digits(4)
    assert ds.x_train.shape == (1257, 64) and ds.x_test.shape == (540, 64)
    assert ds.x_train.max() == 15 and ds.x_train.min() == 0
    # stratified: every class in the test split, in proportion
    counts = np.bincount(ds.y_test, minlength=10)
    assert counts.min() >= 52 and counts.max() <= 56
    again = load_digits(4)
    assert_array_equal(ds.x_test, again.x_test)


def test_to_codes():
    assert_array_equal(to_codes(np.array([0, 8, 16]), 16, 4), [0, 8, 15])
    assert_array_equal(to_codes(np.array([0, 255]), 255, 8), [0, 255])
    assert_array_equal(to_codes(np.array([0, 255]), 255, 1), [0, 1])


@pytest.mark.parametrize("gz,dotted", [(False, False), (True, False), (False, True)])
def test_idx_round_trip(tmp_path, gz, dotted, seeded_rng):
    data = make_idx_dir(tmp_path / "mn", seeded_rng, gz=gz, dotted=dotted)
    ds = load_dataset(f"idx:{tmp_path / 'mn'}", in_bits=8)
    assert_array_equal(ds.x_train, data["train"][0].reshape(40, -1))
    assert_array_equal(ds.y_test, data["t10k"][1])
    assert ds.input_shape == (5, 4) and ds.n_classes == 3


def test_idx_errors(tmp_path, seeded_rng):
    d = tmp_path / "mn"
    make_idx_dir(d, seeded_rng)
    with pytest.raises(DataError, match="not a directory"):
        load_dataset(f"idx:{tmp_path / 'nope'}")
    (d / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="no file named t10k-labels"):
        load_dataset(f"idx:{d}")
    write_idx(str(d / "t10k-labels-idx1-ubyte"), np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="12 images but labels of shape"):
        load_dataset(f"idx:{d}")


def test_read_idx_errors(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(DataError, match="bad magic"):
        read_idx(str(p))
    p.write_bytes(b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x02abc")
    with pytest.raises(DataError, match="truncated"):
        read_idx(str(p))
    p.write_bytes(b"\x00\x00\x07\x01")
    with pytest.raises(DataError, match="unknown IDX data type"):
        read_idx(str(p))
    p.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x03abc")[:-4])
    with pytest.raises(DataError, match="gzip"):
        read_idx(str(p))
    p.write_bytes(b"\x00\x00\x08")
    with pytest.raises(DataError, match="bad magic"):
        read_idx(str(p))


def test_unknown_dataset():
    with pytest.raises(DataError, match="unknown dataset"):
        load_dataset("cifar")
