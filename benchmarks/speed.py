"""Speed of the ``ae`` detector against a bare torch loop and PyOD's AutoEncoder.

50,000 x 64 float32 rows, dense AE 64 -> 64 -> 32 -> 64 -> 64 (``hidden_dims=[64]``,
``latent_dim=32``), 5 epochs, batch 256, Adam lr 1e-3, all in one process.

    python benchmarks/speed.py [--rows 50000] [--repeats 3] [--threads 1] [--json benchmarks/results/speed.json]

Fit ratio = fit seconds / bare training-loop seconds (issue 16: <= 1.2); score ratio = our
score throughput / bare forward-pass throughput (issue 16: >= 0.8). ``--repeats`` interleaved rounds
(bare, ours, ours): the table gives each method's best time and the median over rounds of the
ratio to the same round's bare loop (robust to a machine whose speed drifts).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn


def bare_network(d: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 32),
        nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, d),
    )


def bare_fit(X: np.ndarray, epochs: int, batch: int, seed: int = 0) -> tuple[float, nn.Module]:
    """Plain PyTorch: standardise, randperm mini-batches, Adam; the reference loop."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    x = torch.from_numpy((X - X.mean(0)) / X.std(0))
    model = bare_network(X.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(epochs):
        perm = torch.randperm(x.shape[0])
        for i in range(0, x.shape[0], batch):
            xb = x[perm[i : i + batch]]
            loss = (model(xb) - xb).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return time.perf_counter() - t0, model


@torch.no_grad()
def bare_score(model: nn.Module, X: np.ndarray) -> float:
    t0 = time.perf_counter()
    x = torch.from_numpy(X)
    s = (model(x) - x).pow(2).mean(dim=1).numpy()
    assert s.shape == (X.shape[0],)
    return time.perf_counter() - t0


def best_of(fn, repeats: int) -> float:
    return min(fn() for _ in range(repeats))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-pyod", action="store_true")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch intra-op threads (torch.set_num_threads); default: torch's own (OMP_NUM_THREADS)")
    ap.add_argument("--json", default="benchmarks/results/speed.json")
    args = ap.parse_args()

    import os

    import anomalib_ae

    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    ep, bs = args.epochs, args.batch_size
    rows = []

    bare_fit(X[:2000], 1, bs)  # warm-up (allocator, kernels)
    common = dict(hidden_dims=[64], latent_dim=32, epochs=ep, batch_size=bs, lr=1e-3, random_state=0, verbose=False, accelerator="cpu")
    variants = (
        ("anomalib_ae ae (defaults: 10% val split, early stopping)", {}),
        ("anomalib_ae ae (validation_fraction=0)", {"validation_fraction": 0.0}),
    )
    # Interleaved rounds (bare, ours, ours, bare, ours, ours, ...): on a shared or throttled
    # machine the speed drifts between minutes, so each round's ratio compares neighbours in time.
    fits: dict[str, list[float]] = {"bare torch loop": []}
    scores: dict[str, list[float]] = {"bare torch loop": []}
    models: dict[str, object] = {}
    for _ in range(args.repeats):
        t, model = bare_fit(X, ep, bs)
        fits["bare torch loop"].append(t)
        scores["bare torch loop"].append(best_of(lambda model=model: bare_score(model, X), 3))
        for label, extra in variants:
            t0 = time.perf_counter()
            det = anomalib_ae.create("ae", **common, **extra).fit(X)
            fits.setdefault(label, []).append(time.perf_counter() - t0)
            models[label] = det

            def score_ours(det=det):
                t0 = time.perf_counter()
                det.score(X)
                return time.perf_counter() - t0

            scores.setdefault(label, []).append(best_of(score_ours, 3))
    bare_f, bare_s = np.asarray(fits["bare torch loop"]), np.asarray(scores["bare torch loop"])
    fit_bare, score_bare = float(bare_f.min()), float(bare_s.min())
    ratios = {label: (float(np.median(np.asarray(fits[label]) / bare_f)), float(np.median(bare_s / np.asarray(scores[label]))))
              for label in fits}
    rows.append(("bare torch loop", fit_bare, score_bare))
    for label, _ in variants:
        rows.append((label, float(min(fits[label])), float(min(scores[label]))))

    if not args.skip_pyod:
        from pyod.models.auto_encoder import AutoEncoder as PyODAE

        pyod_kw = dict(
            hidden_neuron_list=[64, 32], epoch_num=ep, batch_size=bs, lr=1e-3, batch_norm=False,
            dropout_rate=0.0, verbose=0, device="cpu", random_state=0, optimizer_params={"weight_decay": 0.0},
        )
        holder = {}

        def fit_pyod():
            t0 = time.perf_counter()
            holder["det"] = PyODAE(**pyod_kw).fit(X)
            return time.perf_counter() - t0

        fit_p = best_of(fit_pyod, 1)
        t0 = time.perf_counter()
        holder["det"].decision_function(X)
        rows.append(("PyOD AutoEncoder", fit_p, time.perf_counter() - t0))

    print(f"\n{args.rows} x {args.features} float32, {ep} epochs, batch {bs}, torch threads {torch.get_num_threads()}, "
          f"{platform.processor() or platform.machine()}\n")
    print(f"| {'method':<58} | fit s | fit / bare | score s | rows/s scored | throughput / bare | median round fit / bare | median round throughput / bare |")
    print(f"|{'-' * 60}|------:|-----------:|--------:|--------------:|------------------:|------------------------:|-------------------------------:|")
    result = []
    for label, f, s in rows:
        thr = args.rows / s
        rf, rs = ratios.get(label, (float("nan"), float("nan")))
        print(f"| {label:<58} | {f:5.2f} | {f / fit_bare:10.2f} | {s:7.3f} | {thr:13,.0f} | {score_bare / s:17.2f} | {rf:23.2f} | {rs:30.2f} |")
        result.append({"method": label, "fit_s": f, "fit_ratio": f / fit_bare, "score_s": s,
                       "rows_per_s": thr, "throughput_ratio": score_bare / s,
                       "median_round_fit_ratio": rf, "median_round_throughput_ratio": rs,
                       "fit_s_rounds": fits.get(label), "score_s_rounds": scores.get(label)})
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    tmp.write_text(json.dumps({"rows": args.rows, "features": args.features, "epochs": ep, "batch_size": bs,
                               "torch_threads": torch.get_num_threads(), "load_average": os.getloadavg(),
                               "load_average_start": load_start, "date": time.strftime("%Y-%m-%d %H:%M"),
                               "results": result}, indent=2))
    os.replace(tmp, out)  # atomic
    print(f"\nJSON written to {out}")


if __name__ == "__main__":
    main()
