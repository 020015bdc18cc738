"""Safe model files: one safetensors file holding arrays plus a JSON header.

Loading never unpickles anything: tensors are read by ``safetensors`` and everything else
(parameters, fitted scalars, preprocessing, threshold, format version) is JSON in the
safetensors metadata. A SHA-256 digest over the JSON payload and every tensor detects
truncated, corrupted or edited files. (It is an integrity check, not a signature: someone who
can write the file can also recompute the digest.)

The detector class comes from the registry by name, never from an import path in the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "anomalib_ae"
FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)


class ModelFileError(ValueError):
    """A model file that cannot be loaded: not ours, damaged, tampered or of an unknown version."""


# ---------------------------------------------------------------------- JSON codec
def _encode(value: Any) -> Any:
    """Tuples, string arrays and detector objects survive the JSON round trip; the rest must be JSON.

    A detector given as a parameter (an ensemble member) is stored as its registered name and its
    parameters, and comes back as a new, unfitted detector of that name: parameters of
    scikit-learn estimators are unfitted specifications, and the registry, not the file, says
    which class a name means.
    """
    from anomalib_ae.detectors.base import BaseDetector

    if isinstance(value, BaseDetector):  # registered or not: registered_name says which fix is needed
        return {"__detector__": registered_name(value), "params": _encode(value.get_params(deep=False))}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("only dicts with string keys can be saved")
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray) and value.dtype.kind in "OUS":
        return {"__strarray__": [str(v) for v in value.tolist()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot save a value of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(_decode(v) for v in value["__tuple__"])
        if set(value) == {"__strarray__"}:
            return np.asarray(value["__strarray__"], dtype=object)
        if set(value) == {"__detector__", "params"}:
            from anomalib_ae.registry import UnknownDetectorError, get_detector_class

            try:
                cls = get_detector_class(value["__detector__"])
            except UnknownDetectorError as exc:
                raise ModelFileError(f"the model file needs a detector that is not installed: {exc}") from None
            return cls(**_decode(value["params"]))
        return {k: _decode(v) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------- fitted state
def default_get_state(det) -> tuple[dict[str, np.ndarray], dict]:
    """Collect every public fitted attribute (name ending in ``_``) of ``det``.

    Numeric arrays go to tensors, torch modules to tensors of their ``state_dict`` (rebuilt
    on load by ``det._rebuild_module(name)``), everything else must be JSON-able.
    """
    import torch

    arrays: dict[str, np.ndarray] = {}
    state: dict[str, Any] = {}
    for name, value in vars(det).items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if isinstance(value, torch.nn.Module):
            for key, tensor in value.state_dict().items():
                arrays[f"{name}.{key}"] = tensor.detach().cpu().numpy()
            state[name] = {"__module__": True}
        elif isinstance(value, np.ndarray) and value.dtype.kind not in "OUS":
            arrays[name] = value
            state[name] = {"__array__": True}
        else:
            try:
                state[name] = _encode(value)
            except TypeError as exc:
                raise TypeError(f"{type(det).__name__}.{name}: {exc}") from None
    return arrays, state


def default_set_state(det, arrays: dict[str, np.ndarray], state: dict) -> None:
    modules = []
    for name, value in state.items():
        if isinstance(value, dict) and value.get("__module__") is True and len(value) == 1:
            modules.append(name)
        elif isinstance(value, dict) and value.get("__array__") is True and len(value) == 1:
            setattr(det, name, arrays[name])
        else:
            setattr(det, name, _decode(value))
    for name in modules:  # after scalars: rebuilding needs e.g. input_shape_
        setattr(det, name, load_module_weights(det._rebuild_module(name), arrays, f"{name}.", repr(name)))


def load_module_weights(module, arrays: dict[str, np.ndarray], prefix: str, what: str):
    """Load the arrays named ``prefix<param>`` into ``module`` (strict); return it in eval mode."""
    import torch

    sd = {k[len(prefix) :]: torch.from_numpy(np.array(v)) for k, v in arrays.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise ModelFileError(f"weights of {what} do not fit the network: {exc}") from None
    return module.eval()


def registered_name(det) -> str:
    """The registry name of ``det``'s own class (a subclass does not inherit its parent's name)."""
    from anomalib_ae.registry import UnknownDetectorError, get_detector_class

    name = getattr(type(det), "_registered_name", None)
    try:
        if name is not None and get_detector_class(name) is type(det):
            return name
    except UnknownDetectorError:
        pass
    raise TypeError(
        f"{type(det).__name__} is not a registered detector and cannot be saved "
        "(register it with anomalib_ae.register_detector)"
    )


def detector_to_state(det) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, header) of a fitted detector; used recursively by ensembles."""
    from sklearn.utils.validation import check_is_fitted

    check_is_fitted(det)
    name = registered_name(det)
    arrays, state = det._get_state()
    params = det.get_params(deep=False)
    try:
        params_json = _encode(params)
    except TypeError as exc:
        raise TypeError(f"{type(det).__name__} parameters cannot be saved: {exc}") from None
    return arrays, {"detector": name, "params": params_json, "state": state}


def detector_from_state(arrays: dict[str, np.ndarray], header: dict):
    from anomalib_ae.registry import UnknownDetectorError, get_detector_class

    try:
        cls = get_detector_class(header["detector"])
    except UnknownDetectorError as exc:
        raise ModelFileError(f"the model file needs a detector that is not installed: {exc}") from None
    det = cls(**_decode(header["params"]))
    det._set_state(arrays, header["state"])
    return det


# ---------------------------------------------------------------------- files
def _digest(payload: str, arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256(payload.encode("utf-8"))
    for key in sorted(arrays):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"\0{key}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def save(det, path: str | os.PathLike) -> None:
    """Save a fitted detector or :class:`~anomalib_ae.pipeline.Pipeline` to ``path`` (any extension; ``.pt`` by habit)."""
    from safetensors.numpy import save_file

    import anomalib_ae

    # a Pipeline (adapter + detector) adds its adapter settings as a "pipeline" JSON section
    arrays, header = det._file_state() if hasattr(det, "_file_state") else detector_to_state(det)
    header["library_version"] = anomalib_ae.__version__
    payload = json.dumps(header, sort_keys=True, allow_nan=True)
    arrays = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "payload": payload,
        "sha256": _digest(payload, arrays),
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


def load(path: str | os.PathLike):
    """Load a detector (or pipeline) saved by :func:`save`; it scores bit-identically to the saved one."""
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
    if _digest(payload, arrays) != metadata.get("sha256"):
        raise ModelFileError(f"{path} failed its integrity check (SHA-256 mismatch): the file was modified or damaged")
    from anomalib_ae.header_check import check_loaded, parse_header

    header = parse_header(payload, arrays, str(path))  # types, ranges, depth, required keys
    try:
        if "pipeline" in header:
            from anomalib_ae.pipeline import Pipeline

            return check_loaded(Pipeline._from_file_state(arrays, header), str(path))
        return check_loaded(detector_from_state(arrays, header), str(path))
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise ModelFileError(f"{path} has an unusable header ({type(exc).__name__}: {exc})") from None
