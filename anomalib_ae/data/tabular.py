"""Tables (CSV, TSV, Parquet, JSON lines) <-> feature matrices, keeping every row accounted for."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV/TSV/Parquet/JSON-lines file; a clear ``ValueError`` for anything else."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input file not found: {path}")
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: unsupported table format {path.suffix!r} (use .csv, .tsv, .parquet or .jsonl)")
    try:
        if kind == "csv":
            return pd.read_csv(path)
        if kind == "tsv":
            return pd.read_csv(path, sep="\t")
        if kind == "jsonl":
            return pd.read_json(path, lines=True)
        return pd.read_parquet(path)
    except ImportError as exc:
        raise ValueError(f"{path}: reading Parquet needs pyarrow (pip install 'anomalib_ae[parquet]'): {exc}") from None
    except Exception as exc:
        raise ValueError(f"{path}: could not be read as {kind} ({type(exc).__name__}: {exc})") from None


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write by suffix: .csv, .tsv, .parquet/.pq or .jsonl."""
    path = Path(path)
    kind = TABLE_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: unsupported output format {path.suffix!r} (use .csv, .tsv, .parquet or .jsonl)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "csv":
        df.to_csv(path, index=False)
    elif kind == "tsv":
        df.to_csv(path, sep="\t", index=False)
    elif kind == "jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path, index=False)


def numeric_columns(df: pd.DataFrame, exclude: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Columns usable as features: numeric dtype and not excluded."""
    return [c for c in df.columns if c not in exclude and pd.api.types.is_numeric_dtype(df[c])]


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
    raw = df[columns]
    values = raw.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    errors: list[str | None] = [None] * len(df)
    for i in np.flatnonzero(bad.any(axis=1)):
        j = int(np.flatnonzero(bad[i])[0])
        original = raw.iat[i, j]
        if pd.isna(original):
            what = "is missing"
        elif isinstance(original, str):
            what = f"has non-numeric value {original!r}"
        else:
            what = f"has non-finite value {original!r}"
        n_bad = int(bad[i].sum())
        more = f" (and {n_bad - 1} more column(s))" if n_bad > 1 else ""
        errors[i] = f"column {columns[j]!r} {what}{more}"
    valid = ~bad.any(axis=1)
    return FeatureRows(X=values[valid], valid=valid, errors=errors)
