"""Load on `anomalib-ae serve` over loopback: rows/s and latency, against the same model in-process.

    python benchmarks/serve.py                      # load table (--seconds 4 per cell)
    python benchmarks/serve.py --soak-seconds 600   # plus a soak: RSS of the server over time

For each model the service runs as its own process (``anomalib-ae serve --port <free>``,
127.0.0.1 only, one scoring worker); the clients are threads of this process, each with a
keep-alive ``httpx.Client``, posting JSON ``{"rows": [...]}`` bodies built before the clock
starts (telemetry bodies get their timestamps filled in per request). Every cell runs a
bounded loop: ``--seconds`` of requests after ``--warmup`` requests per client.

Models:
* ``ae_64``: ``Pipeline("ae", kind="tabular")`` on the 64 features of ODDS optdigits
  (``../shared/data/tabular/optdigits.npz``; without it, the shipped cardio set's 21 features
  are tiled to 64 columns), fitted on 2000 rows, requests drawn from the rest.
* ``telemetry``: the ``configs/hpc.yaml`` pipeline (16-minute windows per machine) fitted on
  the shipped SMD sample; each client streams its own machine in time order (the service keeps
  the last 15 minutes of each machine as context), so a 1-row request scores one new minute.

In-process: the same model file loaded here and ``pipe.score_items(batch)`` on the same
batches (telemetry: 15 rows of context + the new rows, as the service does).

Targets (issue 14): 1000-row requests reach >= 50 % of the in-process rows/s; p99 of 1-row
requests < 20 ms with 16 clients. The machine these run on may be shared: the result file
records the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"


# --------------------------------------------------------------------------- models
def build_models(tmp: Path) -> dict:
    import yaml

    from anomalib_ae import datasets
    from anomalib_ae.pipeline import Pipeline, pipeline_from_config

    models = {}
    f = DATA / "tabular" / "optdigits.npz"
    if f.exists():
        d = np.load(f)
        X, y, src = d["X"].astype(np.float32), d["y"], "ODDS optdigits (64 features)"
        X = X[y == 0]
    else:
        X, y = datasets.load_cardio()
        X = np.tile(X[y == 0], (1, 4))[:, :64].astype(np.float32)
        src = "shipped cardio, 21 features tiled to 64 (../shared/data missing)"
    cols = [f"f{j:02d}" for j in range(64)]
    df = pd.DataFrame(X, columns=cols)
    Pipeline("ae", kind="tabular", detector_params={"epochs": 10, "random_state": 0, "verbose": False}).fit(
        df.iloc[:2000]).save(tmp / "ae_64.pt")
    models["ae_64"] = {"path": tmp / "ae_64.pt", "kind": "tabular", "rows": df.iloc[2000:].reset_index(drop=True),
                       "columns": cols, "data": src}
    smd = datasets.load_smd_sample()
    cfg = yaml.safe_load((REPO / "configs" / "hpc.yaml").read_text())
    cfg["detector"]["params"]["epochs"] = 3
    pipe = pipeline_from_config(cfg)
    pipe.fit(smd["train"])
    pipe.save(tmp / "telemetry.pt")
    metrics = list(smd["metric_cols"])
    models["telemetry"] = {"path": tmp / "telemetry.pt", "kind": "telemetry", "rows": smd["test"],
                           "columns": metrics, "window": int(pipe.adapter_.window),
                           "data": "shipped SMD machine-1-6 sample (3000 train / 3000 test minutes, 38 metrics)"}
    return models


# --------------------------------------------------------------------------- bodies
class Bodies:
    """Pre-encoded JSON request bodies for one model; telemetry bodies get timestamps per request."""

    def __init__(self, model: dict, size: int):
        self.kind, self.size = model["kind"], size
        rows = model["rows"]
        cols = model["columns"]
        self.n = len(rows)
        vals = rows[cols].to_numpy(np.float64)
        # one pre-encoded JSON fragment per row
        self.frag = [",".join(f'"{c}":{v!r}' for c, v in zip(cols, r)) for r in vals.tolist()]

    def body(self, client: int, k: int) -> bytes:
        """The k-th request of a client."""
        s = (k * self.size + client * 997) % max(self.n - self.size, 1)
        if self.kind == "tabular":
            return ('{"rows":[' + ",".join("{" + self.frag[s + j] + "}" for j in range(self.size)) + "]}").encode()
        t0 = k * self.size  # minutes since the start of this client's machine
        ent = f"bench-{client:02d}"
        return ('{"rows":[' + ",".join(
            f'{{"timestamp":"{_minute(t0 + j)}","machine":"{ent}",' + self.frag[(s + j) % self.n] + "}"
            for j in range(self.size)) + "]}").encode()


_EPOCH = pd.Timestamp("2030-01-01")


def _minute(m: int) -> str:
    return (_EPOCH + pd.Timedelta(minutes=int(m))).isoformat()


# --------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, model_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from anomalib_ae.cli import main; main()", "serve", "--model", str(model_path),
             "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning", "--max-entities", "100"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        import httpx

        deadline = time.monotonic() + 180
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("server did not start in 180 s")
            time.sleep(0.2)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        return float("nan")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stderr.close()


# --------------------------------------------------------------------------- load
def load_cell(url: str, bodies: Bodies, clients: int, seconds: float, warmup: int, start_k: int) -> dict:
    """``clients`` threads posting for ``seconds``; returns rows/s and latency percentiles (ms)."""
    import httpx

    lat: list[list[float]] = [[] for _ in range(clients)]
    rows_done = [0] * clients
    errors = [0] * clients
    barrier = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def worker(c: int):
        with httpx.Client(base_url=url, timeout=60, headers={"content-type": "application/json"}) as cl:
            k = start_k
            for _ in range(warmup):
                cl.post("/score", content=bodies.body(c, k))
                k += 1
            barrier.wait()
            while time.perf_counter() < stop_at[0]:
                b = bodies.body(c, k)
                k += 1
                t = time.perf_counter()
                r = cl.post("/score", content=b)
                dt = time.perf_counter() - t
                if r.status_code != 200:
                    errors[c] += 1
                    continue
                lat[c].append(dt)
                rows_done[c] += bodies.size
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + 3600  # set properly after the barrier
    barrier.wait()
    t0 = time.perf_counter()
    stop_at[0] = t0 + seconds
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    all_lat = np.array([x for ls in lat for x in ls]) * 1000.0
    return {"clients": clients, "rows_per_request": bodies.size, "requests": int(len(all_lat)),
            "errors": int(sum(errors)), "seconds": round(wall, 2), "rows_per_s": round(sum(rows_done) / wall, 1),
            "p50_ms": round(float(np.percentile(all_lat, 50)), 2) if len(all_lat) else None,
            "p99_ms": round(float(np.percentile(all_lat, 99)), 2) if len(all_lat) else None}


def in_process(model: dict, size: int, seconds: float) -> dict:
    """rows/s of ``score_items`` on the same batches, in this process (one torch thread)."""
    import anomalib_ae

    pipe = anomalib_ae.load(model["path"])
    rows, cols = model["rows"], model["columns"]
    n = len(rows)
    ctx = model.get("window", 1) - 1
    batches = []
    for k in range(8):
        s = (k * size * 7) % max(n - size - ctx, 1)
        if model["kind"] == "tabular":
            batches.append(rows[cols].iloc[s:s + size].reset_index(drop=True))
        else:
            batches.append(rows.iloc[s:s + size + ctx].reset_index(drop=True))
    pipe.score_items(batches[0])
    done, t0, k, times = 0, time.perf_counter(), 0, []
    while time.perf_counter() - t0 < seconds:
        t = time.perf_counter()
        pipe.score_items(batches[k % len(batches)])
        times.append(time.perf_counter() - t)
        done += size
        k += 1
    wall = time.perf_counter() - t0
    ms = np.array(times) * 1000
    return {"rows_per_request": size, "calls": k, "rows_per_s": round(done / wall, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def in_process_service(model: dict, size: int, seconds: float) -> dict:
    """rows/s of the service's own scoring path without HTTP: JSON body -> parse -> score -> records (+ explanations)."""
    from anomalib_ae.serve.bodies import parse_json
    from anomalib_ae.serve.scorer import ModelService

    svc = ModelService(model["path"])
    bodies = Bodies(model, size)
    svc.score_body(parse_json(bodies.body(0, 0)), source="bench", entity=None)
    done, k, times, t0 = 0, 1, [], time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        b = bodies.body(0, k)
        t = time.perf_counter()
        svc.score_body(parse_json(b), source="bench", entity=None)
        times.append(time.perf_counter() - t)
        done += size
        k += 1
    wall = time.perf_counter() - t0
    ms = np.array(times) * 1000
    return {"rows_per_request": size, "calls": len(times), "rows_per_s": round(done / wall, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2), "p99_ms": round(float(np.percentile(ms, 99)), 2)}


def run_soak(server: Server, model: dict, seconds: float) -> dict:
    """3 clients of 1-row requests and 1 client of 1000-row requests, all for ``seconds``."""
    small, big = Bodies(model, 1), Bodies(model, 1000)
    samples, stop = [], threading.Event()
    rss_warm = server.rss_mb()

    def sampler():
        t0 = time.monotonic()
        while not stop.wait(5.0):
            samples.append([round(time.monotonic() - t0, 1), round(server.rss_mb(), 1)])
    th = threading.Thread(target=sampler, daemon=True)
    th.start()
    out = {}

    def run(name, bodies, clients, start):
        out[name] = load_cell(server.url, bodies, clients, seconds, 0, start_k=start)
    ts = [threading.Thread(target=run, args=("1-row x3", small, 3, 20_000_000)),
          threading.Thread(target=run, args=("1000-row x1", big, 1, 30_000_000))]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    stop.set()
    th.join()
    rss = [s[1] for s in samples]
    # growth after the first minute (allocator and caches warm up), and from the start of the soak
    after = [s[1] for s in samples if s[0] >= 60] or rss
    return {"seconds": seconds, "rss_start_mb": round(rss_warm, 1), "rss_end_mb": rss[-1] if rss else None,
            "rss_max_mb": max(rss) if rss else None,
            "growth_pct": round(100.0 * (rss[-1] - rss_warm) / rss_warm, 2) if rss else None,
            "growth_after_60s_pct": round(100.0 * (after[-1] - after[0]) / after[0], 2) if after else None,
            "load": out, "samples": samples}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=4.0, help="Measured seconds per cell.")
    p.add_argument("--warmup", type=int, default=3, help="Requests per client before the clock starts.")
    p.add_argument("--clients", default="1,4,16")
    p.add_argument("--sizes", default="1,1000")
    p.add_argument("--models", default="ae_64,telemetry")
    p.add_argument("--soak-seconds", type=float, default=0.0, help="Also run a soak of this many seconds (ae_64).")
    p.add_argument("--soak-model", default="ae_64")
    p.add_argument("--out", default="serve")
    p.add_argument("--in-process-only", action="store_true",
                   help="Only the in-process numbers (model call, and the service's scoring path without HTTP).")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    clients = [int(c) for c in args.clients.split(",")]
    sizes = [int(s) for s in args.sizes.split(",")]
    load_before = os.getloadavg()
    t_start = time.time()
    result = {"cells": [], "in_process": [], "in_process_service": [], "soak": None}
    with tempfile.TemporaryDirectory(prefix="anomalib_ae_bench_serve_") as tmp:
        models = build_models(Path(tmp))
        for name in args.models.split(","):
            m = models[name]
            for size in sizes:
                ip = in_process(m, size, args.seconds)
                result["in_process"].append({"model": name, **ip})
                print(f"{name:10s} in-process {size:5d} rows/call: {ip['rows_per_s']:10.1f} rows/s  "
                      f"p50 {ip['p50_ms']} ms", flush=True)
                sp = in_process_service(m, size, args.seconds)
                result["in_process_service"].append({"model": name, **sp})
                print(f"{name:10s} service path, no HTTP {size:5d} rows/call: {sp['rows_per_s']:10.1f} rows/s  "
                      f"p50 {sp['p50_ms']} ms  p99 {sp['p99_ms']} ms", flush=True)
            if args.in_process_only:
                continue
            server = Server(m["path"])
            try:
                k = 0
                for size in sizes:
                    bodies = Bodies(m, size)
                    for c in clients:
                        k += 100_000
                        cell = load_cell(server.url, bodies, c, args.seconds, args.warmup, start_k=k)
                        result["cells"].append({"model": name, **cell})
                        print(f"{name:10s} http {size:5d} rows x {c:2d} clients: {cell['rows_per_s']:10.1f} rows/s  "
                              f"p50 {cell['p50_ms']} ms  p99 {cell['p99_ms']} ms  ({cell['requests']} req, "
                              f"{cell['errors']} errors)", flush=True)
                if args.soak_seconds > 0 and name == args.soak_model:
                    print(f"soak: {args.soak_seconds:.0f} s on {name} ...", flush=True)
                    result["soak"] = {"model": name, **run_soak(server, m, args.soak_seconds)}
                    s = result["soak"]
                    print(f"soak: RSS {s['rss_start_mb']} -> {s['rss_end_mb']} MB ({s['growth_pct']} %), "
                          f"after the first minute {s['growth_after_60s_pct']} %", flush=True)
                result.setdefault("server_rss_mb", {})[name] = round(server.rss_mb(), 1)
            finally:
                server.stop()
        result["models"] = {k: {"data": v["data"], "kind": v["kind"]} for k, v in models.items()}
    result["targets"] = targets(result)
    result["meta"] = {"seconds_per_cell": args.seconds, "python": platform.python_version(), "cpus": os.cpu_count(),
                      "loadavg_before": [round(x, 2) for x in load_before],
                      "loadavg_after": [round(x, 2) for x in os.getloadavg()], "wall_s": round(time.time() - t_start, 1),
                      "server": "anomalib-ae serve, 1 scoring worker, torch 1 thread, uvicorn, 127.0.0.1",
                      "clients": "threads of the benchmark process (same machine), httpx keep-alive, JSON rows"}
    md = markdown(result) if result["cells"] else json.dumps(result["in_process_service"], indent=1)
    print(md)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{args.out}.md").write_text(md)
    return 0


def targets(r: dict) -> dict:
    out = {}
    ip = {(x["model"], x["rows_per_request"]): x["rows_per_s"] for x in r["in_process"]}
    for c in r["cells"]:
        if c["rows_per_request"] == 1000:
            key = f"{c['model']} 1000-row x{c['clients']}: http / in-process rows/s"
            out[key] = round(c["rows_per_s"] / ip[(c["model"], 1000)], 3)
        if c["rows_per_request"] == 1 and c["clients"] == 16:
            out[f"{c['model']} 1-row x16: p99 ms (target < 20)"] = c["p99_ms"]
    return out


def markdown(r: dict) -> str:
    ip = {(x["model"], x["rows_per_request"]): x for x in r["in_process"]}
    lines = ["# Serving benchmark (loopback)", "", f"{r['meta']['server']}; clients: {r['meta']['clients']}. "
             f"{r['meta']['seconds_per_cell']} s per cell; load average before {r['meta']['loadavg_before']}, after "
             f"{r['meta']['loadavg_after']} on {r['meta']['cpus']} CPUs.", "",
             "| model | rows/request | clients | HTTP rows/s | p50 ms | p99 ms | in-process rows/s (model call) "
             "| HTTP / in-process | service path without HTTP, rows/s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    sp = {(x["model"], x["rows_per_request"]): x for x in r.get("in_process_service", [])}
    for c in r["cells"]:
        i = ip[(c["model"], c["rows_per_request"])]
        s = sp.get((c["model"], c["rows_per_request"]))
        svc = f"{s['rows_per_s']:.0f}" if s else "n/a"
        lines.append(f"| {c['model']} | {c['rows_per_request']} | {c['clients']} | {c['rows_per_s']:.0f} | {c['p50_ms']} | "
                     f"{c['p99_ms']} | {i['rows_per_s']:.0f} | {c['rows_per_s'] / i['rows_per_s']:.0%} | {svc} |")
    lines += ["", "Targets: " + "; ".join(f"{k}: {v}" for k, v in r["targets"].items())]
    for k, v in r.get("models", {}).items():
        lines.append(f"- `{k}`: {v['data']}")
    if r.get("soak"):
        s = r["soak"]
        lines += ["", f"Soak ({s['model']}, {s['seconds']:.0f} s, 3 clients of 1-row + 1 client of 1000-row requests): "
                  f"server RSS {s['rss_start_mb']} MB -> {s['rss_end_mb']} MB (max {s['rss_max_mb']}), growth "
                  f"{s['growth_pct']} % ({s['growth_after_60s_pct']} % after the first minute)."]
        for name, cell in s["load"].items():
            lines.append(f"- {name}: {cell['rows_per_s']:.0f} rows/s, p50 {cell['p50_ms']} ms, p99 {cell['p99_ms']} ms, "
                         f"{cell['requests']} requests, {cell['errors']} errors")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
