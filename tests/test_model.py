"""Model files: round trip, validation, and every kind of malformed file."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cfsnn import load_model
from cfsnn.cli import main
from cfsnn.errors import ModelError
from cfsnn.model import FORMAT_VERSION, Layer, Model
from cfsnn.testing import random_model


def small_model():
    return Model(T=3, in_bits=4, layers=[
        Layer("cf", np.array([[1, -2, 3], [4, 5, -6]]), np.array([7, -8]), np.array([3, 1]),
              K=2, bipolar=True, reset="subtract", leak_shift=1),
        Layer("readout", np.array([[1, 2], [-3, 4]]), np.array([0, 1]), None, leak_shift=0)],
        meta={"note": "hand made"})


def members(path):
    with np.load(path, allow_pickle=False) as z:
        arrs = {k: z[k] for k in z.files}
    header = json.loads(arrs.pop("header").tobytes())
    return header, arrs


def write(path, header, arrs):
    h = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, header=h, **arrs)


def assert_same(a, b):
    assert (a.T, a.in_bits, a.v_bits, a.w_bits, a.acc_bits) == (b.T, b.in_bits, b.v_bits, b.w_bits, b.acc_bits)
    assert len(a.layers) == len(b.layers)
    for x, y in zip(a.layers, b.layers):
        assert (x.kind, x.K if x.kind == "cf" else 0, x.bipolar if x.kind == "cf" else 0,
                x.reset if x.kind == "cf" else 0, x.leak_shift) == \
               (y.kind, y.K if y.kind == "cf" else 0, y.bipolar if y.kind == "cf" else 0,
                y.reset if y.kind == "cf" else 0, y.leak_shift)
        assert_array_equal(x.weight, y.weight)
        assert_array_equal(x.bias, y.bias)
        if x.kind == "cf":
            assert_array_equal(x.theta, y.theta)


def test_round_trip(tmp_path):
    m = small_model()
    p = tmp_path / "m.cfsnn"
    m.save(p)
    back = load_model(p)
    assert_same(m, back)
    assert back.meta == {"note": "hand made"}


@pytest.mark.parametrize("trial", range(10))
def test_round_trip_random(tmp_path, trial, seeded_rng):
    m = random_model(seeded_rng)
    m.save(tmp_path / "r.cfsnn")
    assert_same(m, load_model(tmp_path / "r.cfsnn"))


@pytest.fixture
def good(tmp_path):
    p = tmp_path / "good.cfsnn"
    small_model().save(p)
    return p


def mutate(tmp_path, good, fn):
    header, arrs = members(good)
    fn(header, arrs)
    p = tmp_path / "bad.cfsnn"
    write(p, header, arrs)
    return p


CASES = {
    "wrong version": (lambda h, a: h.update(version=FORMAT_VERSION + 1), "header.version"),
    "wrong format": (lambda h, a: h.update(format="other"), "header.format"),
    "float weights": (lambda h, a: a.update(layer0_weight=a["layer0_weight"].astype(np.float32)),
                      r"layers\[0\].weight: must hold integers"),
    "negative theta": (lambda h, a: a.update(layer0_theta=np.array([-3, 1])), r"layers\[0\].theta"),
    "zero theta": (lambda h, a: a.update(layer0_theta=np.array([0, 1])), r"layers\[0\].theta"),
    "K too large": (lambda h, a: h["layers"][0].update(K=8), r"layers\[0\].K"),
    "K zero": (lambda h, a: h["layers"][0].update(K=0), r"layers\[0\].K"),
    "K not int": (lambda h, a: h["layers"][0].update(K="2"), r"layers\[0\].K"),
    "bad reset": (lambda h, a: h["layers"][0].update(reset="hard"), r"layers\[0\].reset"),
    "leak too large": (lambda h, a: h["layers"][1].update(leak_shift=16), r"layers\[1\].leak_shift"),
    "T too large": (lambda h, a: h.update(T=17), "T: must be in"),
    "v_bits too small": (lambda h, a: h.update(v_bits=2), "v_bits"),
    "overflow-prone weights": (lambda h, a: (h.update(acc_bits=8), a.update(
        layer0_weight=np.array([[100, 100, 100], [0, 0, 0]], np.int8))),
        r"layers\[0\].weight: the accumulator"),
    "bias too large": (lambda h, a: a.update(layer0_bias=np.array([1 << 30, 0])), r"layers\[0\].bias"),
    "weight out of w_bits": (lambda h, a: a.update(layer0_weight=np.array([[1, 2, 300], [0, 0, 0]])),
                             r"layers\[0\].weight: value 300"),
    "missing theta": (lambda h, a: a.pop("layer0_theta"), r"layers\[0\].theta: is missing"),
    "shape mismatch": (lambda h, a: a.update(layer0_bias=np.array([1, 2, 3])), r"layers\[0\].bias: shape"),
    "header size mismatch": (lambda h, a: h["layers"][0].update(n_in=4), r"layers\[0\].weight: shape"),
    "chain mismatch": (lambda h, a: (a.update(layer1_weight=np.ones((2, 3), np.int8)),
                                     h["layers"][1].update(n_in=3)), r"layers\[1\].weight: has 3 inputs"),
    "readout first": (lambda h, a: h["layers"][0].update(kind="readout"), r"layers\[0\]"),
    "no layers": (lambda h, a: h.update(layers=[]), "layers: must be a non-empty list"),
    "missing T": (lambda h, a: h.pop("T"), "T: is missing"),
    "bool as int": (lambda h, a: h.update(in_bits=True), "in_bits: must be int"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed(tmp_path, good, case, capsys):
    fn, msg = CASES[case]
    p = mutate(tmp_path, good, fn)
    with pytest.raises(ModelError, match=msg):
        load_model(p)
    # the CLI says the same in one line and exits 2
    assert main(["info", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cfsnn: error: ") and err.count("\n") == 1, err


@pytest.mark.parametrize("cut", [0, 10, 100, 0.5, 0.9, -1])
def test_truncated(tmp_path, good, cut, capsys):
    data = good.read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else (len(data) + cut if cut < 0 else cut)
    p = tmp_path / "cut.cfsnn"
    p.write_bytes(data[:n])
    with pytest.raises(ModelError):
        load_model(p)
    assert main(["info", str(p)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_corrupted_member(tmp_path, good):
    # flip bytes inside the compressed weight member: CRC or decompression must fail
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
        info = z.getinfo("layer0_weight.npy")
    off = info.header_offset
    name_len = int.from_bytes(data[off + 26:off + 28], "little")
    extra_len = int.from_bytes(data[off + 28:off + 30], "little")
    start = off + 30 + name_len + extra_len
    for i in range(start + 2, start + 2 + 8):
        data[i] ^= 0xFF
    p = tmp_path / "flip.cfsnn"
    p.write_bytes(bytes(data))
    with pytest.raises(ModelError):
        load_model(p)


def test_bad_json_header(tmp_path):
    p = tmp_path / "j.cfsnn"
    with open(p, "wb") as f:
        np.savez(f, header=np.frombuffer(b"{not json", dtype=np.uint8))
    with pytest.raises(ModelError, match="header: is not valid JSON"):
        load_model(p)


def test_pickled_member_refused(tmp_path):
    p = tmp_path / "pk.cfsnn"
    with open(p, "wb") as f:
        np.savez(f, header=np.array([{"format": "cfsnn-model"}], dtype=object))
    with pytest.raises(ModelError):
        load_model(p)


def test_not_a_file(tmp_path):
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(tmp_path / "missing.cfsnn")
    with pytest.raises(ModelError, match="cannot be read"):
        load_model(tmp_path)


def test_save_refuses_invalid_and_writes_nothing(tmp_path):
    m = small_model()
    m.layers[0].theta = np.array([0, 1])
    p = tmp_path / "x.cfsnn"
    with pytest.raises(ModelError, match="theta"):
        m.save(p)
    assert os.listdir(tmp_path) == []


def test_save_keeps_old_file_when_meta_is_bad(tmp_path, good):
    before = good.read_bytes()
    m = small_model()
    m.meta = {"x": object()}
    with pytest.raises(ModelError, match="meta"):
        m.save(good)
    assert good.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["good.cfsnn"]


def test_overflow_message_names_neuron_and_bounds():
    m = small_model()
    m.acc_bits = 8
    m.layers[0].weight = np.array([[127, 127, 127], [0, 0, 0]])
    with pytest.raises(ModelError, match=r"neuron 0 can reach \[7, 5722\]"):
        m.validate()


def test_fuzzed_files_give_model_errors_only(tmp_path, good, seeded_rng):
    """Random byte flips, cuts and insertions: either a valid model or a ModelError."""
    data = good.read_bytes()
    p = tmp_path / "fuzz.cfsnn"
    for _ in range(300):
        b = bytearray(data)
        op = seeded_rng.integers(3)
        i = int(seeded_rng.integers(len(b)))
        if op == 0:
            b[i] ^= int(seeded_rng.integers(1, 256))
        elif op == 1:
            b = b[:i]
        else:
            b[i:i] = bytes(seeded_rng.integers(0, 256, size=int(seeded_rng.integers(1, 8))).tolist())
        p.write_bytes(bytes(b))
        try:
            load_model(p)
        except ModelError:
            pass
