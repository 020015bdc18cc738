"""Probabilities of "anomaly" a user can check (numpy only).

Two numbers travel with every score:

* the **p-value** (:func:`~anomalib_ae.scoring.calibration.conformal_p_values`): the share of
  held-out normal items that score at least as high. Its meaning needs no labels: for fresh
  normal data exchangeable with the calibration data, ``P(p <= a) <= a``. It says how rare an
  item is among normal items, not how likely it is to be an anomaly.
* the **probability** (:class:`ProbabilityMap`): ``P(anomaly | p-value)``, which depends on
  how common anomalies are and what they look like, so it needs either labels or a prior.

How the probability is defined
------------------------------
* **With labelled anomalies** (``calibrate --labels``, ``calibrate_probability(X, y)``): a
  monotone map fitted on the p-values of labelled items, Platt's logistic regression on
  ``-log p`` (``method="platt"``, the default: two parameters, stable with a handful of
  anomalies) or isotonic regression (``method="isotonic"``, needs more labels). It estimates
  the frequency of anomalies among items with that p-value **at the labelled data's share
  of anomalies**, or at ``prior`` when one is given (the intercept is shifted by Bayes' rule).
  Check it with :func:`reliability` (reliability diagram and expected calibration error) on
  labelled data not used to fit it.
* **Without labels** (``method="prior"``): the largest posterior probability of an anomaly
  that any anomaly distribution could give, for a prior share ``prior`` of anomalies (the
  detector's ``contamination`` unless set). With the Bayes-factor bound of Sellke, Bayarri &
  Berger (2001), valid for every alternative whose p-values have a decreasing density,
  ``B >= -e p ln p`` for ``p < 1/e``, so ``P(anomaly | p) <= 1 / (1 + (1 - prior) / prior * B)``.
  It equals ``prior`` for typical items (``p >= 1/e``) and rises towards 1 only for small
  p-values (prior 0.1: 0.47 at p = 0.01, 0.86 at p = 0.001). It is an upper bound, not a
  measured frequency: expect a reliability diagram on or below the diagonal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

METHODS = ("prior", "platt", "isotonic")
_TINY = 1e-300


def _p(p_values) -> np.ndarray:
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    if np.any(~np.isfinite(p)) or np.any((p <= 0) | (p > 1)):
        raise ValueError("p-values must lie in (0, 1]")
    return p


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _logit(q: float) -> float:
    return float(np.log(q) - np.log1p(-q))


def prior_probability(p_values, prior: float) -> np.ndarray:
    """Upper bound on ``P(anomaly | p)`` for prior share ``prior`` (Sellke-Bayarri-Berger bound)."""
    if not 0.0 < prior < 1.0:
        raise ValueError(f"prior must be in (0, 1), got {prior!r}")
    p = np.maximum(_p(p_values), _TINY)
    bf = np.where(p < np.exp(-1.0), -np.e * p * np.log(p), 1.0)
    return 1.0 / (1.0 + (1.0 - prior) / prior * bf)


def labelled_anomalies(y) -> np.ndarray | None:
    """Mask of the items labelled anomalous (1) in fit-time labels ``y`` (0 / -1: normal or unlabelled).

    None when ``y`` is None, holds other values, labels no anomaly or labels more than a
    quarter of the items (that is not "a few known anomalies" among normal data).
    """
    if y is None:
        return None
    y = np.asarray(y).reshape(-1)
    if y.size == 0 or y.dtype.kind not in "biuf" or not np.isin(y, (-1, 0, 1)).all():
        return None
    known = y == 1
    return known if 0 < known.sum() <= 0.25 * y.size else None


def loo_p_values(calibration_scores) -> np.ndarray:
    """Leave-one-out conformal p-value of each calibration score against the others.

    ``(1 + #{j != i: c_j >= c_i}) / n``: the p-values of the normal calibration items
    themselves, uniform under exchangeability; the normal examples of a probability map when
    the user labels only anomalies.
    """
    c = np.asarray(calibration_scores, dtype=np.float64).reshape(-1)
    n = c.size
    if n < 2:
        raise ValueError("leave-one-out p-values need at least 2 calibration scores")
    srt = np.sort(c)
    n_ge = n - np.searchsorted(srt, c, side="left")  # includes the item itself
    return n_ge / float(n)


def _fit_platt(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Logistic regression of y on x by Newton's method, Platt's smoothed targets (no separation blow-up)."""
    n_pos, n_neg = float(y.sum()), float((1 - y).sum())
    t = np.where(y > 0, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    a, b = _logit(min(max((n_pos + 1) / (n_pos + n_neg + 2), 1e-6), 1 - 1e-6)), 0.0
    A = np.column_stack([np.ones_like(x), x])
    ridge = 1e-8 * np.eye(2)
    for _ in range(100):
        q = _sigmoid(a + b * x)
        g = A.T @ (q - t)
        w = np.maximum(q * (1 - q), 1e-12)
        H = (A * w[:, None]).T @ A + ridge
        step = np.linalg.solve(H, g)
        a, b = a - step[0], b - step[1]
        if np.max(np.abs(step)) < 1e-10:
            break
    return float(a), float(b)


def _pav(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Increasing isotonic fit (pool adjacent violators) -> knots (x, fitted value)."""
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order].astype(np.float64)
    # merge ties in x first
    ux, inv = np.unique(xs, return_inverse=True)
    sums = np.bincount(inv, weights=ys)
    cnts = np.bincount(inv).astype(np.float64)
    vals, wts, lo = [], [], []
    for i in range(ux.size):
        vals.append(sums[i] / cnts[i]); wts.append(cnts[i]); lo.append(i)
        while len(vals) > 1 and vals[-2] >= vals[-1]:
            v, w = vals.pop(), wts.pop(); lo.pop()
            vals[-1] = (vals[-1] * wts[-1] + v * w) / (wts[-1] + w)
            wts[-1] += w
    fitted = np.empty(ux.size)
    bounds = lo + [ux.size]
    for k in range(len(vals)):
        fitted[bounds[k]:bounds[k + 1]] = vals[k]
    return ux, fitted


@dataclass
class ProbabilityMap:
    """A monotone map from p-values to ``P(anomaly)``; see the module docstring.

    Attributes
    ----------
    method : {"prior", "platt", "isotonic"}
    prior : float or None
        Prior share of anomalies: the "prior" bound's prior, or the base rate a fitted map is
        shifted to (None: the labelled data's share).
    coef : tuple (a, b)
        "platt": ``P = sigmoid(a + b * -log p)``.
    knots_x, knots_y : tuple of float
        "isotonic": fitted values at ``-log p`` knots, linearly interpolated, constant outside.
    n_labelled, n_anomalies : int
        Labelled items the map was fitted on (0 for "prior").
    """

    method: str = "prior"
    prior: float | None = 0.1
    coef: tuple = (0.0, 0.0)
    knots_x: tuple = ()
    knots_y: tuple = ()
    n_labelled: int = 0
    n_anomalies: int = 0
    _shift: float = field(default=0.0, repr=False)

    def __call__(self, p_values) -> np.ndarray:
        p = np.maximum(_p(p_values), _TINY)
        if self.method == "prior":
            return prior_probability(p, float(self.prior))
        x = -np.log(p)
        if self.method == "platt":
            a, b = self.coef
            return _sigmoid(a + self._shift + b * x)
        if self.method == "isotonic":
            q = np.interp(x, np.asarray(self.knots_x), np.asarray(self.knots_y))
            if self._shift:
                q = np.clip(q, 1e-12, 1 - 1e-12)
                q = _sigmoid(np.log(q) - np.log1p(-q) + self._shift)
            return q
        raise ValueError(f"unknown probability method {self.method!r}; use one of {METHODS}")

    def to_dict(self) -> dict:
        """JSON-able form (stored in model files)."""
        return {"method": self.method, "prior": self.prior, "coef": [float(v) for v in self.coef],
                "knots_x": [float(v) for v in self.knots_x], "knots_y": [float(v) for v in self.knots_y],
                "n_labelled": int(self.n_labelled), "n_anomalies": int(self.n_anomalies), "shift": float(self._shift)}

    @classmethod
    def from_dict(cls, d: dict) -> "ProbabilityMap":
        m = cls(method=d["method"], prior=d.get("prior"), coef=tuple(d.get("coef", (0.0, 0.0))),
                knots_x=tuple(d.get("knots_x", ())), knots_y=tuple(d.get("knots_y", ())),
                n_labelled=int(d.get("n_labelled", 0)), n_anomalies=int(d.get("n_anomalies", 0)))
        m._shift = float(d.get("shift", 0.0))
        return m

    def describe(self) -> str:
        """One sentence on what the probability means, for outputs and docs."""
        if self.method == "prior":
            return (f"upper bound on P(anomaly | p-value) for a prior anomaly share of {self.prior:g} "
                    "(no labels; Sellke-Bayarri-Berger bound)")
        base = f"{self.prior:g}" if self.prior is not None else "the labelled share"
        return (f"P(anomaly | p-value), {self.method} map fitted on {self.n_labelled} labelled items "
                f"({self.n_anomalies} anomalies), at an anomaly share of {base}")


def fit_probability_map(p_values, labels, method: str = "platt", prior: float | None = None) -> ProbabilityMap:
    """Fit a monotone ``p-value -> P(anomaly)`` map on labelled items (1 = anomaly, 0 = normal).

    Parameters
    ----------
    p_values : array of (0, 1]
        Conformal p-values of the labelled items (not used to fit the detector).
    labels : array of {0, 1}
    method : {"platt", "isotonic"}
    prior : float in (0, 1), optional
        Share of anomalies the probabilities should assume; default the labelled share.
    """
    p = _p(p_values)
    y = np.asarray(labels).reshape(-1).astype(np.float64)
    if y.shape != p.shape:
        raise ValueError(f"{y.size} labels for {p.size} p-values")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("labels must be 0 (normal) or 1 (anomaly)")
    n_pos = int(y.sum())
    if n_pos == 0 or n_pos == y.size:
        raise ValueError("a probability map needs labelled normal items and at least one labelled anomaly")
    x = -np.log(np.maximum(p, _TINY))
    shift = 0.0
    if prior is not None:
        if not 0.0 < prior < 1.0:
            raise ValueError(f"prior must be in (0, 1), got {prior!r}")
        shift = _logit(prior) - _logit(n_pos / y.size)
    if method == "platt":
        m = ProbabilityMap("platt", prior, coef=_fit_platt(x, y), n_labelled=y.size, n_anomalies=n_pos)
    elif method == "isotonic":
        kx, ky = _pav(x, y)
        m = ProbabilityMap("isotonic", prior, knots_x=tuple(kx), knots_y=tuple(ky), n_labelled=y.size,
                           n_anomalies=n_pos)
    else:
        raise ValueError(f"method must be 'platt' or 'isotonic' for a fitted map, got {method!r}")
    m._shift = shift
    return m


@dataclass
class Reliability:
    """Reliability diagram data (equal-width bins of predicted probability) and its ECE.

    ``ece = sum_b n_b / n * |mean_predicted_b - fraction_positive_b|`` over non-empty bins.
    """

    bin_edges: np.ndarray
    mean_predicted: np.ndarray
    fraction_positive: np.ndarray
    counts: np.ndarray
    ece: float
    brier: float


def reliability(probabilities, labels, n_bins: int = 10) -> Reliability:
    """Reliability diagram and expected calibration error of ``P(anomaly)`` against labels."""
    q = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    y = np.asarray(labels).reshape(-1).astype(np.float64)
    if q.shape != y.shape or q.size == 0:
        raise ValueError("need one label per probability, and at least one")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.digitize(q, edges[1:-1], right=True), 0, n_bins - 1)
    counts = np.bincount(b, minlength=n_bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.bincount(b, weights=q, minlength=n_bins) / counts
        frac = np.bincount(b, weights=y, minlength=n_bins) / counts
    has = counts > 0
    ece = float(np.sum(counts[has] / q.size * np.abs(mean_pred[has] - frac[has])))
    return Reliability(edges, mean_pred, frac, counts, ece, float(np.mean((q - y) ** 2)))
