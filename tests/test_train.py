"""The acceptance run of the software core: digits, CF neuron, T=4, K=2, seed 0."""

import json

from numpy.testing import assert_array_equal

from cfsnn import golden, load_model
from cfsnn.cli import main
from cfsnn.data import load_digits
from cfsnn.nn import run_int


def test_digits_cf_reaches_targets_and_chain_is_bit_exact(tmp_path):
    out = tmp_path / "digits"
    assert main(["train", "--dataset", "digits", "--hidden", "128", "--T", "4", "--neuron", "cf",
                 "--K", "2", "--seed", "0", "--out", str(out), "--no-progress"]) == 0
    m = json.loads((out / "metrics.json").read_text())
    print(m)
    assert m["float_accuracy"] >= 0.97
    assert m["golden_accuracy"] >= 0.965
    assert abs(m["float_accuracy"] - m["golden_accuracy"]) <= 0.005
    # golden == PyTorch integer mode on the whole test split, every logit and spike
    model = load_model(out / "model.cfsnn")
    ds = load_digits(model.in_bits)
    g = golden.run(model, ds.x_test)
    t = run_int(model, ds.x_test)
    assert_array_equal(t.logits.numpy(), g.logits)
    for a, b in zip(t.spikes, g.spikes):
        assert_array_equal(a.numpy(), b)
    assert float((g.predictions == ds.y_test).mean()) == m["golden_accuracy"]
    # the CF neuron really circulates: some neurons fire 2 in one step, and negative spikes occur
    s = g.spikes[0]
    assert (s == 2).any() and (s < 0).any()
