"""Training loop: float (quantisation-aware) training, export and golden check."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from . import golden
from .data import Dataset
from .nn import PRESETS, CFNet, pnb_loss, pnb_terms, task_loss

NEURONS = tuple(PRESETS)


@dataclass
class TrainConfig:
    """Everything that decides a training run (saved in metrics.json and the model meta)."""

    dataset: str = "digits"
    hidden: list = field(default_factory=lambda: [128])
    T: int = 4
    neuron: str = "cf"
    K: int = 2
    surrogate: str = "step"
    alpha_init: float = 4.0
    pnb: float = 0.01
    tet: bool = False
    leak_shift: int = 1
    readout_leak_shift: int = 0
    epochs: int = 60
    batch: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    seed: int = 0
    in_bits: int = 4
    w_bits: int = 8
    v_bits: int = 16
    acc_bits: int = 24
    qat_epoch: int = 0          # fake-quantised weights from this epoch on
    detach_reset: bool = True
    backend: str = "numba"      # CF neuron kernels: "numba" or "torch"
    augment: int = 0            # random image shifts of up to this many pixels (0: off)

    def neuron_kwargs(self) -> dict:
        kw = dict(PRESETS[self.neuron])
        kw.setdefault("K", self.K)
        return kw


def build_net(cfg: TrainConfig, n_in: int, n_classes: int) -> CFNet:
    return CFNet(n_in, cfg.hidden, n_classes, T=cfg.T, in_bits=cfg.in_bits,
                 leak_shift=cfg.leak_shift, surrogate=cfg.surrogate, alpha_init=cfg.alpha_init,
                 detach_reset=cfg.detach_reset, readout_leak_shift=cfg.readout_leak_shift,
                 w_bits=cfg.w_bits, v_bits=cfg.v_bits, acc_bits=cfg.acc_bits,
                 qat=cfg.qat_epoch == 0, backend=cfg.backend, **cfg.neuron_kwargs())


@torch.no_grad()
def evaluate_float(net: CFNet, x: np.ndarray, y: np.ndarray, batch: int = 1024) -> dict:
    net.eval()
    correct, spikes, preds = 0, 0.0, []
    for i in range(0, len(x), batch):
        out = net(torch.from_numpy(x[i:i + batch].astype(np.int64)))
        p = out.logits.argmax(1).numpy()
        preds.append(p)
        correct += int((p == y[i:i + batch]).sum())
        spikes += float(sum((s != 0).sum() for s in out.spikes))
    return {"accuracy": correct / max(1, len(x)), "spikes_per_sample": spikes / max(1, len(x)),
            "predictions": np.concatenate(preds) if preds else np.zeros(0, np.int64)}


def shift_images(x: torch.Tensor, shape, max_shift: int, rng) -> torch.Tensor:
    """Shift each image by a random (dy, dx) in [-max_shift, max_shift], zero fill."""
    h, w = shape
    img = x.reshape(len(x), h, w)
    out = torch.zeros_like(img)
    shifts = rng.integers(-max_shift, max_shift + 1, size=(len(x), 2))
    for i, (dy, dx) in enumerate(shifts):
        ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
        xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
        out[i, yd, xd] = img[i, ys, xs]
    return out.reshape(len(x), -1)


def train(cfg: TrainConfig, ds: Dataset, progress: bool = True, log=None):
    """Train a CFNet on ``ds``; returns (net, history: list of per-epoch dicts)."""
    from tqdm import tqdm
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    net = build_net(cfg, ds.n_in, ds.n_classes)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(len(ds.x_train) / cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, epochs=cfg.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.15)
    xtr = torch.from_numpy(ds.x_train.astype(np.int64))
    ytr = torch.from_numpy(ds.y_train)
    history = []
    bar = tqdm(range(cfg.epochs), desc="train", unit="epoch", disable=not progress, leave=False)
    for epoch in bar:
        if epoch == cfg.qat_epoch:
            net.set_qat(True)
        net.train()
        t0 = time.perf_counter()
        perm = torch.from_numpy(rng.permutation(len(xtr)))
        tot_loss = tot_pnb = 0.0
        correct = 0
        for k in range(steps_per_epoch):
            idx = perm[k * cfg.batch:(k + 1) * cfg.batch]
            xb = xtr[idx]
            if cfg.augment and len(ds.input_shape) == 2:
                xb = shift_images(xb, ds.input_shape, cfg.augment, rng)
            out = net(xb)
            loss = task_loss(out, ytr[idx], tet=cfg.tet)
            lp = pnb_loss(out)
            if cfg.pnb:
                loss = loss + cfg.pnb * lp
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss.detach()) * len(idx)
            tot_pnb += float(lp.detach()) * len(idx)
            correct += int((out.logits.argmax(1) == ytr[idx]).sum())
        ev = evaluate_float(net, ds.x_test, ds.y_test)
        with torch.no_grad():
            P, N = pnb_terms(net(xtr[:256]))
        rec = {"epoch": epoch + 1, "loss": tot_loss / len(xtr), "pnb": tot_pnb / len(xtr),
               "train_accuracy": correct / len(xtr), "test_accuracy": ev["accuracy"],
               "spikes_per_sample": ev["spikes_per_sample"], "P": P.tolist(), "N": N.tolist(),
               "alpha": [n.alpha.detach().tolist() for n in net.neurons],
               "seconds": time.perf_counter() - t0}
        history.append(rec)
        bar.set_postfix(loss=f"{rec['loss']:.3f}", test=f"{ev['accuracy']:.3f}")
        if log:
            log(rec)
    net.set_qat(True)
    return net, history


def golden_check(net: CFNet, model, ds: Dataset) -> dict:
    """Float versus golden on the test split: accuracies and agreement."""
    fl = evaluate_float(net, ds.x_test, ds.y_test)
    res = golden.run(model, ds.x_test)
    g_acc = float((res.predictions == ds.y_test).mean())
    return {
        "float_accuracy": fl["accuracy"], "golden_accuracy": g_acc,
        "float_golden_agreement": float((res.predictions == fl["predictions"]).mean()),
        "spikes_per_sample": float(res.spike_counts().sum(1).mean()),
        "spike_magnitude_per_sample": float(sum(np.abs(s.astype(np.int64)).sum((1, 2))
                                                for s in res.spikes).mean())
        if res.spikes else 0.0,
        "synops_per_sample": float(res.synops.sum((1, 2)).mean()),
    }


def config_dict(cfg: TrainConfig) -> dict:
    return asdict(cfg)
