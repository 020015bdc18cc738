"""A real Prometheus server scrapes `anomalib-ae serve`; the per-entity scores and the anomaly
counters arrive in Prometheus with the values the service returned."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from anomalib_ae.serve import create_app

sys.path.insert(0, str(Path(__file__).parent))
from prom_server import start_prometheus  # noqa: E402
from serve_server import anomalous_rows, normal_rows, running, tabular_model  # noqa: E402


@pytest.fixture
def prom_and_service(tmp_path):
    path = tabular_model(tmp_path / "hosts.pt")
    with running(create_app(path)) as srv:
        prom = start_prometheus(tmp_path, [f"127.0.0.1:{srv.port}"], scrape_interval="1s")
        try:
            yield prom, srv
        finally:
            prom.stop()


def test_prometheus_scrapes_entity_scores_and_anomaly_counts(prom_and_service):
    prom, srv = prom_and_service
    prom.wait_for('up{job="anomalib_ae"} == 1')
    sent = {}
    for host, rows in {"node-1": normal_rows(20, seed=1), "node-2": anomalous_rows(3, "net_rx", seed=2),
                       "node-3": normal_rows(5, seed=3)}.items():
        r = httpx.post(srv.url + "/score", json={"rows": rows.to_dict("records"), "entity": host})
        sent[host] = r.json()["records"]
    n_anom = {h: sum(1 for x in recs if x["is_anomaly"]) for h, recs in sent.items()}
    assert n_anom["node-2"] == 3

    for host, recs in sent.items():
        last = recs[-1]
        res = prom.wait_for(f'anomalib_ae_entity_score{{entity="{host}"}}',
                            lambda res, v=last["score"]: bool(res) and abs(float(res[0]["value"][1]) - v) <= 1e-9 * max(1, abs(v)))
        assert res[0]["metric"]["job"] == "anomalib_ae"
        prom.wait_for(f'anomalib_ae_entity_probability{{entity="{host}"}}',
                      lambda res, v=last["probability"]: bool(res) and abs(float(res[0]["value"][1]) - v) < 1e-9)
    prom.wait_for('anomalib_ae_entity_anomalies_total{entity="node-2"}',
                  lambda res: bool(res) and float(res[0]["value"][1]) == 3)
    total = sum(n_anom.values())
    prom.wait_for("anomalib_ae_anomalies_total", lambda res: bool(res) and float(res[0]["value"][1]) == total)
    prom.wait_for("anomalib_ae_items_scored_total", lambda res: bool(res) and float(res[0]["value"][1]) == 28)
    # the model-info metric and the histograms are queryable as the Grafana dashboard uses them
    info = prom.wait_for("anomalib_ae_model_info")[0]["metric"]
    assert info["name"] == "hosts" and info["detector"] == "ae" and len(info["digest"]) == 64
    prom.wait_for("histogram_quantile(0.5, sum by (le) (anomalib_ae_score_bucket))")


def test_dashboard_and_alert_queries_are_valid_promql_with_data(prom_and_service):
    """Every Grafana panel query and alert expression runs on the real Prometheus (status success)."""
    from test_monitoring_configs import alert_exprs, dashboard_exprs

    prom, srv = prom_and_service
    httpx.post(srv.url + "/score", json={"rows": anomalous_rows(2).to_dict("records"), "entity": "n1"})
    prom.wait_for("anomalib_ae_entity_score")
    for expr in dashboard_exprs() + alert_exprs():
        if expr.startswith("label_values("):
            m = expr[len("label_values("):-1].split(",")
            r = httpx.get(prom.url + f"/api/v1/label/{m[1].strip()}/values", params={"match[]": m[0].strip()})
            assert r.json()["status"] == "success" and "n1" in r.json()["data"]
            continue
        q = expr.replace("$__rate_interval", "1m").replace("$entity", ".*")
        r = httpx.get(prom.url + "/api/v1/query", params={"query": q})
        assert r.status_code == 200 and r.json()["status"] == "success", (q, r.text)
