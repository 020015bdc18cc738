"""`anomalib-ae score --output`: atomic, never over its input; `--format jsonl` score records to a file or a pipe."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anomalib_ae.cli import cli

jsonschema = pytest.importorskip("jsonschema")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    import anomalib_ae

    tmp = tmp_path_factory.mktemp("score")
    rng = np.random.default_rng(0)
    cols = [f"m{i}" for i in range(4)]
    anomalib_ae.create("pyod.pca").fit(pd.DataFrame(rng.normal(size=(200, 4)), columns=cols)).save(tmp / "m.pt")
    new = pd.DataFrame(rng.normal(size=(6, 4)), columns=cols)
    new.iloc[2, 1] = np.nan
    new.iloc[4] = 8.0
    new.to_csv(tmp / "new.csv", index=False)
    return tmp


def _validate(lines):
    from anomalib_ae.records import schema

    recs = [json.loads(x) for x in lines]
    for r in recs:
        jsonschema.validate(r, schema())
    return recs


def test_jsonl_records_to_stdout_and_file(fitted):
    r = CliRunner().invoke(cli, ["score", "-m", str(fitted / "m.pt"), "-i", str(fitted / "new.csv"), "--format", "jsonl",
                                 "--output", "-"])
    assert r.exit_code == 0, r.output
    recs = _validate(r.stdout.splitlines())
    assert [x["row_id"] for x in recs] == list(range(6))
    assert recs[2]["error"] and recs[2]["score"] is None
    assert recs[4]["is_anomaly"] is True and recs[0]["model"] == "m" and recs[0]["source"].endswith("new.csv")
    assert "scored 5 of 6 rows" in r.stderr
    out = fitted / "recs.jsonl"
    r = CliRunner().invoke(cli, ["score", "-m", str(fitted / "m.pt"), "-i", str(fitted / "new.csv"), "--format", "jsonl",
                                 "-o", str(out)])
    assert r.exit_code == 0
    from_file = _validate(out.read_text().splitlines())
    assert [{**x, "timestamp": None} for x in from_file] == [{**x, "timestamp": None} for x in recs]
    r = CliRunner().invoke(cli, ["score", "-m", str(fitted / "m.pt"), "-i", str(fitted / "new.csv"), "--format", "csv",
                                 "-o", str(fitted / "recs.csv")])
    assert r.exit_code == 0 and list(pd.read_csv(fitted / "recs.csv")["row_id"]) == list(range(6))


def test_output_refuses_input_and_is_atomic(fitted, tmp_path):
    src = tmp_path / "data.csv"
    src.write_bytes((fitted / "new.csv").read_bytes())
    before = src.read_bytes()
    for target in (src, tmp_path / "." / "data.csv"):
        r = CliRunner().invoke(cli, ["score", "-m", str(fitted / "m.pt"), "-i", str(src), "-o", str(target)])
        assert r.exit_code != 0 and "refusing to overwrite" in r.output
    r = CliRunner().invoke(cli, ["score", "-m", str(fitted / "m.pt"), "-i", str(src), "-o", str(fitted / "m.pt")])
    assert r.exit_code != 0 and "refusing" in r.output
    assert src.read_bytes() == before
    out = tmp_path / "scores.csv"
    out.write_text("previous results\n")
    r = CliRunner().invoke(cli, ["score", "-m", str(fitted / "m.pt"), "-i", str(src), "-o", str(tmp_path / "scores.xlsx")])
    assert r.exit_code != 0 and "unsupported output format" in r.output
    r = CliRunner().invoke(cli, ["score", "-m", str(fitted / "m.pt"), "-i", str(src), "-o", str(out)])
    assert r.exit_code == 0 and len(pd.read_csv(out)) == 6
    assert sorted(os.listdir(tmp_path)) == ["data.csv", "scores.csv"]  # no temporary file left


def test_jsonl_through_a_real_pipe(fitted):
    cmd = (f"{sys.executable} -c 'from anomalib_ae.cli import main; main()' score -m {fitted / 'm.pt'} "
           f"-i {fitted / 'new.csv'} --format jsonl --output - | {sys.executable} -c "
           "'import sys, json; print(sum(1 for l in sys.stdin if json.loads(l)[\"model\"] == \"m\"))'")
    p = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "6"
