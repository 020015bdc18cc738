"""Reliability sweep: a corpus of hostile inputs run through every entry point.

Entry points: the Python API (``create(...).fit``, ``.score``), the tabular ``Pipeline``
(``score_items`` on files), the CLI (``fit``, ``score``, ``explain``, in-process through
click's runner), model loading, image and audio folders, Dask scoring, and (in
benchmarks/reliability_entries.py) the HTTP service, ``watch``, streaming ``score --chunk-rows``,
``calibrate``, ONNX export and ``pull``. Each case has one expected outcome:

* ``error``: a clear error (``ValueError`` / ``ModelFileError`` / ``FileNotFoundError`` from
  Python, one ``Error:`` line and exit code 1 or 2 from the CLI) whose text matches a pattern
  naming the problem;
* ``rows``: every input row has an output row; the rows listed carry an error record (pattern),
  every other row is scored and its score equals the score of the clean values.

Each run is classed as ``ok`` or as one of the failures counted in the report: ``crash``
(an unexpected exception, a traceback, CLI exit code 3), ``silent_wrong`` (a bad row scored,
a score that differs from the clean one, an error with no message naming the problem),
``rows_lost`` (fewer output rows than input rows), ``unexpected`` (an error where scores were
expected, or the reverse).

    python benchmarks/reliability.py [--out benchmarks/results/reliability]

Writes ``<out>.json`` and ``<out>.md`` and prints the table; tests/test_hostile_inputs.py runs
the same corpus case by case.
"""

from __future__ import annotations

import argparse
import gzip
import io
import wave
import json
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

COLS = ["a", "b", "c"]
ANY = "ANY"  # a row that may be scored or carry an error (no reference score to check against)
#: outcomes recorded by tests/test_hostile_inputs.py, summarised at the end of the test run (conftest.py)
RECORDED: list = []


# ---------------------------------------------------------------------- clean data
def clean_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training frame, new frame): 3 numeric features plus a string ``host`` column."""
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(48, 3)).round(4), columns=COLS)
    train.insert(0, "host", [f"h{i}" for i in range(len(train))])
    new = pd.DataFrame(np.vstack([rng.normal(size=(5, 3)), [[4.0, -4.0, 4.0]]]).round(4), columns=COLS)
    new.insert(0, "host", [f"n{i}" for i in range(len(new))])
    return train, new


@dataclass
class Case:
    """One hostile input for one entry point."""

    entry: str  # api.fit | api.score | pipeline.score | cli.fit | cli.score | cli.explain
    name: str
    make: Callable  # (folder: Path, env: Env) -> input (a path or an object)
    expect: str  # "error" | "rows" | "fit"
    match: str = ""  # regex the error text must contain (names the problem)
    rows: dict = field(default_factory=dict)  # row -> error regex, or ANY
    values: Callable | None = None  # (env) -> clean frame whose scores the scored rows must have
    n_rows: int | None = None  # output rows expected (default: rows of the clean frame)
    args: tuple = ()  # extra CLI arguments; "{out}" / "{model}" are filled in


@dataclass
class Outcome:
    entry: str
    name: str
    result: str  # ok | crash | silent_wrong | rows_lost | unexpected
    detail: str = ""


@dataclass
class Env:
    """Fitted models and clean data shared by the cases."""

    folder: Path
    train: pd.DataFrame
    new: pd.DataFrame
    det: object = None  # fitted on the training frame's features (float32 deep detector)
    pipe: object = None
    model_path: Path | None = None
    image_pipe: object = None  # fitted on first use by the image / audio cases
    dask_client: object = None  # in-process Dask cluster, started on first use by the dask.score cases
    audio_pipe: object = None

    def reference(self, frame: pd.DataFrame) -> np.ndarray:
        return self.det.score(frame[COLS].astype(np.float64))


def make_env(folder: Path, detector: str = "ae", params: dict | None = None) -> Env:
    import anomalib_ae
    from anomalib_ae.pipeline import Pipeline

    params = params if params is not None else {"epochs": 3, "random_state": 0, "verbose": False, "accelerator": "cpu"}
    train, new = clean_frames()
    env = Env(folder=folder, train=train, new=new)
    env.det = anomalib_ae.create(detector, **params).fit(train[COLS])
    env.model_path = folder / "model.pt"
    env.det.save(env.model_path)
    env.pipe = Pipeline(detector, kind="tabular", detector_params=params).fit(train[COLS])
    return env


# ---------------------------------------------------------------------- file makers
def _csv_text(df: pd.DataFrame, sep: str = ",") -> str:
    return df.to_csv(index=False, sep=sep)


def _write(folder: Path, name: str, data: bytes | str) -> Path:
    p = folder / name
    p.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return p


def _cell(row: int, col: str, text: str) -> Callable:
    """A CSV of the new frame with one cell replaced by ``text`` (written verbatim)."""

    def make(folder: Path, env: Env) -> Path:
        df = env.new.astype(object).copy()
        df.loc[row, col] = text
        return _write(folder, f"cell_{abs(hash(text)) % 10**8}.csv", _csv_text(df))

    return make


def _frame(fn: Callable, name: str, kind: str = "csv") -> Callable:
    def make(folder: Path, env: Env) -> Path:
        df = fn(env.new.copy())
        p = folder / f"{name}.{kind}"
        if kind == "csv":
            p.write_text(_csv_text(df))
        elif kind == "jsonl":
            df.to_json(p, orient="records", lines=True)
        else:
            df.to_parquet(p, index=False)
        return p

    return make


def _text(transform: Callable, name: str, suffix: str = "csv") -> Callable:
    """A file whose bytes are ``transform(clean CSV text)``."""

    def make(folder: Path, env: Env) -> Path:
        return _write(folder, f"{name}.{suffix}", transform(_csv_text(env.new)))

    return make


def _jsonl_lines(lines: list[str], name: str) -> Callable:
    def make(folder: Path, env: Env) -> Path:
        return _write(folder, f"{name}.jsonl", "\n".join(lines) + "\n")

    return make


def _parquet_bytes(fn: Callable, name: str) -> Callable:
    def make(folder: Path, env: Env) -> Path:
        buf = io.BytesIO()
        env.new.to_parquet(buf, index=False)
        return _write(folder, f"{name}.parquet", fn(buf.getvalue()))

    return make


def _lines(text: str) -> list[str]:
    return text.splitlines()


# ---------------------------------------------------------------------- the corpus
BAD_CELLS = [  # (cell text, error regex for that row, or ANY)
    ("", "'b' has a missing value"),
    ("nan", "'b' has a missing value"),
    ("NaN", "'b' has a missing value"),
    ("inf", "'b' has non-finite value"),
    ("-inf", "'b' has non-finite value"),
    ("1e300", "does not fit float32"),
    ("-1.7e308", "does not fit float32"),
    ("1e39", "does not fit float32"),
    ("1e400", "'b' has non-finite value|does not fit"),
    ("abc", "'b' has non-numeric value 'abc'"),
    ("true", "'b' has non-numeric value"),
    ("0x10", "'b' has non-numeric value"),
    ("1.2.3", "'b' has non-numeric value"),
    ("\u00a0", "'b' (has a missing value|has non-numeric)"),
    ("1e30", ANY),  # fits float32; a model may overflow on it: then an error record, never a crash
]


def table_cases(entry: str) -> list[Case]:
    """Files for ``cli.score`` / ``pipeline.score``: one output row per input row, always."""
    n = 6
    cases = [Case(entry, "clean", _frame(lambda d: d, "clean"), "rows")]
    for text, rx in BAD_CELLS:
        cases.append(Case(entry, f"cell {text!r}", _cell(1, "b", text), "rows", rows={1: rx}))
    cases += [
        Case(entry, "column missing", _frame(lambda d: d.drop(columns="c"), "missing"), "error", match="'c'|\\bc\\b"),
        Case(entry, "column renamed", _frame(lambda d: d.rename(columns={"a": "A"}), "renamed"), "error", match="\\ba\\b"),
        Case(entry, "extra column", _frame(lambda d: d.assign(z=1.0), "extra"), "rows"),
        Case(entry, "columns reordered", _frame(lambda d: d[["c", "host", "a", "b"]], "reordered"), "rows"),
        Case(entry, "column duplicated", _text(lambda t: t.replace("host,a,b,c", "host,a,b,a", 1), "dup"), "error",
             match="'a' appears 2 times"),
        Case(entry, "all cells of a column text", _frame(lambda d: d.assign(b="x"), "alltext"), "rows",
             rows={i: "non-numeric" for i in range(n)}),
        Case(entry, "empty file", _text(lambda t: "", "empty"), "error", match="empty|No columns"),
        Case(entry, "header only", _text(lambda t: t.splitlines()[0] + "\n", "header"), "rows", n_rows=0),
        Case(entry, "one row", _frame(lambda d: d.iloc[:1], "one"), "rows", n_rows=1),
        Case(entry, "constant columns", _frame(lambda d: d.assign(a=1.0, b=1.0, c=1.0), "const"), "rows",
             values=lambda e: e.new.assign(a=1.0, b=1.0, c=1.0)),
        Case(entry, "ragged: extra field in the first row", _text(lambda t: "\n".join(
            ln + ",9" if i == 1 else ln for i, ln in enumerate(_lines(t))) + "\n", "ragged_first"), "error",
            match="line 2 has more fields"),
        Case(entry, "ragged: extra field in a later row", _text(lambda t: "\n".join(
            ln + ",9" if i == 3 else ln for i, ln in enumerate(_lines(t))) + "\n", "ragged_later"), "error",
            match="line 4, saw 5"),
        Case(entry, "trailing delimiter on every line", _text(lambda t: t.replace("\n", ",\n"), "trailing"), "rows"),
        Case(entry, "ragged: short row", _text(lambda t: "\n".join(
            ln if i != 2 else ",".join(ln.split(",")[:-1]) for i, ln in enumerate(_lines(t))) + "\n", "ragged_short"),
            "rows", rows={1: "'c' has a missing value"}),
        Case(entry, "truncated mid-row", _text(lambda t: t.rstrip("\n").rsplit(",", 1)[0] + ",", "trunc"), "rows",
             rows={5: "'c' has a missing value"}),
        Case(entry, "UTF-8 BOM", _text(lambda t: "\ufeff" + t, "bom"), "rows"),
        Case(entry, "CRLF line ends", _text(lambda t: t.replace("\n", "\r\n"), "crlf"), "rows"),
        Case(entry, "semicolon delimiter", _text(lambda t: t.replace(",", ";"), "semi"), "error",
             match="';'|missing"),
        Case(entry, "tab delimiter in .csv", _text(lambda t: t.replace(",", "\t"), "tabs"), "error",
             match="tab|missing"),
        Case(entry, "latin-1 byte in a cell", lambda f, e: _write(f, "latin.csv", _csv_text(e.new).replace(
            "n2", "n\udce9", 1).encode("utf-8", "surrogateescape")), "error", match="UnicodeDecodeError|utf-8|encoding"),
        Case(entry, "UTF-16 file", lambda f, e: _write(f, "u16.csv", _csv_text(e.new).encode("utf-16")), "error",
             match="UnicodeDecodeError|utf-8|encoding|missing"),
        Case(entry, "repeated header line", _text(lambda t: t + t.splitlines()[0] + "\n", "rephdr"), "rows",
             rows={6: "non-numeric value 'a'"}, n_rows=7),
        Case(entry, "NUL bytes", _text(lambda t: t.replace("n3", "n\x003", 1), "nul"), "rows"),
        Case(entry, "gzip bytes named .csv", lambda f, e: _write(f, "gz.csv", gzip.compress(b"a,b,c\n1,2,3\n")), "error",
             match="could not be read|UnicodeDecodeError|utf-8|missing"),
        Case(entry, "random binary named .csv", lambda f, e: _write(f, "bin.csv", bytes(range(256)) * 4), "error",
             match="could not be read|utf-8|missing|one column that looks"),
        Case(entry, "unsupported suffix", lambda f, e: _write(f, "x.xlsx", b"PK\x03\x04"), "error",
             match="unsupported table format"),
        Case(entry, "jsonl clean", _frame(lambda d: d, "jclean", "jsonl"), "rows"),
        Case(entry, "jsonl wrong schema", _jsonl_lines(['{"x": 1, "y": 2}'] * 3, "jschema"), "error",
             match="missing .* feature column"),
        Case(entry, "jsonl nested values", _jsonl_lines(
            ['{"a": 1, "b": 2, "c": 3}', '{"a": [1, 2], "b": 2, "c": 3}', '{"a": 1, "b": {"x": 1}, "c": 3}',
             '{"a": 1, "b": null, "c": "3"}'], "jnested"), "rows",
            rows={1: "'a' has non-numeric", 2: "'b' has non-numeric", 3: "'b' has a missing value"}, n_rows=4,
            values=lambda e: pd.DataFrame({"a": [1.0] * 4, "b": [2.0] * 4, "c": [3.0] * 4})),
        Case(entry, "jsonl corrupt line", _jsonl_lines(['{"a": 1, "b": 2, "c": 3}', '{"a": 1, "b": 2, "c'], "jcorrupt"),
             "error", match="could not be read"),
        Case(entry, "jsonl non-object line", _jsonl_lines(['{"a": 1, "b": 2, "c": 3}', "[1, 2, 3]"], "jarr"), "error",
             match="could not be read|missing"),
        Case(entry, "parquet clean", _frame(lambda d: d, "pclean", "parquet"), "rows"),
        Case(entry, "parquet string column", _frame(lambda d: d.assign(b=d["b"].astype(str).where(d.index != 2, "oops")),
                                                    "pstr", "parquet"), "rows", rows={2: "'b' has non-numeric value 'oops'"}),
        Case(entry, "parquet wrong schema", _frame(lambda d: d.rename(columns={"b": "B"}), "pschema", "parquet"), "error",
             match="\\bb\\b"),
        Case(entry, "parquet nested column", _frame(lambda d: d.assign(b=[[1.0, 2.0]] * len(d)), "pnest", "parquet"),
             "rows", rows={i: "'b' has non-numeric" for i in range(n)}),
        Case(entry, "parquet corrupt bytes", _parquet_bytes(lambda b: b[:4] + bytes(len(b) - 8) + b[-4:], "pcorrupt"),
             "error", match="could not be read"),
        Case(entry, "parquet truncated", _parquet_bytes(lambda b: b[: len(b) // 2], "ptrunc"), "error",
             match="could not be read"),
        Case(entry, "input is a folder", lambda f, e: f, "error", match="folder|unsupported|not found|Is a directory"),
        Case(entry, "input missing", lambda f, e: f / "nope.csv", "error", match="not found"),
    ]
    return cases


def api_cases() -> list[Case]:
    X = lambda e: e.new[COLS].to_numpy(np.float64)  # noqa: E731

    def with_value(v):
        def make(f, e):
            a = X(e).copy()
            a[1, 1] = v
            return a

        return make

    def with_train_value(v):
        def make(f, e):
            a = e.train[COLS].to_numpy(np.float64, copy=True)
            a[3, 1] = v
            return a

        return make

    cases = []
    for v, rx in [(np.nan, "NaN"), (np.inf, "infinity"), (-np.inf, "infinity"), (1e300, "row 1, column 'b'.*float32"),
                  (-1.7e308, "row 1, column 'b'.*float32"), (1e39, "float32")]:
        cases.append(Case("api.score", f"value {v!r}", with_value(v), "error", match=rx))
        cases.append(Case("api.fit", f"value {v!r}", with_train_value(v), "error",
                          match=rx.replace("row 1, column 'b'", "row 3, column 1")))
    cases += [
        Case("api.score", "value 1e30 (fits float32)", with_value(1e30), "rows", rows={1: ANY}),
        Case("api.score", "clean array", lambda f, e: X(e), "rows"),
        Case("api.score", "float32 array", lambda f, e: X(e).astype(np.float32), "rows"),
        Case("api.score", "int array", lambda f, e: X(e).round().astype(np.int64), "rows",
             values=lambda e: e.new[COLS].round()),
        Case("api.score", "one row", lambda f, e: X(e)[:1], "rows", n_rows=1),
        Case("api.score", "constant rows", lambda f, e: np.ones((4, 3)), "rows", n_rows=4,
             values=lambda e: pd.DataFrame(np.ones((4, 3)), columns=COLS)),
        Case("api.score", "empty batch", lambda f, e: np.zeros((0, 3)), "error", match="0 sample"),
        Case("api.score", "wrong width", lambda f, e: np.zeros((2, 5)), "error", match="5 features"),
        Case("api.score", "1-D", lambda f, e: np.zeros(3), "error", match="2D"),
        Case("api.score", "3-D", lambda f, e: np.zeros((2, 3, 1)), "error", match="shape|dim"),
        Case("api.score", "strings", lambda f, e: np.array([["a", "b", "c"]]), "error", match="convert|string"),
        Case("api.score", "object with None", lambda f, e: np.array([[1.0, None, 2.0]], dtype=object), "error",
             match="NaN|None|convert"),
        Case("api.score", "complex", lambda f, e: X(e).astype(complex), "error", match="[Cc]omplex"),
        Case("api.score", "ragged lists", lambda f, e: [[1.0, 2.0, 3.0], [1.0]], "error", match="inhomogeneous|sequence"),
        Case("api.score", "None", lambda f, e: None, "error", match="None|needs input"),
        Case("api.score", "DataFrame reordered", lambda f, e: e.new[["c", "a", "b"]], "error", match="order"),
        Case("api.score", "DataFrame renamed", lambda f, e: e.new[COLS].rename(columns={"a": "A"}), "error",
             match="A|feature names"),
        Case("api.score", "DataFrame extra column", lambda f, e: e.new[COLS].assign(z=0.0), "error", match="z|features"),
        Case("api.score", "DataFrame duplicated column", lambda f, e: pd.concat([e.new[COLS], e.new[["a"]]], axis=1),
             "error", match="a|features|unique"),
        Case("api.score", "DataFrame string column", lambda f, e: e.new[COLS].assign(b="x"), "error",
             match="convert|string"),
        Case("api.fit", "clean", lambda f, e: e.train[COLS], "fit"),
        Case("api.fit", "constant columns", lambda f, e: np.ones((20, 3)), "fit"),
        Case("api.fit", "one row", lambda f, e: np.ones((1, 3)), "fit|error", match="sample"),
        Case("api.fit", "empty", lambda f, e: np.zeros((0, 3)), "error", match="0 sample"),
        Case("api.fit", "strings", lambda f, e: np.array([["a", "b"], ["c", "d"]]), "error", match="convert|string"),
        Case("api.fit", "1-D", lambda f, e: np.zeros(10), "error", match="2D"),
        Case("api.fit", "duplicated DataFrame columns", lambda f, e: pd.concat([e.train[COLS], e.train[["a"]]], axis=1),
             "fit|error", match="a|unique"),
    ]
    return cases


def cli_fit_cases() -> list[Case]:
    def train_csv(fn, name, text=None):
        def make(f, e):
            df = fn(e.train.copy())
            return _write(f, f"train_{name}.csv", _csv_text(df) if text is None else text(_csv_text(df)))

        return make

    def set_cell(v):
        def fn(d):
            d = d.astype(object)
            d.loc[3, "b"] = v
            return d

        return fn

    return [
        Case("cli.fit", "clean", train_csv(lambda d: d, "clean"), "fit"),
        Case("cli.fit", "missing value", train_csv(set_cell(""), "missing"), "error", match="row 3.*'b' has a missing value"),
        Case("cli.fit", "missing value, --drop-invalid", train_csv(set_cell(""), "missing2"), "fit",
             args=("--drop-invalid",)),
        Case("cli.fit", "1e300", train_csv(set_cell("1e300"), "huge"), "error", match="row 3.*float32"),
        Case("cli.fit", "text cell", train_csv(set_cell("oops"), "text"), "error", match="row 3.*'oops'"),
        Case("cli.fit", "inf", train_csv(set_cell("inf"), "inf"), "error", match="row 3.*non-finite"),
        Case("cli.fit", "duplicated column", train_csv(lambda d: d, "dup", lambda t: t.replace("host,a,b,c", "host,a,a,c", 1)),
             "error", match="'a' appears 2 times"),
        Case("cli.fit", "empty file", lambda f, e: _write(f, "t_empty.csv", ""), "error", match="could not be read"),
        Case("cli.fit", "header only", lambda f, e: _write(f, "t_hdr.csv", "host,a,b,c\n"), "error", match="no data rows"),
        Case("cli.fit", "constant columns", train_csv(lambda d: d.assign(a=1.0, b=2.0, c=3.0), "const"), "fit"),
        Case("cli.fit", "no numeric column", train_csv(lambda d: d[["host"]], "nonum"), "error",
             match="no numeric feature columns"),
        Case("cli.fit", "semicolon delimiter", train_csv(lambda d: d, "semi", lambda t: t.replace(",", ";")), "error",
             match="';'|no numeric"),
        Case("cli.fit", "model in a missing folder", train_csv(lambda d: d, "mf"), "error", match="does not exist",
             args=("--model", "{folder}/no/such/dir/m.pt")),
        Case("cli.fit", "model path is a folder", train_csv(lambda d: d, "md"), "error", match="folder|directory",
             args=("--model", "{folder}")),
    ]


def cli_extra_cases() -> list[Case]:
    """Paths and model files for ``cli.score`` / ``cli.explain``."""
    clean = _frame(lambda d: d, "clean")
    return [
        Case("cli.score", "output path is a folder", clean, "error", match="is a folder", args=("--output", "{folder}")),
        Case("cli.score", "output in a missing folder (created)", clean, "rows",
             args=("--output", "{folder}/made/here/s.csv")),
        Case("cli.score", "model missing", clean, "error", match="not found", args=("--model", "{folder}/none.pt")),
        Case("cli.score", "model is a folder", clean, "error", match="is a folder", args=("--model", "{folder}")),
        Case("cli.score", "model is a CSV", clean, "error", match="not a readable anomalib_ae model",
             args=("--model", "{input}")),
        Case("cli.explain", "clean", clean, "explain"),
        Case("cli.explain", "rows with bad cells", _cell(2, "a", "oops"), "explain"),
        Case("cli.explain", "row a model overflows on", _cell(2, "a", "1e30"), "explain"),
        Case("cli.explain", "output dir is a file", clean, "error", match="File exists|Not a directory|not a folder",
             args=("--output-dir", "{input}")),
        Case("cli.explain", "input missing", lambda f, e: f / "none.csv", "error", match="not found"),
        Case("cli.explain", "duplicated column", _text(lambda t: t.replace("host,a,b,c", "host,a,b,a", 1), "edup"),
             "error", match="'a' appears 2 times"),
    ]



# ---------------------------------------------------------------------- images, audio
def image_case(folder: Path, good: Path, name: str) -> Path:
    from PIL import Image

    src = sorted(good.glob("*.png"))[0]
    p = folder / name
    if name == "zero.png":
        p.write_bytes(b"")
    elif name == "truncated.png":
        p.write_bytes(src.read_bytes()[:60])
    elif name == "text.png":
        p.write_text("not an image at all\n")
    elif name == "sixteen.png":
        Image.fromarray((np.arange(28 * 28).reshape(28, 28) * 80).astype(np.uint16)).save(p)
    elif name == "big.png":
        Image.open(src).resize((200, 130)).save(p)
    elif name == "rgba.png":
        Image.open(src).convert("RGBA").save(p)
    elif name == "cmyk.jpg":
        Image.open(src).convert("CMYK").save(p)
    elif name == "palette.png":
        Image.open(src).convert("P").save(p)
    elif name == "dangling.png":
        p.symlink_to(folder / "no-such-target.png")
    return p


IMAGE_BAD = {"zero.png": True, "truncated.png": True, "text.png": True, "dangling.png": True}
IMAGE_OK = {"sixteen.png": False, "big.png": False, "rgba.png": False, "cmyk.jpg": False, "palette.png": False}


def _wav_bytes(x: np.ndarray, sr: int, channels: int = 1) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


AUDIO = {  # name -> (bytes maker, expected: "error" | "score")
    "zero.wav": (lambda: b"", "error"),
    "header_only.wav": (lambda: _wav_bytes(np.zeros(0), 16000), "error"),
    "truncated.wav": (lambda: _wav_bytes(np.random.default_rng(0).normal(0, 0.1, 16000), 16000)[:3000], "either"),
    "corrupt_header.wav": (lambda: b"RIFF\xff\xff\xff\xffWAVEfmt " + bytes(64), "error"),
    "rate_8k.wav": (lambda: _wav_bytes(np.random.default_rng(1).normal(0, 0.1, 8000), 8000), "score"),
    "stereo.wav": (lambda: _wav_bytes(np.random.default_rng(2).normal(0, 0.1, 32000), 16000, channels=2), "score"),
    "mp3_inside.wav": (lambda: b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes([0xFF, 0xFB, 0x90, 0x00]) * 200, "error"),
    "text.wav": (lambda: b"hello, not audio\n" * 10, "error"),
    "long.wav": (lambda: _wav_bytes(np.random.default_rng(3).normal(0, 0.1, 16000 * 30), 16000), "score"),
}




def media_cases() -> list[Case]:
    cases = [Case("pipeline.image", name, None, "error" if bad else "score") for name, bad in
             {**IMAGE_BAD, **IMAGE_OK}.items()]
    cases += [Case("pipeline.audio", name, None, expected) for name, (_, expected) in AUDIO.items()]
    cases.append(Case("pipeline.audio", "dangling.wav", None, "error"))
    return cases


def _fit_media(env: Env) -> None:
    from anomalib_ae import datasets
    from anomalib_ae.pipeline import Pipeline

    fast = {"epochs": 1, "random_state": 0, "verbose": False, "accelerator": "cpu"}
    if env.image_pipe is None:
        good = datasets.pneumonia_png_dir() / "good"
        env.image_pipe = Pipeline("ae", kind="image", adapter_params={"size": 16}, detector_params=fast)
        env.image_pipe.fit(sorted(str(p) for p in good.glob("*.png"))[:8])
    if env.audio_pipe is None:
        m = datasets.load_mimii_sample()
        env.audio_pipe = Pipeline("ae", kind="audio", adapter_params={"n_mels": 32}, detector_params=fast)
        env.audio_pipe.fit([str(p) for p in m["paths"][:4]])


def _run_media(case: Case, env: Env, folder: Path) -> Outcome:
    """A folder of two good files and one hostile one: three output rows, the hostile one as expected."""
    import shutil

    from anomalib_ae import datasets

    o = lambda r, d="": Outcome(case.entry, case.name, r, d)  # noqa: E731
    _fit_media(env)
    work = folder / "media"
    work.mkdir()
    if case.entry == "pipeline.image":
        good = datasets.pneumonia_png_dir() / "good"
        for p in sorted(good.glob("*.png"))[8:10]:
            shutil.copy(p, work)
        image_case(work, good, case.name)
        pipe = env.image_pipe
    else:
        for p in datasets.load_mimii_sample()["paths"][30:32]:
            shutil.copy(p, work)
        if case.name == "dangling.wav":
            (work / case.name).symlink_to(folder / "missing.wav")
        else:
            (work / case.name).write_bytes(AUDIO[case.name][0]())
        pipe = env.audio_pipe
    try:
        t = pipe.score_items(work).table
    except Exception as exc:  # noqa: BLE001
        return o("crash", f"{type(exc).__name__}: {exc}")
    mine = t["path"].astype(str).str.contains(case.name, regex=False)
    if mine.sum() == 0:
        return o("rows_lost", f"{case.name} has no output row ({len(t)} rows for 3 files)")
    others = t[~mine]
    if len(others) != 2 or others["score"].isna().any() or others["error"].notna().any():
        return o("unexpected", "the good files were not all scored")
    rows = t[mine]
    has_err, has_score = rows["error"].notna(), rows["score"].notna()
    if (has_err & has_score).any() or (~has_err & ~has_score).any():
        return o("silent_wrong", "a row with both or neither of score and error")
    if case.expect == "error" and has_score.any():
        return o("silent_wrong", f"scored a file that cannot be read: {rows['score'].tolist()}")
    if case.expect == "score" and has_err.any():
        return o("unexpected", f"refused a usable file: {rows['error'].tolist()}")
    return o("ok", str(rows["error"].iloc[0]) if has_err.any() else "")


# ---------------------------------------------------------------------- model files
def _resigned(env: Env, folder: Path, edit: Callable | None = None, raw: str | None = None) -> Path:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    from anomalib_ae import io as model_io

    digest = getattr(model_io, "digest", None) or model_io._digest  # _digest before the house refactor
    with safe_open(str(env.model_path), framework="np") as f:
        meta, arrays = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    header = json.loads(meta["payload"])
    if edit is not None:
        edit(header)
    meta["payload"] = raw if raw is not None else json.dumps(header, allow_nan=True)
    meta["sha256"] = digest(meta["payload"], arrays)
    p = folder / "edited.pt"
    save_file(arrays, str(p), metadata=meta)
    return p


class _Marker:
    """Unpickling it would create ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (_touch, (self.path,))


def _touch(path: str) -> None:
    Path(path).write_text("payload ran")


def model_file_cases() -> list[Case]:
    import pickle

    def flip(pos_fn):
        def make(f, e):
            b = bytearray(e.model_path.read_bytes())
            b[pos_fn(len(b))] ^= 0x01
            return _write(f, "flipped.pt", bytes(b))

        return make

    def state(key, value):
        return lambda h: h["state"].__setitem__(key, value)

    return [
        Case("model.load", "clean", lambda f, e: e.model_path, "load"),
        Case("model.load", "pickle payload", lambda f, e: _write(f, "p.pt", pickle.dumps(_Marker(str(f / "marker")))),
             "error", match="not a readable anomalib_ae model"),
        Case("model.load", "torch.save with objects", lambda f, e: _torch_save(f), "error",
             match="not a readable anomalib_ae model"),
        Case("model.load", "safetensors from another library", lambda f, e: _foreign(f), "error",
             match="not an anomalib_ae model"),
        Case("model.load", "truncated", lambda f, e: _write(f, "t.pt", e.model_path.read_bytes()[:-64]), "error",
             match="not a readable"),
        Case("model.load", "flipped byte in the tensors", flip(lambda n: n - 9), "error", match="integrity check"),
        Case("model.load", "flipped byte in the header", flip(lambda n: 40), "error",
             match="readable|integrity|not an anomalib_ae model|format version"),  # which field byte 40 hits varies
        Case("model.load", "threshold edited, digest kept", lambda f, e: _edited_keep_digest(f, e), "error",
             match="integrity check"),
        Case("model.load", "NaN threshold, digest recomputed", lambda f, e: _resigned(e, f, state("threshold_", float("nan"))),
             "error", match="threshold_ must be a finite number"),
        Case("model.load", "threshold as text, digest recomputed", lambda f, e: _resigned(e, f, state("threshold_", "1")),
             "error", match="threshold_ must be a finite number"),
        Case("model.load", "no detector entry, digest recomputed", lambda f, e: _resigned(e, f, lambda h: h.pop("detector")),
             "error", match="lacks its 'detector' entry"),
        Case("model.load", "nested 100000 deep, digest recomputed",
             lambda f, e: _resigned(e, f, raw='{"detector": "ae", "x": ' + "[" * 100000 + "]" * 100000 + "}"),
             "error", match="nested .* levels deep"),
        Case("model.load", "detector named by import path", lambda f, e: _resigned(e, f, lambda h: h.update(
            detector="os.system")), "error", match="not installed|not a registered|unknown"),
        Case("model.load", "newer format version", lambda f, e: _newer(f, e), "error", match="newer anomalib_ae"),
        Case("model.load", "a folder", lambda f, e: f, "error", match="is a folder"),
        Case("model.load", "missing file", lambda f, e: f / "none.pt", "error", match="not found"),
    ]


def _torch_save(folder: Path) -> Path:
    import torch

    p = folder / "torch.pt"
    torch.save({"w": torch.zeros(2), "obj": _Marker(str(folder / "marker"))}, p)
    return p


def _foreign(folder: Path) -> Path:
    from safetensors.numpy import save_file

    p = folder / "foreign.safetensors"
    save_file({"weight": np.ones((2, 2), np.float32)}, str(p), metadata={"format": "pt"})
    return p


def _edited_keep_digest(folder: Path, env: Env) -> Path:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(env.model_path), framework="np") as f:
        meta, arrays = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    h = json.loads(meta["payload"])
    h["state"]["threshold_"] = 1e9
    meta["payload"] = json.dumps(h)
    p = folder / "edited.pt"
    save_file(arrays, str(p), metadata=meta)
    return p


def _newer(folder: Path, env: Env) -> Path:
    from safetensors import safe_open
    from safetensors.numpy import save_file

    with safe_open(str(env.model_path), framework="np") as f:
        meta, arrays = dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}
    meta["format_version"] = "2"
    p = folder / "v2.pt"
    save_file(arrays, str(p), metadata=meta)
    return p


def _run_model_file(case: Case, env: Env, folder: Path, path) -> Outcome:
    import anomalib_ae

    try:
        obj = anomalib_ae.load(path)
    except Exception as exc:  # noqa: BLE001
        if (folder / "marker").exists():
            return Outcome(case.entry, case.name, "crash", "a pickle payload ran")
        if type(exc).__name__ in EXPECTED_ERRORS:
            return _error_outcome(case, f"{type(exc).__name__}: {exc}")
        return Outcome(case.entry, case.name, "crash", f"{type(exc).__name__}: {exc}")
    if (folder / "marker").exists():
        return Outcome(case.entry, case.name, "crash", "a pickle payload ran")
    if case.expect != "load":
        return Outcome(case.entry, case.name, "silent_wrong", "a hostile file loaded")
    same = np.array_equal(obj.score(env.new[COLS]), env.det.score(env.new[COLS]))
    return Outcome(case.entry, case.name, "ok" if same else "silent_wrong", "" if same else "other scores after load")

def all_cases() -> list[Case]:
    return (api_cases() + table_cases("pipeline.score") + table_cases("cli.score") + cli_fit_cases()
            + cli_extra_cases() + model_file_cases() + media_cases() + dask_cases() + _entries().more_cases())


def _entries():
    """benchmarks/reliability_entries.py: the service, watch, streaming, calibrate, ONNX export, pull."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if __name__ == "__main__":  # run as a script: the entries module imports this very module
        sys.modules.setdefault("reliability", sys.modules["__main__"])
    import reliability_entries

    return reliability_entries


def dask_cases() -> list[Case]:
    """The table corpus through Dask batch scoring (anomalib_ae.distributed.score_table), where installed."""
    try:
        import dask.dataframe  # noqa: F401
        import distributed  # noqa: F401

        import anomalib_ae.distributed  # noqa: F401
    except ImportError:
        return []
    return [c for c in table_cases("dask.score") if c.name not in ("input is a folder", "unsupported suffix")]


def _run_dask(case: Case, env: Env, inp) -> Outcome:
    from anomalib_ae.distributed import score_table

    if env.dask_client is None:
        from dask.distributed import Client, LocalCluster

        env.dask_client = Client(LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                              dashboard_address=None))
    try:
        table = score_table(env.model_path, inp, client=env.dask_client, retries=0)
    except Exception as exc:  # noqa: BLE001
        if type(exc).__name__ in EXPECTED_ERRORS or isinstance(exc, (ValueError, FileNotFoundError, OSError)):
            return _error_outcome(case, f"{type(exc).__name__}: {exc}")
        return Outcome(case.entry, case.name, "crash", f"{type(exc).__name__}: {exc}")
    if case.expect == "error":
        return Outcome(case.entry, case.name, "unexpected", "scored where an error was expected")
    return _check_rows(case, env, table)


# ---------------------------------------------------------------------- running one case
def _check_rows(case: Case, env: Env, table: pd.DataFrame) -> Outcome:
    o = lambda r, d="": Outcome(case.entry, case.name, r, d)  # noqa: E731
    frame = case.values(env) if case.values else env.new
    n = case.n_rows if case.n_rows is not None else len(frame)
    if len(table) < n:
        return o("rows_lost", f"{len(table)} output rows for {n} input rows")
    if len(table) != n:
        return o("unexpected", f"{len(table)} output rows for {n} input rows")
    err = table["error"].astype(object).where(table["error"].notna(), None).tolist()
    score = pd.to_numeric(table["score"], errors="coerce").to_numpy(np.float64)
    ref = env.reference(frame) if n and len(frame) >= n else None
    for i in range(n):
        want = case.rows.get(i)
        if want == ANY:
            if err[i] is None and not np.isfinite(score[i]):
                return o("silent_wrong", f"row {i}: neither a score nor an error")
            continue
        if want is not None:
            if err[i] is None or not re.search(want, str(err[i])):
                return o("silent_wrong", f"row {i}: expected an error matching {want!r}, got score {score[i]} "
                                         f"error {err[i]!r}")
            if np.isfinite(score[i]):
                return o("silent_wrong", f"row {i}: has an error and a score")
            continue
        if err[i] is not None or not np.isfinite(score[i]):
            return o("unexpected", f"row {i}: not scored ({err[i]!r})")
        if ref is not None and not np.isclose(score[i], ref[i], rtol=1e-5, atol=1e-7):
            return o("silent_wrong", f"row {i}: score {score[i]} but the clean row scores {ref[i]}")
    return o("ok")


def _error_outcome(case: Case, text: str) -> Outcome:
    if case.expect in ("error", "fit|error") and re.search(case.match, text):
        return Outcome(case.entry, case.name, "ok", text[:200])
    if case.expect in ("error", "fit|error"):
        return Outcome(case.entry, case.name, "silent_wrong", f"error does not name the problem ({case.match!r}): {text}")
    return Outcome(case.entry, case.name, "unexpected", f"error instead of a result: {text[:300]}")


EXPECTED_ERRORS = ("ValueError", "ModelFileError", "FileNotFoundError", "NotFittedError", "TypeError")


def cli_failure(case: Case, res) -> Outcome | None:
    """The outcome of a CLI run that failed or should have (None: it succeeded as expected)."""
    text = res.output.strip()
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        return Outcome(case.entry, case.name, "crash", f"traceback: {type(res.exception).__name__}: {res.exception}")
    if res.exit_code == 3 or "Traceback" in text:
        return Outcome(case.entry, case.name, "crash", text[-300:])
    if res.exit_code != 0:
        lines = [ln for ln in text.splitlines() if ln.startswith("Error:")]
        if len(lines) != 1:
            return Outcome(case.entry, case.name, "crash", f"exit {res.exit_code} without one Error: line: {text[-300:]}")
        return _error_outcome(case, lines[0])
    if case.expect == "error":
        return Outcome(case.entry, case.name, "unexpected", f"succeeded where an error was expected: {text[-200:]}")
    return None


def _run_api(case: Case, env: Env, inp) -> Outcome:
    import anomalib_ae

    try:
        if case.entry == "api.fit":
            det = anomalib_ae.create("pyod.knn").fit(inp)
            if not np.isfinite(det.threshold_):
                return Outcome(case.entry, case.name, "silent_wrong", "fitted with a non-finite threshold")
            if case.expect == "error":
                return Outcome(case.entry, case.name, "unexpected", "fitted where an error was expected")
            return Outcome(case.entry, case.name, "ok")
        if case.entry == "api.score":
            if case.rows:  # rows the model may not score: the table-path helper gives per-row errors
                from anomalib_ae.value_range import score_finite_rows

                s, errs = score_finite_rows(env.det, inp)
                table = pd.DataFrame({"score": s, "error": [errs.get(i) for i in range(len(s))]})
            else:
                s = env.det.score(inp)
                table = pd.DataFrame({"score": s, "error": [None] * len(s)})
            if case.expect == "error":
                return Outcome(case.entry, case.name, "unexpected", f"scored where an error was expected: {s[:3]}")
            return _check_rows(case, env, table)
        res = env.pipe.score_items(inp)  # pipeline.score
        if case.expect == "error":
            return Outcome(case.entry, case.name, "unexpected", "scored where an error was expected")
        return _check_rows(case, env, res.table)
    except Exception as exc:  # noqa: BLE001  (classifying is the point)
        if type(exc).__name__ in EXPECTED_ERRORS or isinstance(exc, (ValueError, FileNotFoundError)):
            return _error_outcome(case, f"{type(exc).__name__}: {exc}")
        return Outcome(case.entry, case.name, "crash", f"{type(exc).__name__}: {exc}")


def _run_cli(case: Case, env: Env, inp, folder: Path) -> Outcome:
    from click.testing import CliRunner

    from anomalib_ae.cli import cli

    out = folder / f"out_{abs(hash(case.name)) % 10**8}.csv"
    fill = {"{folder}": str(folder), "{input}": str(inp), "{out}": str(out), "{model}": str(env.model_path)}
    extra = [fill.get(a, a.replace("{folder}", str(folder))) for a in case.args]
    if case.entry == "cli.fit":
        model = folder / f"fit_{abs(hash(case.name)) % 10**8}.pt"
        args = ["fit", "-d", "pyod.knn", "-i", str(inp), "-m", str(model), "-x", "host"]
        if "--model" in extra:
            args = [a for a in args if a not in ("-m", str(model))]
    elif case.entry == "cli.score":
        args = ["score", "-m", str(env.model_path), "-i", str(inp), "-o", str(out)]
        for flag, short in (("--model", "-m"), ("--output", "-o")):
            if flag in extra:
                k = args.index(short)
                del args[k : k + 2]
                if flag == "--output":
                    out = Path(extra[extra.index(flag) + 1])
    else:
        args = ["explain", "-m", str(env.model_path), "-i", str(inp), "-o", str(folder / "explain"), "-k", "2"]
        if "--output-dir" in extra:
            k = args.index("-o")
            del args[k : k + 2]
    res = CliRunner().invoke(cli, args + extra)
    text = res.output.strip()
    bad = cli_failure(case, res)
    if bad is not None:
        return bad
    if case.entry == "cli.fit":
        import anomalib_ae

        model_file = Path(args[args.index("-m") + 1]) if "-m" in args else Path(extra[extra.index("--model") + 1])
        det = anomalib_ae.load(model_file)
        ok = np.isfinite(det.threshold_)
        return Outcome(case.entry, case.name, "ok" if ok else "silent_wrong", text.splitlines()[0] if text else "")
    if case.entry == "cli.explain":
        table = pd.read_csv(folder / "explain" / "contributions.csv")
        if table["score"].isna().any() or len(table) == 0:
            return Outcome(case.entry, case.name, "silent_wrong", "explained an item without a score")
        return Outcome(case.entry, case.name, "ok")
    from anomalib_ae.data.tabular import read_table

    return _check_rows(case, env, read_table(out))


def run_case(case: Case, env: Env, folder: Path) -> Outcome:
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            inp = case.make(folder, env) if case.make is not None else None
        except Exception as exc:  # noqa: BLE001
            return Outcome(case.entry, case.name, "crash", f"case setup failed: {type(exc).__name__}: {exc}")
        if case.entry.startswith("pipeline.") and case.entry != "pipeline.score":
            return _run_media(case, env, folder)
        if case.entry == "model.load":
            return _run_model_file(case, env, folder, inp)
        if case.entry == "dask.score":
            return _run_dask(case, env, inp)
        if case.entry in _entries().ENTRIES:
            return _entries().run_case(case, env, folder, inp)
        if case.entry.startswith("cli."):
            return _run_cli(case, env, inp, folder)
        return _run_api(case, env, inp)


# ---------------------------------------------------------------------- report
FAILURES = ("crash", "silent_wrong", "rows_lost", "unexpected")


def summarise(outcomes: list[Outcome]) -> dict:
    entries: dict[str, dict] = {}
    for o in outcomes:
        e = entries.setdefault(o.entry, {"tried": 0, "ok": 0, **{f: 0 for f in FAILURES}})
        e["tried"] += 1
        e[o.result] += 1
    total = {k: sum(e[k] for e in entries.values()) for k in ("tried", "ok", *FAILURES)}
    return {"entries": entries, "total": total}


def markdown(summary: dict, outcomes: list[Outcome], seconds: float, load: tuple | None = None) -> str:
    busy = f" (load average {load[0]:.1f} on {_cpus()} CPUs while it ran: a shared machine)" if load else ""
    lines = [
        "# Reliability sweep (hostile inputs)",
        "",
        f"Generated by `python benchmarks/reliability.py` in {seconds:.0f} s{busy}. Every case is also a test in "
        "`tests/test_hostile_inputs.py`; the cases of serve, watch, cli.score.stream, cli.calibrate, export.onnx "
        "and pull are in `benchmarks/reliability_entries.py`.",
        "",
        "| entry point | hostile inputs | ok | crashes | silent wrong | rows lost | unexpected |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, e in sorted(summary["entries"].items()):
        lines.append(f"| {name} | {e['tried']} | {e['ok']} | {e['crash']} | {e['silent_wrong']} | {e['rows_lost']} "
                     f"| {e['unexpected']} |")
    t = summary["total"]
    lines.append(f"| **all** | {t['tried']} | {t['ok']} | {t['crash']} | {t['silent_wrong']} | {t['rows_lost']} "
                 f"| {t['unexpected']} |")
    bad = [o for o in outcomes if o.result != "ok"]
    if bad:
        lines += ["", "## Failures", ""] + [f"- {o.entry} / {o.name}: **{o.result}** {o.detail}" for o in bad]
    return "\n".join(lines) + "\n"


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "reliability"))
    args = ap.parse_args(argv)
    import logging

    import torch

    torch.set_num_threads(1)
    logging.getLogger("anomalib_ae.watch").setLevel(logging.ERROR)  # its per-file warnings are the point here
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        env = make_env(Path(tmp))
        outcomes = [run_case(c, env, Path(tmp) / f"c{i}") for i, c in enumerate(all_cases())]
        if env.dask_client is not None:
            env.dask_client.close()
        _entries().close(env)
    seconds = time.perf_counter() - t0
    load = os.getloadavg()
    summary = summarise(outcomes)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(
        {"summary": summary, "seconds": round(seconds, 1), "loadavg": [round(x, 2) for x in load], "cpus": _cpus(),
         "cases": [asdict(o) for o in outcomes]}, indent=1))
    md = markdown(summary, outcomes, seconds, load)
    out.with_suffix(".md").write_text(md)
    print(md)
    return summary


if __name__ == "__main__":  # pragma: no cover
    result = main()
    sys.exit(1 if any(result["total"][f] for f in FAILURES) else 0)
