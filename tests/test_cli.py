import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anomalib_ae.cli import cli


@pytest.fixture
def tables(tmp_path):
    rng = np.random.default_rng(0)
    cols = [f"cpu{i}" for i in range(5)]
    train = pd.DataFrame(rng.normal(size=(120, 5)), columns=cols)
    train.insert(0, "host", [f"h{i}" for i in range(120)])
    new = pd.DataFrame(rng.normal(size=(8, 5)), columns=cols)
    new.iloc[2, 1] = np.nan
    new = new.astype(object)
    new.iloc[5, 3] = "oops"
    new.iloc[7] = [9.0] * 5
    new.insert(0, "host", [f"n{i}" for i in range(8)])
    train.to_csv(tmp_path / "train.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    return tmp_path


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_help_on_every_command():
    for cmd in ([], ["list"], ["fit"], ["score"], ["demo"]):
        res = run(*cmd, "--help")
        assert res.exit_code == 0 and "Usage" in res.output


def test_list():
    res = run("list")
    assert res.exit_code == 0 and "ae" in res.output.split()


def test_fit_and_score_every_row(tables):
    m = tables / "m.pt"
    res = run("fit", "-d", "ae", "-i", str(tables / "train.csv"), "-m", str(m), "-p", "epochs=20", "-p", "random_state=0", "-p", "verbose=false")
    assert res.exit_code == 0, res.output
    for suffix in ("csv", "parquet", "jsonl"):
        out = tables / f"scores.{suffix}"
        res = run("score", "-m", str(m), "-i", str(tables / "new.csv"), "-o", str(out), "--id-column", "host")
        assert res.exit_code == 0, res.output
        df = {"csv": pd.read_csv, "parquet": pd.read_parquet, "jsonl": lambda p: pd.read_json(p, lines=True)}[suffix](out)
        assert len(df) == 8
        assert list(df.columns) == ["row_id", "score", "p_value", "probability", "is_anomaly", "error"]
        assert list(df["row_id"]) == [f"n{i}" for i in range(8)]
        assert "cpu1" in df.loc[2, "error"] and "missing" in df.loc[2, "error"]
        assert "oops" in df.loc[5, "error"]
        assert pd.isna(df.loc[2, "score"]) and pd.isna(df.loc[5, "score"])
        ok = df.drop(index=[2, 5])
        assert ok["error"].isna().all() and ok["score"].notna().all()
        assert bool(df.loc[7, "is_anomaly"]) is True


def test_parquet_input(tables):
    pd.read_csv(tables / "train.csv").to_parquet(tables / "train.parquet")
    res = run("fit", "-d", "ae", "-i", str(tables / "train.parquet"), "-m", str(tables / "p.pt"), "-p", "epochs=2", "-x", "host")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(
    "args, needle",
    [
        (["fit", "-d", "nosuch", "-i", "train.csv", "-m", "m.pt"], "unknown detector 'nosuch'"),
        (["fit", "-d", "ae", "-i", "missing.csv", "-m", "m.pt"], "not found"),
        (["fit", "-d", "ae", "-i", "train.csv", "-m", "m.pt", "-p", "epochs"], "key=value"),
        (["score", "-m", "missing.pt", "-i", "new.csv", "-o", "o.csv"], "model file not found"),
        (["score", "-m", "train.csv", "-i", "new.csv", "-o", "o.csv"], "not a readable anomalib_ae model file"),
        (["fit", "-d", "ae", "-i", "train.txt", "-m", "m.pt"], "unsupported table format"),
        (["fit", "-d", "ae", "-i", "header_only.csv", "-m", "m.pt"], "has no data rows"),
    ],
)
def test_user_errors_are_one_line(tables, monkeypatch, args, needle):
    monkeypatch.chdir(tables)
    (tables / "train.txt").write_text("x")
    (tables / "header_only.csv").write_text("a,b,c\n")
    res = CliRunner().invoke(cli, args)
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), res.output
    assert needle in lines[0]


def test_wrong_columns_at_score(tables):
    m = tables / "m.pt"
    run("fit", "-d", "ae", "-i", str(tables / "train.csv"), "-m", str(m), "-p", "epochs=2")
    pd.DataFrame({"a": [1.0], "b": [2.0]}).to_csv(tables / "wrong.csv", index=False)
    res = CliRunner().invoke(cli, ["score", "-m", str(m), "-i", str(tables / "wrong.csv"), "-o", str(tables / "o.csv")])
    assert res.exit_code != 0 and "missing 5 feature column(s)" in res.output and "cpu0" in res.output


def test_training_rows_with_bad_values(tables):
    df = pd.read_csv(tables / "train.csv")
    df.loc[3, "cpu2"] = np.nan
    df.to_csv(tables / "bad.csv", index=False)
    res = CliRunner().invoke(cli, ["fit", "-d", "ae", "-i", str(tables / "bad.csv"), "-m", str(tables / "b.pt")])
    assert res.exit_code != 0 and "row 3" in res.output and "--drop-invalid" in res.output
    res = CliRunner().invoke(cli, ["fit", "-d", "ae", "-i", str(tables / "bad.csv"), "-m", str(tables / "b.pt"), "--drop-invalid", "-p", "epochs=2"])
    assert res.exit_code == 0 and "skipped 1 training row" in res.output
