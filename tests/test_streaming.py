"""Bounded-memory scoring (issue 16, point 1): chunk readers, exact chunked telemetry, chunked CLI output."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anomalib_ae.cli import cli
from anomalib_ae.pipeline import Pipeline
from anomalib_ae.streaming import ChunkWriter, iter_chunks, score_stream

FAST = {"epochs": 2, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# ---------------------------------------------------------------- readers
def test_csv_chunks_keep_exact_row_ids_around_corrupt_rows(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes(b"a,b,c\n1,2,3\n\n4,5,6\n7,8\n9,10,11,12\n13,x,15\n16,17,18\n19,20")  # blank line, ragged, cut
    for n in (1, 2, 3, 100):
        chunks = list(iter_chunks(p, n))
        assert all(c.n_rows <= n for c in chunks)
        assert sum(c.n_rows for c in chunks) == 7
        errors = {k: v for c in chunks for k, v in c.errors.items()}
        assert sorted(errors) == [2, 3, 6]
        assert "2 field(s), expected 3" in errors[2] and "truncated" in errors[6]
        rows = np.concatenate([c.rows for c in chunks])
        assert list(rows) == [0, 1, 4, 5]
        frame = pd.concat([c.frame for c in chunks], ignore_index=True)
        assert frame["a"].astype(int).tolist() == [1, 4, 13, 16]


def test_tsv_jsonl_parquet_chunks(tmp_path):
    df = pd.DataFrame({"x": np.arange(10.0), "y": np.arange(10) * 2})
    df.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    df.to_parquet(tmp_path / "t.parquet", index=False)
    lines = df.to_json(orient="records", lines=True).splitlines()
    lines[3] = '{"x": 3.0, "y": '  # a cut line
    lines[6] = "[1, 2]"
    (tmp_path / "t.jsonl").write_text("\n".join(lines) + "\n")
    for name in ("t.tsv", "t.parquet"):
        chunks = list(iter_chunks(tmp_path / name, 4))
        assert [c.n_rows for c in chunks] == [4, 4, 2]
        got = pd.concat([c.frame for c in chunks], ignore_index=True)
        pd.testing.assert_frame_equal(got, df, check_dtype=False)
    chunks = list(iter_chunks(tmp_path / "t.jsonl", 4))
    errors = {k: v for c in chunks for k, v in c.errors.items()}
    assert sorted(errors) == [3, 6] and "not valid JSON" in errors[3] and "not an object" in errors[6]
    assert list(np.concatenate([c.rows for c in chunks])) == [0, 1, 2, 4, 5, 7, 8, 9]


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        list(iter_chunks(tmp_path / "nope.csv"))
    (tmp_path / "a.txt").write_text("x\n1\n")
    with pytest.raises(ValueError, match="unsupported table format"):
        list(iter_chunks(tmp_path / "a.txt"))
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(ValueError, match="empty"):
        list(iter_chunks(tmp_path / "e.csv"))


# ---------------------------------------------------------------- telemetry: chunked == one piece
def _telemetry(n, seed):
    rng = np.random.default_rng(seed)
    parts = []
    for name in ("a", "b", "c"):
        t = np.cumsum(np.where(rng.random(n) < 0.03, 40, 1)).astype(float)  # gaps split segments
        v = rng.normal(size=(n, 3)) + np.sin(t / 10)[:, None]
        v[rng.random((n, 3)) < 0.04] = np.nan  # forward-fillable holes
        v[60:66, 1] = np.nan  # an outage longer than ffill_limit: unfillable rows end segments
        v[n - 3:, 0] = np.nan
        parts.append(pd.DataFrame({"t": t, "node": name, "m0": v[:, 0], "m1": v[:, 1], "m2": v[:, 2]}))
    parts[2] = parts[2].iloc[:7]  # an entity with one short segment
    df = pd.concat(parts).sort_values("t", kind="stable").reset_index(drop=True)
    df["m2"] = df["m2"].astype(object)
    df.loc[[20, 41], "m2"] = ["oops", np.inf]  # bad cells: errors, never forward-filled
    return df


@pytest.fixture(scope="module")
def telemetry_pipes():
    train = _telemetry(300, 1)
    return {s: Pipeline("ae", kind="telemetry", detector_params=FAST, adapter_params={
        "window": 8, "stride": s, "timestamp_col": "t", "entity_col": "node", "ffill_limit": 2}).fit(train)
        for s in (1, 3)}


@pytest.mark.parametrize("how,stride", [("mean", 1), ("max", 3)])  # both strides, both combinations (CI budget)
def test_telemetry_chunked_scores_equal_one_piece(telemetry_pipes, tmp_path, stride, how):
    pipe = telemetry_pipes[stride]
    pipe.timestamp_how = pipe.adapter_.timestamp_how = how
    data = _telemetry(200, 2)
    path = tmp_path / "tel.csv"
    data.to_csv(path, index=False)
    one = pipe.score_items(pd.read_csv(path)).table
    assert one["error"].notna().sum() > 5  # the unfillable rows are in the test
    for chunk_rows in (1, 5, 8, 9, 64, 10_000):  # 2 dropped for the CI budget: 1 and 5 bracket it
        parts = []
        summary = score_stream(pipe, path, parts.append, chunk_rows=chunk_rows)
        assert all(len(t) for t in parts)  # empty releases are not written
        got = pd.concat(parts, ignore_index=True)
        assert summary.n_rows == len(data)
        pd.testing.assert_frame_equal(got, one, check_exact=True)


def test_telemetry_out_of_order_is_an_explicit_error(telemetry_pipes, tmp_path):
    data = _telemetry(50, 3)
    data = pd.concat([data.iloc[40:], data.iloc[:40]], ignore_index=True)
    path = tmp_path / "tel.csv"
    data.to_csv(path, index=False)
    with pytest.raises(ValueError, match="not time-ordered per entity"):
        score_stream(telemetry_pipes[1], path, lambda t: None, chunk_rows=16)
    parts = []  # unordered inside one chunk is fine (sorted as in one piece)
    score_stream(telemetry_pipes[1], path, parts.append, chunk_rows=10_000)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), telemetry_pipes[1].score_items(data).table)


# ---------------------------------------------------------------- tables
def test_tabular_pipeline_chunked_equals_one_piece(tmp_path):
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(200, 4)), columns=list("abcd"))
    new = pd.DataFrame(rng.normal(size=(57, 4)), columns=list("abcd"))
    new.iloc[9, 2] = np.nan
    new.to_csv(tmp_path / "new.csv", index=False)
    pipe = Pipeline("ae", kind="tabular", detector_params=FAST).fit(train)
    one = pipe.score_items(pd.read_csv(tmp_path / "new.csv")).table
    for n in (1, 10, 1000):
        parts = []
        score_stream(pipe, tmp_path / "new.csv", parts.append, chunk_rows=n)
        got = pd.concat(parts, ignore_index=True)
        pd.testing.assert_frame_equal(got, one, check_exact=False, rtol=1e-6)  # float32 batches of another size


@pytest.fixture
def bare(tmp_path):
    rng = np.random.default_rng(0)
    cols = [f"cpu{i}" for i in range(5)]
    train = pd.DataFrame(rng.normal(size=(200, 5)), columns=cols)
    new = pd.DataFrame(rng.normal(size=(300, 5)), columns=cols).astype(object)
    new.iloc[7, 1] = np.nan
    new.iloc[150, 3] = "oops"
    new.insert(0, "host", [f"n{i}" for i in range(300)])
    train.to_csv(tmp_path / "train.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    res = run("fit", "-d", "pyod.hbos", "-i", tmp_path / "train.csv", "-m", tmp_path / "m.pt")
    assert res.exit_code == 0, res.output
    return tmp_path


@pytest.mark.parametrize("suffix", ["csv", "tsv", "jsonl", "parquet"])
def test_cli_streaming_output_is_identical_to_in_memory(bare, suffix):
    ref = bare / f"ref.{suffix}"
    res = run("score", "-m", bare / "m.pt", "-i", bare / "new.csv", "-o", ref, "--id-column", "host", "--chunk-rows", 0)
    assert res.exit_code == 0, res.output
    for n in (7, 100_000):
        out = bare / f"s{n}.{suffix}"
        res2 = run("score", "-m", bare / "m.pt", "-i", bare / "new.csv", "-o", out, "--id-column", "host",
                   "--chunk-rows", n)
        assert res2.exit_code == 0, res2.output
        assert res2.output.replace(str(out), "X") == res.output.replace(str(ref), "X")
        if suffix == "parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(ref))
        else:
            assert out.read_bytes() == ref.read_bytes()
    assert not [p.name for p in bare.iterdir() if p.name.startswith(".tmp-")]


def test_cli_streaming_stdout_identical(bare):
    a = run("score", "-m", bare / "m.pt", "-i", bare / "new.csv", "--chunk-rows", 0)
    b = run("score", "-m", bare / "m.pt", "-i", bare / "new.csv", "--chunk-rows", 13)
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout and a.stdout.count("\n") == 301


def test_cli_corrupt_and_truncated_rows_get_error_records(bare):
    text = (bare / "new.csv").read_text().splitlines()
    text[11] = text[11] + ",1.0"  # row 10: one field too many
    text[-1] = text[-1][: len(text[-1]) // 2]  # file cut mid-row: the last row
    (bare / "bad.csv").write_text("\n".join(text))
    out = bare / "bad_scores.csv"
    res = run("score", "-m", bare / "m.pt", "-i", bare / "bad.csv", "-o", out, "--chunk-rows", 16)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert df["row_id"].tolist() == list(range(300))
    assert "expected 6" in df.loc[10, "error"] and "truncated" in df.loc[299, "error"]
    assert df.loc[298, "score"] == df.loc[298, "score"] and pd.isna(df.loc[298, "error"])  # row before the cut scored
    assert "4 row(s) with errors" in res.output


def test_failed_stream_leaves_target_untouched(telemetry_pipes, tmp_path):
    data = _telemetry(50, 3)
    path = tmp_path / "tel.csv"
    pd.concat([data.iloc[40:], data.iloc[:40]]).to_csv(path, index=False)
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(ValueError):
        with ChunkWriter(target) as w:
            score_stream(telemetry_pipes[1], path, w.write, chunk_rows=16)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] and not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_cli_telemetry_streams(telemetry_pipes, tmp_path):
    pipe = telemetry_pipes[3]
    pipe.timestamp_how = pipe.adapter_.timestamp_how = "mean"
    pipe.save(tmp_path / "tel.pt")
    d = _telemetry(120, 4)
    d["m2"] = pd.to_numeric(d["m2"], errors="coerce").replace(np.inf, np.nan)  # Parquet: one type per column
    d.to_parquet(tmp_path / "tel.parquet", index=False)
    outs = {}
    for n in (0, 11):
        outs[n] = tmp_path / f"o{n}.jsonl"
        res = run("score", "-m", tmp_path / "tel.pt", "-i", tmp_path / "tel.parquet", "-o", outs[n], "--chunk-rows", n)
        assert res.exit_code == 0, res.output
        assert "timestamp(s)" in res.output
    assert outs[0].read_bytes() == outs[11].read_bytes()
    assert len(outs[11].read_text().splitlines()) == 247
    json.loads(outs[11].read_text().splitlines()[0])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_cli_streaming_score_records_equal_in_memory(bare, fmt):
    outs = {}
    for n in (0, 9):
        outs[n] = bare / f"rec{n}.{fmt}"
        res = run("score", "-m", bare / "m.pt", "-i", bare / "new.csv", "-o", outs[n], "--format", fmt,
                  "--id-column", "host", "--chunk-rows", n)
        assert res.exit_code == 0, res.output
    if fmt == "jsonl":
        a, b = (pd.DataFrame([json.loads(x) for x in outs[n].read_text().splitlines()]) for n in (0, 9))
    else:
        a, b = (pd.read_csv(outs[n]) for n in (0, 9))
    assert len(a) == len(b) == 300
    # the timestamp is the scoring time (the table has no timestamp column)
    pd.testing.assert_frame_equal(a.drop(columns="timestamp"), b.drop(columns="timestamp"))


def test_cli_streaming_refuses_to_overwrite_its_input(bare):
    res = CliRunner().invoke(cli, ["score", "-m", str(bare / "m.pt"), "-i", str(bare / "new.csv"),
                                   "-o", str(bare / "new.csv")])
    assert res.exit_code != 0 and "refusing to overwrite" in res.output
