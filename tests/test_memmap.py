"""The memory map and build parameters (cfsnn.memmap)."""

import numpy as np
import pytest

from cfsnn import memmap as MM
from cfsnn import protocol as PR
from cfsnn.model import Layer, Model
from cfsnn.testing import random_model


def test_region_overflow_refused():
    with pytest.raises(ValueError, match="exceeds a region"):
        MM.BuildParams(lanes=32, weight_words=65536)
    with pytest.raises(ValueError, match="outside a region"):
        MM.mem_addr(MM.Region.WEIGHT, 1 << MM.REGION_SHIFT)


def test_readout_wider_than_a_run_reply_is_refused():
    p = MM.BuildParams(max_layers=2, max_neurons=256)
    n = PR.max_run_logits(2) + 1
    m = Model(T=1, in_bits=4, layers=[
        Layer("cf", np.ones((2, 2), np.int64), np.zeros(2, np.int64), np.ones(2, np.int64), K=1),
        Layer("readout", np.ones((n, 2), np.int64), np.zeros(n, np.int64))]).validate()
    assert any("RUN reply" in msg for msg in p.check_fits(m))


def test_decode_keeps_only_stored_bits(seeded_rng):
    p = MM.BuildParams(lanes=4, neuron_words=32, weight_words=512, input_depth=256)
    while True:
        m = random_model(seeded_rng, max_width=10, T=3)
        if not p.check_fits(m, dynamic=False):
            break
    writes = MM.model_writes(m, p, dynamic=False) + [(MM.reg_addr(MM.Reg.T), m.T | 1 << 16)]
    got, codes, dyn = MM.decode_writes(writes, p)
    assert got.T == m.T and not dyn
    for a, b in zip(got.layers, m.layers):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
        assert a.kind == b.kind and a.leak_shift == b.leak_shift


def test_stored_value_masks_like_the_core():
    p = MM.BuildParams()
    assert MM.stored_value(MM.mem_addr(MM.Region.WEIGHT, 0), 0xFFFFFFFF, p) == 0xFFFFFFFF
    assert MM.stored_value(MM.mem_addr(MM.Region.WEIGHT, 0), 0x80, p) == 0xFFFFFF80
    assert MM.stored_value(MM.mem_addr(MM.Region.THETA, 0), 0x12345, p) == 0x2345
    assert MM.stored_value(MM.layer_reg(1, MM.LayerField.FLAGS), 7, p) == 3
