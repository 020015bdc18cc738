"""The hostile corpus of benchmarks/reliability.py through the entry points added beside it.

* ``serve``: the HTTP service (a real uvicorn on 127.0.0.1): the table corpus sent as CSV,
  Parquet and JSON bodies, plus malformed JSON / multipart / content types. Each request gets a
  4xx with a reason, or one record per row (the usual row checks); ``/health`` answers after
  every case.
* ``watch``: the table corpus dropped into one watched folder (one file per case, in its own
  sub-folder), one ``Watcher.run(once=True)``: every file gets an output file of records or
  one error record, never nothing.
* ``cli.score.stream``: ``anomalib-ae score --chunk-rows 2`` (the streaming reader and writer).
* ``cli.calibrate``: ``anomalib-ae calibrate`` on hostile calibration data.
* ``export.onnx``: :func:`anomalib_ae.export.export_onnx` on detectors and paths it cannot take.
* ``pull``: :class:`anomalib_ae.sources.pull.PullScorer` (what ``anomalib-ae pull`` runs) against a
  fake Prometheus HTTP API on loopback that answers malformed JSON, NaN strings, missing series,
  HTTP 500 ...; errors also through the CLI (one ``Error:`` line).

The outcomes are classed as in reliability.py (ok, crash, silent_wrong, rows_lost, unexpected).
"""

from __future__ import annotations

import json
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

import reliability as R
from reliability import COLS, Case, Env, Outcome

ENTRIES = ("serve", "watch", "cli.score.stream", "cli.calibrate", "export.onnx", "pull")
SKIP_FILES = ("input is a folder", "input missing")  # cases about the path, not the content

# Where an entry point answers differently from the in-memory reader, and rightly so.
SERVE_MATCH = {  # case name -> regex of the service's reason
    "unsupported suffix": "malformed|unsupported",
    "jsonl corrupt line": "malformed JSON",
    "jsonl non-object line": "row 1 is a list",
    "jsonl wrong schema": "missing column",
    "parquet corrupt bytes": "malformed Parquet",
    "parquet truncated": "malformed Parquet",
    "empty file": "empty",
    "header only": "no rows",
}
ONE_TWO_THREE = lambda e: pd.DataFrame({"a": [1.0] * 2, "b": [2.0] * 2, "c": [3.0] * 2})  # noqa: E731
STREAM = {  # case name -> what differs: the streaming reader gives row errors where it can
    "ragged: extra field in the first row": dict(expect="rows", rows={0: "row has 5 field"}),
    "ragged: extra field in a later row": dict(expect="rows", rows={2: "row has 5 field"}),
    "header only": dict(expect="rows", rows={}, n_rows=0),
    "empty file": dict(expect="error", match="empty|no rows"),
    "latin-1 byte in a cell": dict(expect="rows", rows={2: "not UTF-8"}),
    "UTF-16 file": dict(expect="error", match="UnicodeDecodeError|utf-8|encoding|missing|header"),
    "gzip bytes named .csv": dict(expect="error", match="could not be read|UnicodeDecodeError|utf-8|missing|header"),
    "random binary named .csv": dict(expect="rows", rows={i: "not UTF-8" for i in range(4)}, n_rows=4),
    "jsonl corrupt line": dict(expect="rows", rows={1: "not valid JSON"}, n_rows=2, values=ONE_TWO_THREE),
    "jsonl non-object line": dict(expect="rows", rows={1: "not an object"}, n_rows=2, values=ONE_TWO_THREE),
    "ragged: short row": dict(expect="rows", rows={1: "row has 3 field|'c' has a missing value"}),
}
WATCH = {  # case name -> what differs where the watcher's file records differ
    "header only": dict(expect="rows", rows={}, n_rows=0),
    "unsupported suffix": dict(expect="error", match="unsupported file type"),
}


# ---------------------------------------------------------------------- the cases
def table_entry_cases(entry: str) -> list[Case]:
    out = []
    for c in R.table_cases(entry):
        if c.name in SKIP_FILES:
            continue
        override = {"cli.score.stream": STREAM, "watch": WATCH}.get(entry, {}).get(c.name)
        if override is not None:
            c = replace(c, **override)
        if entry == "serve" and c.name in SERVE_MATCH:
            c = replace(c, expect="error", match=SERVE_MATCH[c.name])
        out.append(c)
    return out


def serve_extra_cases() -> list[Case]:
    def body(data: bytes | str, ctype: str, name: str, match: str = "") -> Case:
        raw = data.encode() if isinstance(data, str) else data
        return Case("serve", name, lambda f, e, raw=raw, ctype=ctype: ("raw", ctype, raw), "error", match=match)

    row = {"a": 0.1, "b": 0.2, "c": 0.3}
    return [
        body("{not json", "application/json", "malformed JSON", "malformed JSON"),
        body("[" * 100_000 + "]" * 100_000, "application/json", "JSON nested 100 000 deep", "malformed|nested|row 0"),
        body('{"rows": 5}', "application/json", "rows not a list", "must be a list"),
        body('{"rows": []}', "application/json", "rows empty", "no rows"),
        body("[]", "application/json", "empty list", "no rows"),
        body('"text"', "application/json", "a JSON string", "must be"),
        body('{"rows": [{"a": 1}], "extra": 1}', "application/json", "unknown field", "unknown JSON field"),
        body('{"rows": [{"a": 1, "b": 2, "c": 3, "a": 4}]}', "application/json", "duplicate key in a row",
             "'a' appears 2 times"),
        body(b"\xff\xfe{}", "application/json", "JSON not UTF-8", "malformed JSON"),
        body(json.dumps({"rows": [row]}), "text/plain", "unsupported content type", "unsupported content type"),
        body(json.dumps({"rows": [row]}), "", "no content type", "unsupported content type"),
        body(b"--xyz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.csv\"\r\n\r\na,b,c\n1,2",
             "multipart/form-data; boundary=xyz", "multipart truncated", "malformed|multipart|row|missing|without"),
        body("a,b,c\n1,2,3\n", "multipart/form-data", "multipart without boundary", "malformed|multipart|boundary"),
        body(b"--xyz--\r\n", "multipart/form-data; boundary=xyz", "multipart without a file", "without a file"),
        body(b"\x89PNG\r\n", "image/png", "an image for a table model", "scores table rows"),
        Case("serve", "JSON rows with bad values", lambda f, e: ("json", [
            {"a": 0.1, "b": 0.2, "c": 0.3}, {"a": None, "b": 0.2, "c": 0.3}, {"a": "x", "b": 0.2, "c": 0.3},
            {"a": [1, 2], "b": 0.2, "c": 0.3}, {"a": 1e300, "b": 0.2, "c": 0.3}, {"a": True, "b": 0.2, "c": 0.3},
            {"a": {"x": 1}, "b": 0.2, "c": 0.3}, {"b": 0.2, "c": 0.3}]), "rows",
            rows={1: "'a' has a missing value", 2: "non-numeric", 3: "non-numeric", 4: "float32", 5: "non-numeric|bool",
                  6: "non-numeric", 7: "'a' has a missing value"}, n_rows=8,
            values=lambda e: pd.DataFrame({"a": [0.1] * 8, "b": [0.2] * 8, "c": [0.3] * 8})),
        Case("serve", "JSON NaN and Infinity literals", lambda f, e: ("raw", "application/json",
             b'[{"a": NaN, "b": 0.2, "c": 0.3}, {"a": Infinity, "b": 0.2, "c": 0.3}, {"a": 0.1, "b": 0.2, "c": 0.3}]'),
             "rows", rows={0: "'a' has a missing value", 1: "non-finite"}, n_rows=3,
             values=lambda e: pd.DataFrame({"a": [0.1] * 3, "b": [0.2] * 3, "c": [0.3] * 3})),
        Case("serve", "multipart CSV upload with a bad cell", lambda f, e: ("multipart", "data.csv", (
            "a,b,c\n0.1,0.2,0.3\n0.1,oops,0.3\n").encode()), "rows", rows={1: "non-numeric value 'oops'"}, n_rows=2,
             values=lambda e: pd.DataFrame({"a": [0.1] * 2, "b": [0.2] * 2, "c": [0.3] * 2})),
        Case("serve", "multipart CSV upload with a duplicated column", lambda f, e: ("multipart", "data.csv",
             b"a,b,c,a\n0.1,0.2,0.3,9\n"), "error", match="'a' appears 2 times"),
    ]


def calibrate_cases() -> list[Case]:
    E = "cli.calibrate"

    def cal(fn, name, text=None):
        def make(f, e):
            df = fn(e.train.copy())
            return R._write(f, f"cal_{name}.csv", R._csv_text(df) if text is None else text(R._csv_text(df)))

        return make

    def cell(row, v):
        def fn(d):
            d = d.astype(object)
            d.loc[row, "b"] = v
            return d

        return fn

    n = 48
    return [
        Case(E, "clean", cal(lambda d: d, "clean"), "calibrated", n_rows=n),
        Case(E, "NaN cell (row skipped, counted)", cal(cell(3, "nan"), "nan"), "calibrated", n_rows=n - 1),
        Case(E, "inf cell (row skipped, counted)", cal(cell(3, "inf"), "inf"), "calibrated", n_rows=n - 1),
        Case(E, "1e300 cell (row skipped, counted)", cal(cell(3, "1e300"), "huge"), "calibrated", n_rows=n - 1),
        Case(E, "text cell (row skipped, counted)", cal(cell(3, "oops"), "text"), "calibrated", n_rows=n - 1),
        Case(E, "extra and reordered columns", cal(lambda d: d[["c", "host", "b", "a"]].assign(z=1), "reord"),
             "calibrated", n_rows=n),
        Case(E, "empty file", lambda f, e: R._write(f, "cal_empty.csv", ""), "error", match="could not be read|empty"),
        Case(E, "header only", lambda f, e: R._write(f, "cal_hdr.csv", "host,a,b,c\n"), "error",
             match="no usable row|no rows|too few"),
        Case(E, "one row", cal(lambda d: d.iloc[:1], "one"), "error", match="too few|at least"),
        Case(E, "all rows unusable", cal(lambda d: d.assign(b="x"), "allbad"), "error", match="no usable row"),
        Case(E, "column missing", cal(lambda d: d.drop(columns="c"), "missing"), "error", match="'c'|\\bc\\b"),
        Case(E, "column renamed", cal(lambda d: d.rename(columns={"a": "A"}), "renamed"), "error", match="\\ba\\b"),
        Case(E, "column duplicated", cal(lambda d: d, "dup", lambda t: t.replace("host,a,b,c", "host,a,b,a", 1)),
             "error", match="'a' appears 2 times"),
        Case(E, "semicolon delimiter", cal(lambda d: d, "semi", lambda t: t.replace(",", ";")), "error",
             match="';'|missing"),
        Case(E, "input missing", lambda f, e: f / "none.csv", "error", match="not found"),
        Case(E, "output is the input", cal(lambda d: d, "same"), "error", match="refusing", args=("--output", "{input}")),
        Case(E, "output is a folder", cal(lambda d: d, "outdir"), "error", match="folder|directory",
             args=("--output", "{folder}")),
        Case(E, "bad threshold rule", cal(lambda d: d, "rule"), "error", match="threshold",
             args=("--threshold", "banana")),
    ]


def onnx_cases() -> list[Case]:
    E = "export.onnx"
    return [
        Case(E, "ae (exportable)", lambda f, e: ("ae", f / "m.onnx"), "export"),
        Case(E, "pyod.knn", lambda f, e: ("pyod.knn", f / "m.onnx"), "error", match="'pyod.knn' cannot be exported"),
        Case(E, "ensemble", lambda f, e: ("ensemble", f / "m.onnx"), "error", match="cannot be exported"),
        Case(E, "not fitted", lambda f, e: ("unfitted", f / "m.onnx"), "error", match="not fitted"),
        Case(E, "ae with ssim scores", lambda f, e: ("ssim", f / "m.onnx"), "error", match="ssim"),
        Case(E, "path in a missing folder", lambda f, e: ("ae", f / "no" / "such" / "m.onnx"), "error",
             match="does not exist|No such file"),
        Case(E, "path is a folder", lambda f, e: ("ae", f), "error", match="folder|directory"),
        Case(E, "pipeline object", lambda f, e: ("pipeline", f / "m.onnx"), "error", match="cannot be exported|detector"),
    ]


PROM_MODES = {  # mode -> (expect, match)
    "ok": ("pull", ""),
    "nan strings": ("pull", ""),
    "inf strings": ("pull", ""),
    "text values": ("error", "query 'load'.*value 'oops'.*not a number"),
    "malformed json": ("error", "did not answer JSON"),
    "html page": ("error", "did not answer JSON"),
    "http 500 text": ("error", "HTTP 500"),
    "http 500 json": ("error", "rejected|internal"),
    "http 404": ("error", "HTTP 404"),
    "status error": ("error", "Prometheus error"),
    "json list": ("error", "not a Prometheus API object"),
    "no data key": ("error", "without a data object"),
    "vector result": ("error", "not a range of samples"),
    "no series": ("error", "no data: query 'load'"),
    "one query missing": ("error", "no data: query 'temp'"),
    "series without metric": ("error", "query 'load'.*malformed"),
    "values not pairs": ("error", "query 'load'.*malformed"),
    "no entity label": ("error", "without the entity label"),
    "server down": ("error", "cannot reach Prometheus"),
}


def pull_cases() -> list[Case]:
    return [Case("pull", mode, lambda f, e, m=mode: m, expect, match=match) for mode, (expect, match) in
            PROM_MODES.items()]


def more_cases() -> list[Case]:
    return (table_entry_cases("serve") + serve_extra_cases() + table_entry_cases("watch")
            + table_entry_cases("cli.score.stream") + calibrate_cases() + onnx_cases() + pull_cases())


# ---------------------------------------------------------------------- the service
def _server(env: Env):
    srv = getattr(env, "_serve", None)
    if srv is None:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from serve_server import ServerThread

        from anomalib_ae.serve import create_app

        import httpx

        srv = ServerThread(create_app(env.model_path, top_k=0)).start()
        srv.client = httpx.Client(base_url=srv.url, timeout=30)  # one client (and connection) for every case
        env._serve = srv
    return srv


def _serve_request(srv, inp):
    kind = inp[0] if isinstance(inp, tuple) else "file"
    c = srv.client
    if kind == "raw":
        headers = {"content-type": inp[1]} if inp[1] else {}
        r = c.post("/score", content=inp[2], headers=headers)
    elif kind == "json":
        r = c.post("/score", json={"rows": inp[1]})
    elif kind == "multipart":
        r = c.post("/score", files={"file": (inp[1], inp[2])})
    else:
        path = Path(inp)
        suffix = path.suffix.lower()
        data = path.read_bytes()
        if suffix == ".jsonl":  # JSON lines -> a JSON list of rows (a corrupt line stays corrupt)
            lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
            r = c.post("/score", content=("[" + ",".join(lines) + "]").encode(),
                       headers={"content-type": "application/json"})
        else:
            ctype = {".csv": "text/csv", ".parquet": "application/vnd.apache.parquet"}.get(
                suffix, "application/octet-stream")
            r = c.post("/score", content=data, headers={"content-type": ctype})
    health = c.get("/health")
    return r, health


def run_serve(case: Case, env: Env, inp) -> Outcome:
    o = lambda r, d="": Outcome(case.entry, case.name, r, d)  # noqa: E731
    srv = _server(env)
    try:
        r, health = _serve_request(srv, inp)
    except Exception as exc:  # noqa: BLE001 - no answer at all
        return o("crash", f"no answer: {type(exc).__name__}: {exc}")
    if health.status_code != 200 or health.json().get("status") != "ok":
        return o("crash", f"/health answered {health.status_code} after the case")
    if r.status_code >= 500:
        return o("crash", f"HTTP {r.status_code}: {r.text[:300]}")
    if r.status_code >= 400:
        try:
            reason = str(r.json().get("error", ""))
        except ValueError:
            reason = ""
        if not reason:
            return o("silent_wrong", f"HTTP {r.status_code} without a reason")
        return R._error_outcome(case, f"HTTP {r.status_code}: {reason}")
    if case.expect == "error":
        return o("unexpected", f"HTTP {r.status_code} where an error was expected: {r.text[:200]}")
    recs = r.json()["records"]
    table = pd.DataFrame({"score": [x["score"] for x in recs], "error": [x["error"] for x in recs]},
                         dtype=object)
    if [x["row_id"] for x in recs] != list(range(len(recs))):
        return o("silent_wrong", "records out of order or row ids missing")
    return R._check_rows(case, env, table)


# ---------------------------------------------------------------------- watch
def _watch_all(env: Env, root: Path) -> dict:
    """Every watch case's file in its own sub-folder of one inbox; one watcher run over all of them."""
    from anomalib_ae.watch import LEDGER_NAME, Watcher, read_ledger

    done = getattr(env, "_watch", None)
    if done is not None:
        return done
    inbox, out = root / "inbox", root / "out"
    inbox.mkdir(parents=True)
    where = {}
    for i, c in enumerate(table_entry_cases("watch")):
        sub = inbox / f"c{i:03d}"
        sub.mkdir()
        try:
            where[c.name] = c.make(sub, env).relative_to(inbox).as_posix()
        except Exception as exc:  # noqa: BLE001
            where[c.name] = exc
    Watcher(inbox, env.model_path, out, poll_interval=0.05, settle=0.0, use_events=False, top_k=0).run(once=True)
    ledger = {e["path"]: e for e in read_ledger(out / LEDGER_NAME)}
    env._watch = {"where": where, "ledger": ledger, "out": out}
    return env._watch


def run_watch(case: Case, env: Env, folder: Path) -> Outcome:
    o = lambda r, d="": Outcome(case.entry, case.name, r, d)  # noqa: E731
    state = _watch_all(env, env.folder / "watch")
    rel = state["where"][case.name]
    if isinstance(rel, Exception):
        return o("crash", f"case setup failed: {rel}")
    entry = state["ledger"].get(rel)
    if entry is None or not entry.get("output"):
        return o("rows_lost", f"{rel}: no ledger entry or output file")
    lines = (state["out"] / entry["output"]).read_text().splitlines()
    recs = [json.loads(x) for x in lines]
    if case.expect == "error":
        if len(recs) == 1 and recs[0]["error"] and recs[0]["score"] is None:
            return R._error_outcome(case, recs[0]["error"])
        return o("unexpected", f"{len(recs)} records where one error record was expected")
    if len(recs) == 1 and recs[0]["row_id"] is None and recs[0]["error"]:
        return R._error_outcome(case, recs[0]["error"])  # the whole file refused: an unexpected error
    table = pd.DataFrame({"score": [x["score"] for x in recs], "error": [x["error"] for x in recs]}, dtype=object)
    return R._check_rows(case, env, table)


# ---------------------------------------------------------------------- streaming score, calibrate
def run_stream(case: Case, env: Env, inp, folder: Path) -> Outcome:
    from click.testing import CliRunner

    from anomalib_ae.cli import cli
    from anomalib_ae.data.tabular import read_table

    out = folder / "stream_out.csv"
    res = CliRunner().invoke(cli, ["score", "-m", str(env.model_path), "-i", str(inp), "-o", str(out),
                                   "--chunk-rows", "2"])
    bad = R.cli_failure(case, res)
    if bad is not None:
        return bad
    leftovers = [p.name for p in folder.iterdir() if p.name.startswith(".")]
    if leftovers:
        return Outcome(case.entry, case.name, "silent_wrong", f"temporary files left: {leftovers}")
    return R._check_rows(case, env, read_table(out))


def run_calibrate(case: Case, env: Env, inp, folder: Path) -> Outcome:
    from click.testing import CliRunner

    import anomalib_ae
    from anomalib_ae.cli import cli

    o = lambda r, d="": Outcome(case.entry, case.name, r, d)  # noqa: E731
    model = folder / "model.pt"
    model.write_bytes(env.model_path.read_bytes())
    before = model.read_bytes()
    inp_before = inp.read_bytes() if isinstance(inp, Path) and inp.is_file() else None
    out = folder / "recalibrated.pt"
    fill = {"{input}": str(inp), "{folder}": str(folder)}
    extra = [fill.get(a, a) for a in case.args]
    args = ["calibrate", "-m", str(model), "-i", str(inp)] + ([] if "--output" in extra else ["-o", str(out)]) + extra
    res = CliRunner().invoke(cli, args)
    if model.read_bytes() != before:
        return o("silent_wrong", "the input model file changed")
    if inp_before is not None and inp.read_bytes() != inp_before:
        return o("rows_lost", "the calibration data file was overwritten")
    bad = R.cli_failure(case, res)
    if bad is not None:
        if case.expect == "error" and out.exists():
            return o("silent_wrong", "an error, yet a model was written")
        return bad
    det = anomalib_ae.load(out)
    cal = np.asarray(det.calibration_scores_)
    if not np.isfinite(det.threshold_) or not np.isfinite(cal).all():
        return o("silent_wrong", f"threshold {det.threshold_} or calibration scores not finite")
    if len(cal) != case.n_rows:
        return o("silent_wrong", f"calibrated on {len(cal)} rows, expected {case.n_rows}")
    skipped = len(env.train) - case.n_rows
    if f"from {case.n_rows} row(s)" not in res.output or (skipped and f"{skipped} row(s) skipped" not in res.output):
        return o("silent_wrong", f"the summary does not count the rows used and skipped: {res.output.strip()}")
    if not np.array_equal(det.score(env.new[COLS]), env.det.score(env.new[COLS])):
        return o("silent_wrong", "calibration changed the scores")
    return o("ok", res.output.strip().splitlines()[0])


# ---------------------------------------------------------------------- ONNX export
def run_onnx(case: Case, env: Env, inp) -> Outcome:
    import anomalib_ae
    from anomalib_ae.export import export_onnx

    o = lambda r, d="": Outcome(case.entry, case.name, r, d)  # noqa: E731
    what, path = inp
    X = env.train[COLS].to_numpy(np.float32)
    fast = {"epochs": 1, "random_state": 0, "verbose": False, "accelerator": "cpu"}
    if what == "ae":
        det = env.det
    elif what == "pyod.knn":
        det = anomalib_ae.create("pyod.knn").fit(X)
    elif what == "ensemble":
        det = anomalib_ae.create("ensemble", detectors=[("pyod.knn", {}), ("pyod.pca", {})]).fit(X)
    elif what == "unfitted":
        det = anomalib_ae.create("ae", **fast)
    elif what == "ssim":
        import copy

        det = copy.deepcopy(env.det)
        det.score_type = "ssim"
    else:
        det = env.pipe
    try:
        written = export_onnx(det, path)
    except Exception as exc:  # noqa: BLE001
        if isinstance(exc, (ValueError, OSError, TypeError)):
            return R._error_outcome(case, f"{type(exc).__name__}: {exc}")
        return o("crash", f"{type(exc).__name__}: {exc}")
    leftovers = [p.name for p in Path(written).parent.iterdir() if ".tmp" in p.name]
    if leftovers:
        return o("silent_wrong", f"temporary files left: {leftovers}")
    if case.expect == "error":
        return o("unexpected", "exported where an error was expected")
    try:
        import onnxruntime as ort
    except ImportError:
        return o("ok", "exported (onnxruntime not installed: scores not compared)")
    x = env.new[COLS].to_numpy(np.float32)
    got = ort.InferenceSession(str(written)).run(None, {"x": x})[0]
    same = np.allclose(got, env.det.score(x), rtol=1e-5, atol=1e-5)
    return o("ok" if same else "silent_wrong", "" if same else "ONNX scores differ from score()")


# ---------------------------------------------------------------------- pull (fake Prometheus)
class FakePrometheus:
    """A tiny Prometheus HTTP API on 127.0.0.1: ``mode`` chooses the (mis)behaviour."""

    STEP = 15.0

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs

        fake = self
        self.mode = "ok"

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                n = int(self.headers.get("content-length") or 0)
                q = {k: v[0] for k, v in parse_qs(self.rfile.read(n).decode()).items()}
                status, ctype, body = fake.answer(q)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"prometheus://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    @staticmethod
    def value(node: str, metric: str, t: float) -> float:
        load = 0.5 + 0.3 * np.sin(2 * np.pi * t / 600.0 + (0.0 if node == "a" else 1.0))
        return float(load if metric == "load" else 40.0 + 10.0 * load)

    def answer(self, q: dict) -> tuple[int, str, bytes]:
        m, js = self.mode, "application/json"
        metric = q.get("query", "")
        if m == "malformed json":
            return 200, js, b'{"status": "success", "data": {"resultType": "matrix", "result": [{'
        if m == "html page":
            return 200, "text/html", b"<html><body>Grafana login</body></html>"
        if m == "http 500 text":
            return 500, "text/plain", b"internal server error"
        if m == "http 500 json":
            return 500, js, json.dumps({"status": "error", "errorType": "internal", "error": "tsdb broken"}).encode()
        if m == "http 404":
            return 404, "text/plain", b"404 page not found"
        if m == "status error":
            return 200, js, json.dumps({"status": "error", "errorType": "timeout", "error": "query timed out"}).encode()
        if m == "json list":
            return 200, js, b"[1, 2, 3]"
        if m == "no data key":
            return 200, js, b'{"status": "success"}'
        if m == "vector result":
            return 200, js, json.dumps({"status": "success", "data": {"resultType": "vector", "result": []}}).encode()
        if m == "no series" or (m == "one query missing" and metric == "temp"):
            return 200, js, json.dumps({"status": "success", "data": {"resultType": "matrix", "result": []}}).encode()
        start, end, step = float(q["start"]), float(q["end"]), float(q["step"])
        ts = np.arange(start, end + step / 2, step)
        result = []
        for node in ("a", "b"):
            vals = [[float(t), repr(self.value(node, metric, t))] for t in ts]
            if node == "b" and len(vals) > 6:
                bad = {"nan strings": "NaN", "inf strings": "+Inf", "text values": "oops"}.get(m)
                if bad is not None:
                    vals[-3][1] = bad
            labels = {"__name__": metric, "node": node}
            if m == "no entity label":
                labels = {"__name__": metric}
            s = {"metric": labels, "values": vals}
            if m == "series without metric":
                s = {"values": vals}
            if m == "values not pairs":
                s["values"] = [v[1] for v in vals]
            result.append(s)
        return 200, js, json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()


def _pull_env(env: Env):
    state = getattr(env, "_pull", None)
    if state is not None:
        return state
    from anomalib_ae.pipeline import Pipeline

    fake = FakePrometheus()
    end = 1_767_225_600.0
    t = np.arange(end - 300 * FakePrometheus.STEP, end, FakePrometheus.STEP)
    parts = [pd.DataFrame({"timestamp": pd.to_datetime(t, unit="s"), "node": n,
                           "load": [fake.value(n, "load", x) for x in t],
                           "temp": [fake.value(n, "temp", x) for x in t]}) for n in ("a", "b")]
    pipe = Pipeline("ae", kind="telemetry", detector_params={"epochs": 2, "random_state": 0, "verbose": False,
                                                             "accelerator": "cpu"},
                    adapter_params={"window": 4, "stride": 1, "timestamp_col": "timestamp", "entity_col": "node"})
    pipe.fit(pd.concat(parts, ignore_index=True))
    model = env.folder / "telemetry.pt"
    pipe.save(model)
    env._pull = {"fake": fake, "pipe": pipe, "model": model, "now": end + 3600.0}
    return env._pull


def run_pull(case: Case, env: Env, mode: str, folder: Path) -> Outcome:
    from anomalib_ae.sources import PrometheusSource
    from anomalib_ae.sources.pull import PullScorer

    o = lambda r, d="": Outcome(case.entry, case.name, r, d)  # noqa: E731
    st = _pull_env(env)
    fake = st["fake"]
    fake.mode = mode
    url = "prometheus://127.0.0.1:9" if mode == "server down" else fake.url  # port 9 (discard): nothing listens
    src = PrometheusSource(url, {"load": "load", "temp": "temp"}, entity_label="node", step="15s", timeout=5)
    scorer = PullScorer(st["pipe"], src, lookback="150s")
    captured = {}
    real = scorer.pipeline.score_items

    def spy(table):
        captured["input"] = table
        res = real(table)
        captured["table"] = res.table
        return res

    scorer.pipeline.score_items = spy
    try:
        res = scorer.pull(now=st["now"])
    except Exception as exc:  # noqa: BLE001
        del scorer.pipeline.score_items
        if scorer.errors._value.get() != 1:
            return o("silent_wrong", "a failed pull was not counted in anomalib_ae_pull_errors_total")
        if not isinstance(exc, ValueError):  # PrometheusError is a ValueError
            return o("crash", f"{type(exc).__name__}: {exc}")
        first = R._error_outcome(case, f"{type(exc).__name__}: {exc}")
        if first.result != "ok":
            return first
        return _pull_cli(case, st, url, folder)
    del scorer.pipeline.score_items
    if case.expect == "error":
        return o("unexpected", f"pulled {res.n_rows} rows where an error was expected")
    inp, table = captured["input"], captured["table"]
    if len(table) != len(inp) or res.n_rows != len(inp):
        return o("rows_lost", f"{len(table)} output rows for {len(inp)} timestamps read")
    vals = inp[["load", "temp"]].to_numpy(np.float64)
    bad_in = np.isinf(vals).any(axis=1)  # NaN (a missing sample) is forward-filled: a documented repair
    scored = np.isfinite(table["score"].to_numpy(np.float64))
    has_err = table["error"].notna().to_numpy()
    if (scored & bad_in).any():
        return o("silent_wrong", "a timestamp with a NaN / inf value got a score")
    if (scored == has_err).any():
        return o("silent_wrong", "a timestamp with both or neither of score and error")
    if mode == "ok" and not scored[3:].all():
        return o("unexpected", "clean timestamps not scored")
    return o("ok", f"{int(scored.sum())} of {len(table)} timestamps scored, {int(has_err.sum())} error records")


def _pull_cli(case: Case, st: dict, url: str, folder: Path) -> Outcome:
    """The same failure through ``anomalib-ae pull``: one ``Error:`` line, exit code 1."""
    from click.testing import CliRunner

    from anomalib_ae.cli import cli

    cfg = folder / "pull.yaml"
    cfg.write_text(json.dumps({"data": {"source": url, "entity_label": "node", "step": "15s",
                                        "queries": {"load": "load", "temp": "temp"}, "lookback": "150s"}}))
    res = CliRunner().invoke(cli, ["pull", "-c", str(cfg), "-m", str(st["model"]), "--every", "0.01",
                                   "--iterations", "1", "--port", "0"])
    bad = R.cli_failure(case, res)
    return bad if bad is not None else Outcome(case.entry, case.name, "unexpected", "the CLI pull succeeded")


# ---------------------------------------------------------------------- dispatch
def run_case(case: Case, env: Env, folder: Path, inp) -> Outcome:
    if case.entry == "serve":
        return run_serve(case, env, inp)
    if case.entry == "watch":
        return run_watch(case, env, folder)
    if case.entry == "cli.score.stream":
        return run_stream(case, env, inp, folder)
    if case.entry == "cli.calibrate":
        return run_calibrate(case, env, inp, folder)
    if case.entry == "export.onnx":
        return run_onnx(case, env, inp)
    return run_pull(case, env, inp, folder)


def close(env: Env) -> None:
    """Stop what the cases started (the service, the fake Prometheus)."""
    srv = getattr(env, "_serve", None)
    if srv is not None:
        srv.client.close()
        srv.stop()
    pull = getattr(env, "_pull", None)
    if pull is not None:
        pull["fake"].stop()
