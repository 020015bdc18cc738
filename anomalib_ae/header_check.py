"""Validate what a model file's JSON header says before anything uses it.

The SHA-256 digest of a model file detects damage, not intent: whoever can edit the file
can recompute it. So the header is checked on its own terms, before parsing and before use:

* size and nesting depth are counted on the raw text before ``json.loads`` by
  :func:`anomalib_ae.io.read_model_file` (a deeply nested header would end in ``RecursionError``);
* required keys and their types at every level (``detector``, ``params``, ``state``;
  ensemble members; the pipeline section);
* ranges: thresholds, offsets and ``contamination`` are finite numbers, shapes are positive
  integers, every array the header refers to is in the file, score arrays are finite.

Every failure is a :class:`ModelFileError` naming the field. numpy only (no torch import):
:func:`anomalib_ae.persistence.load` calls :func:`check_header` on the parsed header and
:func:`check_loaded` on the loaded object.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# state / pipeline fields that must be finite real numbers when present
_FINITE_FIELDS = ("threshold_", "offset_", "threshold")
# arrays that must hold only finite values when present
_FINITE_ARRAYS = ("calibration_scores_", "decision_scores_", "__pipeline__.calibration_scores")


def _error(source: str, message: str) -> Exception:
    from anomalib_ae.io import ModelFileError

    return ModelFileError(f"{source} has an invalid header: {message}")


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    return _is_real(value) and math.isfinite(value)


def _check_state_values(state: dict, where: str, source: str) -> None:
    for key in _FINITE_FIELDS:
        if key in state and state[key] is not None and not _finite(state[key]):
            raise _error(source, f"{where}.{key} must be a finite number, got {state[key]!r}")
    n = state.get("n_features_in_")
    if n is not None and not (isinstance(n, int) and not isinstance(n, bool) and n >= 1):
        raise _error(source, f"{where}.n_features_in_ must be a positive integer, got {n!r}")
    shape = state.get("input_shape_")
    if shape is not None:
        dims = shape.get("__tuple__") if isinstance(shape, dict) else None
        if not isinstance(dims, list) or not dims or not all(
            isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 2**31 for d in dims
        ):
            raise _error(source, f"{where}.input_shape_ must be a tuple of positive integers, got {shape!r}")


def _check_detector(header: Any, arrays: dict, prefix: str, where: str, source: str) -> None:
    if not isinstance(header, dict):
        raise _error(source, f"{where} must be an object, got {type(header).__name__}")
    for key, kind in (("detector", str), ("params", dict), ("state", dict)):
        if key not in header:
            raise _error(source, f"{where} lacks its {key!r} entry")
        if not isinstance(header[key], kind):
            raise _error(source, f"{where}.{key} must be a{'n object' if kind is dict else ' string'}, "
                                 f"got {type(header[key]).__name__}")
    params, state = header["params"], header["state"]
    c = params.get("contamination")
    if c is not None and not (_finite(c) and 0.0 < c <= 0.5):
        raise _error(source, f"{where}.params.contamination must be a number in (0, 0.5], got {c!r}")
    t = params.get("threshold")
    if t is not None and not (isinstance(t, str) or _finite(t)):
        raise _error(source, f"{where}.params.threshold must be null, a string or a finite number, got {t!r}")
    _check_state_values(state, f"{where}.state", source)
    for name, value in state.items():
        for marker in ("__array__", "__module__"):
            if isinstance(value, dict) and marker in value and value != {marker: True}:
                raise _error(source, f"{where}.state.{name} must be exactly {{{marker!r}: true}}, got {value!r}")
        if isinstance(value, dict) and value.get("__array__") is True and prefix + name not in arrays:
            raise _error(source, f"{where}.state.{name} refers to an array that is not in the file")
        if isinstance(value, dict) and "__members__" in value:
            members = value["__members__"]
            if not isinstance(members, list) or not members:
                raise _error(source, f"{where}.state.{name} must list the ensemble members")
            for i, member in enumerate(members):
                _check_detector(member, arrays, f"{prefix}{name}.{i}.", f"{where}.state.{name}[{i}]", source)


def _check_pipeline(p: Any, arrays: dict, source: str) -> None:
    if not isinstance(p, dict):
        raise _error(source, f"pipeline must be an object, got {type(p).__name__}")
    for key, ok, what in (
        ("kind", lambda v: isinstance(v, str), "a string"),
        ("adapter", lambda v: isinstance(v, dict), "an object"),
        ("threshold", _finite, "a finite number"),
    ):
        if key not in p:
            raise _error(source, f"pipeline lacks its {key!r} entry")
        if not ok(p[key]):
            raise _error(source, f"pipeline.{key} must be {what}, got {p[key]!r}")
    if "params" in p and not isinstance(p["params"], dict):
        raise _error(source, "pipeline.params must be an object")
    n = p.get("n_train_items", 0)
    if not (isinstance(n, int) and not isinstance(n, bool) and n >= 0):
        raise _error(source, f"pipeline.n_train_items must be a non-negative integer, got {n!r}")
    errs = p.get("fit_errors", [])
    if not (isinstance(errs, list) and all(isinstance(e, str) for e in errs)):
        raise _error(source, "pipeline.fit_errors must be a list of strings")
    for name in ("calibration_scores", "reference_mean", "reference_scale"):
        if f"__pipeline__.{name}" not in arrays:
            raise _error(source, f"pipeline array {name!r} is not in the file")


def _check_arrays(arrays: dict, source: str) -> None:
    for key, value in arrays.items():
        leaf = key.rsplit(".", 1)[-1] if not key.startswith("__pipeline__.") else key
        if leaf in _FINITE_ARRAYS or key in _FINITE_ARRAYS:
            a = np.asarray(value)
            if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
                raise _error(source, f"array {key!r} holds non-finite values")


def check_header(header: dict, arrays: dict[str, np.ndarray], source: str) -> dict:
    """Check a parsed model-file header (its size, depth and JSON syntax were checked by
    :func:`anomalib_ae.io.read_model_file`) before anything uses it.

    Returns ``header``; raises :class:`~anomalib_ae.io.ModelFileError` naming the first
    problem (a missing key, a wrong type, a value out of range, an array that is not there).
    """
    if not isinstance(header, dict):
        raise _error(source, f"it must be a JSON object, got {type(header).__name__}")
    v = header.get("library_version")
    if v is not None and not isinstance(v, str):
        raise _error(source, "library_version must be a string")
    own = {k: v for k, v in arrays.items() if not k.startswith("__pipeline__.")}
    _check_detector(header, own, "", "header", source)
    if "pipeline" in header:
        _check_pipeline(header["pipeline"], arrays, source)
    _check_arrays(arrays, source)
    return header


def check_loaded(obj: Any, source: str) -> Any:
    """Last look at a loaded detector or pipeline: finite threshold, parameters within their constraints."""
    t = getattr(obj, "threshold_", None)
    try:
        ok = t is not None and not isinstance(t, bool) and math.isfinite(float(t))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise _error(source, f"the loaded model's threshold {t!r} is not a finite number")
    det = getattr(obj, "detector_", obj)
    if hasattr(type(det), "_constraints"):
        from anomalib_ae.validation import check_params

        try:
            check_params(det)
        except (ValueError, TypeError) as exc:
            raise _error(source, f"detector parameters out of range ({exc})") from None
    return obj
