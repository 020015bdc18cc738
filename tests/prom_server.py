"""A real Prometheus server (Debian's /usr/bin/prometheus) on a free loopback port, for tests.

``start_prometheus(tmp_path, targets)`` writes a scrape config, starts Prometheus with its
data in ``tmp_path`` and waits until it is ready. Without the binary the test is skipped,
except in CI (``CI`` set), where that is a failure: CI installs the ``prometheus`` package.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

PROMETHEUS = os.environ.get("PROMETHEUS_BIN", "/usr/bin/prometheus")
PROMTOOL = os.environ.get("PROMTOOL_BIN", "/usr/bin/promtool")


def require_binary(path: str) -> str:
    """The binary's path; skip (or fail in CI) when it is not installed."""
    found = path if os.access(path, os.X_OK) else shutil.which(Path(path).name)
    if not found:
        msg = f"{path} not found (Debian package 'prometheus'; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PromServer:
    url: str
    proc: subprocess.Popen
    log_path: Path

    def query(self, promql: str) -> list[dict]:
        """Instant query; the ``result`` list of Prometheus' HTTP API (``[]`` when nothing matches yet)."""
        r = httpx.get(self.url + "/api/v1/query", params={"query": promql}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["status"] == "success", body
        return body["data"]["result"]

    def wait_for(self, promql: str, predicate=lambda res: bool(res), timeout: float = 60.0) -> list[dict]:
        """Query until ``predicate(result)`` holds; fail with the last result and the server log."""
        deadline = time.monotonic() + timeout
        res: list[dict] = []
        while time.monotonic() < deadline:
            res = self.query(promql)
            if predicate(res):
                return res
            time.sleep(0.5)
        targets = httpx.get(self.url + "/api/v1/targets", timeout=10).json()
        raise AssertionError(f"{promql}: last result {res}; targets {targets}; log tail "
                             f"{self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_prometheus(tmp_path, targets: list[str], scrape_interval: str = "1s", rule_files=()) -> PromServer:
    """Prometheus scraping ``targets`` (``host:port`` strings, loopback) every ``scrape_interval``."""
    binary = require_binary(PROMETHEUS)
    tmp_path = Path(tmp_path)
    port = _free_port()
    rules = "".join(f"\n  - {Path(r).resolve()}" for r in rule_files)
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  evaluation_interval: {scrape_interval}\n"
        + (f"rule_files:{rules}\n" if rules else "")
        + "scrape_configs:\n"
        "  - job_name: anomalib_ae\n"
        "    metrics_path: /metrics\n"
        "    static_configs:\n"
        f"      - targets: [{', '.join(repr(t) for t in targets)}]\n"
    )
    log_path = tmp_path / "prometheus.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(
        [binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h",
         "--web.enable-lifecycle"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    server = PromServer(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited with {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(server.url + "/-/ready", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"prometheus did not become ready: {log_path.read_text()[-2000:]}")
        time.sleep(0.2)
