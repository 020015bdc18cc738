"""Declared parameter constraints (anomalib_ae.validation) and the habits they allow (``verbose=0/1/2``)."""

from numbers import Integral, Real

import numpy as np
import pytest

import anomalib_ae
from anomalib_ae.validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    check_params,
    make_constraint,
    validate_params,
)
from fast_params import fast_params


def _deep_names():
    return [n for n in anomalib_ae.list_detectors() if "verbose" in anomalib_ae.create(n).get_params(deep=False)]


@pytest.mark.parametrize("name", _deep_names())
@pytest.mark.parametrize("verbose", [0, 1, 2, True, False, np.bool_(False), "auto"])
def test_verbose_takes_booleans_and_integers(name, verbose):
    det = anomalib_ae.create(name, **{**fast_params(name), "verbose": verbose})
    check_params(det)  # does not raise


def test_verbose_int_fits():
    X = np.random.default_rng(0).normal(size=(40, 3))
    for verbose in (0, 1):
        det = anomalib_ae.create("ae", **{**fast_params("ae"), "epochs": 1, "verbose": verbose}).fit(X)
        assert det.score(X).shape == (40,)


@pytest.mark.parametrize("bad", [-1, "loud", 1.5, None])
def test_bad_verbose_names_the_parameter(bad):
    det = anomalib_ae.create("ae", verbose=bad)
    with pytest.raises(InvalidParameterError, match=r"The 'verbose' parameter of AutoEncoder must be .*Got"):
        det.fit(np.zeros((20, 2)))


def test_error_is_value_and_type_error_and_names_value():
    det = anomalib_ae.create("pyod.knn", contamination=0.7)
    with pytest.raises(ValueError, match=r"'contamination' parameter of PyODKNN must be a float in the range \(0\.0, 0\.5\]\. Got 0\.7"):
        det.fit(np.zeros((20, 2)))
    assert issubclass(InvalidParameterError, TypeError)


def test_every_registered_detector_declares_contamination_in_0_05():
    # what scikit-learn's check_outlier_contamination checks, on our constraint objects
    for name in anomalib_ae.list_detectors():
        cls = anomalib_ae.get_detector_class(name)
        (interval,) = [c for c in cls._constraints["contamination"] if isinstance(c, Interval)]
        assert interval.type is Real and (interval.left, interval.right, interval.closed) == (0.0, 0.5, "right")
        assert set(cls._constraints) <= set(cls().get_params(deep=False)), name


@pytest.mark.parametrize(
    "spec, good, bad",
    [
        (Interval(Integral, 1, None, closed="left"), [1, 5, np.int64(3)], [0, 1.0, -3, "1"]),
        (Interval(Real, 0, 1, closed="neither"), [0.5, 1e-9, np.float32(0.3)], [0, 1, float("nan"), "0.5"]),
        (Interval(Real, 0, 1, closed="both"), [0, 1, 0.0], [-1e-9, 1.0001]),
        (StrOptions({"a", "b"}), ["a", "b"], ["c", 1, None]),
        ("boolean", [True, False, np.bool_(True)], [0, 1, "yes", None]),
        ("verbose", [0, 1, 2, True, np.bool_(False)], [-1, 0.5, "1"]),
        ("random_state", [None, 0, 2**32 - 1, np.random.RandomState(0)], [-1, 2**32, 1.5, "0"]),
        ("array-like", [[1, 2], (3,), np.zeros(2)], [3, "ab", None]),
        (None, [None], [0, ""]),
        (dict, [{}, {"a": 1}], [[], None]),
        (callable, [len, lambda x: x], [1, "f"]),
    ],
)
def test_constraints(spec, good, bad):
    c = make_constraint(spec)
    assert all(c.is_satisfied_by(v) for v in good)
    assert not any(c.is_satisfied_by(v) for v in bad)


def test_validate_params_only_checks_declared_and_rejects_unknown_specs():
    validate_params({"a": [Interval(Integral, 0, None, closed="left")]}, {"a": 1, "b": "anything"}, "X")
    with pytest.raises(InvalidParameterError, match=r"The 'a' parameter of X must be an int in the range \[0, inf\) or None\. Got -1"):
        validate_params({"a": [Interval(Integral, 0, None, closed="left"), None]}, {"a": -1}, "X")
    with pytest.raises(ValueError, match="unknown parameter constraint"):
        make_constraint("no-such-constraint")
    with pytest.raises(ValueError):
        Interval(Real, 1, 0, closed="both")
