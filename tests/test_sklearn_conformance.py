"""scikit-learn's own estimator checks over every registered detector."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import anomalib_ae
from fast_params import make

# Known, reasoned exceptions: {detector name: {check name: reason}}. Keep empty where possible.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(getattr(type(estimator), "_registered_name", ""), {})


@parametrize_with_checks(
    [make(name) for name in anomalib_ae.list_detectors()],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
