"""Thresholds on raw anomaly scores (numpy only; PyThresh imported lazily when asked for).

One threshold path: the detectors, the :class:`~anomalib_ae.pipeline.Pipeline`, the config's
``threshold.rule``, the CLI's ``--threshold`` and ``anomalib-ae calibrate`` all resolve a rule
with :func:`resolve_threshold`. Rules accepted by :func:`parse_threshold`:

* ``None``: the contamination rule with the detector's ``contamination`` parameter;
* ``"contamination:0.05"``: the same rule with that share: the ``1 - q`` quantile of the
  **calibration scores** (scores of held-out normal items where the model holds some out:
  the deep detectors' validation split, PyOD's cross-fitted / leave-one-out scores, the
  pipeline's held-out clips or time-ordered tail; the training scores otherwise, which is
  scikit-learn's and PyOD's rule);
* ``"fpr:0.01"``: a target false-alarm rate on fresh normal data, the conformal quantile of
  the calibration scores (:func:`fpr_threshold`; rate ``<= alpha`` for exchangeable data);
* a number: a fixed score;
* ``"pythresh:karch"`` (any PyThresh thresholder, case-insensitive): the thresholder applied
  to the training scores; needs the optional ``pythresh`` package.
"""

from __future__ import annotations

import math
import warnings
from numbers import Real

import numpy as np


def contamination_threshold(train_scores: np.ndarray, contamination: float) -> float:
    """The ``1 - contamination`` quantile of the given scores (scikit-learn's and PyOD's rule
    on training scores; :func:`resolve_threshold` passes the calibration scores).

    A sample is flagged as anomalous when its score is strictly greater than this value, so on
    these scores the flagged fraction is ``contamination`` (up to ties).
    """
    scores = np.asarray(train_scores, dtype=np.float64)
    if scores.size == 0:
        raise ValueError("cannot set a threshold from an empty set of training scores")
    return float(np.quantile(scores, 1.0 - contamination))


def fpr_threshold(calibration_scores: np.ndarray, alpha: float) -> float:
    """Score threshold with false-alarm rate at most ``alpha`` on fresh normal data.

    With ``n`` held-out normal scores ``c_(1) <= ... <= c_(n)``, flagging ``s > c_(k)`` for
    ``k = ceil((n + 1)(1 - alpha))`` gives ``P(flag) = (n + 1 - k) / (n + 1) <= alpha`` for an
    exchangeable fresh normal sample (split-conformal guarantee; the rate is within
    ``1 / (n + 1)`` of ``alpha``). Equivalent to flagging conformal p-values ``<= alpha``.
    When ``n < 1/alpha - 1`` no score can guarantee ``alpha``; the largest calibration score
    is used with a warning.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"the target false-alarm rate must be in (0, 1), got {alpha!r}")
    cal = np.sort(np.asarray(calibration_scores, dtype=np.float64).reshape(-1))
    if cal.size == 0:
        raise ValueError("fpr threshold needs held-out calibration scores, got none")
    n = cal.size
    k = math.ceil((n + 1) * (1.0 - alpha) - 1e-12)
    if k > n:
        warnings.warn(
            f"{n} calibration scores are too few for a false-alarm rate of {alpha}; "
            f"need at least {math.ceil(1 / alpha) - 1}. Using the largest calibration score.",
            UserWarning,
            stacklevel=3,
        )
        k = n
    return float(cal[k - 1])


def pythresh_threshold(train_scores: np.ndarray, method: str) -> float:
    """Threshold chosen by a PyThresh thresholder (e.g. ``"karch"``, ``"iqr"``, ``"ocsvm"``) on training scores.

    The thresholder labels the training scores; the threshold is the largest score it labels
    normal, so ``score > threshold`` reproduces its labels on the training data.
    """
    try:
        import pythresh.thresholds as pt
    except ImportError:
        raise ImportError(
            "threshold='pythresh:...' needs the optional package pythresh: pip install 'anomalib_ae[pythresh]'"
        ) from None
    import importlib
    import pkgutil

    key = method.strip().lower()
    names = sorted(m.name for m in pkgutil.iter_modules(pt.__path__) if not m.name.startswith("_"))
    if key not in names:
        raise ValueError(f"unknown PyThresh thresholder {method!r}; available: {', '.join(names)}")
    module = importlib.import_module(f"pythresh.thresholds.{key}")
    cls = next(
        (v for k, v in vars(module).items() if k.lower() == key and isinstance(v, type)),
        None,
    )
    if cls is None:
        raise ValueError(f"pythresh.thresholds.{key} has no thresholder class")
    scores = np.asarray(train_scores, dtype=np.float64)
    labels = np.asarray(cls().eval(scores)).reshape(-1).astype(bool)
    if labels.shape != scores.shape:
        raise RuntimeError(f"PyThresh {key} returned {labels.size} labels for {scores.size} scores")
    if labels.all():
        return float(scores.min()) - 1e-12
    return float(scores[~labels].max())


def parse_threshold(threshold) -> tuple[str, float | str | None]:
    """Normalise a ``threshold`` parameter to ``(kind, value)``.

    ``kind`` is one of ``"contamination"`` (value None: the detector's ``contamination``, or
    the share given as ``"contamination:q"``), ``"fpr"`` (alpha), ``"score"`` (a fixed
    float) or ``"pythresh"`` (the thresholder name). Anything else raises ValueError.
    """
    if threshold is None:
        return "contamination", None
    if isinstance(threshold, Real) and not isinstance(threshold, bool):
        value = float(threshold)
        if not math.isfinite(value):
            raise ValueError(f"a fixed threshold must be a finite score, got {threshold!r}")
        return "score", value
    if isinstance(threshold, str):
        kind, sep, arg = threshold.strip().partition(":")
        kind = kind.strip().lower()
        if sep and kind == "fpr":
            try:
                alpha = float(arg)
            except ValueError:
                raise ValueError(f"threshold {threshold!r}: expected 'fpr:<rate>', e.g. 'fpr:0.01'") from None
            if not 0.0 < alpha < 1.0:
                raise ValueError(f"threshold {threshold!r}: the false-alarm rate must be in (0, 1)")
            return "fpr", alpha
        if sep and kind == "contamination":
            try:
                q = float(arg)
            except ValueError:
                raise ValueError(f"threshold {threshold!r}: expected 'contamination:<share>', e.g. 'contamination:0.05'") from None
            if not 0.0 < q < 1.0:
                raise ValueError(f"threshold {threshold!r}: the contamination share must be in (0, 1)")
            return "contamination", q
        if sep and kind == "pythresh" and arg.strip():
            return "pythresh", arg.strip().lower()
    raise ValueError(
        f"invalid threshold {threshold!r}: use None (contamination rule), 'contamination:<share>', "
        "'fpr:<rate>' (e.g. 'fpr:0.01'), "
        "a fixed score (float) or 'pythresh:<method>' (e.g. 'pythresh:karch')"
    )


def resolve_threshold(threshold, train_scores: np.ndarray | None, calibration_scores, contamination: float) -> float:
    """The score threshold for a rule (see :func:`parse_threshold`).

    ``contamination`` and ``fpr`` rules use ``calibration_scores``; ``pythresh`` uses
    ``train_scores`` (the calibration scores when None); ``contamination`` is the share used
    when the rule is None or ``"contamination"`` without a value.
    """
    kind, value = parse_threshold(threshold)
    if kind == "contamination":
        return contamination_threshold(calibration_scores, contamination if value is None else value)
    if kind == "fpr":
        return fpr_threshold(calibration_scores, value)
    if kind == "score":
        return value
    return pythresh_threshold(calibration_scores if train_scores is None else train_scores, value)


def rule_text(threshold, contamination: float | None = None) -> str:
    """A rule as users write it (``"fpr:0.01"``, ``"contamination:0.1"``, ``"3.5"``, ``"pythresh:iqr"``)."""
    kind, value = parse_threshold(threshold)
    if kind == "contamination":
        q = value if value is not None else contamination
        return "contamination" if q is None else f"contamination:{q:g}"
    if kind == "score":
        return f"{value:g}"
    return f"{kind}:{value:g}" if kind == "fpr" else f"pythresh:{value}"
