"""A shipped telemetry config run the way a new user runs it: ``anomalib-ae fit --config`` and
``anomalib-ae score`` on each SMD machine, scored with the metrics of ``telemetry_peers.py``.

    python benchmarks/telemetry_config_cli.py                          # configs/hpc_accuracy.yaml, 19 machines
    python benchmarks/telemetry_config_cli.py --machines machine-1-6 -a train_stride=1 --tag stride1

Per machine, the training half is written as ``train.parquet`` (a ``timestamp`` column, one row a
minute, a ``machine`` column and the 38 metrics ``m01..m38``) and the test half as ``test.parquet``
(timestamps continue after the training half); then, in a fresh process each:

    python -m anomalib_ae.cli fit   --config configs/<config>.yaml --input train.parquet --model m.pt [-a k=v]
    python -m anomalib_ae.cli score --model m.pt --input test.parquet --output scores.csv

The ``score`` column of ``scores.csv`` (one row per test row, in input order) is compared with
SMD's test labels: AUROC, best F1, F1-PA and range F1 (``telemetry_peers.evaluate``), to compare
with the benchmark's ``config:hpc_accuracy`` row (``telemetry_peers.py``: the detector fitted directly
on the training half's windows). Whatever the config sets runs, e.g. its ``calibration`` (the default
holdout tail fits the detector on the first 80 % of the training rows only). Scores are cached under
``--cache`` (default ``/work/cache/tele9/cli``),
keyed by the config text and the extra adapter parameters. Results:
``benchmarks/results/telemetry_config_cli[_<tag>].{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
DEFAULT_DATA = REPO.parent / "shared" / "data" / "telemetry" / "smd"
DEFAULT_CACHE = Path(os.environ.get("TELE_CLI_CACHE") or (
    "/work/cache/tele9/cli" if Path("/work/cache").is_dir() else Path.home() / ".cache" / "anomalib_ae" / "tele_cli"))


def write_tables(npz: Path, out: Path) -> tuple[Path, Path, np.ndarray]:
    """SMD ``.npz`` -> ``train.parquet``, ``test.parquet`` as a monitoring export would look; test labels."""
    import pandas as pd

    z = np.load(npz)
    tr, te, y = z["train"], z["test"], z["test_label"].astype(np.int8)
    cols = [f"m{j + 1:02d}" for j in range(tr.shape[1])]
    t0 = pd.Timestamp("2026-01-01")
    paths = []
    for name, arr, start in (("train", tr, 0), ("test", te, len(tr))):
        df = pd.DataFrame(arr, columns=cols)
        df.insert(0, "machine", npz.stem)
        df.insert(0, "timestamp", t0 + pd.to_timedelta(np.arange(start, start + len(arr)), unit="min"))
        p = out / f"{name}.parquet"
        df.to_parquet(p, index=False)
        paths.append(p)
    return paths[0], paths[1], y


def cli(*args: str) -> float:
    t = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run([sys.executable, "-m", "anomalib_ae.cli", *args], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"anomalib-ae {args[0]} failed ({r.returncode}): {r.stderr[-2000:]}")
    return time.perf_counter() - t


def run_machine(npz: Path, config: Path, extra: list[str]) -> tuple[np.ndarray, np.ndarray, float, float]:
    import pandas as pd

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        train, test, y = write_tables(npz, d)
        ap = [x for kv in extra for x in ("-a", kv)]
        fit_s = cli("fit", "--config", str(config), "--input", str(train), "--model", str(d / "m.pt"), *ap)
        score_s = cli("score", "--model", str(d / "m.pt"), "--input", str(test), "--output", str(d / "s.csv"))
        s = pd.read_csv(d / "s.csv")["score"].to_numpy(dtype=np.float64)
    if len(s) != len(y):
        raise RuntimeError(f"{npz.stem}: {len(s)} scores for {len(y)} test rows")
    return s, y, fit_s, score_s


def main() -> None:
    from telemetry_peers import METRICS, evaluate
    from telemetry_select import write_results

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="hpc_accuracy", help="configs/<name>.yaml")
    ap.add_argument("-a", "--adapter-param", action="append", default=[], help="passed to fit as -a key=value")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--machines", default=None, help="comma-separated machine names (default: all)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()
    config = REPO / "configs" / f"{args.config}.yaml"
    key = hashlib.sha1((config.read_text() + "|" + ",".join(args.adapter_param)).encode()).hexdigest()[:10]
    cache = args.cache / f"{args.config}-{key}"
    cache.mkdir(parents=True, exist_ok=True)
    paths = sorted(args.data.glob("machine-*.npz"), key=lambda p: [int(v) for v in p.stem.split("-")[1:]])
    if args.machines:
        keep = set(args.machines.split(","))
        paths = [p for p in paths if p.stem in keep]
    t0, rows = time.time(), []
    for p in paths:
        f = cache / f"{p.stem}.npz"
        if f.is_file():
            z = np.load(f)
            s, y, fit_s, score_s = z["scores"], z["labels"], float(z["fit_s"]), float(z["score_s"])
        else:
            s, y, fit_s, score_s = run_machine(p, config, args.adapter_param)
            tmp = cache / f".{p.stem}.tmp.npz"
            np.savez(tmp, scores=s, labels=y, fit_s=fit_s, score_s=score_s)
            os.replace(tmp, f)
        ok = np.isfinite(s)
        m = evaluate(y[ok], s[ok])
        rows.append({"machine": p.stem, **m, "nan_scores": int((~ok).sum()), "fit_s": round(fit_s, 1),
                     "score_s": round(score_s, 1)})
        print(f"  {p.stem}: auroc {m['auroc']:.3f} f1 {m['best_f1']:.3f} pa {m['f1_pa']:.3f} "
              f"range {m['range_f1']:.3f} (fit {fit_s:.0f}s, score {score_s:.0f}s)", flush=True)
    means = {k: float(np.mean([r[k] for r in rows])) for k in METRICS}
    extra = " ".join(f"-a {kv}" for kv in args.adapter_param)
    lines = [f"# `anomalib-ae fit --config configs/{args.config}.yaml {extra}` + `score`, SMD, {len(rows)} machines", "",
             "| machine | AUROC | best F1 | F1-PA | range F1 | fit s | score s |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['machine']} | {r['auroc']:.3f} | {r['best_f1']:.3f} | {r['f1_pa']:.3f} | {r['range_f1']:.3f} | "
              f"{r['fit_s']:.0f} | {r['score_s']:.0f} |" for r in rows]
    lines.append(f"| **mean** | **{means['auroc']:.3f}** | **{means['best_f1']:.3f}** | {means['f1_pa']:.3f} | "
                 f"{means['range_f1']:.3f} | | |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = {"config": args.config, "adapter_params": args.adapter_param, "rows": rows, "means": means,
           "machines": len(rows), "cache": str(cache), "seconds": round(time.time() - t0, 1),
           "loadavg": os.getloadavg(), "command": " ".join(sys.argv)}
    write_results("telemetry_config_cli" + (f"_{args.tag}" if args.tag else ""), out, text)


if __name__ == "__main__":
    main()
