"""Scale-out paths beside their single-process baselines, in one run.

* Dask batch scoring of a table (1 and 2 worker processes on this machine) against
  in-process scoring of the same file: rows/s and whether the scores are bit-identical.
* Lightning DDP (``strategy="ddp_spawn"``, 2 CPU processes, gloo) against one process:
  fit time and AUROC on ODDS cardio (shipped), same seed, same schedule.
* ONNX Runtime against in-process scoring of the same ``ae``: rows/s and the largest
  score difference.

    python benchmarks/scale.py [--rows 200000] [--quick]

Writes ``benchmarks/results/scale.json`` and ``scale.md``. The neighbour-search cost curve
is ``benchmarks/scale_neighbors.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def _table(rows: int, d: int = 64, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(rows, d)).astype(np.float32), columns=[f"f{j}" for j in range(d)])


def bench_dask(rows: int, tmp: Path) -> list[dict]:
    import anomalib_ae
    from anomalib_ae.distributed import connect, score_table
    from anomalib_ae.pipeline import from_detector

    train = _table(20_000, seed=1)
    det = anomalib_ae.create("ae", hidden_dims=[64], latent_dim=32, epochs=2, random_state=0, verbose=False).fit(train)
    model = tmp / "ae.pt"
    det.save(model)
    data = _table(rows, seed=2)
    path = tmp / "big.csv"
    data.to_csv(path, index=False)
    t0 = time.perf_counter()
    ref = from_detector(det).score_items(pd.read_csv(path)).table["score"].to_numpy()
    base = time.perf_counter() - t0
    out = [{"path": "in-process (read_csv + score)", "workers": 1, "seconds": base, "rows_per_s": rows / base,
            "bit_identical": True}]
    for workers in (1, 2):
        client = connect(n_workers=workers, threads_per_worker=1)
        try:
            t0 = time.perf_counter()
            got = score_table(model, path, client=client, blocksize="16MB")
            secs = time.perf_counter() - t0
        finally:
            client.close()
            client.cluster.close()
        out.append({"path": f"dask LocalCluster, {workers} worker process(es)", "workers": workers, "seconds": secs,
                    "rows_per_s": rows / secs,
                    "bit_identical": bool(np.array_equal(got["score"].to_numpy(), ref))})
    return out


def bench_ddp(epochs: int) -> list[dict]:
    import anomalib_ae
    from sklearn.metrics import roc_auc_score

    from anomalib_ae.datasets import load_cardio

    X, y = load_cardio()
    rng = np.random.default_rng(0)
    normal, anomalies = X[y == 0], X[y == 1]
    order = rng.permutation(len(normal))
    train, test_normal = normal[order[:1100]], normal[order[1100:]]
    X_test = np.vstack([test_normal, anomalies])
    y_test = np.r_[np.zeros(len(test_normal)), np.ones(len(anomalies))]
    out = []
    for label, kw in [("one process", {}), ("ddp_spawn, 2 CPU processes", {"strategy": "ddp_spawn", "devices": 2})]:
        det = anomalib_ae.create("ae", epochs=epochs, patience=None, random_state=0, verbose=False, accelerator="cpu", **kw)
        t0 = time.perf_counter()
        det.fit(train)
        secs = time.perf_counter() - t0
        out.append({"path": label, "fit_seconds": secs, "auroc": float(roc_auc_score(y_test, det.score(X_test))),
                    "epochs": int(det.n_epochs_)})
    return out


def bench_onnx(rows: int, tmp: Path) -> list[dict]:
    import anomalib_ae
    import onnxruntime as ort

    X = _table(rows, seed=3).to_numpy()
    det = anomalib_ae.create("ae", hidden_dims=[64], latent_dim=32, epochs=1, random_state=0, verbose=False).fit(X[:20_000])
    path = det.export_onnx(tmp / "ae.onnx")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(path), opts)
    t0 = time.perf_counter()
    ours = det.score(X)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    theirs = sess.run(None, {"x": X})[0]
    t_onnx = time.perf_counter() - t0
    diff = float(np.max(np.abs(theirs - ours)))
    return [{"path": "in-process score", "rows_per_s": rows / t_ours, "max_abs_diff": 0.0},
            {"path": "onnxruntime (1 thread)", "rows_per_s": rows / t_onnx, "max_abs_diff": diff}]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--ddp-epochs", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="20,000 rows, 5 DDP epochs")
    ap.add_argument("--out", default=str(RESULTS / "scale"))
    args = ap.parse_args()
    if args.quick:
        args.rows, args.ddp_epochs = 20_000, 5
    import torch

    torch.set_num_threads(1)
    load_start, t_start = os.getloadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        res = {
            "dask": bench_dask(args.rows, Path(tmp)),
            "ddp": bench_ddp(args.ddp_epochs),
            "onnx": bench_onnx(args.rows, Path(tmp)),
        }
    res["setting"] = {"rows": args.rows, "ddp_epochs": args.ddp_epochs, "cpus": os.cpu_count(),
                      "python": platform.python_version(), "torch_threads": 1,
                      "date": time.strftime("%Y-%m-%d"), "load_average": os.getloadavg(),
                      "load_average_start": load_start, "quick": bool(args.quick),
                      "wall_seconds": time.perf_counter() - t_start}
    lines = [f"# Scale-out paths ({args.rows:,} x 64 rows{', --quick' if args.quick else ''}; load average "
             f"{load_start[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end, on 2 shared cores)", "",
             "| dask path | workers | s | rows/s | bit-identical |", "|---|--:|--:|--:|---|"]
    lines += [f"| {r['path']} | {r['workers']} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} | {r['bit_identical']} |"
              for r in res["dask"]]
    lines += ["", f"| training (ae on cardio, {args.ddp_epochs} epochs) | fit s | AUROC | epochs |", "|---|--:|--:|--:|"]
    lines += [f"| {r['path']} | {r['fit_seconds']:.1f} | {r['auroc']:.4f} | {r['epochs']} |" for r in res["ddp"]]
    lines += ["", "| scoring | rows/s | max abs diff |", "|---|--:|--:|"]
    lines += [f"| {r['path']} | {r['rows_per_s']:,.0f} | {r['max_abs_diff']:.2e} |" for r in res["onnx"]]
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for path, body in ((out.with_suffix(".json"), json.dumps(res, indent=2)), (out.with_suffix(".md"), text + "\n")):
        tmp_path = path.with_suffix(path.suffix + ".tmp")
        tmp_path.write_text(body)
        os.replace(tmp_path, path)  # atomic


if __name__ == "__main__":
    main()
