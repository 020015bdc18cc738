"""configs/prometheus (scrape config, alert rules and their unit tests, checked by promtool) and
configs/grafana (the dashboard's queries use only metric names the service exposes)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from anomalib_ae.serve import create_app

sys.path.insert(0, str(Path(__file__).parent))
from prom_server import PROMTOOL, require_binary  # noqa: E402
from serve_server import anomalous_rows, normal_rows, running, tabular_model  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
PROM = CONFIGS / "prometheus"
DASHBOARD = CONFIGS / "grafana" / "anomalib_ae_dashboard.json"
METRIC = re.compile(r"\b(anomalib_ae_[a-z0-9_]+)\b")
# series Prometheus makes itself
BUILTIN = {"up"}


def _promtool(*args) -> str:
    tool = require_binary(PROMTOOL)
    res = subprocess.run([tool, *args], capture_output=True, text=True, cwd=PROM, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout + res.stderr


def test_promtool_checks_rules_and_config():
    assert "SUCCESS: 5 rules found" in _promtool("check", "rules", "alerts.yml")
    assert "is valid prometheus config file" in _promtool("check", "config", "prometheus.yml")


def test_promtool_unit_tests_of_the_alerts():
    assert "SUCCESS" in _promtool("test", "rules", "alerts_test.yml")


def dashboard_exprs() -> list[str]:
    d = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in d["templating"]["list"] if v.get("definition")]
    return exprs


def alert_exprs() -> list[str]:
    rules = yaml.safe_load((PROM / "alerts.yml").read_text())
    return [r["expr"] for g in rules["groups"] for r in g["rules"]]


def exposed_names(url: str) -> set[str]:
    names = set()
    for fam in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        names.update(s.name for s in fam.samples)
    return names


@pytest.fixture(scope="module")
def exposed(tmp_path_factory):
    path = tabular_model(tmp_path_factory.mktemp("m") / "m.pt")
    with running(create_app(path)) as srv:
        for rows, ent in ((normal_rows(5), "a"), (anomalous_rows(2), "b")):
            httpx.post(srv.url + "/score", json={"rows": rows.to_dict("records"), "entity": ent}).raise_for_status()
        yield exposed_names(srv.url)


def test_grafana_dashboard_uses_only_exposed_metrics(exposed):
    d = json.loads(DASHBOARD.read_text())
    assert {v["name"] for v in d["templating"]["list"]} == {"datasource", "entity"}
    ds = [v for v in d["templating"]["list"] if v["name"] == "datasource"][0]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    for p in d["panels"]:
        assert p["datasource"]["uid"] == "${datasource}", p["title"]
    used = {m for e in dashboard_exprs() for m in METRIC.findall(e)}
    assert used and used <= exposed, sorted(used - exposed)
    assert {"anomalib_ae_entity_probability", "anomalib_ae_entity_score", "anomalib_ae_drift_p_value",
            "anomalib_ae_model_info"} <= used


def test_alert_rules_use_only_exposed_metrics(exposed):
    used = {m for e in alert_exprs() for m in METRIC.findall(e)}
    assert used and used <= exposed, sorted(used - exposed)
