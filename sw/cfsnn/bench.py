"""Benchmarks: measured side by side in one run, reported as ratios.

``cfsnn bench train-step`` times one training step (forward, backward, Adam step) of an
MLP of the given sizes with T time steps, for:

- ``mlp``: the same-size non-spiking MLP (ReLU) run on T x batch rows: the matmul floor;
- ``cfsnn-cf``: cfsnn's CF neuron (bipolar, K, subtract reset, per-step TSL-SG);
- ``cfsnn-lif``: cfsnn's neuron configured as LIF (unipolar, K=1, reset to zero);
- ``spikingjelly-lif``: SpikingJelly's multi-step LIFNode (if installed);
- ``snntorch-leaky``: snnTorch's Leaky, stepped over T (if installed).

Every network gets the same inputs (one random frame per step, so that every layer does
T x batch rows of work), the same loss (cross-entropy of the time-summed output) and Adam.
The timing is the median of ``repeats`` steps after ``warmup`` steps.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn


def _mlp(sizes):
    mods = []
    for i in range(len(sizes) - 1):
        mods.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            mods.append(nn.ReLU())
    return nn.Sequential(*mods)


def _time(step, repeats):
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def train_step_candidates(sizes, T, batch, K, seed=0):
    """name -> (callable doing one training step) for every available implementation."""
    from .nn import CFNet, task_loss
    g = torch.Generator().manual_seed(seed)
    n_in, n_cls = sizes[0], sizes[-1]
    codes = torch.randint(0, 16, (batch, T, n_in), generator=g)
    x = codes.to(torch.float32) / 15
    x_tb = x.transpose(0, 1).contiguous()                 # [T, B, N]
    y = torch.randint(0, n_cls, (batch,), generator=g)
    cands = {}

    torch.manual_seed(seed)
    mlp = _mlp(sizes)
    opt_m = torch.optim.Adam(mlp.parameters(), lr=1e-3)
    x_rows = x_tb.reshape(T * batch, n_in)
    y_rows = y.repeat(T)

    def mlp_step():
        opt_m.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(mlp(x_rows), y_rows).backward()
        opt_m.step()
    cands["mlp"] = mlp_step

    def cfsnn_step(**neuron):
        torch.manual_seed(seed)
        net = CFNet(n_in, list(sizes[1:-1]), n_cls, T=T, in_bits=4, qat=False, **neuron)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            task_loss(net.forward_frames(x_tb), y).backward()
            opt.step()
        return step
    cands["cfsnn-cf"] = cfsnn_step(K=K, bipolar=True, reset="subtract")
    cands["cfsnn-lif"] = cfsnn_step(K=1, bipolar=False, reset="zero")

    try:
        from spikingjelly.activation_based import functional as sjf
        from spikingjelly.activation_based import layer as sjl
        from spikingjelly.activation_based import neuron as sjn
    except Exception:  # noqa: BLE001 - optional baseline, any import failure means "absent"
        pass
    else:
        torch.manual_seed(seed)
        mods = []
        for i in range(len(sizes) - 1):
            mods.append(sjl.Linear(sizes[i], sizes[i + 1], step_mode="m"))
            if i < len(sizes) - 2:
                mods.append(sjn.LIFNode(tau=2.0, detach_reset=True, step_mode="m"))
        sj = nn.Sequential(*mods)
        opt_s = torch.optim.Adam(sj.parameters(), lr=1e-3)

        def sj_step():
            sjf.reset_net(sj)
            opt_s.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(sj(x_tb).sum(0) / T, y).backward()
            opt_s.step()
        cands["spikingjelly-lif"] = sj_step

    try:
        import snntorch as snn
    except Exception:  # noqa: BLE001
        pass
    else:
        torch.manual_seed(seed)
        fcs = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))
        lifs = nn.ModuleList(snn.Leaky(beta=0.5) for _ in range(len(sizes) - 2))
        opt_t = torch.optim.Adam(fcs.parameters(), lr=1e-3)

        def snn_step():
            opt_t.zero_grad(set_to_none=True)
            cur = x_tb
            for fc, lif in zip(fcs[:-1], lifs):
                I = fc(cur)
                mem = lif.init_leaky()
                spk = []
                for t in range(T):
                    s, mem = lif(I[t], mem)
                    spk.append(s)
                cur = torch.stack(spk)
            nn.functional.cross_entropy(fcs[-1](cur).sum(0) / T, y).backward()
            opt_t.step()
        cands["snntorch-leaky"] = snn_step
    return cands


def bench_train_step(sizes=(784, 512, 512, 10), T=8, batch=128, K=2, warmup=5, repeats=30,
                     seed=0, only=None) -> list[dict]:
    cands = train_step_candidates(list(sizes), T, batch, K, seed)
    rows = []
    # Interleave rounds so that slow drifts of the machine hit every candidate alike.
    times = {name: [] for name in cands if only is None or name in only or name == "mlp"}
    for name in times:
        for _ in range(warmup):
            cands[name]()
    rounds = 3
    for _ in range(rounds):
        for name in times:
            times[name].append(_time(cands[name], max(1, repeats // rounds)))
    base = statistics.median(times["mlp"])
    for name, ts in times.items():
        t = statistics.median(ts)
        rows.append({"name": name, "ms": t * 1e3, "ratio_vs_mlp": t / base})
    return rows
