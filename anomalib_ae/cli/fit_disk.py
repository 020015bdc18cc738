"""``anomalib-ae fit --detector`` on a ``.npy`` file or a Parquet file / folder: out-of-core training.

A deep detector that trains from a memory map (every registered deep detector; whatever
:func:`~anomalib_ae.detectors._deep_stream.streamable` takes) gets
the input as :func:`~anomalib_ae.data.outofcore.open_training_data` opens it: a ``.npy`` is
memory-mapped as it is, Parquet is converted batch by batch into a temporary ``.npy``. Nothing
is read whole, and the model equals an in-memory fit of the same data bit for bit.

Every other detector (PyOD, ensembles, a subclass with an undeclared training step of its own)
trains in memory, as from a CSV, and a ``note:`` on stderr says so: a Parquet file or folder
goes through the table reader as before (numeric columns, ``--exclude``, ``--drop-invalid``);
a ``.npy`` is loaded whole. Training out of core cannot leave rows out: with
``--drop-invalid``, clean data still streams (checked chunk by chunk first) and data with bad
rows trains in memory with those rows skipped. Bad values are named by file, row and column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from anomalib_ae.cli.common import UserError

__all__ = ["DiskFit", "disk_kind", "fit_from_disk", "read_training_table"]


@dataclass(frozen=True)
class DiskFit:
    """What :func:`fit_from_disk` trained on."""

    rows: int
    features: int
    out_of_core: bool


def disk_kind(path: Path) -> str | None:
    """``"npy"``, ``"parquet"`` (a file or a folder holding ``.parquet`` files) or None."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return "npy"
    if suffix in (".parquet", ".pq") or (path.is_dir() and next(path.rglob("*.parquet"), None) is not None):
        return "parquet"
    return None


def read_training_table(path: Path):
    """The table reader's DataFrame; a Parquet folder is read as one table (pyarrow dataset)."""
    from anomalib_ae.data.tabular import read_table

    if path.is_dir() and disk_kind(path) == "parquet":
        import pandas as pd

        try:
            return pd.read_parquet(path)
        except Exception as exc:
            raise UserError(f"{path}: could not be read as a Parquet dataset ({type(exc).__name__}: {exc})") from None
    return read_table(path)


def _streams(det, X) -> bool:
    from anomalib_ae.detectors._deep import BaseDeepDetector
    from anomalib_ae.detectors._deep_stream import streamable

    return isinstance(det, BaseDeepDetector) and streamable(det, X)


def _note(det_name: str, path: Path, why: str) -> None:
    click.echo(f"note: {det_name} trains in memory ({why}): {path} is read whole", err=True)


def fit_from_disk(det, det_name: str, path: Path, exclude=(), drop_invalid: bool = False) -> DiskFit | None:
    """Fit ``det`` on a ``.npy`` / Parquet input, out of core when it can (see the module docstring).

    Returns None when the input is another table (or a Parquet input for an in-memory
    detector): the caller reads it with the table reader as before.
    """
    from anomalib_ae.data.outofcore import check_finite_chunks, open_training_data

    kind = disk_kind(path)
    if kind is None:
        return None
    if not path.exists():
        raise UserError(f"input not found: {path}")
    if kind == "npy":
        if exclude:
            raise UserError(f"--exclude names columns, and {path} (a .npy array) has none")
        probe = np.load(path, mmap_mode="r")  # reads the header only
        left_out: list[str] = []
    else:
        left_out, n_features = _left_out(path, exclude)
        probe = np.empty((0, n_features), np.float32)  # a Parquet table: float vectors
    if not _streams(det, probe):
        why = "no out-of-core training for this detector"
        if kind == "npy" and (probe.dtype not in (np.float32, np.float64) or probe.ndim not in (2, 3)):
            why = (f"out-of-core training takes float vectors or windows; {path} holds {probe.dtype} "
                   f"of shape {probe.shape}")
        return _in_memory(det, det_name, path, kind, drop_invalid, why, probe)
    data = open_training_data(path, exclude=left_out)
    try:
        if drop_invalid:
            try:
                check_finite_chunks(data.array, data.source, data.columns)
            except ValueError as exc:
                return _in_memory(det, det_name, path, kind, drop_invalid, f"--drop-invalid, and {exc}", probe)
        rows, features = int(data.array.shape[0]), int(np.prod(data.array.shape[1:]))
        det.fit(data)
        return DiskFit(rows, features, True)
    finally:
        data.close()


def _left_out(path: Path, exclude) -> tuple[list[str], int]:
    """``--exclude`` (checked against the schema) plus the non-numeric columns, which the table
    reader leaves out of a plain table's features too (an id, a timestamp, a label text); and
    the number of feature columns left. Reads the schema only."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    schema = ds.dataset(str(path), format="parquet").schema
    missing = [c for c in exclude if c not in schema.names]
    if missing:
        raise UserError(f"--exclude names column(s) not in {path}: {', '.join(missing)}")
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)
    other = [f.name for f in schema if f.name not in exclude and not any(t(f.type) for t in numeric)]
    return list(exclude) + other, len(schema.names) - len(exclude) - len(other)


def _in_memory(det, det_name, path, kind, drop_invalid, why, X) -> DiskFit | None:
    """The in-memory fit: Parquet through the table reader (None), a ``.npy`` (``X``, its map) loaded whole."""
    _note(det_name, path, why)
    if kind == "parquet":
        return None
    keep = _finite_rows(X, str(path), drop_invalid)
    X = np.asarray(X) if keep is None else np.asarray(X[keep])
    det.fit(X)
    return DiskFit(int(X.shape[0]), int(np.prod(X.shape[1:])), False)


def _finite_rows(X: np.ndarray, source: str, drop_invalid: bool) -> np.ndarray | None:
    """None when every row is usable, else (``--drop-invalid``) the usable rows' indices; without
    the flag the first bad row is an error naming the file, row and column."""
    from anomalib_ae.data.outofcore import check_finite_chunks

    if X.dtype.kind not in "fc" or X.ndim < 2:
        return None  # integers and booleans are finite; the detector checks the shape
    try:
        check_finite_chunks(X, source)
        return None
    except ValueError as exc:
        if not drop_invalid:
            raise UserError(f"{exc}; fix it or pass --drop-invalid") from None
        first = str(exc)
    flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    ok = (np.abs(np.nan_to_num(flat, nan=np.inf)) <= np.finfo(np.float32).max).all(axis=1)
    click.echo(f"warning: skipped {int((~ok).sum())} training row(s) with unusable values (first: {first})", err=True)
    if not ok.any():
        raise UserError(f"{source}: no usable training rows")
    return np.flatnonzero(ok)
