"""Out-of-core training against in-memory training of one deep detector: time, memory, equality.

Generates an ``n x d`` float32 ``.npy`` (standard normal * 3 + 1), then fits the detector twice,
each in a fresh process with one torch thread: ``det.fit(path)`` (memory-mapped, streamed) and
``det.fit(np.load(path))`` (in memory). Each child samples ``/proc/self/status`` every 50 ms for
the peak anonymous memory (the process's own) beside the kernel's peak RSS (``VmHWM``, which also
counts the mapped file's and the libraries' pages), and saves its training scores; the parent
checks both fits gave the same scores bit for bit.

    python benchmarks/outofcore_fit.py [--detector deepsvdd] [--rows 2000000] [--dim 32]
        [--epochs 1] [--batch-size 1024] [--json benchmarks/results/outofcore_fit.json] [--quick]

``--quick``: 50,000 rows (a smoke run). Writes the JSON atomically (with ``os.getloadavg()``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def _status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0]) * 1024
    return out


def child(args) -> None:
    """One fit in this process; prints one JSON line."""
    import torch

    torch.set_num_threads(1)
    import anomalib_ae

    peak = {"anon": 0}

    def sample() -> None:
        while True:
            peak["anon"] = max(peak["anon"], _status()["RssAnon"])
            time.sleep(0.05)

    threading.Thread(target=sample, daemon=True).start()
    kw = dict(epochs=args.epochs, batch_size=args.batch_size, random_state=0, verbose=0)
    if args.detector in ("deepsvdd", "deepsad"):
        kw["pretrain_epochs"] = args.epochs
    det = anomalib_ae.create(args.detector, **kw)
    t0 = time.perf_counter()
    det.fit(args.data if args.child == "out_of_core" else np.load(args.data))
    seconds = time.perf_counter() - t0
    np.save(Path(args.data).with_name(f"scores_{args.child}.npy"), det.decision_scores_)
    st = _status()
    print(json.dumps({"mode": args.child, "fit_s": round(seconds, 2), "peak_rss_bytes": st["VmHWM"],
                      "peak_anon_bytes": max(peak["anon"], st["RssAnon"])}))


def make_data(path: Path, n: int, d: int) -> None:
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.default_rng(0)
    for s in range(0, n, 100_000):
        rows = min(100_000, n - s)
        mm[s : s + rows] = rng.standard_normal((rows, d)) * 3 + 1
    mm.flush()
    del mm


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--detector", default="deepsvdd")
    p.add_argument("--rows", type=int, default=2_000_000)
    p.add_argument("--dim", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=1024)
    p.add_argument("--json", default="benchmarks/results/outofcore_fit.json")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--child", choices=["out_of_core", "in_memory"], help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    if args.quick:
        args.rows = 50_000
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ooc_bench_") as tmp:
        data = Path(tmp) / "big.npy"
        make_data(data, args.rows, args.dim)
        for mode in ("out_of_core", "in_memory"):
            cmd = [sys.executable, __file__, "--child", mode, "--data", str(data), "--detector", args.detector,
                   "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
            out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        same = bool(np.array_equal(np.load(Path(tmp) / "scores_out_of_core.npy"),
                                   np.load(Path(tmp) / "scores_in_memory.npy")))
        size = data.stat().st_size
    result = {"detector": args.detector, "rows": args.rows, "dim": args.dim, "epochs": args.epochs,
              "batch_size": args.batch_size, "file_bytes": size, "fits": rows,
              "same_training_scores": same, "loadavg": os.getloadavg(), "cpu_count": os.cpu_count()}
    print(f"{args.detector}, {args.rows:,} x {args.dim} float32 ({size / 1e9:.2f} GB), "
          f"load {result['loadavg'][0]:.1f}")
    print(f"{'fit from':<14}{'fit s':>9}{'peak RSS GB':>13}{'peak anon GB':>14}")
    for r in rows:
        print(f"{r['mode']:<14}{r['fit_s']:>9.1f}{r['peak_rss_bytes'] / 1e9:>13.2f}{r['peak_anon_bytes'] / 1e9:>14.2f}")
    print(f"same training scores bit for bit: {same}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(result, indent=2))
    os.replace(tmp_path, out)  # atomic


if __name__ == "__main__":
    main()
