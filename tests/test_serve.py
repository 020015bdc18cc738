"""`anomalib-ae serve` over real loopback HTTP (uvicorn on 127.0.0.1, httpx / raw sockets as clients)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import select
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jsonschema
import numpy as np
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families

from anomalib_ae.records import schema
from anomalib_ae.serve import create_app

sys.path.insert(0, str(Path(__file__).parent))
from serve_server import (  # noqa: E402
    METRICS, anomalous_rows, free_port, normal_rows, running, tabular_model, telemetry_frame, telemetry_model,
)

LIMIT = 1024 * 1024
VALIDATOR = jsonschema.Draft202012Validator(schema())


def _valid(records: list[dict]) -> list[dict]:
    for r in records:
        VALIDATOR.validate(r)
    return records


def metrics(url: str) -> dict:
    """{(sample name, frozenset(labels)): value} of the service's /metrics, parsed by prometheus_client."""
    text = httpx.get(url + "/metrics").text
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(m: dict, name: str, **labels) -> float:
    return m.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture(scope="module")
def tab_path(tmp_path_factory):
    return tabular_model(tmp_path_factory.mktemp("tab") / "hosts.pt")


@pytest.fixture(scope="module")
def tab(tab_path):
    app = create_app(tab_path, max_body_bytes=LIMIT, max_entities=3, entity_idle_s=3600)
    with running(app) as srv:
        yield srv


# ---------------------------------------------------------------------------- content types
def test_json_rows_one_record_per_row_with_errors_and_culprits(tab):
    rows = normal_rows(5).to_dict("records") + anomalous_rows(2, "disk_io").to_dict("records")
    rows.append({**rows[0], "cpu": None})          # NaN -> an error record, the rest is scored
    rows.append({**rows[1], "mem": "high"})        # a string in a numeric column
    rows.append({**rows[1], "net_tx": [1, 2]})     # a list as a value
    r = httpx.post(tab.url + "/score", json={"rows": rows, "entity": "host-1"})
    assert r.status_code == 200, r.text
    body = r.json()
    recs = _valid(body["records"])
    assert len(recs) == 10 and body["n_items"] == 10 and body["n_errors"] == 3
    assert [x["row_id"] for x in recs] == list(range(10))
    assert all(x["entity"] == "host-1" and x["source"] == "http" for x in recs)
    assert recs[7]["error"] == "column 'cpu' has a missing value" and recs[7]["score"] is None
    assert "mem" in recs[8]["error"] and "'high'" in recs[8]["error"]
    assert "net_tx" in recs[9]["error"] and "[1, 2]" in recs[9]["error"]
    assert [x["is_anomaly"] for x in recs[:7]] == [False] * 5 + [True] * 2
    for x in recs[5:7]:
        assert x["top_features"][0]["name"] == "disk_io" and x["p_value"] < 0.1
    assert all(x["top_features"] == [] for x in recs[:5])
    # a plain list of rows works too, and scores the same
    again = httpx.post(tab.url + "/score", json=rows[:7]).json()["records"]
    assert [x["score"] for x in again] == [x["score"] for x in recs[:7]]


def test_csv_parquet_multipart_and_ndjson_agree(tab):
    df = pd.concat([normal_rows(4, seed=3), anomalous_rows(1)], ignore_index=True)
    ref = [x["score"] for x in httpx.post(tab.url + "/score", json={"rows": df.to_dict("records")}).json()["records"]]
    csv = df.to_csv(index=False).encode()
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    pq = buf.getvalue()
    bodies = [
        dict(content=csv, headers={"content-type": "text/csv"}),
        dict(content=pq, headers={"content-type": "application/vnd.apache.parquet"}),
        dict(content=pq, headers={"content-type": "application/octet-stream"}),
        dict(files={"table": ("batch.csv", csv, "text/csv")}),
        dict(files={"table": ("batch.parquet", pq, "application/octet-stream")}, data={"entity": "m7"}),
    ]
    for kw in bodies:
        r = httpx.post(tab.url + "/score", **kw)
        assert r.status_code == 200, (kw.get("headers"), r.text)
        recs = _valid(r.json()["records"])
        np.testing.assert_allclose([x["score"] for x in recs], ref, rtol=1e-6)
    assert recs[0]["entity"] == "m7"
    r = httpx.post(tab.url + "/score?source=line-3", content=csv,
                   headers={"content-type": "text/csv", "accept": "application/x-ndjson"})
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert r.headers["content-type"].startswith("application/x-ndjson") and len(lines) == 5
    assert all(x["source"] == "line-3" for x in _valid(lines))


# ---------------------------------------------------------------------------- refusals
def _raw(port: int, head: bytes, body: bytes = b"", timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        data = b""
        while True:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                length = [int(line.split(b":")[1]) for line in data[:head_end].split(b"\r\n")
                          if line.lower().startswith(b"content-length:")]
                if length and len(data) >= head_end + 4 + length[0]:
                    return data
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


def test_bad_requests_get_4xx_with_reason_and_service_keeps_serving(tab):
    before = metrics(tab.url)
    cases = [
        (dict(content=b'{"rows": [', headers={"content-type": "application/json"}), 400, "malformed JSON"),
        (dict(content=b"[" * 100_000 + b"]" * 100_000, headers={"content-type": "application/json"}), 400,
         "nested too deeply"),
        (dict(content=b"cpu,mem\n1,2", headers={"content-type": "text/plain"}), 415, "unsupported content type"),
        (dict(json={"rows": [{"x": 1, "y": 2}]}), 422, "missing column(s) ['cpu'"),
        (dict(json={"rows": []}), 422, "no rows"),
        (dict(json={"rows": [[1, 2, 3]]}), 422, "not an object"),
        (dict(json={"data": []}), 422, '{"rows"'),
        (dict(json={"rows": [{"cpu": 1}], "colour": "red"}), 422, "unknown JSON field"),
        (dict(content=b"PAR1garbage", headers={"content-type": "application/vnd.apache.parquet"}), 400,
         "malformed Parquet"),
        (dict(content=b"", headers={"content-type": "text/csv"}), 422, "empty CSV"),
        (dict(files={"f": ("a.png", b"\x89PNG", "image/png")}), 415, "scores table rows"),
        (dict(content=b"x" * (LIMIT + 1), headers={"content-type": "text/csv"}), 413, "exceeds the limit"),
    ]
    for kw, status, reason in cases:
        r = httpx.post(tab.url + "/score", **kw)
        assert r.status_code == status, (kw, r.text)
        assert reason in r.json()["error"], (reason, r.text)
        assert httpx.get(tab.url + "/health").json()["status"] == "ok"
    # a declared 1 GB body is refused before a byte of it is read
    head = (b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
            b"Content-Length: 1073741824\r\n\r\n")
    resp = _raw(tab.port, head)
    assert resp.startswith(b"HTTP/1.1 413") and b"1073741824 bytes exceeds the limit" in resp
    after = metrics(tab.url)
    grew = {k: value(after, "anomalib_ae_errors_total", kind=k) - value(before, "anomalib_ae_errors_total", kind=k)
            for k in ("malformed", "unsupported_media_type", "bad_columns", "bad_request", "too_large")}
    assert grew == {"malformed": 3, "unsupported_media_type": 2, "bad_columns": 1, "bad_request": 5, "too_large": 2}


def test_streamed_1gb_body_is_cut_off_at_the_limit(tab):
    """Chunked upload without Content-Length: refused once the limit is passed, not after reading 1 GB."""
    sent = 0
    chunk = b"1," * 32768
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with socket.create_connection(("127.0.0.1", tab.port), timeout=10) as s:
        s.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        try:
            while sent < 1 << 30:
                if select.select([s], [], [], 0)[0]:
                    break  # the answer is there
                s.sendall(frame)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        resp = s.recv(65536)
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert sent < 64 * LIMIT  # stopped long before 1 GB
    assert httpx.get(tab.url + "/health").status_code == 200


def test_client_disconnecting_mid_request(tab):
    before = value(metrics(tab.url), "anomalib_ae_errors_total", kind="client_disconnect")
    with socket.create_connection(("127.0.0.1", tab.port), timeout=5) as s:
        s.sendall(b"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                  b"Content-Length: 100000\r\n\r\ncpu,mem,disk_io,net_rx,net_tx,temp\n1,2,3,")
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while value(metrics(tab.url), "anomalib_ae_errors_total", kind="client_disconnect") == before:
        assert time.monotonic() < deadline, "the disconnect was not noticed"
        time.sleep(0.1)
    r = httpx.post(tab.url + "/score", json={"rows": normal_rows(2).to_dict("records")})
    assert r.status_code == 200 and len(r.json()["records"]) == 2


def test_100_concurrent_clients(tab):
    before = value(metrics(tab.url), "anomalib_ae_items_scored_total")
    rows = normal_rows(10, seed=9).to_dict("records")

    async def main():
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(base_url=tab.url, limits=limits, timeout=120) as c:
            rs = await asyncio.gather(*[c.post("/score", json={"rows": rows, "entity": "load"}) for _ in range(100)])
            health = await c.get("/health")
        return rs, health

    rs, health = asyncio.run(main())
    assert [r.status_code for r in rs] == [200] * 100
    assert all(len(r.json()["records"]) == 10 for r in rs) and health.json()["status"] == "ok"
    assert value(metrics(tab.url), "anomalib_ae_items_scored_total") - before == 1000
    assert httpx.get(tab.url + "/health").json()["pending_requests"] == 0


# ---------------------------------------------------------------------------- metrics
def test_metrics_parse_and_entity_labels_are_bounded(tab):
    httpx.post(tab.url + "/score", json={"rows": normal_rows(60).to_dict("records")}).raise_for_status()  # drift window
    for k in range(6):  # max_entities=3: three get their own label, the rest go to _other
        httpx.post(tab.url + "/score", json={"rows": anomalous_rows(1, seed=k).to_dict("records"),
                                             "entity": f"burst-{k}"}).raise_for_status()
    m = metrics(tab.url)
    names = {n for n, _ in m}
    for n in ("anomalib_ae_items_scored_total", "anomalib_ae_anomalies_total", "anomalib_ae_errors_total",
              "anomalib_ae_score_bucket", "anomalib_ae_probability_bucket", "anomalib_ae_request_duration_seconds_bucket",
              "anomalib_ae_model_info", "anomalib_ae_entity_score", "anomalib_ae_entity_probability",
              "anomalib_ae_entity_anomalies_total", "anomalib_ae_drift_p_value", "anomalib_ae_drift_detected",
              "anomalib_ae_threshold", "anomalib_ae_tracked_entities"):
        assert n in names, n
    ents = {dict(lab)["entity"] for n, lab in m if n == "anomalib_ae_entity_score"}
    assert len(ents) <= 4 and "_other" in ents and value(m, "anomalib_ae_tracked_entities") == 3
    info = [dict(lab) for n, lab in m if n == "anomalib_ae_model_info"][0]
    assert info["name"] == "hosts" and info["detector"] == "ae" and len(info["digest"]) == 64
    assert info["format_version"] == "1" and info["kind"] == "tabular"
    assert value(m, "anomalib_ae_entity_is_anomaly", entity="_other") == 1.0
    assert value(m, "anomalib_ae_score_count") == value(m, "anomalib_ae_items_scored_total")
    assert value(m, "anomalib_ae_request_duration_seconds_count", endpoint="/score") >= 6
    # the drift window has seen enough items for a verdict
    assert 0.0 <= value(m, "anomalib_ae_drift_p_value") <= 1.0


def test_live_page_and_api(tab):
    page = httpx.get(tab.url + "/")
    assert page.status_code == 200 and "<canvas" in page.text
    assert "http://" not in page.text.replace('href="metrics"', "") and "https://" not in page.text
    js = httpx.get(tab.url + "/static/dashboard.js")
    assert js.status_code == 200 and "fetch(\"api/recent" in js.text and "https://" not in js.text
    assert httpx.get(tab.url + "/static/../app.py").status_code == 404
    snap = httpx.get(tab.url + "/api/recent").json()
    assert snap["model"]["threshold"] > 0 and snap["model"]["feature_columns"] == METRICS
    assert snap["anomalies"] and snap["anomalies"][0]["top_features"]
    assert set(snap["counts"]) == {"items", "anomalies", "errors"}


# ---------------------------------------------------------------------------- telemetry
def test_telemetry_rows_stream_with_per_host_context(tmp_path):
    from anomalib_ae.pipeline import load_pipeline

    path = telemetry_model(tmp_path / "tel.pt")
    pipe = load_pipeline(path)
    df = telemetry_frame(12, seed=5, start="2024-02-01")
    df.loc[(df["host"] == "node-b") & (df.index % 12 == 9), "temp"] += 15.0
    with running(create_app(path)) as srv:
        recs = []
        for i in range(0, 12, 3):  # each request: 3 rows of each host, in time order
            part = df.groupby("host").nth(list(range(i, i + 3)))
            payload = json.loads(part.to_json(orient="records", date_format="iso"))
            r = httpx.post(srv.url + "/score", json={"rows": payload})
            assert r.status_code == 200, r.text
            recs += _valid(r.json()["records"])
        # streamed in chunks with per-host context = scoring the host's history up to the chunk's end
        a = df[df["host"] == "node-a"].reset_index(drop=True)
        got = [x["score"] for x in recs if x["entity"] == "node-a"]
        want = [float(pipe.score_items(a.iloc[:t // 3 * 3 + 3]).scores[t]) for t in range(12)]
        np.testing.assert_allclose(got, want, rtol=1e-5)
        assert recs[0]["timestamp"] == "2024-02-01T00:00:00"
        flagged = [x for x in recs if x["is_anomaly"]]
        assert flagged and {x["entity"] for x in flagged} == {"node-b"}
        spike = [x for x in recs if x["entity"] == "node-b" and x["timestamp"] == "2024-02-01T00:01:30"][0]
        assert spike["is_anomaly"] and spike["top_features"][0]["name"] == "temp"
        bad = df.head(2).copy().astype({"cpu": object})
        bad.loc[1, "cpu"] = "n/a"
        r = httpx.post(srv.url + "/score", json={"rows": json.loads(bad.to_json(orient="records", date_format="iso"))})
        out = _valid(r.json()["records"])
        assert out[0]["error"] is None and "cpu" in out[1]["error"]
        r = httpx.post(srv.url + "/score", json={"rows": [{"timestamp": "2024-01-01", **normal_rows(1).iloc[0]}]})
        assert r.status_code == 422 and "host" in r.json()["error"]
        m = metrics(srv.url)
        assert value(m, "anomalib_ae_entity_anomalies_total", entity="node-b") == len(flagged)


# ---------------------------------------------------------------------------- images and audio
def test_image_uploads_and_corrupt_file(tmp_path):
    from anomalib_ae import datasets
    from anomalib_ae.pipeline import Pipeline

    folder = Path(datasets.pneumonia_png_dir())
    pngs = sorted(folder.rglob("*.png"))
    Pipeline("ae", kind="image", adapter_params={"size": 32},
             detector_params={"epochs": 2, "verbose": False, "random_state": 0}).fit(folder).save(tmp_path / "img.pt")
    with running(create_app(tmp_path / "img.pt")) as srv:
        files = [("files", (p.name, p.read_bytes(), "image/png")) for p in pngs[:2]]
        files.append(("files", ("broken.png", b"\x89PNG\r\n\x1a\nnot really", "image/png")))
        r = httpx.post(srv.url + "/score", files=files, data={"entity": "scanner-2"})
        assert r.status_code == 200, r.text
        recs = _valid(r.json()["records"])
        assert [x["item"] for x in recs] == [pngs[0].name, pngs[1].name, "broken.png"]
        assert recs[0]["score"] is not None and recs[2]["score"] is None and recs[2]["error"]
        assert "anomalib_ae_serve_" not in recs[2]["error"]  # no temporary path leaks out
        assert all(x["entity"] == "scanner-2" and x["row_id"] is None for x in recs)
        one = httpx.post(srv.url + "/score?name=x.png", content=pngs[0].read_bytes(), headers={"content-type": "image/png"})
        assert one.json()["records"][0]["score"] == pytest.approx(recs[0]["score"])
        r = httpx.post(srv.url + "/score", json={"rows": [{"a": 1}]})
        assert r.status_code == 415 and "image" in r.json()["error"]


def test_wav_uploads_and_corrupt_wav(tmp_path):
    import soundfile as sf

    from anomalib_ae import datasets
    from anomalib_ae.pipeline import Pipeline

    paths = datasets.load_mimii_sample()["paths"]
    Pipeline("ae", kind="audio", detector_params={"epochs": 2, "verbose": False, "random_state": 0}).fit(
        paths[:4]).save(tmp_path / "fan.pt")
    y, sr = sf.read(paths[30])
    wav = io.BytesIO()
    sf.write(wav, y, sr, format="WAV")
    with running(create_app(tmp_path / "fan.pt")) as srv:
        files = [("clip", ("fan_30.wav", wav.getvalue(), "audio/wav")),
                 ("clip", ("truncated.wav", wav.getvalue()[:30], "audio/wav"))]
        recs = _valid(httpx.post(srv.url + "/score", files=files).json()["records"])
        assert recs[0]["score"] is not None and recs[0]["item"] == "fan_30.wav"
        assert recs[1]["score"] is None and recs[1]["error"] and "anomalib_ae_serve_" not in recs[1]["error"]
        assert httpx.get(srv.url + "/health").json()["kind"] == "audio"


# ---------------------------------------------------------------------------- the command
def test_cli_serve_binds_loopback_and_answers(tab_path):
    port = free_port()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "anomalib_ae.cli.main", "serve", "--model", tab_path,
                             "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                h = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline
                time.sleep(0.3)
        assert h["model"] == "hosts"
        conns = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True).stdout \
            if os.path.exists("/usr/bin/ss") or os.path.exists("/bin/ss") else ""
        if conns:
            assert conns.split()[3] == f"127.0.0.1:{port}"  # local address: loopback only
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    bad = subprocess.run([sys.executable, "-m", "anomalib_ae.cli.main", "serve", "--model", "/nonexistent.pt"],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "does not exist" in bad.stderr


# ---------------------------------------------------------------------------- bare detectors, entity slots
def test_bare_detector_file_is_served_as_a_table_model(tmp_path):
    import anomalib_ae

    from serve_server import FAST

    det = anomalib_ae.create("ae", contamination=0.01, **FAST).fit(normal_rows(1000))
    det.save(tmp_path / "bare.pt")
    with running(create_app(tmp_path / "bare.pt")) as srv:
        rows = normal_rows(3).to_dict("records") + anomalous_rows(1, "cpu").to_dict("records")
        r = httpx.post(srv.url + "/score", json={"rows": rows})
        assert r.status_code == 200, r.text
        recs = _valid(r.json()["records"])
        assert [x["error"] for x in recs] == [None] * 4 and recs[3]["is_anomaly"] is True
        assert recs[3]["score"] == pytest.approx(float(det.score(anomalous_rows(1, "cpu"))[0]), rel=1e-6)
        assert recs[3]["top_features"][0]["name"] == "cpu" and recs[3]["threshold"] == det.threshold_
        info = [dict(lab) for n, lab in metrics(srv.url) if n == "anomalib_ae_model_info"][0]
        assert info["detector"] == "ae" and info["kind"] == "detector"


def test_entity_slots_lru_with_idle_eviction_and_overflow():
    from anomalib_ae.serve.metrics import OTHER, EntitySlots

    slots = EntitySlots(max_entities=2, idle_s=60)
    assert slots.label("a", 0) == ("a", None) and slots.label("b", 1) == ("b", None)
    assert slots.label("c", 30) == (OTHER, None)      # full, nobody idle long enough
    assert slots.label("a", 40) == ("a", None)        # a is now the most recent
    assert slots.label("d", 100) == ("d", "b")        # b idle 99 s > 60 s: evicted
    assert len(slots) == 2
