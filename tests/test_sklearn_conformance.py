"""scikit-learn's own estimator checks over every registered detector."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import anomalib_ae
from fast_params import make

# Known, reasoned exceptions: {detector name: {check name: reason}}. Keep empty where possible.
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {}

# issue 4: PyOD's deep models score through PyOD's own float32 torch loop.
_PYOD_F32 = (
    "PyOD scores in float32 through its own DataLoader: matmul rounding depends on the batch size, "
    "so a row's score scored in another batch differs by ~1e-7 (sklearn demands atol 1e-7)"
)
_PYOD_VAE = (
    "PyOD's VAE samples the latent code when scoring; we seed each call so scores are reproducible, "
    "but a row's noise depends on its position in the batch"
)
EXPECTED_FAILED_CHECKS["pyod.autoencoder"] = {
    "check_methods_subset_invariance": _PYOD_F32,
    "check_methods_sample_order_invariance": _PYOD_F32,
}
EXPECTED_FAILED_CHECKS["pyod.deepsvdd"] = {"check_methods_subset_invariance": _PYOD_F32}
EXPECTED_FAILED_CHECKS["pyod.vae"] = {
    "check_methods_subset_invariance": _PYOD_VAE,
    "check_methods_sample_order_invariance": _PYOD_VAE,
}

# fifth session: neighbour models keep PyOD's training scores, which leave each row out (as
# scikit-learn's own LocalOutlierFactor(novelty=True) sets its offset_); scikit-learn exempts
# novelty detectors from these two checks, which rescore the training rows and find each row its
# own nearest neighbour: the contamination share holds on the leave-one-out scores, not there.
_LOO = (
    "training scores (threshold_, labels_, fit_predict) leave each row out, as PyOD's and as "
    "LocalOutlierFactor(novelty=True)'s; predict(X_train) sees every row as its own neighbour"
)
for _name in ("pyod.knn", "pyod.lof"):
    EXPECTED_FAILED_CHECKS[_name] = {
        "check_outliers_fit_predict": _LOO,
        "check_outliers_train": _LOO,
    }


# issue 13: threshold_ (and so labels_ / fit_predict) comes from the held-out or cross-fitted
# calibration scores, the scores of normal data the model did not fit, so that "fpr:0.01" and
# "contamination:0.05" hold on new data; scikit-learn's two checks demand that exactly
# `contamination` of the *training* rows are flagged, which holds for in-sample thresholds only
# (scikit-learn exempts its novelty detectors for the same reason).
_HELD_OUT = (
    "threshold_ is set on held-out / cross-fitted calibration scores (issue 13), so the share of "
    "training rows flagged is not exactly contamination"
)
for _name in ("ae", "vae", "cvad", "mae", "idnn", "riad", "winae", "goad", "deepsvdd", "deepsad", "sage", "ensemble", "pyod.autoencoder",
              "pyod.vae", "pyod.deepsvdd", "pyod.copod", "pyod.ecod", "pyod.gmm", "pyod.iforest", "pyod.kde",
              "pyod.ocsvm", "pyod.pca"):
    EXPECTED_FAILED_CHECKS.setdefault(_name, {}).update({
        "check_outliers_fit_predict": _HELD_OUT,
        "check_outliers_train": _HELD_OUT,
    })


# issue 17: subspace's training scores are its out-of-fold scores (labels_ keep the contamination
# share), but predict(X_train) rescores rows that lie in their own span (score ~0)
EXPECTED_FAILED_CHECKS["subspace"] = {"check_outliers_fit_predict": _HELD_OUT}


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS.get(getattr(type(estimator), "_registered_name", ""), {})


# The checks test the estimator contract, not accuracy: two of the slowest detectors of this file
# get cheaper settings here on top of fast_params (CI budget; 29 s of its 125 s were these two).
# (INNE with 10 estimators ties too often for check_outliers_train: it keeps fast_params' 25.)
_CHEAPER = {"pyod.iforest": {"params": {"n_estimators": 10}}, "mae": {"epochs": 1}, "goad": {"epochs": 1}}


@parametrize_with_checks(
    [make(name, **_CHEAPER.get(name, {})) for name in anomalib_ae.list_detectors()],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
