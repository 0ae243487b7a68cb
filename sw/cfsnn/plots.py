"""PNG figures: training curves and spike rasters (matplotlib, Agg backend)."""

from __future__ import annotations

import numpy as np

from .model import atomic_write


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str) -> None:
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))


def training_curves(history: list[dict], path: str, title: str = "") -> None:
    """Loss, accuracy, spikes per sample and the learned surrogate widths, per epoch."""
    plt = _plt()
    ep = [h["epoch"] for h in history]
    fig, ax = plt.subplots(2, 2, figsize=(10, 7))
    ax[0, 0].plot(ep, [h["loss"] for h in history], label="total loss")
    ax[0, 0].plot(ep, [h["pnb"] for h in history], label="PNB term (unweighted)")
    ax[0, 0].set_yscale("log")
    ax[0, 0].set_title("loss")
    ax[0, 0].legend()
    ax[0, 1].plot(ep, [100 * h["train_accuracy"] for h in history], label="train")
    ax[0, 1].plot(ep, [100 * h["test_accuracy"] for h in history], label="test (float)")
    ax[0, 1].set_ylim(max(0, min(100 * h["test_accuracy"] for h in history[len(history) // 4:]) - 5)
                      if len(history) > 3 else 0, 100.5)
    ax[0, 1].set_title("accuracy (%)")
    ax[0, 1].legend()
    ax[1, 0].plot(ep, [h["spikes_per_sample"] for h in history])
    ax[1, 0].set_title("spike events per test sample")
    alpha = np.array([h["alpha"] for h in history])          # [E, L, T]
    for l in range(alpha.shape[1]):
        for t in range(alpha.shape[2]):
            ax[1, 1].plot(ep, alpha[:, l, t], label=f"layer {l} step {t}")
    ax[1, 1].set_title("surrogate width alpha (TSL-SG)")
    if alpha.shape[1] * alpha.shape[2] <= 16:
        ax[1, 1].legend(fontsize=7, ncol=2)
    for a in ax.flat:
        a.set_xlabel("epoch")
        a.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def spike_raster(spikes: list[np.ndarray], path: str, title: str = "") -> None:
    """Raster of one sample: one panel per CF layer, neuron x step, colour = signed spike."""
    plt = _plt()
    fig, ax = plt.subplots(1, len(spikes), figsize=(4 * len(spikes), 5), squeeze=False)
    for i, s in enumerate(spikes):                            # s: [T, N]
        k = max(1, int(np.abs(s).max()))
        im = ax[0, i].imshow(s.T, aspect="auto", cmap="coolwarm", vmin=-k, vmax=k,
                             interpolation="nearest")
        ax[0, i].set_title(f"CF layer {i}: {int((s != 0).sum())} events")
        ax[0, i].set_xlabel("time step")
        ax[0, i].set_ylabel("neuron")
        fig.colorbar(im, ax=ax[0, i], label="spike value")
    fig.suptitle(title)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
