"""The core in Amaranth's simulator: every logit and spike equal to the golden model."""

import numpy as np
import pytest
from amaranth.sim import Simulator
from numpy.testing import assert_array_equal

from cfsnn import golden
from cfsnn import memmap as MM
from cfsnn.model import Layer, Model
from cfsnn.testing import random_codes, random_model
from cfsnn_hw import CFCore
from cfsnn_hw.core import CHECK_CYCLES, cycle_budget
from cfsnn_hw.pysim import Bus, rtl_run

SMALL = MM.BuildParams(lanes=4, max_layers=4, max_neurons=32, neuron_words=32,
                       weight_words=512, input_depth=256, t_max=16)


def check_equal(model, x, params, core_class=CFCore):
    r = rtl_run(model, x, params, core_class=core_class)
    g = golden.run(model, x)
    assert_array_equal(r.logits, g.logits)
    assert_array_equal(r.predictions, g.predictions)
    for a, b in zip(r.spikes, g.spikes):
        assert_array_equal(a, b)
    assert_array_equal(r.events, g.input_events.sum((1, 2)))
    assert_array_equal(r.synops, g.synops.sum((1, 2)))
    assert_array_equal(r.spike_counts, g.spike_counts())
    return r, g


@pytest.mark.parametrize("trial", range(6))
def test_random_models(trial, seeded_rng):
    model = random_model(seeded_rng, max_width=12, T=int(seeded_rng.integers(1, 5)),
                         n_layers=int(seeded_rng.integers(1, 3)))
    check_equal(model, random_codes(seeded_rng, model, 3), SMALL)


@pytest.mark.parametrize("lanes,fire_lanes", [(1, 1), (2, 2), (8, 8), (8, 1), (8, 2), (4, 1)])
def test_lane_counts(lanes, fire_lanes, seeded_rng):
    params = MM.BuildParams(lanes=lanes, fire_lanes=fire_lanes, max_layers=3, max_neurons=20,
                            neuron_words=64, weight_words=1024, input_depth=128, t_max=4)
    model = random_model(seeded_rng, max_width=11, T=3, n_layers=2, v_bits=10)
    r, g = check_equal(model, random_codes(seeded_rng, model, 2), params)
    for b in range(2):
        work, fixed = cycle_budget(model, params, g.input_events[b])
        assert r.cycles[b] <= work + fixed, (r.cycles[b], work, fixed)


def test_extreme_model(seeded_rng):
    model = random_model(seeded_rng, max_width=9, T=4, n_layers=2, extreme=True, v_bits=8)
    check_equal(model, random_codes(seeded_rng, model, 3, static=False), SMALL)


@pytest.mark.parametrize("trial", range(4))
def test_cycles_within_budget(trial, seeded_rng):
    model = random_model(seeded_rng, max_width=16, T=3, n_layers=int(seeded_rng.integers(1, 3)))
    x = random_codes(seeded_rng, model, 3)
    r, g = check_equal(model, x, SMALL)
    for b in range(len(x)):
        work, fixed = cycle_budget(model, SMALL, g.input_events[b])
        assert work >= g.event_bound(SMALL.lanes)[b]
        assert r.cycles[b] <= work + fixed, (r.cycles[b], work, fixed)


def run_config(params, writes, core_class=CFCore, polls=200):
    dut = core_class(params=params)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out = {}

    async def tb(ctx):
        bus = Bus(ctx, dut)
        for a, v in writes:
            await bus.write(a, v)
        await bus.write(MM.reg_addr(MM.Reg.CTRL), MM.Ctrl.START)
        for _ in range(polls):
            out["status"] = await bus.read(MM.reg_addr(MM.Reg.STATUS))
            if not out["status"] & MM.Status.BUSY:
                break
        out["cycles"] = await bus.read(MM.reg_addr(MM.Reg.CYCLES))
        out["info"] = {r: await bus.read(MM.reg_addr(r)) for r in params.info_registers()}
    sim.add_testbench(tb)
    sim.run()
    return out


def tiny_model(n_out=3, T=2, K=2):
    return Model(T=T, in_bits=4, layers=[
        Layer("cf", np.ones((n_out, 2), np.int64), np.zeros(n_out, np.int64), np.full(n_out, 3), K=K),
        Layer("readout", np.ones((2, n_out), np.int64), np.zeros(2, np.int64))]).validate()


def config_of(model, override=None):
    w = dict(MM.config_writes(model, SMALL, False))
    for (layer, field), v in (override or {}).items():
        addr = MM.reg_addr(field) if layer is None else MM.layer_reg(layer, field)
        w[addr] = v
    return list(w.items())


@pytest.mark.parametrize("override,code,layer", [
    ({(None, MM.Reg.T): 17}, MM.ErrorCode.BAD_T, 0),
    ({(None, MM.Reg.T): 0}, MM.ErrorCode.BAD_T, 0),
    ({(None, MM.Reg.N_LAYERS): 5}, MM.ErrorCode.BAD_N_LAYERS, 0),
    ({(0, MM.LayerField.K): 0}, MM.ErrorCode.BAD_K, 0),
    ({(0, MM.LayerField.K): 8}, MM.ErrorCode.BAD_K, 0),
    ({(0, MM.LayerField.N_OUT): 33, (1, MM.LayerField.N_IN): 33}, MM.ErrorCode.BAD_N_OUT, 0),
    ({(1, MM.LayerField.N_IN): 4}, MM.ErrorCode.BAD_N_IN, 1),
    ({(1, MM.LayerField.KIND): 0}, MM.ErrorCode.BAD_KIND, 1),
    ({(0, MM.LayerField.LEAK): 16}, MM.ErrorCode.BAD_LEAK, 0),
    ({(1, MM.LayerField.NEURON_BASE): 32}, MM.ErrorCode.NEURON_OVERFLOW, 1),
    ({(0, MM.LayerField.WEIGHT_BASE): 511}, MM.ErrorCode.WEIGHT_OVERFLOW, 0),
    ({(None, MM.Reg.V_BITS): 3}, MM.ErrorCode.BAD_V_BITS, 0),
    ({(1, MM.LayerField.NEURON_BASE): 0}, MM.ErrorCode.LAYOUT, 1),
    ({(1, MM.LayerField.WEIGHT_BASE): 1}, MM.ErrorCode.LAYOUT, 1),
])
def test_bad_configuration_is_refused(override, code, layer):
    out = run_config(SMALL, config_of(tiny_model(), override))
    st = out["status"]
    assert st & MM.Status.ERROR and not st & MM.Status.BUSY and not st & MM.Status.DONE
    assert (st >> MM.STATUS_CODE_SHIFT) & 0xFF == code
    assert (st >> MM.STATUS_LAYER_SHIFT) & 0xF == layer
    # refused in CHECK (at most two layers checked): nothing was computed
    assert out["cycles"] <= 2 * CHECK_CYCLES + 2


@pytest.mark.parametrize("reg,bad,code", [(MM.Reg.T, 0, MM.ErrorCode.BAD_T),
                                          (MM.Reg.N_LAYERS, 5, MM.ErrorCode.BAD_N_LAYERS),
                                          (MM.Reg.V_BITS, 3, MM.ErrorCode.BAD_V_BITS)])
def test_start_checks_see_the_write_just_before_the_start(reg, bad, code):
    """The start checks are registered: a write in the bus cycle right before CTRL.START
    must still decide them, both ways."""
    good = config_of(tiny_model())
    addr = MM.reg_addr(reg)
    value = dict(good)[addr]
    out = run_config(SMALL, good + [(addr, bad)])
    assert out["status"] & MM.Status.ERROR
    assert (out["status"] >> MM.STATUS_CODE_SHIFT) & 0xFF == code
    out = run_config(SMALL, [(a, bad if a == addr else v) for a, v in good] + [(addr, value)])
    assert out["status"] & MM.Status.DONE and not out["status"] & MM.Status.ERROR


def test_build_information_registers():
    out = run_config(SMALL, config_of(tiny_model()))
    assert MM.BuildParams.from_info(out["info"]) == SMALL
    assert out["status"] & MM.Status.DONE


def test_accumulator_holds_the_bias_so_partial_sums_stay_in_range():
    """a = W s + b fits acc_bits although W s alone does not: the accumulator starts at b."""
    m = Model(T=1, in_bits=8, v_bits=12, w_bits=8, acc_bits=12, layers=[
        Layer("readout", np.array([[12], [1]]), np.array([-1500, 0]), None)]).validate()
    p = MM.BuildParams(lanes=2, max_layers=2, max_neurons=4, neuron_words=4, weight_words=16,
                       input_depth=8, t_max=2, v_bits=12, acc_bits=12)
    check_equal(m, np.array([[255], [0], [100]]), p)


class NoBypassCore(CFCore):
    """The core as the iCE40 build makes it: accumulator RAM without a transparent read,
    no hardware configuration check, READ_LATENCY 3."""
    ACC_BYPASS = False
    HW_CHECK = False
    FIRE_REG = False
    MAC_REG = False
    READ_REG = False


class RegNoBypassCore(CFCore):
    """Registered products and accumulator words (MAC_REG) without a transparent read port:
    the write one cycle older than a read is forwarded (fwd1)."""
    ACC_BYPASS = False


@pytest.mark.parametrize("core_class", [NoBypassCore, RegNoBypassCore])
@pytest.mark.parametrize("trial", range(3))
def test_without_accumulator_bypass(trial, core_class, seeded_rng):
    """One-word layers (n_out <= lanes) put consecutive events on the same accumulator word:
    without the bypass the engine must space them, and the result must not change."""
    params = MM.BuildParams(lanes=8, fire_lanes=1, max_layers=3, max_neurons=20,
                            neuron_words=16, weight_words=1024, input_depth=128, t_max=4)
    model = random_model(seeded_rng, max_width=8, T=3, n_layers=2, v_bits=12)
    x = random_codes(seeded_rng, model, 3)
    r, g = check_equal(model, x, params, core_class)
    for b in range(len(x)):
        work, fixed = cycle_budget(model, params, g.input_events[b], core_class)
        assert r.cycles[b] <= work + fixed, (r.cycles[b], work, fixed)


@pytest.mark.parametrize("override", [
    {(0, MM.LayerField.N_OUT): 0}, {(1, MM.LayerField.N_IN): 0},
    {(0, MM.LayerField.K): 0}, {(0, MM.LayerField.LEAK): 16},
    {(0, MM.LayerField.N_OUT): 300, (1, MM.LayerField.N_IN): 300},
    {(1, MM.LayerField.NEURON_BASE): 0xFFFFFFFF}, {(0, MM.LayerField.WEIGHT_BASE): 511},
])
def test_without_hardware_check_any_configuration_terminates(override):
    """The iCE40 build has no CHECK: a configuration it cannot run must still end (no hang),
    and the bad values the core does check are still refused."""
    out = run_config(SMALL, config_of(tiny_model(), override), NoBypassCore, polls=60_000)
    assert not out["status"] & MM.Status.BUSY, hex(out["status"])
    assert out["status"] & MM.Status.DONE


def test_without_hardware_check_bad_t_is_refused():
    out = run_config(SMALL, config_of(tiny_model(), {(None, MM.Reg.T): 17}), NoBypassCore)
    assert out["status"] & MM.Status.ERROR
    assert (out["status"] >> MM.STATUS_CODE_SHIFT) & 0xFF == MM.ErrorCode.BAD_T


@pytest.mark.parametrize("core_class", [CFCore, NoBypassCore])
@pytest.mark.parametrize("region,depth", [(MM.Region.THETA, SMALL.neuron_words * SMALL.lanes),
                                          (MM.Region.WEIGHT, SMALL.weight_words * SMALL.lanes),
                                          (MM.Region.INPUT, SMALL.input_depth)])
def test_a_write_past_a_memory_sets_bad_address_and_writes_nothing(core_class, region, depth):
    """The range check runs as the request comes in (registered with it): the last word is
    written, the word past it is refused with the sticky STATUS.BAD_ADDRESS."""
    dut = core_class(params=SMALL)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    got = {}
    status = MM.reg_addr(MM.Reg.STATUS)

    async def tb(ctx):
        bus = Bus(ctx, dut)
        first, last = MM.mem_addr(region, 0), MM.mem_addr(region, depth - 1)
        await bus.write(first, 3)
        await bus.write(last, 5)
        got["ok"] = await bus.read(status)
        await bus.write(last + 1, 7)
        got["bad"] = await bus.read(status)
        if region != MM.Region.INPUT:       # the inputs are not read back
            got["words"] = (await bus.read(first), await bus.read(last))
        await bus.write(MM.reg_addr(MM.Reg.CTRL), MM.Ctrl.CLEAR)
        got["cleared"] = await bus.read(status)
    sim.add_testbench(tb)
    sim.run()
    assert not got["ok"] & MM.Status.BAD_ADDRESS
    assert got["bad"] & MM.Status.BAD_ADDRESS
    assert not got["cleared"] & MM.Status.BAD_ADDRESS
    if "words" in got:
        assert got["words"] == (3, 5)
