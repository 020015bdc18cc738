"""Helpers for the service tests: small fitted models and a real uvicorn server on a free loopback port."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

import numpy as np
import pandas as pd

FAST = {"epochs": 5, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}
METRICS = ["cpu", "mem", "disk_io", "net_rx", "net_tx", "temp"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def normal_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """Correlated 'host metrics' (a latent load drives cpu, mem, net; temp follows cpu)."""
    r = np.random.default_rng(seed)
    load = r.normal(size=n)
    df = pd.DataFrame({
        "cpu": load + 0.3 * r.normal(size=n),
        "mem": 0.5 * load + 0.5 * r.normal(size=n),
        "disk_io": r.normal(size=n),
        "net_rx": 0.7 * load + 0.4 * r.normal(size=n),
        "net_tx": 0.7 * load + 0.4 * r.normal(size=n),
    })
    df["temp"] = 0.8 * df["cpu"] + 0.3 * r.normal(size=n)
    return df[METRICS]


def anomalous_rows(n: int, culprit: str = "temp", seed: int = 1) -> pd.DataFrame:
    df = normal_rows(n, seed)
    df[culprit] = df[culprit] + 12.0
    return df


def tabular_model(path) -> str:
    from anomalib_ae.pipeline import Pipeline

    Pipeline("ae", kind="tabular", detector_params=FAST, contamination=0.01).fit(normal_rows(2000)).save(path)
    return str(path)


def telemetry_frame(n_per_host: int, hosts=("node-a", "node-b"), seed: int = 0, start="2024-01-01") -> pd.DataFrame:
    parts = []
    for k, h in enumerate(hosts):
        df = normal_rows(n_per_host, seed + k)
        df.insert(0, "host", h)
        df.insert(0, "timestamp", pd.date_range(start, periods=n_per_host, freq="10s"))
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def telemetry_model(path) -> str:
    from anomalib_ae.pipeline import Pipeline

    params = {"window": 4, "stride": 1, "timestamp_col": "timestamp", "entity_col": "host"}
    Pipeline("ae", kind="telemetry", adapter_params=params, detector_params=FAST, contamination=0.01).fit(
        telemetry_frame(300)).save(path)
    return str(path)


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a background thread."""

    def __init__(self, app, port: int | None = None):
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                             lifespan="on", timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> "ServerThread":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def running(app):
    srv = ServerThread(app).start()
    try:
        yield srv
    finally:
        srv.stop()
