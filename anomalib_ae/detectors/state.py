"""How a detector turns into model-file state (arrays + JSON) and back.

The file container itself is :mod:`anomalib_ae.io`; this module adds what only detectors
know: their registered name, parameters (a detector given as a parameter, e.g. an ensemble
member, is stored as its registered name and parameters) and fitted attributes, with torch
modules stored as tensors of their ``state_dict``.

The detector class comes from the registry by name, never from an import path in the file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from anomalib_ae.io import ModelFileError, decode_value, encode_value

__all__ = [
    "decode_param",
    "default_get_state",
    "default_set_state",
    "detector_from_state",
    "detector_to_state",
    "encode_param",
    "load_module_weights",
    "registered_name",
]


def _is_detector(value: Any) -> bool:
    """A detector of this library (an estimator that can write its own state)."""
    from sklearn.base import BaseEstimator

    return isinstance(value, BaseEstimator) and callable(getattr(value, "_get_state", None))


def _encode_detector(value: Any) -> Any:
    if _is_detector(value):  # registered or not: registered_name says which fix is needed
        return {"__detector__": registered_name(value), "params": encode_param(value.get_params(deep=False))}
    return NotImplemented


def _decode_detector(value: dict) -> Any:
    if set(value) != {"__detector__", "params"}:
        raise ModelFileError(f"malformed detector parameter in the model file: keys {sorted(value)}")
    from anomalib_ae.registry import UnknownDetectorError, get_detector_class

    try:
        cls = get_detector_class(value["__detector__"])
    except UnknownDetectorError as exc:
        raise ModelFileError(f"the model file needs a detector that is not installed: {exc}") from None
    return cls(**decode_param(value["params"]))


def encode_param(value: Any) -> Any:
    """:func:`anomalib_ae.io.encode_value` that also stores detectors (as name + parameters).

    A detector comes back as a new, unfitted detector of that name: parameters of
    scikit-learn estimators are unfitted specifications, and the registry, not the file, says
    which class a name means.
    """
    return encode_value(value, _encode_detector)


def decode_param(value: Any) -> Any:
    """Inverse of :func:`encode_param`."""
    return decode_value(value, {"__detector__": _decode_detector})


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
                state[name] = encode_param(value)
            except TypeError as exc:
                raise TypeError(f"{type(det).__name__}.{name}: {exc}") from None
    return arrays, state


def default_set_state(det, arrays: dict[str, np.ndarray], state: dict) -> None:
    """Inverse of :func:`default_get_state`."""
    modules = []
    for name, value in state.items():
        if isinstance(value, dict) and value.get("__module__") is True and len(value) == 1:
            modules.append(name)
        elif isinstance(value, dict) and value.get("__array__") is True and len(value) == 1:
            setattr(det, name, arrays[name])
        else:
            setattr(det, name, decode_param(value))
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
        params_json = encode_param(params)
    except TypeError as exc:
        raise TypeError(f"{type(det).__name__} parameters cannot be saved: {exc}") from None
    return arrays, {"detector": name, "params": params_json, "state": state}


def detector_from_state(arrays: dict[str, np.ndarray], header: dict):
    """Inverse of :func:`detector_to_state`: a fitted detector of the registered class."""
    from anomalib_ae.registry import UnknownDetectorError, get_detector_class

    try:
        cls = get_detector_class(header["detector"])
    except UnknownDetectorError as exc:
        raise ModelFileError(f"the model file needs a detector that is not installed: {exc}") from None
    det = cls(**decode_param(header["params"]))
    det._set_state(arrays, header["state"])
    return det
