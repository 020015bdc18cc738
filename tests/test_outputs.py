"""Atomic output files and score-record writers."""

import json
import os

import pandas as pd
import pytest

from anomalib_ae.outputs import AtomicOutput, append_jsonl, atomic_write, check_not_input, write_records, write_table_atomic
from anomalib_ae.records import ScoreRecord, schema


def _rec(i, **kw):
    d = dict(timestamp="2026-01-01T00:00:00Z", source="x.csv", entity=None, row_id=i, item=str(i), score=float(i),
             p_value=0.5, probability=0.5, is_anomaly=False, threshold=1.0, model="m", model_digest="0" * 64,
             top_features=[{"name": "a", "value": 1.0}], error=None)
    d.update(kw)
    return ScoreRecord(**d)


def test_atomic_replace_and_cleanup_on_error(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with AtomicOutput(target) as f:
            f.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]  # no temp file left
    atomic_write(target, lambda f: f.write("new"))
    assert target.read_text() == "new" and os.listdir(tmp_path) == ["out.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0600


def test_write_table_atomic_formats(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": ["x", None]})
    for suffix in (".csv", ".tsv", ".jsonl", ".parquet"):
        p = write_table_atomic(df, tmp_path / f"t{suffix}")
        from anomalib_ae.data.tabular import read_table

        assert len(read_table(p)) == 2
    with pytest.raises(ValueError, match="unsupported"):
        write_table_atomic(df, tmp_path / "t.xlsx")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".")]


def test_write_records_jsonl_valid_and_stdout(tmp_path, capsys):
    jsonschema = pytest.importorskip("jsonschema")
    recs = [_rec(0), _rec(1, score=None, p_value=None, probability=None, is_anomaly=None, error="NaN in column a")]
    p = write_records(recs, tmp_path / "r.jsonl", format="jsonl")
    lines = p.read_text().splitlines()
    assert len(lines) == 2
    for line in lines:
        jsonschema.validate(json.loads(line), schema())
    assert write_records(recs, "-", format="jsonl") is None
    assert capsys.readouterr().out.splitlines() == lines
    write_records(recs, tmp_path / "r.csv", format="csv")
    df = pd.read_csv(tmp_path / "r.csv")
    assert list(df.columns)[:3] == ["timestamp", "source", "entity"] and len(df) == 2
    assert json.loads(df["top_features"][0]) == [{"name": "a", "value": 1.0}]
    with pytest.raises(ValueError, match="format"):
        write_records(recs, tmp_path / "r.x", format="xml")


def test_check_not_input(tmp_path):
    src = tmp_path / "data.csv"
    src.write_text("a\n1\n")
    with pytest.raises(ValueError, match="refusing"):
        check_not_input(src, src)
    with pytest.raises(ValueError, match="refusing"):
        check_not_input(tmp_path / "." / "data.csv", src)
    link = tmp_path / "link.csv"
    os.link(src, link)
    with pytest.raises(ValueError, match="refusing"):
        check_not_input(link, src)
    check_not_input(tmp_path / "scores.csv", src, None)


def test_append_jsonl(tmp_path):
    p = tmp_path / "ledger.jsonl"
    append_jsonl(p, [{"a": 1}])
    append_jsonl(p, [{"a": 2}, {"a": 3}])
    append_jsonl(p, [])
    assert [json.loads(x)["a"] for x in p.read_text().splitlines()] == [1, 2, 3]
