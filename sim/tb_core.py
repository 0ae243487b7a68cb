"""cocotb 2.x bench: the generated Verilog of CFCore against cfsnn.golden, by equality.

A job file (``CFSNN_JOB``, JSON, written by sim/regress.py) lists model files and input
codes. For every model the bench loads it through the bus with random idle cycles between
accesses, then for every sample writes the codes, starts the core, waits for DONE and reads
back the logits, the prediction, every spike of every CF layer and step, and the counters.

The scoreboard is fed from the bus monitor, i.e. from the writes the DUT actually received:
it rebuilds the model and the codes from them (cfsnn.memmap.decode_writes) and runs the
golden model on those. It also checks that what was received is the model that was meant.
Results go to ``CFSNN_OUT`` (JSON); any mismatch fails the test.
"""

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, RisingEdge, Timer

import regress
from cfsnn import golden, load_model
from cfsnn import memmap as MM
from cfsnn_hw.core import cycle_budget
from cfsnn_hw.readback import read_sample


class TB:
    """Clock, reset, a bus driver with random stalls, and a monitor of received writes."""

    def __init__(self, dut, params: MM.BuildParams, rng: random.Random, stall: float,
                 read_latency: int):
        self.dut, self.params, self.rng, self.stall = dut, params, rng, stall
        self.read_latency = read_latency
        self.received = []

    async def start(self):
        cocotb.start_soon(Clock(self.dut.clk, 10, unit="ns").start())
        d = self.dut
        d.rst.value = 1
        for s in (d.bus__w_en, d.bus__r_en, d.bus__addr, d.bus__w_data):
            s.value = 0
        await ClockCycles(d.clk, 3)
        await FallingEdge(d.clk)
        d.rst.value = 0
        cocotb.start_soon(self._monitor())

    async def _monitor(self):
        d = self.dut
        while True:
            await RisingEdge(d.clk)
            if d.bus__w_en.value == 1:
                self.received.append((int(d.bus__addr.value), int(d.bus__w_data.value)))
            else:
                await RisingEdge(d.bus__w_en)

    async def _maybe_stall(self):
        if self.rng.random() < self.stall:
            d = self.dut
            d.bus__w_en.value = 0
            d.bus__r_en.value = 0
            for _ in range(self.rng.randint(1, 3)):
                await FallingEdge(d.clk)

    async def write(self, addr: int, value: int):
        await self._maybe_stall()
        d = self.dut
        d.bus__addr.value = addr
        d.bus__w_data.value = value & 0xFFFFFFFF
        d.bus__w_en.value = 1
        d.bus__r_en.value = 0
        await FallingEdge(d.clk)
        d.bus__w_en.value = 0

    async def read(self, addr: int) -> int:
        await self._maybe_stall()
        d = self.dut
        d.bus__addr.value = addr
        d.bus__r_en.value = 1
        d.bus__w_en.value = 0
        await FallingEdge(d.clk)
        d.bus__r_en.value = 0
        for _ in range(self.read_latency - 1):
            assert d.bus__r_valid.value == 0, "r_valid before READ_LATENCY cycles"
            await FallingEdge(d.clk)
        assert d.bus__r_valid.value == 1, f"no r_valid {self.read_latency} cycles after a read"
        v = d.bus__r_data.value
        assert v.is_resolvable, f"read of 0x{addr:06x} returned {v}"
        return int(v)

    async def run_sample(self, limit_cycles: int) -> int:
        d = self.dut
        await self.write(MM.reg_addr(MM.Reg.CTRL), MM.Ctrl.START | MM.Ctrl.CLEAR)
        done = First(RisingEdge(d.done), RisingEdge(d.error), Timer(limit_cycles * 10, unit="ns"))
        await done
        await FallingEdge(d.clk)
        return await self.read(MM.reg_addr(MM.Reg.STATUS))


def compare(name, got, want, problems, limit=5):
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or not np.array_equal(got, want):
        idx = np.argwhere(got != want)[:limit].tolist() if got.shape == want.shape else "shape"
        problems.append(f"{name}: differs at {idx}")


@cocotb.test()
async def test_models_against_golden(dut):
    with open(os.environ["CFSNN_JOB"]) as f:
        job = json.load(f)
    params = MM.BuildParams(**job["params"])
    core_class = regress.core_class(job.get("core", "generic"))
    seed = int(job["seed"])
    dut._log.info(f"seed={seed} ({len(job['items'])} models)")
    tb = TB(dut, params, random.Random(seed), float(job.get("stall", 0.3)),
            core_class.read_latency())
    await tb.start()
    P = params.lanes
    results, failures = [], []
    for item in job["items"]:
        model = load_model(item["model"])
        codes = np.load(item["codes"])
        dynamic = bool(item["dynamic"])
        tb.received.clear()
        for a, v in MM.model_writes(model, params, dynamic):
            await tb.write(a, v)
        rec = {"tag": item["tag"], "cycles": [], "work": [], "fixed": [], "bound": [],
               "problems": []}
        for b in range(len(codes)):
            sample = codes[b]
            for a, v in MM.input_writes(model, sample):
                await tb.write(a, v)
            got_model, got_codes, got_dyn = MM.decode_writes(tb.received, params)
            if b == 0:
                same = (len(got_model.layers) == len(model.layers) and all(
                    np.array_equal(x.weight, y.weight) and np.array_equal(x.bias, y.bias)
                    for x, y in zip(got_model.layers, model.layers)))
                if not same:
                    rec["problems"].append("the DUT received a different model than was sent")
            g = golden.run(got_model, got_codes[None])
            st = await tb.run_sample(job.get("limit_cycles", 2_000_000))
            if st & MM.Status.ERROR or not st & MM.Status.DONE:
                rec["problems"].append(f"sample {b}: status 0x{st:x}")
                break
            r = await read_sample(tb.read, model, params)
            compare(f"sample {b} logits", r["logits"], g.logits[0], rec["problems"])
            compare(f"sample {b} prediction", r["prediction"], g.predictions[0], rec["problems"])
            for ci, sp in enumerate(r["spikes"]):
                compare(f"sample {b} spikes of layer {ci}", sp, g.spikes[ci][0], rec["problems"])
            compare(f"sample {b} spike counts", r["spike_counts"], g.spike_counts()[0],
                    rec["problems"])
            compare(f"sample {b} events", r["events"], g.input_events[0].sum(), rec["problems"])
            compare(f"sample {b} synops", r["synops"], g.synops[0].sum(), rec["problems"])
            cyc = r["cycles"]
            work, fixed = cycle_budget(model, params, g.input_events[0], core_class)
            if cyc > work + fixed:
                rec["problems"].append(f"sample {b}: {cyc} cycles exceed the budget {work}+{fixed}")
            rec["cycles"].append(cyc)
            rec["work"].append(work)
            rec["fixed"].append(fixed)
            rec["bound"].append(int(g.event_bound(P)[0]))
        rec["samples"] = len(rec["cycles"])
        results.append(rec)
        if rec["problems"]:
            failures.append(f"{item['tag']}: " + "; ".join(rec["problems"][:3]))
            dut._log.error(failures[-1])
    with open(os.environ["CFSNN_OUT"], "w") as f:
        json.dump({"seed": seed, "results": results}, f)
    assert not failures, f"seed={seed}: {len(failures)} model(s) differ from golden: {failures[:3]}"
