"""Declared parameter constraints, checked at ``fit`` (scikit-learn's habit, with our own code).

A detector declares what each ``__init__`` parameter accepts in the class attribute
``_constraints``; :meth:`BaseDetector.fit <anomalib_ae.detectors.base.BaseDetector.fit>`
checks the values with :func:`check_params` before touching the data::

    _constraints = {
        "contamination": [Interval(Real, 0.0, 0.5, closed="right")],
        "score_type": [StrOptions({"mse", "ssim"})],
        "verbose": ["verbose", StrOptions({"auto"})],
        "random_state": ["random_state"],
    }

A value is valid when it satisfies one constraint of its list. A constraint is one of:

* an :class:`Interval` (``Integral`` or ``Real`` numbers between two bounds);
* an :class:`Options` / :class:`StrOptions` (a finite set of values);
* ``None`` (the value None), a type (any instance of it), ``callable``;
* one of the strings ``"boolean"`` (bool, numpy.bool_), ``"verbose"`` (bool or an int >= 0,
  as scikit-learn's and PyOD's ``verbose=0/1/2``), ``"random_state"`` (None, an int in
  [0, 2**32 - 1] or a ``numpy.random.RandomState``) and ``"array-like"`` (a list, tuple,
  array, ... but not a scalar or a string).

Same meaning and messages as scikit-learn's parameter validation, which lives in a private
module (``sklearn.utils._param_validation``) that may change in any release; this one is ours.
The attribute is not called ``_parameter_constraints`` so that scikit-learn's own checks never
read our constraint objects as theirs.
"""

from __future__ import annotations

import math
import operator
from numbers import Integral, Real

import numpy as np

__all__ = [
    "Constraint",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "check_params",
    "make_constraint",
    "validate_params",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter has a value or type outside its declared constraints (a ValueError and a TypeError)."""


class Constraint:
    """One acceptable kind of value for a parameter."""

    def is_satisfied_by(self, value) -> bool:
        raise NotImplementedError

    def __str__(self) -> str:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self}>"


def _type_name(t: type) -> str:
    if t is Real:
        return "float"
    if t is Integral:
        return "int"
    module = t.__module__
    return t.__qualname__ if module == "builtins" else f"{module}.{t.__qualname__}"


class _InstanceOf(Constraint):
    def __init__(self, type_: type):
        self.type = type_

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, self.type)

    def __str__(self) -> str:
        return f"an instance of {_type_name(self.type)!r}"


class _NoneValue(Constraint):
    def is_satisfied_by(self, value) -> bool:
        return value is None

    def __str__(self) -> str:
        return "None"


class _Callable(Constraint):
    def is_satisfied_by(self, value) -> bool:
        return callable(value)

    def __str__(self) -> str:
        return "a callable"


class _ArrayLike(Constraint):
    def is_satisfied_by(self, value) -> bool:
        array_like = hasattr(value, "__len__") or hasattr(value, "shape") or hasattr(value, "__array__")
        return array_like and not np.isscalar(value)

    def __str__(self) -> str:
        return "an array-like"


class _AnyOf(Constraint):
    """A named union of constraints ("boolean", "verbose", "random_state")."""

    def __init__(self, *constraints: Constraint):
        self.constraints = constraints

    def is_satisfied_by(self, value) -> bool:
        return any(c.is_satisfied_by(value) for c in self.constraints)

    def __str__(self) -> str:
        return _join(self.constraints)


class Options(Constraint):
    """A finite set of values of one type."""

    def __init__(self, type_: type, options):
        self.type = type_
        self.options = set(options)

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, self.type) and value in self.options

    def __str__(self) -> str:
        return f"a {_type_name(self.type)} among {{{', '.join(repr(o) for o in sorted(self.options, key=str))}}}"


class StrOptions(Options):
    """A finite set of strings."""

    def __init__(self, options):
        super().__init__(str, options)


class Interval(Constraint):
    """Numbers of ``type_`` (``numbers.Integral`` or ``numbers.Real``) between ``left`` and ``right``.

    ``None`` as a bound means unbounded; ``closed`` is "left" ``[a, b)``, "right" ``(a, b]``,
    "both" ``[a, b]`` or "neither" ``(a, b)``. NaN is never inside.
    """

    def __init__(self, type_: type, left, right, *, closed: str):
        if type_ not in (Integral, Real):
            raise ValueError(f"Interval type must be numbers.Integral or numbers.Real, got {type_!r}")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"closed must be 'left', 'right', 'both' or 'neither', got {closed!r}")
        if left is not None and right is not None and right <= left:
            raise ValueError(f"Interval right bound {right} must exceed the left bound {left}")
        self.type, self.left, self.right, self.closed = type_, left, right, closed

    def __contains__(self, value) -> bool:
        if not isinstance(value, Integral) and math.isnan(value):
            return False
        below = operator.lt if self.closed in ("left", "both") else operator.le
        above = operator.gt if self.closed in ("right", "both") else operator.ge
        if self.left is not None and below(value, self.left):
            return False
        if self.right is not None and above(value, self.right):
            return False
        return True

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, self.type) and value in self

    def __str__(self) -> str:
        integral = self.type is Integral
        left = "-inf" if self.left is None else (self.left if integral else float(self.left))
        right = "inf" if self.right is None else (self.right if integral else float(self.right))
        lb = "[" if self.closed in ("left", "both") else "("
        rb = "]" if self.closed in ("right", "both") else ")"
        return f"{'an int' if integral else 'a float'} in the range {lb}{left}, {right}{rb}"


def _named(name: str) -> Constraint | None:
    if name == "boolean":
        return _AnyOf(_InstanceOf(bool), _InstanceOf(np.bool_))
    if name == "verbose":
        return _AnyOf(Interval(Integral, 0, None, closed="left"), _InstanceOf(bool), _InstanceOf(np.bool_))
    if name == "random_state":
        return _AnyOf(
            Interval(Integral, 0, 2**32 - 1, closed="both"), _InstanceOf(np.random.RandomState), _NoneValue()
        )
    if name == "array-like":
        return _ArrayLike()
    return None


def make_constraint(spec) -> Constraint:
    """The :class:`Constraint` a declared ``spec`` stands for (see the module docstring)."""
    if isinstance(spec, Constraint):
        return spec
    if spec is None:
        return _NoneValue()
    if spec is callable:
        return _Callable()
    if isinstance(spec, str):
        named = _named(spec)
        if named is not None:
            return named
    elif isinstance(spec, type):
        return _InstanceOf(spec)
    raise ValueError(f"unknown parameter constraint {spec!r}")


def _join(constraints) -> str:
    texts = [str(c) for c in constraints]
    return texts[0] if len(texts) == 1 else f"{', '.join(texts[:-1])} or {texts[-1]}"


def validate_params(constraints: dict, params: dict, caller: str) -> None:
    """Raise :class:`InvalidParameterError` naming the first parameter of ``params`` whose value
    satisfies none of its ``constraints`` (parameters without constraints are not checked)."""
    for name, value in params.items():
        specs = constraints.get(name)
        if specs is None:
            continue
        checks = [make_constraint(s) for s in specs]
        if not any(c.is_satisfied_by(value) for c in checks):
            raise InvalidParameterError(f"The {name!r} parameter of {caller} must be {_join(checks)}. Got {value!r} instead.")


def check_params(estimator) -> None:
    """Check an estimator's ``get_params(deep=False)`` against its class's ``_constraints``."""
    validate_params(getattr(type(estimator), "_constraints", {}), estimator.get_params(deep=False), type(estimator).__name__)
