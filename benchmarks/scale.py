"""Everything of issue 16's point 8 in one run, each path beside its single-process baseline.

* Chunked (streaming) ``anomalib-ae score`` of a generated CSV of ``--stream-gb`` (5 GB in the
  full run): rows/s and peak RSS, and the throughput of a file that fits in memory scored in
  memory against streaming (``benchmarks/stream.py``'s :func:`bench_stream`).
* Dask batch scoring of a table (1 and 2 worker processes on this machine) against
  in-process scoring of the same file: rows/s and whether the scores are bit-identical.
* Lightning DDP (``strategy="ddp_spawn"``, 2 CPU processes, gloo) against one process:
  fit time and AUROC on ODDS cardio (shipped), same seed, same schedule.
* The neighbour-search cost curve of the default tabular ensemble (fit and score time, peak
  RSS against rows; approximate search at every size, exact search beside it at the smallest)
  (``benchmarks/scale_neighbors.py``'s :func:`measure`, each size in its own process).
* ONNX Runtime against in-process scoring of the same ``ae``: rows/s and the largest
  score difference.

    python benchmarks/scale.py --quick            # CI size: 0.05 GB CSV, 20,000 rows, 5 DDP epochs, 5k / 20k ANN rows
    python benchmarks/scale.py                    # docs: 5 GB CSV, 200,000 rows, 20 epochs, 10k / 100k / 1M ANN rows
    python benchmarks/scale.py --only ann dask    # some parts

Writes ``benchmarks/results/scale.json`` and ``scale.md`` (after every part, atomically), with
the load average at the start and the end of each part. Generated files go to ``--workdir``
(default: a temporary folder) and are deleted.
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


def bench_stream(size_gb: float, fit_gb: float, workdir: Path) -> dict:
    from stream import bench_stream as run  # benchmarks/stream.py

    return run(size_gb=size_gb, fit_gb=fit_gb, workdir=workdir)


def bench_ann(sizes: list[int], threads: int, timeout: float) -> list[dict]:
    from scale_neighbors import measure  # benchmarks/scale_neighbors.py

    out = []
    for i, n in enumerate(sizes):
        for search in (["exact", "approximate"] if i == 0 else ["approximate"]):
            row = measure({"what": "ensemble", "n": n, "search": search, "threads": threads}, timeout)
            print(json.dumps(row), flush=True)
            out.append(row)
    return out


def markdown(res: dict) -> str:
    st = res["setting"]
    lines = [f"# Scale-out paths ({'--quick' if st['quick'] else 'full run'}; {st['cpus']} cores shared with other "
             f"jobs; load average {st['load_average_start'][0]:.1f} at the start, {st['load_average'][0]:.1f} at the end; "
             f"{st['wall_seconds'] / 60:.1f} min)", ""]
    if "stream" in res:
        from stream import table

        r = res["stream"]
        lines += [f"Streaming `anomalib-ae score` of a generated CSV ({r['detector']}, {r['metrics']} metrics; "
                  f"generation {r['generate_seconds']} s); baseline: the small file scored in memory", "", *table(r),
                  "", f"Throughput streaming / in memory: {r['throughput_ratio_streaming_vs_in_memory']}; "
                  f"targets: {r['targets']}", ""]
    if "dask" in res:
        lines += [f"| dask path ({st['rows']:,} rows) | workers | s | rows/s | bit-identical |", "|---|--:|--:|--:|---|"]
        lines += [f"| {r['path']} | {r['workers']} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} | {r['bit_identical']} |"
                  for r in res["dask"]]
        lines.append("")
    if "ddp" in res:
        lines += [f"| training (ae on cardio, {st['ddp_epochs']} epochs) | fit s | AUROC | epochs |", "|---|--:|--:|--:|"]
        lines += [f"| {r['path']} | {r['fit_seconds']:.1f} | {r['auroc']:.4f} | {r['epochs']} |" for r in res["ddp"]]
        lines.append("")
    if "ann" in res:
        lines += [f"Default tabular ensemble (`ensemble:knn-lof-cos-gmm`), generated 64-column rows, 10,000 test rows, "
                  f"{st['ann_threads']} threads; each row its own process", "",
                  "| rows | search | fit s | score s | CPU s (fit + score) | peak RSS MB | AUROC | load |",
                  "|--:|---|--:|--:|--:|--:|--:|--:|"]
        for r in res["ann"]:
            if "error" in r:
                lines.append(f"| {r['n']:,} | {r['search']} | - | - | - | - | {r['error'][:80]} | - |")
                continue
            lines.append(f"| {r['n']:,} | {r['search']} | {r['fit_s']:.1f} | {r['score_s']:.1f} | "
                         f"{r['fit_cpu_s'] + r['score_cpu_s']:.1f} | {r['peak_rss_mb']:,.0f} | {r['auroc']:.4f} | "
                         f"{r['loadavg'][0]:.1f} |")
        lines.append("")
    if "onnx" in res:
        lines += [f"| scoring ({st['rows']:,} rows) | rows/s | max abs diff |", "|---|--:|--:|"]
        lines += [f"| {r['path']} | {r['rows_per_s']:,.0f} | {r['max_abs_diff']:.2e} |" for r in res["onnx"]]
        lines.append("")
    return "\n".join(lines)


PARTS = ("stream", "dask", "ddp", "ann", "onnx")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="CI size (see above)")
    ap.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS), help="run these parts only")
    ap.add_argument("--rows", type=int, help="rows of the Dask and ONNX parts (200,000; quick 20,000)")
    ap.add_argument("--ddp-epochs", type=int, help="(20; quick 5)")
    ap.add_argument("--stream-gb", type=float, help="size of the streamed CSV (5; quick 0.05)")
    ap.add_argument("--stream-fit-gb", type=float, help="size of the file scored in memory (0.2; quick 0.02)")
    ap.add_argument("--ann-sizes", type=int, nargs="+", help="ensemble rows (10k 100k 1M; quick 5k 20k)")
    ap.add_argument("--ann-threads", type=int, default=2, help="OMP / BLAS / faiss threads of the ANN runs")
    ap.add_argument("--ann-timeout", type=float, default=1800, help="seconds per ANN run")
    ap.add_argument("--workdir", help="folder for generated files (default: a temporary one)")
    ap.add_argument("--out", default=str(RESULTS / "scale"))
    args = ap.parse_args(argv)
    q = args.quick
    rows = args.rows or (20_000 if q else 200_000)
    epochs = args.ddp_epochs or (5 if q else 20)
    stream_gb = args.stream_gb or (0.05 if q else 5.0)
    fit_gb = args.stream_fit_gb or (0.02 if q else 0.2)
    ann_sizes = args.ann_sizes or ([5_000, 20_000] if q else [10_000, 100_000, 1_000_000])
    import torch

    torch.set_num_threads(1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    load_start, t_start = os.getloadavg(), time.perf_counter()
    res: dict = {}

    def setting() -> dict:
        return {"rows": rows, "ddp_epochs": epochs, "stream_gb": stream_gb, "stream_fit_gb": fit_gb,
                "ann_sizes": ann_sizes, "ann_threads": args.ann_threads, "parts": args.only, "cpus": os.cpu_count(),
                "python": platform.python_version(), "torch_threads": 1, "date": time.strftime("%Y-%m-%d %H:%M"),
                "load_average": os.getloadavg(), "load_average_start": load_start, "quick": q,
                "wall_seconds": time.perf_counter() - t_start, "part_seconds": part_seconds,
                "part_load_average": part_load}

    part_seconds: dict[str, float] = {}
    part_load: dict[str, list] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        jobs = {
            "stream": lambda: bench_stream(stream_gb, fit_gb, tmp / "stream"),
            "dask": lambda: bench_dask(rows, tmp),
            "ddp": lambda: bench_ddp(epochs),
            "ann": lambda: bench_ann(ann_sizes, args.ann_threads, args.ann_timeout),
            "onnx": lambda: bench_onnx(rows, tmp),
        }
        for part in PARTS:
            if part not in args.only:
                continue
            t0, l0 = time.perf_counter(), os.getloadavg()
            res[part] = jobs[part]()
            part_seconds[part] = time.perf_counter() - t0
            part_load[part] = [l0, os.getloadavg()]
            res["setting"] = setting()
            _write(out, res)
    print(markdown(res))


def _write(out: Path, res: dict) -> None:
    for path, body in ((out.with_suffix(".json"), json.dumps(res, indent=2)), (out.with_suffix(".md"), markdown(res))):
        tmp_path = path.with_suffix(path.suffix + ".tmp")
        tmp_path.write_text(body + "\n")
        os.replace(tmp_path, path)  # atomic


if __name__ == "__main__":
    main()
