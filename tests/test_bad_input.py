import numpy as np
import pytest

from fast_params import make


@pytest.fixture(scope="module")
def fitted():
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    return make("ae").fit(X)


@pytest.mark.parametrize(
    "X, match",
    [
        (np.array([[1.0, np.nan, 0, 0]]), "NaN"),
        (np.array([[1.0, np.inf, 0, 0]]), "infinity"),
        (np.zeros((3, 5)), "5 features, but AutoEncoder is expecting 4"),
        (np.zeros(4), "Expected 2D array"),
        (np.zeros((0, 4)), "0 sample"),
        (np.array([["a", "b", "c", "d"]]), "could not convert|string"),
        (None, "None|needs input"),
    ],
)
def test_bad_input_at_score_names_the_problem(fitted, X, match):
    with pytest.raises(ValueError, match=match):
        fitted.score(X)


def test_bad_input_at_fit():
    with pytest.raises(ValueError, match="NaN"):
        make("ae").fit(np.array([[0.0, np.nan], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="0 sample"):
        make("ae").fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="contamination"):
        make("ae", contamination=0.7).fit(np.zeros((10, 3)))


def test_window_shape_mismatch_is_named():
    X = np.random.default_rng(0).normal(size=(40, 10, 3)).astype(np.float32)
    det = make("ae").fit(X)
    with pytest.raises(ValueError, match=r"per-sample shape \(12, 3\)"):
        det.score(np.zeros((2, 12, 3), np.float32))


def test_unfitted_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make("ae").score(np.zeros((2, 3)))
