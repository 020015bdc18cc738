"""The model file format: one safetensors file holding arrays plus a JSON header.

This module knows the container only, not what it holds: detectors turn into state in
:mod:`anomalib_ae.detectors.state`, pipelines in :mod:`anomalib_ae.pipeline`, and
:mod:`anomalib_ae.persistence` decides what a file holds when loading it.

Loading never unpickles anything: tensors are read by ``safetensors`` and everything else
(parameters, fitted scalars, preprocessing, threshold, format version) is JSON in the
safetensors metadata. A SHA-256 digest over the JSON payload and every tensor detects
truncated, corrupted or edited files. (It is an integrity check, not a signature: someone who
can write the file can also recompute the digest.)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from anomalib_ae._version import __version__

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "SUPPORTED_VERSIONS",
    "ModelFileError",
    "decode_value",
    "digest",
    "encode_value",
    "read_model_file",
    "write_model_file",
]

FORMAT_NAME = "anomalib_ae"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not ours, damaged, tampered or of an unknown version."""


# ---------------------------------------------------------------------- JSON value codec
def encode_value(value: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """A JSON-able form of ``value``: tuples and string arrays are tagged, the rest must be JSON.

    ``default(value)`` is asked first for every value (as ``json.dumps``' ``default``, but
    first): it returns the encoded form of an object it knows, or ``NotImplemented``.
    Raises ``TypeError`` for anything else.
    """
    if default is not None:
        out = default(value)
        if out is not NotImplemented:
            return out
    if isinstance(value, tuple):
        return {"__tuple__": [encode_value(v, default) for v in value]}
    if isinstance(value, list):
        return [encode_value(v, default) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only dicts with string keys can be saved")
        return {k: encode_value(v, default) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        return {"__strarray__": [str(v) for v in value.tolist()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__}")


def decode_value(value: Any, tags: Mapping[str, Callable[[dict], Any]] | None = None) -> Any:
    """Inverse of :func:`encode_value`; ``tags`` maps a marker key (e.g. ``"__detector__"``) to
    the function that rebuilds a dict carrying it."""
    if isinstance(value, list):
        return [decode_value(v, tags) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(decode_value(v, tags) for v in value["__tuple__"])
        if set(value) == {"__strarray__"}:
            return np.asarray(value["__strarray__"], dtype=object)
        for tag, rebuild in (tags or {}).items():
            if tag in value:
                return rebuild(value)
        return {k: decode_value(v, tags) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------- files
def digest(payload: str, arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 (hex) over the JSON payload and every array (name, dtype, shape, bytes)."""
    h = hashlib.sha256(payload.encode("utf-8"))
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"\0{key}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def write_model_file(path: str | os.PathLike, arrays: Mapping[str, np.ndarray], header: dict) -> None:
    """Write ``arrays`` and the JSON ``header`` (plus ``library_version``) atomically to ``path``."""
    from safetensors.numpy import save_file

    header = dict(header)
    header["library_version"] = __version__
    payload = json.dumps(header, sort_keys=True, allow_nan=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "payload": payload,
        "sha256": digest(payload, arrays),
    }
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(21, "the model path is a folder", str(path))
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write the model file {path}: folder {path.parent} does not exist")
    # a temp name of its own per writer: concurrent saves to one path never share a temp file
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        save_file(arrays, str(tmp), metadata=metadata)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_model_file(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], dict]:
    """``(arrays, header)`` of a model file, after the format, version and digest checks.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        Not a safetensors file, not ours, an unknown version, a failed integrity check.
    """
    from safetensors import safe_open

    path = Path(path)
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            arrays = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # safetensors raises its own error types for garbage / truncation
        raise ModelFileError(
            f"{path} is not a readable anomalib_ae model file ({type(exc).__name__}: {exc})"
        ) from None
    if metadata.get("format") != FORMAT_NAME or "payload" not in metadata:
        raise ModelFileError(f"{path} is a safetensors file but not an anomalib_ae model file")
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise ModelFileError(f"{path} has an invalid format version {metadata.get('format_version')!r}") from None
    if version > max(SUPPORTED_VERSIONS):
        raise ModelFileError(
            f"{path} was written by a newer anomalib_ae (model format version {version}; this version reads "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}): upgrade anomalib_ae to load it"
        )
    if version not in SUPPORTED_VERSIONS:
        raise ModelFileError(
            f"{path} has model format version {version}; this anomalib_ae reads versions "
            f"{', '.join(map(str, SUPPORTED_VERSIONS))}"
        )
    payload = metadata["payload"]
    if digest(payload, arrays) != metadata.get("sha256"):
        raise ModelFileError(f"{path} failed its integrity check (SHA-256 mismatch): the file was modified or damaged")
    if not isinstance(payload, str) or len(payload) > MAX_HEADER_CHARS:
        raise ModelFileError(f"{path} has an invalid header: not text, or over {MAX_HEADER_CHARS} characters")
    depth = nesting_depth(payload)  # before json.loads: a deeply nested header would end in RecursionError
    if depth > MAX_HEADER_DEPTH:
        raise ModelFileError(f"{path} has an invalid header: it is nested {depth} levels deep (limit {MAX_HEADER_DEPTH})")
    try:
        header = json.loads(payload)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{path} has an invalid header: unreadable JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path} has an invalid header: it must be a JSON object, got {type(header).__name__}")
    return arrays, header


#: Deepest bracket nesting a header may have (real files, ensembles included, stay below 20).
MAX_HEADER_DEPTH = 64
#: Largest header text accepted (real headers are a few KiB; arrays live outside the header).
MAX_HEADER_CHARS = 16 * 1024 * 1024
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def nesting_depth(text: str) -> int:
    """Deepest ``[``/``{`` nesting of JSON ``text``, ignoring brackets inside strings (no parsing)."""
    codes = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8", "replace"), dtype=np.uint8)
    step = np.zeros(codes.shape, dtype=np.int64)
    step[(codes == ord("[")) | (codes == ord("{"))] = 1
    step[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(step).max(initial=0))
