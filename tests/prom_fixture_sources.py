"""A real Prometheus server for the source tests: history backfilled with promtool, live
samples scraped from a tiny prometheus_client exporter started here.  Loopback only.

Without /usr/bin/prometheus the tests skip, except in CI (env ``CI`` set), where they fail.
The binary lookup and free ports come from tests/prom_server.py, the monitoring tests' fixture.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prom_server import _free_port as free_port  # noqa: F401  (re-exported for the tests)
from prom_server import require_binary


def binary(name: str) -> str:
    """promtool / prometheus, found as the monitoring tests find them (skip, or fail in CI)."""
    return require_binary(f"/usr/bin/{name}")


def pattern(node: str, t: float, anomalous: bool = False) -> dict[str, float]:
    """Normal telemetry of a node: two correlated metrics with a 10-minute cycle."""
    phase = 0.0 if node == "a" else 1.0
    load = 0.5 + 0.3 * math.sin(2 * math.pi * t / 600.0 + phase)
    temp = 40.0 + 10.0 * load
    if anomalous:
        load, temp = load + 1.5, temp - 25.0
    return {"demo_load": load, "demo_temp": temp}


def backfill(tmp: Path, start: float, end: float, step: float, anomaly: tuple[float, float] | None = None) -> Path:
    """OpenMetrics history of nodes a and b written into TSDB blocks with promtool."""
    lines = []
    for metric in ("demo_load", "demo_temp"):
        lines.append(f"# TYPE {metric} gauge")
        for node in ("a", "b"):
            t = start
            while t <= end:
                bad = anomaly is not None and node == "b" and anomaly[0] <= t < anomaly[1]
                lines.append(f'{metric}{{node="{node}"}} {pattern(node, t, bad)[metric]:.6f} {t:.0f}')
                t += step
    lines.append("# EOF")
    om = tmp / "history.om"
    om.write_text("\n".join(lines) + "\n")
    data = tmp / "tsdb"
    data.mkdir()
    subprocess.run([binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(om), str(data)],
                   check=True, capture_output=True, timeout=120)
    return data


class Exporter:
    """/metrics with demo_load and demo_temp of one node, computed at scrape time."""

    def __init__(self, node: str):
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.core import GaugeMetricFamily

        class Collector:
            def collect(self_inner):
                vals = pattern(node, time.time())
                for k, v in vals.items():
                    yield GaugeMetricFamily(k, k, value=v)

        self.registry = CollectorRegistry()
        self.registry.register(Collector())
        self.port = free_port()
        self.server, self.thread = start_http_server(self.port, addr="127.0.0.1", registry=self.registry)
        self.node = node

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class PromServer:
    proc: subprocess.Popen
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def source(self) -> str:
        return f"prometheus://127.0.0.1:{self.port}"

    def query(self, promql: str) -> list:
        q = urllib.parse.urlencode({"query": promql})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=5) as r:
            return json.loads(r.read())["data"]["result"]

    def wait_for_samples(self, promql: str, n: int, timeout: float = 60.0) -> None:
        """Until ``count_over_time(promql[5m])`` reaches ``n`` for every series."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            res = self.query(f"count_over_time({promql}[5m])")
            if res and all(float(r["value"][1]) >= n for r in res):
                return
            time.sleep(0.5)
        raise TimeoutError(f"Prometheus did not collect {n} samples of {promql} in {timeout} s:\n"
                           + self.log.read_text()[-2000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start_prometheus(tmp: Path, exporters: list[Exporter], data_dir: Path | None = None,
                     scrape_interval: str = "1s") -> PromServer:
    port = free_port()
    jobs = [{"job_name": "self", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}]
    for e in exporters:
        jobs.append({"job_name": f"demo_{e.node}", "honor_labels": True,
                     "static_configs": [{"targets": [f"127.0.0.1:{e.port}"], "labels": {"node": e.node}}]})
    cfg = {"global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
           "scrape_configs": jobs}
    (tmp / "prometheus.yml").write_text(json.dumps(cfg))  # JSON is YAML
    data_dir = data_dir or (tmp / "tsdb")
    data_dir.mkdir(exist_ok=True)
    log = tmp / "prometheus.log"
    proc = subprocess.Popen(
        [binary("prometheus"), f"--config.file={tmp / 'prometheus.yml'}", f"--storage.tsdb.path={data_dir}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=30d", "--log.level=warn"],
        stdout=open(log, "wb"), stderr=subprocess.STDOUT, cwd=tmp)
    server = PromServer(proc, port, log)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("prometheus exited:\n" + log.read_text()[-3000:])
        try:
            with urllib.request.urlopen(f"{server.url}/-/ready", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    server.stop()
    raise TimeoutError("prometheus did not become ready:\n" + log.read_text()[-3000:])
