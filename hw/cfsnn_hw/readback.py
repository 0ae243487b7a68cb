"""Reading one inference's results back through the core's bus, for every host-side bench:
the Amaranth-simulator harness (pysim.py) and the cocotb bench (sim/tb_core.py) both call
:func:`read_sample` with their own ``async read(addr) -> int``."""

from __future__ import annotations

import numpy as np

from cfsnn import memmap as MM


async def read_sample(read, model, params: MM.BuildParams) -> dict:
    """Logits, prediction, counters and every spike of the last inference.

    Returns a dict: logits [C], prediction, cycles, events, synops, spikes (list of [T, N]
    per CF layer) and spike_counts (one per CF layer)."""
    P = params.lanes
    plan = MM.plan(model, params)
    base = plan[-1].neuron_base * P
    out = {"logits": np.array([MM.to_signed(await read(MM.mem_addr(MM.Region.MEMBRANE, base + j)), 32)
                               for j in range(model.n_classes)], np.int64)}
    for key, reg in (("prediction", MM.Reg.PREDICTION), ("cycles", MM.Reg.CYCLES),
                     ("events", MM.Reg.EVENTS), ("synops", MM.Reg.SYNOPS)):
        out[key] = await read(MM.reg_addr(reg))
    out["spikes"], out["spike_counts"] = [], []
    for ci, (layer, lp) in enumerate(zip(model.cf_layers, plan)):
        sp = np.zeros((model.T, layer.n_out), np.int64)
        for t in range(model.T):
            for j in range(layer.n_out):
                off = (t * params.neuron_words + lp.neuron_base) * P + j
                sp[t, j] = MM.to_signed(await read(MM.mem_addr(MM.Region.SPIKE, off)), 32)
        out["spikes"].append(sp)
        out["spike_counts"].append(await read(MM.reg_addr(MM.Reg.SPIKES + ci)))
    return out
