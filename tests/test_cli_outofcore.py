"""``anomalib-ae fit`` on a .npy file or a Parquet file / folder: deep detectors train out of core.

The saved model scores as an in-memory fit of the same data does (bit for bit), the out-of-core
path is the one taken (a spy on ``fit_out_of_core``), detectors that train in memory say so and
still train, and a bad value is one ``Error:`` line naming the file and the row.
"""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import anomalib_ae
from anomalib_ae.cli import cli
from anomalib_ae.detectors import _deep_stream

pytest.importorskip("pyarrow")

PARAMS = ("-p", "epochs=2", "-p", "random_state=0", "-p", "verbose=0")
KW = dict(epochs=2, random_state=0, verbose=0)


def _data(n=600, d=5, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * rng.uniform(0.5, 9, d) + rng.uniform(-20, 300, d)).astype(np.float32)


@pytest.fixture
def spy(monkeypatch):
    calls = []
    real = _deep_stream.fit_out_of_core

    def fit_out_of_core(det, source, y=None):
        calls.append(source)
        return real(det, source, y)

    monkeypatch.setattr(_deep_stream, "fit_out_of_core", fit_out_of_core)
    return calls


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_npy_trains_out_of_core_and_equals_in_memory(tmp_path, spy):
    X = _data()
    np.save(tmp_path / "train.npy", X)
    res = run("fit", "-d", "ae", "-i", str(tmp_path / "train.npy"), "-m", str(tmp_path / "m.aeb"), *PARAMS)
    assert res.exit_code == 0, res.output
    assert "600 rows x 5 features out of core" in res.output and "note:" not in res.output
    assert len(spy) == 1
    test = _data(100, seed=1) * 1.1
    saved = anomalib_ae.load(tmp_path / "m.aeb")
    in_memory = anomalib_ae.create("ae", **KW).fit(X)
    assert np.array_equal(saved.score(test), in_memory.score(test))
    assert np.array_equal(saved.decision_scores_, in_memory.decision_scores_)


def test_parquet_file_and_folder_equal_the_csv_fit(tmp_path, spy):
    df = pd.DataFrame(_data().astype(np.float64), columns=[f"m{j}" for j in range(5)])
    df.insert(0, "host", [f"h{i % 3}" for i in range(len(df))])  # not numeric: left out, as from a CSV
    df.to_csv(tmp_path / "t.csv", index=False)
    df.to_parquet(tmp_path / "t.parquet")
    (tmp_path / "parts").mkdir()
    df.iloc[:250].to_parquet(tmp_path / "parts" / "a.parquet")
    df.iloc[250:].to_parquet(tmp_path / "parts" / "b.parquet")
    res = run("fit", "-d", "ae", "-i", str(tmp_path / "t.csv"), "-m", str(tmp_path / "csv.aeb"), *PARAMS)
    assert res.exit_code == 0 and not spy
    ref = anomalib_ae.load(tmp_path / "csv.aeb")
    test = df.iloc[:80].drop(columns="host") * 1.05
    for name in ("t.parquet", "parts"):
        res = run("fit", "-d", "ae", "-i", str(tmp_path / name), "-m", str(tmp_path / "p.aeb"), *PARAMS)
        assert res.exit_code == 0, res.output
        assert "out of core" in res.output
        got = anomalib_ae.load(tmp_path / "p.aeb")
        assert list(got.feature_names_in_) == list(ref.feature_names_in_)
        assert np.array_equal(got.score(test), ref.score(test)), name
    assert len(spy) == 2
    res = run("score", "-m", str(tmp_path / "p.aeb"), "-i", str(tmp_path / "t.csv"), "-o", str(tmp_path / "s.csv"))
    assert res.exit_code == 0, res.output


def test_in_memory_detectors_say_so_and_still_train(tmp_path, spy):
    X = _data(300)
    np.save(tmp_path / "x.npy", X)
    pd.DataFrame(X.astype(np.float64), columns=list("abcde")).to_parquet(tmp_path / "x.parquet")
    for name, params in (("pyod.hbos", ()),):
        for src in ("x.npy", "x.parquet"):
            res = CliRunner().invoke(cli, ["fit", "-d", name, "-i", str(tmp_path / src), "-m",
                                           str(tmp_path / "m.aeb"), *params])
            assert res.exit_code == 0, res.output
            assert f"note: {name} trains in memory" in res.stderr
            assert "out of core" not in res.output
    assert not spy
    frame = pd.DataFrame(X.astype(np.float64), columns=list("abcde"))
    back = anomalib_ae.load(tmp_path / "m.aeb")
    direct = anomalib_ae.create("pyod.hbos").fit(frame)
    assert np.array_equal(back.score(frame), direct.score(frame))


@pytest.mark.parametrize("detector", ["ae", "pyod.hbos"])
def test_bad_row_in_npy_is_one_error_line(tmp_path, detector):
    X = _data(400)
    X[123, 2] = np.nan
    np.save(tmp_path / "bad.npy", X)
    res = CliRunner().invoke(cli, ["fit", "-d", detector, "-i", str(tmp_path / "bad.npy"), "-m",
                                   str(tmp_path / "m.aeb"), *(PARAMS if detector == "ae" else ())])
    assert res.exit_code == 1
    errors = [line for line in res.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in res.output
    assert "bad.npy: row 123 has a NaN (missing) value in column 2" in errors[0]
    assert not (tmp_path / "m.aeb").exists()


def test_drop_invalid_skips_the_bad_rows(tmp_path, spy):
    X = _data(400)
    X[7, 0] = np.inf
    np.save(tmp_path / "bad.npy", X)
    res = CliRunner().invoke(cli, ["fit", "-d", "ae", "-i", str(tmp_path / "bad.npy"), "-m", str(tmp_path / "m.aeb"),
                                   "--drop-invalid", *PARAMS])
    assert res.exit_code == 0, res.output
    assert "skipped 1 training row(s)" in res.stderr and "row 7" in res.stderr
    assert not spy  # leaving rows out needs the rows in memory
    clean = anomalib_ae.create("ae", **KW).fit(np.delete(X, 7, axis=0))
    assert np.array_equal(anomalib_ae.load(tmp_path / "m.aeb").score(X[10:60]), clean.score(X[10:60]))
    np.save(tmp_path / "ok.npy", np.delete(X, 7, axis=0))  # clean data still streams with the flag
    res = run("fit", "-d", "ae", "-i", str(tmp_path / "ok.npy"), "-m", str(tmp_path / "m2.aeb"), "--drop-invalid",
              *PARAMS)
    assert res.exit_code == 0 and "out of core" in res.output and len(spy) == 1


def test_exclude_on_npy_and_unknown_parquet_column(tmp_path):
    np.save(tmp_path / "x.npy", _data(50))
    res = CliRunner().invoke(cli, ["fit", "-d", "ae", "-i", str(tmp_path / "x.npy"), "-m", str(tmp_path / "m.aeb"),
                                   "-x", "id"])
    assert res.exit_code == 1 and "has none" in res.output
    pd.DataFrame(_data(50), columns=list("abcde")).to_parquet(tmp_path / "x.parquet")
    res = CliRunner().invoke(cli, ["fit", "-d", "ae", "-i", str(tmp_path / "x.parquet"), "-m",
                                   str(tmp_path / "m.aeb"), "-x", "nope"])
    assert res.exit_code == 1 and "--exclude names column(s) not in" in res.output


def test_integer_npy_trains_in_memory_and_says_why(tmp_path, spy):
    np.save(tmp_path / "i.npy", np.random.default_rng(0).integers(0, 50, (200, 4)))
    res = CliRunner().invoke(cli, ["fit", "-d", "ae", "-i", str(tmp_path / "i.npy"), "-m", str(tmp_path / "m.aeb"),
                                   *PARAMS])
    assert res.exit_code == 0, res.output
    assert "takes float vectors or windows" in res.stderr and "int64 of shape (200, 4)" in res.stderr
    assert not spy and "200 rows x 4 features;" in res.output


def test_a_detector_with_its_own_passes_streams_too(tmp_path, spy):
    """``deepsvdd`` (pre-training, a centre pass) trains out of core from the CLI as well."""
    X = _data(300)
    np.save(tmp_path / "x.npy", X)
    res = CliRunner().invoke(cli, ["fit", "-d", "deepsvdd", "-i", str(tmp_path / "x.npy"), "-m",
                                   str(tmp_path / "m.aeb"), *PARAMS])
    assert res.exit_code == 0, res.output
    assert "out of core" in res.output and "trains in memory" not in res.stderr
    assert spy
    back = anomalib_ae.load(tmp_path / "m.aeb")
    params = dict(p.split("=", 1) for p in PARAMS[1::2])
    direct = anomalib_ae.create("deepsvdd", **{k: int(v) for k, v in params.items()}).fit(X)
    assert np.array_equal(back.score(X), direct.score(X))


def test_score_of_a_npy_says_what_works(tmp_path):
    X = _data(300)
    np.save(tmp_path / "x.npy", X)
    res = CliRunner().invoke(cli, ["fit", "-d", "ae", "-i", str(tmp_path / "x.npy"), "-m",
                                   str(tmp_path / "m.aeb"), *PARAMS])
    assert res.exit_code == 0, res.output
    assert "memory-mapped from" in res.output
    out = CliRunner().invoke(cli, ["score", "-m", str(tmp_path / "m.aeb"), "-i", str(tmp_path / "x.npy"),
                                   "-o", str(tmp_path / "s.csv")])
    assert out.exit_code != 0
    assert "a .npy array has no columns" in out.output and "det.score(np.load(" in out.output
    pd.DataFrame(X, columns=list("abcde")).to_parquet(tmp_path / "x.parquet")
    res = CliRunner().invoke(cli, ["fit", "-d", "ae", "-i", str(tmp_path / "x.parquet"), "-m",
                                   str(tmp_path / "p.aeb"), *PARAMS])
    assert res.exit_code == 0 and "out of core (streamed from" in res.output, res.output
