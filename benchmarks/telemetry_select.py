"""Choose the telemetry detector and window on the training half only (no test label is read).

Per SMD machine, the training half (unlabelled, taken as normal) is cut in time: the first
``1 - --val`` fits, the last ``--val`` is a validation part into which synthetic anomalies are
injected (seeded): level shifts, variance bursts and flat-lines of 10-60 rows on 1-5 metrics,
sized in training standard deviations. Each candidate (detector, window) is fitted on the fit
part and scored on the validation part; the candidate with the best mean validation AUROC
over the machines is chosen. ``benchmarks/telemetry_peers.py`` then reports it on the test half.

    python benchmarks/telemetry_select.py [--candidates winae:10,winae:30,winae:60,ae:30] [--machines all]

Writes ``benchmarks/results/telemetry_select.{json,md}``; scores cached like telemetry_peers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from telemetry_peers import DEFAULT_CACHE, DEFAULT_DATA, RESULTS, cached_scores, method_key  # noqa: E402


def inject(z: np.ndarray, rng: np.random.Generator, n_events: int) -> tuple[np.ndarray, np.ndarray]:
    """Standardised series ``(n, d)`` -> (copy with ``n_events`` synthetic anomalies, 0/1 labels)."""
    x, y = z.copy(), np.zeros(len(z), np.int8)
    n, d = z.shape
    moving = np.flatnonzero(z.std(0) > 1e-6)  # metrics that move (flat ones stay flat)
    slots = np.array_split(np.arange(n), n_events)
    for slot in slots:  # one event per slot: events never overlap
        length = int(rng.integers(10, 61))
        if len(slot) < length + 20:
            continue
        a = int(rng.integers(slot[0] + 10, slot[-1] - length - 10))
        cols = rng.choice(moving if moving.size else np.arange(d), size=min(int(rng.integers(1, 6)), max(moving.size, 1)),
                          replace=False)
        kind = rng.integers(3)
        for c in cols:
            if kind == 0:  # level shift
                x[a:a + length, c] += rng.choice([-1, 1]) * rng.uniform(2, 5)
            elif kind == 1:  # variance burst
                x[a:a + length, c] += rng.normal(0, rng.uniform(2, 4), length)
            else:  # flat-line at the segment's start value
                x[a:a + length, c] = x[a, c]
        y[a:a + length] = 1
    return x, y


def windows(z: np.ndarray, window: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    idx = np.arange(0, len(z) - window + 1, stride)[:, None] + np.arange(window)
    return z[idx].astype(np.float32), idx


def to_rows(ws: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    tot, cnt = np.zeros(n), np.zeros(n)
    np.add.at(tot, idx.ravel(), np.repeat(ws, idx.shape[1]))
    np.add.at(cnt, idx.ravel(), 1.0)
    return tot / cnt


def add_protocol_args(ap: argparse.ArgumentParser) -> None:
    """The options of the training-half protocol (shared with telemetry_levers.py)."""
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--machines", default="all")
    ap.add_argument("--val", type=float, default=0.2)
    ap.add_argument("--events", type=int, default=10)
    ap.add_argument("--train-stride", type=int, default=10)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)


def machine_paths(data: str, machines: str) -> list[Path]:
    """The SMD machine files in numeric order, all or the comma-separated ``machines``."""
    paths = sorted(Path(data).glob("machine-*.npz"), key=lambda p: [int(v) for v in p.stem.split("-")[1:]])
    return paths if machines == "all" else [p for p in paths if p.stem in machines.split(",")]


def main(argv=None) -> None:
    from sklearn.metrics import roc_auc_score

    import anomalib_ae

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_protocol_args(ap)
    ap.add_argument("--candidates", default="winae:10,winae:30,winae:60,ae:30")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--tag", default="")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    paths = machine_paths(args.data, args.machines)
    cands = [(c.split(":")[0], int(c.split(":")[1])) for c in args.candidates.split(",")]
    t0 = time.perf_counter()
    rows = []
    for path in paths:
        tr = np.load(path)["train"].astype(np.float64)
        cut = int(len(tr) * (1 - args.val))
        mean, std = tr[:cut].mean(0), tr[:cut].std(0)
        std = np.where(std > 0, std, 1.0)
        z = (tr - mean) / std
        zval, yval = inject(z[cut:], np.random.default_rng(args.seed), args.events)
        for name, w in cands:
            settings = {"window": w, "train_stride": args.train_stride, "epochs": args.epochs, "seed": args.seed,
                        "val": args.val, "events": args.events, "protocol": "select-v1"}
            key = method_key("select", f"{name}-w{w}", settings)

            def compute():
                det = anomalib_ae.create(name, epochs=args.epochs, random_state=args.seed, verbose=False,
                                         accelerator="cpu", input_kind="window")
                t1 = time.perf_counter()
                det.fit(windows(z[:cut], w, args.train_stride)[0])
                t2 = time.perf_counter()
                wv, idx = windows(zval, w, 1)
                return to_rows(det.score(wv), idx, len(zval)), t2 - t1, time.perf_counter() - t2

            s, fit_s, _, hit = cached_scores(Path(args.cache), key, path.stem, settings, compute)
            auc = float(roc_auc_score(yval, s))
            rows.append({"machine": path.stem, "candidate": f"{name}:w{w}", "val_auroc": auc})
            print(f"  {path.stem} {name}:w{w}: validation AUROC {auc:.3f}{' (cached)' if hit else ''}", flush=True)
    cand_names = list(dict.fromkeys(r["candidate"] for r in rows))
    mean_auc = {c: float(np.mean([r["val_auroc"] for r in rows if r["candidate"] == c])) for c in cand_names}
    chosen = max(mean_auc, key=mean_auc.get)
    seconds = time.perf_counter() - t0
    cmd = "python benchmarks/telemetry_select.py " + " ".join(sys.argv[1:] if argv is None else argv)
    md = ["## telemetry: selection on the training half (synthetic anomalies injected into its last "
          f"{args.val:.0%})", "", f"command: `{cmd}`  ", f"run time: {seconds:.0f} s, machines: {len(paths)}", "",
          "| candidate | mean validation AUROC |", "|---|---|"]
    md += [f"| {c} | {'**%.4f**' % v if c == chosen else '%.4f' % v} |" for c, v in mean_auc.items()]
    md += ["", f"chosen: **{chosen}** (no test label read)", ""]
    text = "\n".join(md)
    print(text)
    stem = "telemetry_select" + (f"_{args.tag}" if args.tag else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"command": cmd, "seconds": round(seconds, 1), "loadavg": [round(v, 2) for v in os.getloadavg()],
           "rows": rows, "mean_val_auroc": mean_auc, "chosen": chosen, "settings": vars(args)}
    write_results(stem, out, text)


def write_results(stem: str, out: dict, text: str) -> None:
    """``benchmarks/results/<stem>.json`` and ``.md``, each written atomically."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    for suffix, body in ((".json", json.dumps(out, indent=1)), (".md", text)):
        tmp = RESULTS / f".{stem}{suffix}.tmp"
        tmp.write_text(body)
        os.replace(tmp, RESULTS / f"{stem}{suffix}")


if __name__ == "__main__":
    main()
