"""Tables (CSV, TSV, Parquet, JSON lines) <-> feature matrices, keeping every row accounted for."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from anomalib_ae.value_range import beyond_float32, describe_beyond_float32

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet/JSON-lines file; a clear ``ValueError`` for anything else."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(unsupported_table_format(path))
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a table file")
    return _read(lambda: path, kind, str(path))


def unsupported_table_format(path: Path) -> str:
    """The error for a file that is not a table (a ``.npy`` array gets a pointer to what works)."""
    msg = f"{path}: unsupported table format {path.suffix!r} (use .csv, .tsv, .parquet or .jsonl)"
    if path.suffix.lower() == ".npy":
        msg += ("; a .npy array has no columns: score it from Python, "
                "det.score(np.load(path, mmap_mode='r')), or save it as Parquet")
    return msg


def read_table_bytes(data: bytes, kind: str, name: str = "the request body") -> pd.DataFrame:
    """:func:`read_table` for a table held in memory (``kind``: csv, tsv, parquet, jsonl), with the
    same checks (duplicate names, a first row with an extra field, another delimiter); errors
    start with ``name``."""
    import io

    return _read(lambda: io.BytesIO(data), kind, name)


def _read(src, kind: str, name: str) -> pd.DataFrame:
    """``src()`` gives a fresh path or buffer to read from; ``name`` starts every error."""
    try:
        if kind in ("csv", "tsv"):
            sep = "," if kind == "csv" else "\t"
            header = pd.read_csv(src(), sep=sep, header=None, nrows=1, dtype=str).iloc[0].tolist()
            check_unique_columns(header, name)
            return _read_delimited(src(), sep, len(header), name)
        if kind == "jsonl":
            return pd.read_json(src(), lines=True)
        import pyarrow.parquet as pq

        check_unique_columns(list(pq.read_schema(src()).names), name)  # before pyarrow picks a copy
        return pd.read_parquet(src())
    except ValueError as exc:
        if str(exc).startswith(f"{name}:"):
            raise
        raise ValueError(f"{name}: could not be read as {kind} ({type(exc).__name__}: {exc})") from None
    except ImportError as exc:
        raise ValueError(f"{name}: reading Parquet needs pyarrow (pip install 'anomalib_ae[parquet]'): {exc}") from None
    except Exception as exc:
        raise ValueError(f"{name}: could not be read as {kind} ({type(exc).__name__}: {exc})") from None


def check_table_head(path: str | Path) -> None:
    """The checks :func:`read_table` makes on a CSV / TSV / Parquet file, on its header and first
    data line only (for readers that split a big file, e.g. ``dask.dataframe``): the file exists,
    no duplicate column names, no extra field in the first data line, no other delimiter."""
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if not path.is_file() or kind not in ("csv", "tsv", "parquet"):
        return
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            check_unique_columns(list(pq.read_schema(path).names), str(path))
            return
        sep = "," if kind == "csv" else "\t"
        header = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str).iloc[0].tolist()
        check_unique_columns(header, str(path))
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                head = pd.read_csv(path, sep=sep, index_col=False, nrows=1)
            except pd.errors.ParserWarning:
                raise ValueError(f"{path}: line 2 has more fields than the header's {len(header)}; fix the file") from None
        _check_delimiter(head, path, sep)
    except (ValueError, OSError) as exc:  # OSError: pyarrow on a damaged Parquet footer
        if str(exc).startswith(f"{path}:"):
            raise
        raise ValueError(f"{path}: could not be read as {kind} ({type(exc).__name__}: {exc})") from None


def _check_delimiter(df: pd.DataFrame, path, sep: str) -> None:
    if df.shape[1] == 1:
        name = str(df.columns[0])
        for other in (";", "\t", "|", ","):
            if other != sep and other in name:
                raise ValueError(
                    f"{path}: the header {name!r} is one column that looks {other!r}-separated; "
                    "save the file comma-separated (.csv) or tab-separated (.tsv)"
                )


def _read_delimited(path, sep: str, n_header: int, name: str | None = None) -> pd.DataFrame:
    """``pd.read_csv`` that never shifts columns: with more fields in the first data line than in
    the header pandas would take the first column as the index and misalign every value."""
    name = str(path) if name is None else name
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            df = pd.read_csv(path, sep=sep, index_col=False)  # empty trailing fields ("1,2,3,") are dropped
        except pd.errors.ParserWarning:
            raise ValueError(f"{name}: line 2 has more fields than the header's {n_header}; fix the file") from None
    _check_delimiter(df, name, sep)
    return df


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write by suffix: .csv, .tsv, .parquet/.pq or .jsonl."""
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None and path.is_dir():
        raise ValueError(f"{path}: is a folder; give a file name for the output")
    if kind is None:
        raise ValueError(f"{path}: unsupported output format {path.suffix!r} (use .csv, .tsv, .parquet or .jsonl)")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder; give a file name for the output")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        df.to_csv(path, index=False)
    elif kind == "tsv":
        df.to_csv(path, sep="\t", index=False)
    elif kind == "jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path, index=False)


def check_unique_columns(names: list, source: str = "the table") -> None:
    """Refuse a table whose header names a column more than once (``ValueError`` naming it).

    pandas would keep both copies under mangled names (``a``, ``a.1``) or keep one of them
    silently; either way a model could be scored on the wrong copy.
    """
    seen: dict[str, list[int]] = {}
    for j, name in enumerate(names):
        seen.setdefault(str(name), []).append(j)
    dup = {n: js for n, js in seen.items() if len(js) > 1}
    if dup:
        name, js = next(iter(dup.items()))
        more = f" (and {len(dup) - 1} more duplicated name(s))" if len(dup) > 1 else ""
        raise ValueError(
            f"{source}: column name {name!r} appears {len(js)} times in the header "
            f"(positions {', '.join(map(str, js))}){more}; rename or drop the copies"
        )


def _mostly_numeric(col: pd.Series) -> bool:
    """An object column whose non-missing cells are at least 90 % numbers: numeric with a few bad cells."""
    if not pd.api.types.is_object_dtype(col) and not pd.api.types.is_string_dtype(col):
        return False
    present = col.dropna()
    if len(present) == 0 or present.map(lambda v: isinstance(v, (list, dict))).any():
        return False
    as_num = pd.to_numeric(present, errors="coerce")
    return bool(as_num.notna().mean() >= 0.9)


def numeric_columns(df: pd.DataFrame, exclude: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Columns usable as features: not excluded, and numeric or mostly numeric.

    A column whose cells are at least 90 % numbers is a numeric column with a few bad cells
    (a stray ``"n/a"``, a repeated header line): it stays a feature and its bad cells become
    row errors in :func:`extract_features`, rather than the whole column being dropped silently.
    """
    check_unique_columns(list(df.columns))
    return [
        c for c in df.columns
        if c not in exclude and (pd.api.types.is_numeric_dtype(df[c]) or _mostly_numeric(df[c]))
    ]


@dataclass
class FeatureRows:
    """Feature matrix of the usable rows, plus one error message per unusable row."""

    X: np.ndarray
    valid: np.ndarray  # bool (n_rows,)
    errors: list[str | None] = field(default_factory=list)


def extract_features(df: pd.DataFrame, columns: list[str]) -> FeatureRows:
    """Pick ``columns`` from ``df``; rows with missing, non-numeric or infinite values get an error.

    Every input row is accounted for: ``valid[i]`` tells whether row i is in ``X`` and
    ``errors[i]`` says why not.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"input is missing {len(missing)} feature column(s) the model needs: {', '.join(map(str, missing[:10]))}"
            + (" ..." if len(missing) > 10 else "")
        )
    check_unique_columns([c for c in df.columns if c in set(columns)])
    raw = df[columns]
    values = raw.apply(_to_number).to_numpy(dtype=np.float64, na_value=np.nan)
    huge = beyond_float32(values)
    bad = ~np.isfinite(values) | huge
    errors: list[str | None] = [None] * len(df)
    for i in np.flatnonzero(bad.any(axis=1)):
        j = int(np.flatnonzero(bad[i])[0])
        original = raw.iat[i, j]
        if huge[i, j]:
            what = describe_beyond_float32(float(values[i, j]))
        elif _is_missing(original):
            what = "has a missing value"
        elif np.isinf(values[i, j]):
            what = f"has non-finite value {original!r}"
        else:
            what = f"has non-numeric value {original!r}"
        n_bad = int(bad[i].sum())
        more = f" (and {n_bad - 1} more column(s))" if n_bad > 1 else ""
        errors[i] = f"column {columns[j]!r} {what}{more}"
    valid = ~bad.any(axis=1)
    return FeatureRows(X=values[valid], valid=valid, errors=errors)


def _is_missing(value) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # lists / arrays in a cell
        return False


def _to_number(col: pd.Series) -> pd.Series:
    """``pd.to_numeric`` per column; cells it cannot take (lists, dicts from JSON lines) become NaN."""
    try:
        return pd.to_numeric(col, errors="coerce")
    except (TypeError, ValueError):
        return col.map(lambda v: pd.to_numeric(v, errors="coerce") if np.ndim(v) == 0 and not isinstance(v, dict) else np.nan)
