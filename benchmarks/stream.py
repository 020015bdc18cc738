"""Bounded-memory scoring (issue 16, point 1): chunked ``anomalib-ae score`` of a large generated CSV.

    python benchmarks/stream.py [--size-gb 5] [--fit-gb 0.2] [--detector pyod.hbos] [--chunk-rows 100000]
                                [--workdir /tmp/stream_bench] [--tag ""]

Steps, each ``anomalib-ae score`` run in its own process (peak RSS from ``os.wait4``'s ru_maxrss):

1. fit the detector on 5,000 rows x 16 metrics (``anomalib-ae fit``);
2. generate a CSV of ``--size-gb`` (16 float columns + a ``host`` id column; a 100,000-row block
   of random rows written repeatedly with fresh ids, so generation is I/O bound);
3. score it streaming (default ``--chunk-rows``) -> rows/s, peak RSS; check that the output has
   exactly one row per input row, in order (``row_id`` read back in chunks);
4. a ``--fit-gb`` file that fits in memory scored in memory (``--chunk-rows 0``) and streaming:
   the throughput ratio streaming / in-memory (target >= 0.8) and both peak RSS.

Targets (issue 16): 5 GB CSV with peak RSS <= 1 GB; one output row per input row, in order;
streaming throughput >= 0.8x in-memory.  Prints a table and writes
``benchmarks/results/stream{tag}.json`` and ``.md``.  The machine load (``os.getloadavg``) is
recorded: throughput numbers on a shared machine are lower bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
N_METRICS = 16
BLOCK = 100_000


TIME = "/usr/bin/time"
_RSS_MARK = "PEAK_RSS_KB="


def cli(*args: str) -> tuple[float, float, str]:
    """Run ``python -m anomalib_ae.cli ARGS`` -> (seconds, peak RSS in MB, its output).

    The peak RSS is the CLI process's own, measured by ``/usr/bin/time`` (GNU time, ``%M``) when it
    is installed: ``ru_maxrss`` of a child that this (large) process starts directly also counts
    this process's high-water mark (Linux carries it over the vfork + exec). Without it,
    ``os.wait4``'s ``ru_maxrss`` (an upper bound)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    timed = os.access(TIME, os.X_OK)
    cmd = [sys.executable, "-m", "anomalib_ae.cli", *args]
    if timed:
        cmd = [TIME, "-f", _RSS_MARK + "%M", *cmd]
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    err = p.stdout.read().decode()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.perf_counter() - t0
    if p.returncode:
        raise SystemExit(f"anomalib-ae {' '.join(args)} failed ({p.returncode}): {err[-2000:]}")
    rss_kb = usage.ru_maxrss  # KiB on Linux
    if timed:
        marks = [line for line in err.splitlines() if line.startswith(_RSS_MARK)]
        if marks:
            rss_kb = int(marks[-1][len(_RSS_MARK):])
            err = "\n".join(line for line in err.splitlines() if not line.startswith(_RSS_MARK))
    return secs, rss_kb / 1024.0, err


def make_csv(path: Path, size_gb: float, seed: int = 0) -> int:
    """Write a CSV of about ``size_gb`` GB; returns its number of rows."""
    rng = np.random.default_rng(seed)
    cols = [f"m{j}" for j in range(N_METRICS)]
    block = pd.DataFrame(rng.normal(size=(BLOCK, N_METRICS)) * rng.lognormal(size=(1, N_METRICS)), columns=cols)
    body = block.to_csv(index=False, header=False, float_format="%.6g").splitlines()
    target = int(size_gb * 1e9)
    n = written = 0
    with open(path, "w") as fh:
        fh.write("host," + ",".join(cols) + "\n")
        while written < target:
            text = "".join(f"h{n + i},{line}\n" for i, line in enumerate(body))
            fh.write(text)
            written += len(text)
            n += len(body)
    return n


def check_output(path: Path, n_rows: int) -> dict:
    """One output row per input row, in order: row_id read back in chunks."""
    expected = 0
    in_order = True
    for part in pd.read_csv(path, usecols=["row_id"], chunksize=1_000_000):
        ids = part["row_id"].to_numpy()
        in_order &= bool(np.array_equal(ids, np.char.add("h", np.arange(expected, expected + len(ids)).astype(str))))
        expected += len(ids)
    return {"output_rows": expected, "one_row_per_input_row": expected == n_rows, "in_order": in_order}


def bench_stream(size_gb: float = 5.0, fit_gb: float = 0.2, detector: str = "pyod.hbos", chunk_rows: int | None = None,
                 workdir: str | Path = "/tmp/stream_bench", keep: bool = False) -> dict:
    """Steps 1-4 of the module docstring; returns the result (also used by ``benchmarks/scale.py``).
    The generated files are deleted unless ``keep``."""
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    load0 = os.getloadavg()
    rng = np.random.default_rng(1)
    train = pd.DataFrame(rng.normal(size=(5000, N_METRICS)), columns=[f"m{j}" for j in range(N_METRICS)])
    train.insert(0, "host", [f"t{i}" for i in range(len(train))])
    train.to_csv(work / "train.csv", index=False)
    model = work / "model.pt"
    cli("fit", "-d", detector, "-i", str(work / "train.csv"), "-m", str(model))
    chunk = [] if chunk_rows is None else ["--chunk-rows", str(chunk_rows)]
    rows = []

    def run(name: str, data: Path, n: int, extra: list[str], check: bool) -> dict:
        out = work / f"{name}.csv"
        secs, rss, err = cli("score", "-m", str(model), "-i", str(data), "-o", str(out), "--id-column", "host", *extra)
        r = {"run": name, "input_gb": round(data.stat().st_size / 1e9, 3), "rows": n, "seconds": round(secs, 1),
             "rows_per_s": round(n / secs), "peak_rss_mb": round(rss), "summary": err.strip().splitlines()[-1],
             "load_avg_1m": round(os.getloadavg()[0], 1)}
        if check:
            r.update(check_output(out, n))
        out.unlink()
        rows.append(r)
        print(r, flush=True)
        return r

    small = work / "small.csv"
    n_small = make_csv(small, fit_gb)
    mem = run("in_memory_small", small, n_small, ["--chunk-rows", "0"], check=False)
    st = run("streaming_small", small, n_small, chunk, check=True)
    if not keep:
        small.unlink()
    big = work / "big.csv"
    t0 = time.perf_counter()
    n_big = make_csv(big, size_gb)
    gen_s = time.perf_counter() - t0
    try:
        bigr = run("streaming_big", big, n_big, chunk, check=True)
    finally:
        if not keep:
            big.unlink(missing_ok=True)
    if not keep:
        for name in ("train.csv", "model.pt"):
            (work / name).unlink(missing_ok=True)
    return {
        "benchmark": "stream", "detector": detector, "metrics": N_METRICS,
        "chunk_rows": chunk_rows or "CLI default", "size_gb_requested": size_gb, "generate_seconds": round(gen_s, 1),
        "runs": rows,
        "throughput_ratio_streaming_vs_in_memory": round(st["rows_per_s"] / mem["rows_per_s"], 3),
        "targets": {"peak_rss_mb_le_1024": bigr["peak_rss_mb"] <= 1024,
                    "one_row_per_input_row_in_order": bool(bigr["one_row_per_input_row"] and bigr["in_order"]),
                    "throughput_ratio_ge_0.8": st["rows_per_s"] >= 0.8 * mem["rows_per_s"]},
        "machine": {"cpus": os.cpu_count(), "load_avg_start": [round(x, 1) for x in load0],
                    "load_avg_end": [round(x, 1) for x in os.getloadavg()], "python": platform.python_version()},
    }


def table(result: dict) -> list[str]:
    """Markdown rows of a :func:`bench_stream` result."""
    head = "| run | input GB | rows | s | rows/s | peak RSS MB | 1:1 in order | load 1m |"
    lines = [head, "|" + "---|" * 8]
    for r in result["runs"]:
        ok = "" if "in_order" not in r else str(bool(r["one_row_per_input_row"] and r["in_order"]))
        lines.append(f"| {r['run']} | {r['input_gb']} | {r['rows']:,} | {r['seconds']} | {r['rows_per_s']:,} | "
                     f"{r['peak_rss_mb']} | {ok} | {r['load_avg_1m']} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-gb", type=float, default=5.0)
    ap.add_argument("--fit-gb", type=float, default=0.2, help="size of the file scored in memory for the ratio")
    ap.add_argument("--detector", default="pyod.hbos")
    ap.add_argument("--chunk-rows", type=int, default=None, help="default: the CLI's default")
    ap.add_argument("--workdir", default="/tmp/stream_bench")
    ap.add_argument("--tag", default="")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    a = ap.parse_args()
    result = bench_stream(a.size_gb, a.fit_gb, a.detector, a.chunk_rows, a.workdir, a.keep)
    res_dir = ROOT / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    load0 = result["machine"]["load_avg_start"]
    lines = [f"# Streaming score ({a.detector}, {N_METRICS} metrics, {os.cpu_count()} CPUs, "
             f"load average {load0[0]:.1f} at start)", "", *table(result)]
    lines += ["", f"Throughput streaming / in memory: {result['throughput_ratio_streaming_vs_in_memory']}",
              f"Targets: {result['targets']}", ""]
    for path, body in ((res_dir / f"stream{a.tag}.json", json.dumps(result, indent=2) + "\n"),
                       (res_dir / f"stream{a.tag}.md", "\n".join(lines))):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(body)
        os.replace(tmp, path)  # atomic
    print("\n".join(lines))


if __name__ == "__main__":
    main()
