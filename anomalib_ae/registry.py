"""Detector names -> detector classes.

Built-in detectors register themselves with :func:`register_detector`; third-party packages
add theirs through the entry-point group ``anomalib_ae.detectors`` (each entry point loads a
detector class; its entry-point name is the registered name)::

    [options.entry_points]
    anomalib_ae.detectors =
        my_detector = my_package.detectors:MyDetector
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

ENTRY_POINT_GROUP = "anomalib_ae.detectors"

_REGISTRY: dict[str, type] = {}
_BUILTINS_LOADED = False
_PLUGINS_LOADED = False
_PLUGIN_ERRORS: dict[str, str] = {}

# Modules whose import registers the built-in detectors.
_BUILTIN_MODULES = ("anomalib_ae.detectors",)

T = TypeVar("T", bound=type)


class UnknownDetectorError(KeyError, ValueError):
    """Raised for a detector name that is not registered; the message lists the valid ones."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


def _key(name: str) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"detector name must be a non-empty string, got {name!r}")
    return name.strip().lower()


def register_detector(name: str, *, override: bool = False) -> Callable[[T], T]:
    """Class decorator registering a detector under ``name`` (case-insensitive).

    A second registration of the same name raises ``ValueError`` unless ``override=True``.
    """
    key = _key(name)

    def decorator(cls: T) -> T:
        existing = _REGISTRY.get(key)
        if existing is not None and existing is not cls and not override:
            raise ValueError(
                f"a detector named {key!r} is already registered ({existing.__module__}.{existing.__qualname__})"
            )
        _REGISTRY[key] = cls
        cls._registered_name = key
        return cls

    return decorator


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        for mod in _BUILTIN_MODULES:
            importlib.import_module(mod)


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        key = ep.name.strip().lower()
        if key in _REGISTRY:
            continue
        try:
            cls = ep.load()
        except Exception as exc:  # a broken plugin must not break the library
            _PLUGIN_ERRORS[key] = f"{type(exc).__name__}: {exc}"
            continue
        register_detector(key)(cls)


def _ensure_loaded() -> None:
    _load_builtins()
    _load_plugins()


def list_detectors(include: str | None = None) -> list[str]:
    """Sorted names of all registered detectors; ``include`` is an optional substring filter."""
    _ensure_loaded()
    names = sorted(_REGISTRY)
    if include:
        names = [n for n in names if include.lower() in n]
    return names


def get_detector_class(name: str) -> type:
    """The class registered under ``name``; an unknown name raises :class:`UnknownDetectorError`."""
    key = _key(name)
    _ensure_loaded()
    try:
        return _REGISTRY[key]
    except KeyError:
        pass
    msg = f"unknown detector {name!r}."
    close = difflib.get_close_matches(key, _REGISTRY, n=3)
    if close:
        msg += f" Did you mean {', '.join(repr(c) for c in close)}?"
    if key in _PLUGIN_ERRORS:
        msg += f" (the plugin of that name failed to load: {_PLUGIN_ERRORS[key]})"
    msg += f" Valid names: {', '.join(sorted(_REGISTRY))}"
    raise UnknownDetectorError(msg)


def create(name: str, **params: Any):
    """Build a detector by registered name with keyword parameters, e.g. ``create("ae", epochs=5)``."""
    cls = get_detector_class(name)
    try:
        return cls(**params)
    except TypeError as exc:
        from inspect import signature

        valid = [p for p in signature(cls.__init__).parameters if p != "self"]
        raise TypeError(f"{exc}. Valid parameters of {name!r}: {', '.join(valid)}") from None
