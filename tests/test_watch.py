"""`anomalib-ae watch`: every file that lands in the folder is scored exactly once, also across a SIGKILL."""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from anomalib_ae.watch import LEDGER_NAME, Watcher, is_temporary_name, read_ledger

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parents[1]
COLS = [f"f{i}" for i in range(21)]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    import anomalib_ae
    from anomalib_ae import datasets

    X, y = datasets.load_cardio()
    path = tmp_path_factory.mktemp("model") / "cardio.pt"
    anomalib_ae.create("pyod.pca").fit(pd.DataFrame(X[y == 0][:600], columns=COLS)).save(path)
    return path


@pytest.fixture(scope="module")
def cardio():
    from anomalib_ae import datasets

    return datasets.load_cardio()[0]


def _csv(path, X, rows):
    pd.DataFrame(X[rows], columns=COLS).to_csv(path, index=False)


def _records(out: Path) -> dict[str, list[dict]]:
    """Records by source file name, checking each against the JSON Schema."""
    from anomalib_ae.records import schema

    sch, by = schema(), {}
    for f in sorted(out.glob("*.jsonl")):
        if f.name == LEDGER_NAME:
            continue
        for line in f.read_text().splitlines():
            rec = json.loads(line)
            jsonschema.validate(rec, sch)
            by.setdefault(Path(rec["source"]).name, []).append(rec)
    return by


def _done(out: Path) -> list[str]:
    return [e["path"] for e in read_ledger(out / LEDGER_NAME) if e["status"] in ("scored", "error", "unsupported")]


def _wait(cond, timeout=60.0):
    t0 = time.monotonic()
    while not cond():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def test_temporary_names():
    assert all(is_temporary_name(n) for n in [".x.csv", "a.csv.part", "a.csv~", "a.tmp", "~$a.csv", "a.crdownload"])
    assert not any(is_temporary_name(n) for n in ["a.csv", "clip.wav", "img.png"])


def test_watcher_thread_scores_each_arrival_once(tmp_path, model, cardio):
    """A real watcher thread (watchdog events + polling): arrivals, a slow writer, a rename, a touch."""
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    _csv(inbox / "before.csv", cardio, slice(0, 20))  # already there at start
    w = Watcher(inbox, model, out, poll_interval=0.2, settle=0.5)
    th = threading.Thread(target=w.run, daemon=True)
    th.start()
    try:
        _wait(lambda: _done(out) == ["before.csv"])
        # a slow writer: half the rows, a pause shorter than the settle time, the rest
        text = pd.DataFrame(cardio[20:60], columns=COLS).to_csv(index=False).splitlines(keepends=True)
        with open(inbox / "slow.csv", "w") as f:
            f.writelines(text[:20])
            f.flush()
            time.sleep(0.3)
            f.writelines(text[20:])
        # written under a temporary name, then renamed into place; and one moved in from elsewhere
        _csv(inbox / "renamed.csv.part", cardio, slice(60, 70))
        os.replace(inbox / "renamed.csv.part", inbox / "renamed.csv")
        _csv(tmp_path / "elsewhere.csv", cardio, slice(70, 75))
        shutil.move(str(tmp_path / "elsewhere.csv"), inbox / "moved.csv")
        (inbox / "sub").mkdir()
        _csv(inbox / "sub" / "nested.csv", cardio, slice(75, 78))
        _wait(lambda: len(_done(out)) == 5)
        os.utime(inbox / "before.csv")  # touched, same content: not scored again
        time.sleep(1.2)
    finally:
        w.stop()
        th.join(timeout=30)
    assert not th.is_alive()
    recs = _records(out)
    assert {k: len(v) for k, v in recs.items()} == {"before.csv": 20, "slow.csv": 40, "renamed.csv": 10,
                                                   "moved.csv": 5, "nested.csv": 3}
    for v in recs.values():  # every row once, in order
        assert [r["row_id"] for r in v] == list(range(len(v)))
    assert sorted(_done(out)) == ["before.csv", "moved.csv", "renamed.csv", "slow.csv", "sub/nested.csv"]
    assert [e["status"] for e in read_ledger(out / LEDGER_NAME)].count("duplicate") == 1
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files or snapshots left


def test_sigkill_then_restart_scores_each_file_exactly_once(tmp_path, model, cardio):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    n_files = 30
    for k in range(n_files):
        _csv(inbox / f"batch{k:02d}.csv", cardio, slice(k * 10, k * 10 + 7))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from anomalib_ae.cli import main; main()", "watch", str(inbox), "-m", str(model),
         "-o", str(out), "--settle", "0", "--poll-interval", "0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _wait(lambda: (out / LEDGER_NAME).exists() and len(_done(out)) >= 3 or proc.poll() is not None, timeout=120)
        assert proc.poll() is None, proc.stderr.read().decode()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    before = set(_done(out))
    assert 3 <= len(before) < n_files
    _csv(inbox / "after.csv", cardio, slice(400, 404))  # arrives while the watcher is down
    stats = Watcher(inbox, model, out, settle=0.0, poll_interval=0.05).run(once=True)
    assert stats.scored == n_files + 1 - len(before)
    recs = _records(out)
    assert {k: len(v) for k, v in recs.items()} == {**{f"batch{k:02d}.csv": 7 for k in range(n_files)}, "after.csv": 4}
    done = _done(out)
    assert sorted(done) == sorted(set(done)) and len(done) == n_files + 1
    # a third run finds nothing new
    assert Watcher(inbox, model, out, settle=0.0).run(once=True).scored == 0


def test_crash_states_are_recovered(tmp_path, model, cardio):
    """Killed after the output rename but before the ledger line, mid temp-file write, mid ledger line."""
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    _csv(inbox / "a.csv", cardio, slice(0, 5))
    _csv(inbox / "b.csv", cardio, slice(5, 9))
    Watcher(inbox, model, out, settle=0.0).run(once=True)
    ledger = (out / LEDGER_NAME).read_text().splitlines(keepends=True)
    (out / LEDGER_NAME).write_text(ledger[0] + ledger[1][:40])  # b's line torn: b is scored again
    (out / ".tmp-a.csv.xyz.jsonl.tmp").write_text("half")
    stats = Watcher(inbox, model, out, settle=0.0).run(once=True)
    assert (stats.scored, stats.skipped) == (1, 0)
    assert {k: len(v) for k, v in _records(out).items()} == {"a.csv": 5, "b.csv": 4}
    assert sorted(_done(out)) == ["a.csv", "b.csv"]
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_bad_files_get_error_records(tmp_path, model, cardio):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "corrupt.csv").write_bytes(b'f0,f1\n"1,\x00\x01')
    (inbox / "empty.csv").write_bytes(b"")
    (inbox / "notes.txt").write_text("not data")
    (inbox / "wrong_columns.csv").write_text("a,b\n1,2\n")
    bad_rows = pd.DataFrame(cardio[:3], columns=COLS)
    bad_rows.iloc[1, 2] = np.nan
    bad_rows.to_csv(inbox / "nan_row.csv", index=False)
    (inbox / ".hidden.csv").write_text("ignored")
    (inbox / "x.csv.part").write_text("ignored")
    stats = Watcher(inbox, model, out, settle=0.0).run(once=True)
    recs = _records(out)
    assert set(recs) == {"corrupt.csv", "empty.csv", "notes.txt", "wrong_columns.csv", "nan_row.csv"}
    for name in ("corrupt.csv", "empty.csv", "notes.txt", "wrong_columns.csv"):
        (r,) = recs[name]
        assert r["error"] and r["score"] is None and r["is_anomaly"] is None, name
    assert "unsupported file type '.txt'" in recs["notes.txt"][0]["error"]
    nan = recs["nan_row.csv"]
    assert [r["error"] is None for r in nan] == [True, False, True]
    assert stats.errors == 4 and stats.scored == 1


def test_deleted_files(tmp_path, model, cardio, monkeypatch, caplog):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    w = Watcher(inbox, model, out, settle=0.0)
    w._load()
    # deleted after it settled, before it could be read: logged and in the ledger, nothing written
    _csv(inbox / "gone.csv", cardio, slice(0, 3))
    st = (inbox / "gone.csv").stat()
    (inbox / "gone.csv").unlink()
    w._handle(inbox / "gone.csv", "gone.csv", (st.st_size, st.st_mtime_ns))
    assert [e["status"] for e in read_ledger(out / LEDGER_NAME)] == ["vanished"]
    # deleted while scored: the copy read before is scored
    _csv(inbox / "racing.csv", cardio, slice(0, 6))
    real = w.pipe.score_items

    def delete_then_score(data):
        (inbox / "racing.csv").unlink(missing_ok=True)
        return real(data)

    monkeypatch.setattr(w.pipe, "score_items", delete_then_score)
    w.scan()
    w.scan()
    assert len(_records(out)["racing.csv"]) == 6
    # appears and vanishes before it settles: logged, never scored
    w.settle = 60.0
    _csv(inbox / "flash.csv", cardio, slice(0, 2))
    w.scan()
    (inbox / "flash.csv").unlink()
    with caplog.at_level("WARNING", logger="anomalib_ae.watch"):
        w.scan()
    assert "flash.csv disappeared before it settled" in caplog.text
    assert set(_records(out)) == {"racing.csv"}


def test_folder_removed_then_recreated(tmp_path, model, cardio, caplog):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    w = Watcher(inbox, model, out, poll_interval=0.1, settle=0.2)
    th = threading.Thread(target=w.run, daemon=True)
    with caplog.at_level("INFO", logger="anomalib_ae.watch"):
        th.start()
        try:
            _csv(inbox / "one.csv", cardio, slice(0, 4))
            _wait(lambda: _done(out) == ["one.csv"])
            shutil.rmtree(inbox)
            _wait(lambda: "is missing" in caplog.text)
            inbox.mkdir()
            _csv(inbox / "two.csv", cardio, slice(4, 6))
            _csv(inbox / "one.csv", cardio, slice(0, 4))  # same content again, new file: same output, no duplicate
            _wait(lambda: "two.csv" in _done(out))
        finally:
            w.stop()
            th.join(timeout=30)
    assert "is back" in caplog.text
    assert {k: len(v) for k, v in _records(out).items()} == {"one.csv": 4, "two.csv": 2}


def test_audio_clips(tmp_path):
    """An audio pipeline: flac clips copied in, one corrupt wav; one record per clip."""
    from anomalib_ae import datasets
    from anomalib_ae.pipeline import Pipeline

    m = datasets.load_mimii_sample()
    paths, labels = [Path(p) for p in m["paths"]], np.asarray(m["labels"])
    normal = [p for p, y in zip(paths, labels) if y == 0]
    pipe = Pipeline("pyod.pca", kind="audio", adapter_params={"n_mels": 32, "n_context": 1}).fit([str(p) for p in normal[:6]])
    pipe.save(tmp_path / "fan.pt")
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    for p in normal[6:8] + [p for p, y in zip(paths, labels) if y == 1][:1]:
        shutil.copy(p, inbox / p.name)
    (inbox / "broken.wav").write_bytes(b"RIFF\x00\x00not a wav")
    Watcher(inbox, tmp_path / "fan.pt", out, settle=0.0, top_k=2).run(once=True)
    recs = _records(out)
    assert len(recs) == 4 and all(len(v) == 1 for v in recs.values())
    assert recs["broken.wav"][0]["error"]
    ok = [v[0] for k, v in recs.items() if k != "broken.wav"]
    assert all(r["score"] is not None and r["item"].endswith(".flac") and str(inbox) in r["item"] for r in ok)


def test_cli(tmp_path, model, cardio):
    from click.testing import CliRunner

    from anomalib_ae.cli import cli

    inbox = tmp_path / "in"
    inbox.mkdir()
    _csv(inbox / "a.csv", cardio, slice(0, 3))
    r = CliRunner().invoke(cli, ["watch", str(inbox), "-m", str(model), "-o", str(tmp_path / "out"), "--once",
                                 "--settle", "0", "--format", "csv"])
    assert r.exit_code == 0, r.output
    (f,) = [p for p in (tmp_path / "out").glob("a.csv.*.csv")]
    assert len(pd.read_csv(f)) == 3
    r = CliRunner().invoke(cli, ["watch", str(inbox), "-m", str(model), "-o", str(inbox), "--once"])
    assert r.exit_code != 0 and "is the watched folder" in r.output
    r = CliRunner().invoke(cli, ["watch", str(inbox), "-m", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "o2"), "--once"])
    assert r.exit_code != 0 and "model file not found" in r.output


def test_image_files(tmp_path):
    """An image pipeline: PNGs dropped in, one corrupt; one record per image, the corrupt one an error record."""
    from anomalib_ae import datasets
    from anomalib_ae.pipeline import Pipeline

    root = Path(datasets.pneumonia_png_dir())
    good = sorted((root / "good").glob("*.png"))
    Pipeline("ae", kind="image", adapter_params={"size": 16},
             detector_params={"epochs": 2, "random_state": 0, "verbose": False}).fit([str(p) for p in good[:8]]).save(tmp_path / "img.pt")
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    for p in good[8:10] + sorted((root / "pneumonia").glob("*.png"))[:1]:
        shutil.copy(p, inbox / p.name)
    (inbox / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    stats = Watcher(inbox, tmp_path / "img.pt", out, settle=0.0).run(once=True)
    recs = _records(out)
    assert len(recs) == 4 and all(len(v) == 1 for v in recs.values())
    assert recs["broken.png"][0]["error"] and recs["broken.png"][0]["score"] is None
    assert sum(v[0]["score"] is not None for v in recs.values()) == 3 and stats.records == 4
