"""Prometheus as a telemetry source, against a real Prometheus server (Debian /usr/bin/prometheus):
six hours of history backfilled with promtool (node b misbehaves for ten minutes), live samples
scraped every second from two exporters started here; fit, score, paging, pull mode, errors."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anomalib_ae.cli import cli
from anomalib_ae.sources import PrometheusError, PrometheusSource, source_from_config
from anomalib_ae.sources.prometheus import parse_duration, parse_time
from prom_fixture_sources import Exporter, backfill, free_port, start_prometheus

pytest.importorskip("prometheus_client")

QUERIES = ["--query", "load=demo_load", "--query", "temp=demo_temp"]
FAST = ["-p", "epochs=3", "-p", "verbose=false", "-p", "accelerator=cpu", "-p", "batch_size=64"]
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prom(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prom")
    end = (time.time() - 900) // 15 * 15
    start = end - 6 * 3600
    anomaly = (end - 3600, end - 3000)
    data = backfill(tmp, start, end, 15.0, anomaly)
    exporters = [Exporter("a"), Exporter("b")]
    server = start_prometheus(tmp, exporters, data)
    try:
        server.wait_for_samples("demo_load", 4)
        yield {"server": server, "start": start, "end": end, "anomaly": anomaly, "tmp": tmp}
    finally:
        server.stop()
        for e in exporters:
            e.stop()


def config(tmp, source, **data):
    cfg = {"data": {"source": source, "entity_label": "node", "step": "15s",
                    "queries": {"load": "demo_load", "temp": "demo_temp"}, **data},
           "adapter": {"kind": "telemetry", "params": {"window": 8, "stride": 2}},
           "detector": {"name": "ae", "params": {"input_kind": "window", "random_state": 0}},
           "threshold": {"contamination": 0.02}}
    p = tmp / "prom.yaml"
    p.write_text(json.dumps(cfg))
    return p


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_time_and_duration_parsing():
    assert parse_duration("1h30m") == 5400 and parse_duration("15s") == 15 and parse_duration(2) == 2.0
    assert parse_time("now-1h", now=10000) == 6400 and parse_time("-5m", now=1000) == 700
    assert parse_time("2026-01-01T00:00:00Z") == parse_time("2026-01-01T00:00:00") == 1767225600
    with pytest.raises(PrometheusError, match="duration"):
        parse_duration("5 minutes")


def test_paging_gives_the_same_table(prom):
    s = prom["server"]
    kw = dict(entity_label="node", start=prom["start"], end=prom["end"], step="15s")
    big = PrometheusSource(s.source, {"load": "demo_load", "temp": "demo_temp"}, **kw)
    small = PrometheusSource(s.source, {"load": "demo_load", "temp": "demo_temp"}, max_points=100, **kw)
    a, b = big.read(), small.read()
    assert big.requests_made == 2 and small.requests_made == 2 * 15  # 1441 steps in pages of 100 points
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == ["timestamp", "node", "load", "temp"] and len(a) == 2 * 1441
    assert a.groupby("node").size().to_dict() == {"a": 1441, "b": 1441}
    assert a["timestamp"].diff().dropna().dt.total_seconds().isin([15.0, -21600.0]).all()


def test_fit_and_score_from_prometheus(prom, tmp_path):
    s, start, end = prom["server"], prom["start"], prom["end"]
    cfg = config(tmp_path, s.source)
    model = tmp_path / "m.pt"
    res = run("fit", "-c", cfg, "-i", s.source, "-m", model, "--start", start, "--end", start + 4 * 3600, *FAST)
    assert res.exit_code == 0, res.output
    assert "fitted telemetry pipeline" in res.output
    # score the last two hours
    out = tmp_path / "scores.csv"
    res = run("score", "-m", model, "-i", s.source, "-c", cfg, "--start", end - 7200, "--end", end, "-o", out)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out, parse_dates=["timestamp"])
    assert {"timestamp", "node", "score", "probability", "is_anomaly", "error"} <= set(t.columns)
    assert len(t) == 2 * 481 and t["error"].isna().all()
    ts = (t["timestamp"] - pd.Timestamp(0)).dt.total_seconds()
    a0, a1 = prom["anomaly"]
    bad = (t["node"] == "b") & (ts >= a0 + 120) & (ts < a1)
    assert t.loc[bad, "score"].min() > t.loc[~bad & (t["node"] == "a"), "score"].max()
    assert t.loc[bad, "is_anomaly"].all()
    # --query on the command line instead of the config, the time range as RFC 3339
    iso = [pd.Timestamp(x, unit="s").strftime("%Y-%m-%dT%H:%M:%SZ") for x in (end - 7200, end)]
    res = run("score", "-m", model, "-i", s.source, *QUERIES, "--start", iso[0], "--end", iso[1], "--step", "15s",
              "-o", tmp_path / "q.csv")
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose(pd.read_csv(tmp_path / "q.csv")["score"], t["score"], rtol=1e-6)
    # the model is a plain telemetry model: a CSV export of the same table scores identically
    table = source_from_config(json.loads(cfg.read_text())["data"], start=end - 7200, end=end).read()
    table.to_csv(tmp_path / "export.csv", index=False)
    res = run("score", "-m", model, "-i", tmp_path / "export.csv", "-o", tmp_path / "csv_scores.csv")
    assert res.exit_code == 0, res.output
    np.testing.assert_allclose(pd.read_csv(tmp_path / "csv_scores.csv")["score"], t["score"], rtol=1e-6)


@pytest.mark.parametrize("case", ["unreachable", "promql", "empty", "no_queries", "several_series", "no_entity"])
def test_errors_are_one_line(prom, tmp_path, case):
    s, start, end = prom["server"], prom["start"], prom["end"]
    src = {"unreachable": f"prometheus://127.0.0.1:{free_port()}"}.get(case, s.source)
    q = {"promql": ["-q", "load=rate(demo_load[5m"], "empty": ["-q", "load=no_such_metric"],
         "no_queries": [], "several_series": ["-q", "load={__name__=~\"demo_.*\"}"]}.get(case, QUERIES)
    label = "instance" if case == "no_entity" else "node"
    res = CliRunner().invoke(cli, ["fit", "--kind", "telemetry", "-i", src, "-m", str(tmp_path / "m.pt"),
                                   "--start", str(start), "--end", str(end), "--entity-label", label, *q])
    assert res.exit_code != 0
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
    expect = {"unreachable": "cannot reach Prometheus", "promql": "query 'load'", "empty": "no data",
              "no_queries": "needs queries", "several_series": "several series",
              "no_entity": "without the entity label 'instance'"}[case]
    assert expect in lines[0]


def scrape(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(anomalib_ae_[a-z_]+)(\{[^}]*\})? (\S+)$', line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


@pytest.mark.slow
def test_pull_mode_exposes_scores(prom, tmp_path):
    s = prom["server"]
    cfg = config(tmp_path, s.source, step="1s", lookback="30s")
    model = tmp_path / "m.pt"
    res = run("fit", "-c", cfg, "-i", s.source, "-m", model, "--start", prom["start"], "--end", prom["start"] + 7200,
              "--step", "15s", *FAST)
    assert res.exit_code == 0, res.output
    s.wait_for_samples("demo_load", 10)  # a window (8) of live 1 s samples
    port = free_port()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from anomalib_ae.cli.main import cli; sys.exit(cli())",
                             "pull", "-c", str(cfg), "-m", str(model), "--every", "1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        metrics, deadline = {}, time.time() + 60
        while time.time() < deadline:
            try:
                metrics = scrape(f"http://127.0.0.1:{port}/metrics")
                if metrics.get("anomalib_ae_items_scored_total", 0) > 0:
                    first = metrics["anomalib_ae_items_scored_total"]
                    time.sleep(2.5)
                    metrics = scrape(f"http://127.0.0.1:{port}/metrics")
                    break
            except OSError:
                if proc.poll() is not None:
                    break
            time.sleep(0.3)
        assert proc.poll() is None, proc.stdout.read().decode()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode()
    for node in ("a", "b"):
        assert np.isfinite(metrics[f'anomalib_ae_entity_score{{entity="{node}"}}'])
        assert 0 <= metrics[f'anomalib_ae_entity_probability{{entity="{node}"}}'] <= 1
        assert abs(metrics[f'anomalib_ae_entity_last_seen_timestamp_seconds{{entity="{node}"}}'] - time.time()) < 30
    # later pulls count only timestamps not seen before: about one per second per node
    assert metrics["anomalib_ae_items_scored_total"] > first
    assert metrics["anomalib_ae_items_scored_total"] < first + 2 * 10
    assert "anomalib_ae_anomalies_total" in metrics and metrics["anomalib_ae_pull_errors_total"] == 0
    assert "metrics on http://127.0.0.1:" in out


def test_pull_bad_source_fails_at_start(tmp_path, prom):
    cfg = config(tmp_path, f"prometheus://127.0.0.1:{free_port()}")
    res = CliRunner().invoke(cli, ["pull", "-c", str(cfg), "-m", str(tmp_path / "missing.pt")])
    assert res.exit_code != 0 and res.output.startswith("Error:")


def test_pull_scorer_counts_each_timestamp_once_and_counts_failures(prom, tmp_path):
    import anomalib_ae
    from anomalib_ae.sources.pull import PullScorer

    s = prom["server"]
    cfg = config(tmp_path, s.source)
    model = tmp_path / "m.pt"
    res = run("fit", "-c", cfg, "-i", s.source, "-m", model, "--start", prom["start"], "--end", prom["start"] + 3600,
              *FAST)
    assert res.exit_code == 0, res.output
    pipe = anomalib_ae.load(model)
    src = source_from_config(json.loads(cfg.read_text())["data"])
    scorer = PullScorer(pipe, src, lookback="10m")
    end = prom["end"]
    first = scorer.pull(now=end)
    assert first.n_new == 2 * 41 and set(first.latest) == {"a", "b"}
    assert first.latest["a"][3] == end
    again = scorer.pull(now=end + 14)  # the same grid: nothing new
    assert again.n_new == 0
    # Prometheus repeats a series' last sample for 5 minutes (staleness), so a minute later
    # the grid has 4 more timestamps per node, each counted once
    assert scorer.pull(now=end + 60).n_new == 2 * 4
    later = scorer.pull(now=end - 3000 + 600)  # an earlier window only re-reads what was seen
    assert later.n_new == 0
    scorer.source = PrometheusSource(f"prometheus://127.0.0.1:{free_port()}", src.queries, entity_label="node")
    with pytest.raises(PrometheusError, match="cannot reach"):
        scorer.pull(now=end)
    from prometheus_client import generate_latest

    text = generate_latest(scorer.registry).decode()
    assert "anomalib_ae_pull_errors_total 1.0" in text
    assert "anomalib_ae_items_scored_total 90.0" in text
    with pytest.raises(ValueError, match="missing"):
        PullScorer(pipe, PrometheusSource(s.source, {"load": "demo_load"}, entity_label="node"))
