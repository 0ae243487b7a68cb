"""Command line: ``cfsnn train | eval | info | raster | bench``.

Every error the user can cause (a bad argument, file or dataset) ends in one line on
stderr, ``cfsnn: error: ...``, and exit status 2; nothing is left half-written.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import __version__
from .errors import CfsnnError, DataError
from . import formats as F


def _int_in(lo, hi):
    def conv(s):
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{lo}, {hi}], got {v}")
        return v
    return conv


def _float_ge(lo, strict=False):
    def conv(s):
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
        if v != v or (v <= lo if strict else v < lo):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {lo}, got {s}")
        return v
    return conv


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cfsnn", description="Circulate-firing SNNs from PyTorch "
                                "training to a bit-exact fixed-point FPGA core.")
    p.add_argument("--version", action="version", version=f"cfsnn {__version__}")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")

    t = sub.add_parser("train", help="train a CF network, export it, check it with the golden model")
    t.add_argument("--dataset", default="digits", help="'digits' (bundled) or 'idx:DIR' (MNIST-format IDX files)")
    t.add_argument("--hidden", type=_int_in(1, 4096), nargs="+", default=[128], help="hidden layer sizes")
    t.add_argument("--T", type=_int_in(1, F.T_MAX), default=4, help="time steps")
    t.add_argument("--neuron", choices=["cf", "lif", "lif-soft", "ternary"], default="cf")
    t.add_argument("--K", type=_int_in(1, F.K_MAX), default=None,
                   help="circulate count of --neuron cf (default 2)")
    t.add_argument("--surrogate", choices=["step", "layer", "fixed"], default="step",
                   help="TSL-SG: a learnable width per step (default), per layer, or fixed")
    t.add_argument("--pnb", type=_float_ge(0), default=0.01, help="weight of the PNB loss (0: off)")
    t.add_argument("--tet", action="store_true", help="TET-style per-step loss")
    t.add_argument("--leak-shift", type=_int_in(0, F.LEAK_SHIFT_MAX), default=1)
    t.add_argument("--epochs", type=_int_in(1, 100000), default=60)
    t.add_argument("--batch", type=_int_in(1, 65536), default=32)
    t.add_argument("--lr", type=_float_ge(0, strict=True), default=3e-3)
    t.add_argument("--seed", type=_int_in(0, 2**31 - 1), default=0)
    t.add_argument("--in-bits", type=_int_in(*F.IN_BITS_RANGE), default=4)
    t.add_argument("--w-bits", type=_int_in(*F.W_BITS_RANGE), default=8)
    t.add_argument("--v-bits", type=_int_in(*F.V_BITS_RANGE), default=16)
    t.add_argument("--acc-bits", type=_int_in(*F.ACC_BITS_RANGE), default=24)
    t.add_argument("--backend", choices=["numba", "torch"], default="numba",
                   help="CF neuron kernels: fused numba (CPU) or torch tensor ops")
    t.add_argument("--out", default=None,
                   help="output directory (default runs/<dataset>-<neuron>-T<T>-s<seed>)")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")

    e = sub.add_parser("eval", help="evaluate a model file on a dataset's test split")
    e.add_argument("--model", required=True)
    e.add_argument("--dataset", default="digits")
    e.add_argument("--backend", choices=["golden", "torch", "sim", "serial"], default="golden",
                   help="golden: numpy golden model; torch: PyTorch integer mode; sim: the "
                        "simulated FPGA (Verilator); serial: a board (--device serial:PORT)")
    e.add_argument("--device", default=None, help="serial:PORT[@BAUD] for --backend serial")
    e.add_argument("--clock-mhz", type=_float_ge(0, strict=True), default=30.0,
                   help="core clock for the inferences-per-second figure (default 30)")
    e.add_argument("--limit", type=_int_in(1, 10**9), default=None, help="first N test samples")
    e.add_argument("--json", dest="json_out", default=None, help="also write the report as JSON")

    d = sub.add_parser("deploy", help="load a model onto a device and verify it by read-back")
    d.add_argument("--model", required=True)
    d.add_argument("--device", required=True, help="'sim' or serial:PORT[@BAUD]")
    d.add_argument("--dynamic", action="store_true", help="per-step inputs (T frames per sample)")

    i = sub.add_parser("info", help="describe a model file")
    i.add_argument("model")

    r = sub.add_parser("raster", help="plot the spikes of one test sample as a PNG")
    r.add_argument("--model", required=True)
    r.add_argument("--dataset", default="digits")
    r.add_argument("--index", type=_int_in(0, 10**9), default=0)
    r.add_argument("--out", required=True)

    b = sub.add_parser("bench", help="benchmarks (side by side, reported as ratios)")
    bs = b.add_subparsers(dest="what", required=True, metavar="WHAT")
    ts = bs.add_parser("train-step", help="training step of a CF MLP versus an MLP and other SNN libraries")
    ts.add_argument("--sizes", type=_int_in(1, 65536), nargs="+", default=[784, 512, 512, 10])
    ts.add_argument("--T", type=_int_in(1, F.T_MAX), default=8)
    ts.add_argument("--batch", type=_int_in(1, 65536), default=128)
    ts.add_argument("--K", type=_int_in(1, F.K_MAX), default=2)
    ts.add_argument("--repeats", type=_int_in(3, 100000), default=30)
    ts.add_argument("--json", dest="json_out", default=None)
    return p


def _write_json(path: str, obj) -> None:
    from .model import atomic_write
    data = json.dumps(obj, indent=2, sort_keys=True).encode() + b"\n"
    atomic_write(path, lambda f: f.write(data))


def _load_eval_data(model, spec: str):
    from .data import load_dataset
    ds = load_dataset(spec, model.in_bits)
    if ds.n_in != model.n_in:
        raise DataError(f"dataset {spec!r} has {ds.n_in} inputs but the model expects {model.n_in}")
    if ds.n_classes > model.n_classes:
        raise DataError(f"dataset {spec!r} has {ds.n_classes} classes but the model has "
                        f"{model.n_classes} outputs")
    return ds


def cmd_train(a) -> int:
    import numpy as np
    import torch
    from .data import load_dataset
    from .plots import training_curves
    from .train import TrainConfig, config_dict, golden_check, train
    if a.K is not None and a.neuron != "cf" and a.K != 1:
        raise CfsnnError(f"--K {a.K} applies only to --neuron cf ({a.neuron} has K=1)")
    if a.out is None:
        tag = a.dataset if a.dataset == "digits" else "idx"
        a.out = os.path.join("runs", f"{tag}-{a.neuron}-T{a.T}-s{a.seed}")
    if os.path.exists(a.out) and not os.path.isdir(a.out):
        raise CfsnnError(f"--out {a.out}: exists and is not a directory")
    ds = load_dataset(a.dataset, a.in_bits)
    cfg = TrainConfig(dataset=a.dataset, hidden=list(a.hidden), T=a.T, neuron=a.neuron,
                      K=a.K if a.K is not None else 2, surrogate=a.surrogate, pnb=a.pnb, tet=a.tet,
                      leak_shift=a.leak_shift, epochs=a.epochs, batch=a.batch, lr=a.lr,
                      seed=a.seed, in_bits=a.in_bits, w_bits=a.w_bits, v_bits=a.v_bits,
                      acc_bits=a.acc_bits, backend=a.backend)
    print(f"training {a.neuron} network {ds.n_in}-{'-'.join(map(str, a.hidden))}-"
          f"{ds.n_classes}, T={a.T}, on {ds.name} ({len(ds.x_train)} train / "
          f"{len(ds.x_test)} test), seed {a.seed}", file=sys.stderr)
    t0 = time.perf_counter()
    net, history = train(cfg, ds, progress=not a.no_progress)
    train_s = time.perf_counter() - t0
    meta = {"dataset": ds.name, "input_shape": list(ds.input_shape), "train": config_dict(cfg)}
    model = net.export(meta)                      # raises ModelError if it would overflow
    report = golden_check(net, model, ds)
    metrics = {**report, "dataset": ds.name, "T": a.T, "neuron": a.neuron, "K": cfg.neuron_kwargs()["K"],
               "hidden": list(a.hidden), "seed": a.seed, "epochs": a.epochs,
               "surrogate": a.surrogate, "pnb": a.pnb, "train_seconds": train_s,
               "n_test": int(len(ds.x_test)), "torch_version": torch.__version__,
               "numpy_version": np.__version__}
    model.meta["metrics"] = {k: metrics[k] for k in ("float_accuracy", "golden_accuracy")}
    os.makedirs(a.out, exist_ok=True)
    mpath = os.path.join(a.out, "model.cfsnn")
    model.save(mpath)
    _write_json(os.path.join(a.out, "metrics.json"), metrics)
    _write_json(os.path.join(a.out, "history.json"), history)
    ppath = os.path.join(a.out, "training.png")
    training_curves(history, ppath, title=f"{a.neuron} {ds.name} T={a.T} seed={a.seed}")
    print(f"\n  float accuracy   {100 * report['float_accuracy']:6.2f} %")
    print(f"  golden accuracy  {100 * report['golden_accuracy']:6.2f} %   (integer, bit-exact model)")
    print(f"  agreement        {100 * report['float_golden_agreement']:6.2f} %   (float vs golden predictions)")
    print(f"  spikes/sample    {report['spikes_per_sample']:8.1f}   synops/sample {report['synops_per_sample']:.0f}")
    print(f"  training time    {train_s:6.1f} s")
    print(f"  wrote {mpath}, metrics.json, history.json, training.png")
    return 0


def _progress(desc, total):
    from tqdm import tqdm
    bar = tqdm(total=total, desc=desc, leave=False, unit="")

    state = {"what": None}

    def update(done, tot, what):
        if what != state["what"]:            # a new phase: restart the bar
            state["what"] = what
            bar.reset(total=tot)
            bar.set_description(f"{desc}: {what}", refresh=False)
        bar.update(done - bar.n)
    return bar, update


def _open(spec):
    from .driver import open_device
    return open_device(spec, log=lambda m: print(m, file=sys.stderr))


def cmd_eval(a) -> int:
    import numpy as np
    from . import golden
    from .model import load_model
    model = load_model(a.model)
    ds = _load_eval_data(model, a.dataset)
    x, y = ds.x_test, ds.y_test
    if a.limit is not None:
        x, y = x[:a.limit], y[:a.limit]
    if a.backend == "serial" and not (a.device or "").startswith("serial:"):
        raise CfsnnError("--backend serial needs --device serial:PORT")
    t0 = time.perf_counter()
    g = golden.run(model, x)
    g_s = time.perf_counter() - t0
    cycles = None
    if a.backend == "golden":
        preds, logits, secs = g.predictions, g.logits, g_s
    elif a.backend == "torch":
        from .nn.integer import run_int
        t0 = time.perf_counter()
        r = run_int(model, x)
        secs = time.perf_counter() - t0
        preds, logits = r.predictions.numpy(), r.logits.numpy()
    else:
        dev = _open("sim" if a.backend == "sim" else a.device)
        with dev:
            bar, upd = _progress("device", 1)
            dev.load(model, progress=upd)
            t0 = time.perf_counter()
            r = dev.infer(x, progress=upd)
            secs = time.perf_counter() - t0
            bar.close()
        preds, logits, cycles = r.predictions, r.logits, r.cycles
    rep = {
        "model": a.model, "dataset": ds.name, "backend": a.backend, "samples": int(len(x)),
        "accuracy": float((preds == y).mean()),
        "golden_accuracy": float((g.predictions == y).mean()),
        "agreement_with_golden": float((preds == g.predictions).mean()),
        "logits_equal_golden": bool(np.array_equal(logits, g.logits)),
        "spikes_per_sample": float(g.spike_counts().sum(1).mean()),
        "synops_per_sample": float(g.synops.sum((1, 2)).mean()),
        "seconds": secs,
    }
    if cycles is not None:
        cpi = float(np.mean(cycles))
        rep.update(cycles_per_inference=cpi, event_bound=float(g.event_bound(dev.params.lanes).mean()),
                   clock_mhz=a.clock_mhz, inferences_per_second_at_clock=a.clock_mhz * 1e6 / cpi)
    met = model.meta.get("metrics", {})
    print(f"{a.backend} on {ds.name}: {rep['samples']} test samples")
    if "float_accuracy" in met:
        print(f"  float accuracy        {100 * met['float_accuracy']:6.2f} %   (PyTorch, whole test split, from training)")
    print(f"  golden accuracy       {100 * rep['golden_accuracy']:6.2f} %   (integer golden model, these samples)")
    if a.backend != "golden":
        print(f"  {a.backend + ' accuracy':21} {100 * rep['accuracy']:6.2f} %")
    print(f"  agreement with golden {100 * rep['agreement_with_golden']:6.2f} %   "
          f"(logits equal: {'yes' if rep['logits_equal_golden'] else 'NO'})")
    print(f"  spikes/sample {rep['spikes_per_sample']:.1f}   synops/sample {rep['synops_per_sample']:.0f}"
          f"   {rep['samples'] / max(secs, 1e-9):.0f} samples/s here")
    if cycles is not None:
        print(f"  cycles/inference {rep['cycles_per_inference']:.0f} (event-driven bound "
              f"{rep['event_bound']:.0f}); {rep['inferences_per_second_at_clock']:.0f} "
              f"inferences/s at {a.clock_mhz:g} MHz")
    if a.json_out:
        _write_json(a.json_out, rep)
    return 0 if rep["agreement_with_golden"] == 1.0 or a.backend == "golden" else 1


def cmd_deploy(a) -> int:
    from .model import load_model
    model = load_model(a.model)
    dev = _open(a.device)
    with dev:
        p = dev.info()
        print(f"device {a.device}: {p.lanes} lanes, {p.capacity['weights']} weights, "
              f"{p.capacity['neurons']} neurons ({p.max_neurons} per layer), {p.max_layers} layers, "
              f"T <= {p.t_max}")
        t0 = time.perf_counter()
        bar, upd = _progress("deploy", 1)
        dev.load(model, dynamic=a.dynamic, progress=upd)
        bar.close()
        print(f"loaded {a.model} and verified it by read-back in {time.perf_counter() - t0:.1f} s "
              f"({dev.stats['requests']} frames, {dev.stats['retries']} retries)")
    return 0


def cmd_info(a) -> int:
    from .model import load_model
    m = load_model(a.model)
    print(f"{a.model}: cfsnn model, T={m.T}, in_bits={m.in_bits}, w_bits={m.w_bits}, "
          f"v_bits={m.v_bits}, acc_bits={m.acc_bits}")
    print(f"{'layer':>5} {'kind':8} {'in':>6} {'out':>6} {'K':>2} {'bip':>3} {'reset':8} "
          f"{'leak':>4} {'theta range':>14} {'acc range':>22} {'weights':>8} {'bytes':>9}")
    total = 0
    for row, l, i in zip(m.footprint(), m.layers, range(len(m.layers))):
        bits = row["weight_bits"] + row["bias_bits"] + row["theta_bits"] + row["membrane_bits"]
        total += bits
        lo, hi = m.acc_bounds(i)
        th = f"[{l.theta.min()}, {l.theta.max()}]" if l.kind == "cf" else "-"
        print(f"{i:5d} {l.kind:8} {l.n_in:6d} {l.n_out:6d} "
              f"{(l.K if l.kind == 'cf' else '-'):>2} {('y' if l.bipolar else 'n') if l.kind == 'cf' else '-':>3} "
              f"{(l.reset if l.kind == 'cf' else '-'):8} {l.leak_shift:4d} {th:>14} "
              f"{f'[{lo.min()}, {hi.max()}]':>22} {row['weights']:8d} {(bits + 7) // 8:9d}")
    print(f"memory footprint: {(total + 7) // 8} bytes (weights, biases, thresholds, membranes)")
    met = m.meta.get("metrics")
    if met:
        print("trained: " + ", ".join(f"{k} {100 * v:.2f} %" for k, v in met.items()))
    if "dataset" in m.meta:
        print(f"dataset: {m.meta['dataset']}")
    return 0


def cmd_raster(a) -> int:
    from . import golden
    from .model import load_model
    from .plots import spike_raster
    model = load_model(a.model)
    ds = _load_eval_data(model, a.dataset)
    if a.index >= len(ds.x_test):
        raise DataError(f"--index {a.index}: the test split has {len(ds.x_test)} samples")
    r = golden.run(model, ds.x_test[a.index:a.index + 1])
    spike_raster([s[0] for s in r.spikes], a.out,
                 title=f"sample {a.index}: label {ds.y_test[a.index]}, "
                       f"predicted {r.predictions[0]}")
    print(f"wrote {a.out}")
    return 0


def cmd_bench(a) -> int:
    from .bench import bench_train_step
    if len(a.sizes) < 3:
        raise CfsnnError("--sizes needs at least 3 sizes (input, hidden..., classes)")
    rows = bench_train_step(sizes=a.sizes, T=a.T, batch=a.batch, K=a.K, repeats=a.repeats)
    print(f"training step, MLP {'-'.join(map(str, a.sizes))}, T={a.T}, batch={a.batch} "
          f"(median of {a.repeats}; torch threads: {__import__('torch').get_num_threads()})")
    print(f"{'implementation':20} {'ms/step':>9} {'x mlp':>7}")
    for r in rows:
        print(f"{r['name']:20} {r['ms']:9.2f} {r['ratio_vs_mlp']:7.3f}")
    missing = {"spikingjelly-lif", "snntorch-leaky"} - {r["name"] for r in rows}
    if missing:
        print(f"(not installed: {', '.join(sorted(missing))}; `make bench` installs them)")
    if a.json_out:
        _write_json(a.json_out, rows)
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    cmds = {"train": cmd_train, "eval": cmd_eval, "info": cmd_info, "raster": cmd_raster,
            "bench": cmd_bench, "deploy": cmd_deploy}
    try:
        return cmds[a.cmd](a)
    except CfsnnError as e:
        print(f"cfsnn: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cfsnn: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
