"""Run the core in Amaranth's own simulator: a plain function from a model and inputs to
everything the core computed. Fast enough for unit tests of small models; the cocotb
benches under sim/ run the generated Verilog for the big regressions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from amaranth.sim import Simulator

from cfsnn import memmap as MM
from cfsnn.golden import check_codes

from .core import CFCore
from .readback import read_sample


@dataclass
class RTLResult:
    logits: np.ndarray        # [B, C]
    predictions: np.ndarray   # [B]
    spikes: list              # per CF layer [B, T, N]
    cycles: np.ndarray        # [B]
    events: np.ndarray        # [B]
    synops: np.ndarray        # [B]
    spike_counts: np.ndarray  # [B, L_cf]


class Bus:
    """Host-side access to a simulated core's bus (inside an Amaranth testbench)."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut

    async def write(self, addr: int, value: int):
        b = self.dut.bus
        self.ctx.set(b.addr, addr)
        self.ctx.set(b.w_data, value & 0xFFFFFFFF)
        self.ctx.set(b.w_en, 1)
        await self.ctx.tick()
        self.ctx.set(b.w_en, 0)

    async def read(self, addr: int) -> int:
        b = self.dut.bus
        self.ctx.set(b.addr, addr)
        self.ctx.set(b.r_en, 1)
        await self.ctx.tick()
        self.ctx.set(b.r_en, 0)
        for _ in range(self.dut.read_latency() - 1):
            assert not self.ctx.get(b.r_valid)
            await self.ctx.tick()
        assert self.ctx.get(b.r_valid)
        return self.ctx.get(b.r_data)


async def load_and_run(bus: Bus, params, model, codes, dynamic, max_cycles=1_000_000):
    """Load ``model``, run every sample of ``codes``; return an RTLResult."""
    for a, v in MM.model_writes(model, params, dynamic):
        await bus.write(a, v)
    x = check_codes(model, codes)
    B, T = len(x), model.T
    res = dict(logits=[], pred=[], spikes=[[] for l in model.cf_layers], cycles=[], events=[],
               counts=[], synops=[])
    for b in range(B):
        sample = x[b, 0] if not dynamic else np.broadcast_to(x[b], (T, model.n_in))
        for a, v in MM.input_writes(model, sample):
            await bus.write(a, v)
        await bus.write(MM.reg_addr(MM.Reg.CTRL), MM.Ctrl.START | MM.Ctrl.CLEAR)
        for _ in range(max_cycles):
            st = await bus.read(MM.reg_addr(MM.Reg.STATUS))
            if not st & MM.Status.BUSY:
                break
        if st & MM.Status.ERROR or not st & MM.Status.DONE:
            raise RuntimeError(f"core status 0x{st:x}")
        r = await read_sample(bus.read, model, params)
        res["logits"].append(r["logits"])
        res["pred"].append(r["prediction"])
        for key in ("cycles", "events", "synops"):
            res[key].append(r[key])
        for ci, sp in enumerate(r["spikes"]):
            res["spikes"][ci].append(sp)
        res["counts"].append(r["spike_counts"])
    return RTLResult(np.array(res["logits"]), np.array(res["pred"]),
                     [np.array(s) for s in res["spikes"]], np.array(res["cycles"]),
                     np.array(res["events"]), np.array(res["synops"]),
                     np.array(res["counts"]).reshape(B, -1))


def rtl_run(model, codes, params: MM.BuildParams = MM.BuildParams(), dynamic: bool | None = None,
            core_class=CFCore):
    """Simulate the core (``core_class``, a CFCore) on ``codes`` ([B, N_in] or [B, T, N_in])
    and return an RTLResult."""
    x = np.asarray(codes)
    if dynamic is None:
        dynamic = x.ndim == 3
    dut = core_class(params=params)
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    out = {}

    async def tb(ctx):
        out["r"] = await load_and_run(Bus(ctx, dut), params, model, codes, dynamic)
    sim.add_testbench(tb)
    sim.run()
    return out["r"]
