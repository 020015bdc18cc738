"""Drift of the incoming data: does the recent window of scores still look like the calibration scores?

>>> mon = DriftMonitor(pipe.calibration_scores_, window=500, alpha=0.01)   # doctest: +SKIP
>>> mon.update(pipe.score(new_batch))
DriftStatus(statistic=0.31, p_value=2.1e-09, drifted=True, n=500, method='ks+rate', ...)

Two tests on the last ``window`` finite scores, both numpy-only:

* **KS**: two-sample Kolmogorov-Smirnov statistic ``D`` between the window and the reference
  (calibration) scores, with the asymptotic p-value (Kolmogorov distribution, Stephens'
  small-sample correction ``(sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) * D``, ``ne = n m / (n + m)``).
  It sees any change of the score distribution, upwards or downwards.
* **Rate**: each item's conformal p-value against the reference; without drift the share of
  items with p-value < ``alpha`` is Binomial(n, alpha) / n. The p-value of this test is the
  exact upper binomial tail of the observed count; ``low_p_band`` is the highest share still
  inside the band at level ``alpha``.

``drifted`` is True when either test rejects at ``alpha / 2`` (Bonferroni), and ``p_value``
is ``min(1, 2 * min(p_ks, p_rate))``.

Both tests assume independent items. Consecutive scores of a stream are often not
(telemetry minutes, the frames of a clip): a window of 200 minutes may hold only a handful of
independent values, and the plain tests then alarm on almost every window of unshifted data
(measured in ``benchmarks/drift.py``, ``docs/drift.md``: 97 % on SMD). With
``autocorrelation=True`` (default) both tests use the effective sample size of an AR(1)
process, ``n_eff = n (1 - r) / (1 + r)`` with ``r`` the lag-1 autocorrelation of the window
in arrival order (clipped to [0, 0.95], so a window of 200 counts as at least 5
independent items); for independent items ``r`` is near 0 and nothing
changes. The reference should be scores of held-out normal data: training scores sit too low
for a model that fits its training data closely.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["DriftMonitor", "DriftStatus", "binomial_upper_tail", "ks_2samp", "ks_pvalue"]


@dataclass
class DriftStatus:
    """Outcome of the drift tests on the current window.

    Attributes
    ----------
    statistic : float
        KS statistic ``D`` (NaN while fewer than ``min_items`` scores have arrived).
    p_value : float
        Combined p-value of the two tests (Bonferroni); NaN while waiting.
    drifted : bool
        ``p_value < alpha``.
    n : int
        Scores in the window.
    method : str
        ``"ks+rate"``.
    ks_p_value : float
        Asymptotic p-value of the KS test alone.
    low_p_share : float
        Share of window items whose conformal p-value is below ``alpha``.
    low_p_band : float
        Upper edge of that share's binomial band: a larger share rejects at ``alpha / 2``.
    rate_p_value : float
        Upper binomial tail probability of the observed count.
    n_eff : float
        Effective number of independent items the tests used (``n`` without the
        autocorrelation adjustment).
    """

    statistic: float
    p_value: float
    drifted: bool
    n: int
    method: str
    ks_p_value: float = float("nan")
    low_p_share: float = float("nan")
    low_p_band: float = float("nan")
    rate_p_value: float = float("nan")
    n_eff: float = float("nan")

    def to_dict(self) -> dict:
        """JSON-safe dict (NaN -> None)."""
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in asdict(self).items()}


def ks_pvalue(d: float, n: float, m: float) -> float:
    """Asymptotic two-sided p-value of a two-sample KS statistic ``d`` for sample sizes ``n`` and ``m``."""
    if n <= 0 or m <= 0 or not math.isfinite(d):
        return float("nan")
    ne = n * m / (n + m)
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    if lam < 0.2:  # the series converges slowly there and is 1 to 1e-9
        return 1.0
    k = np.arange(1, 101)
    terms = 2.0 * (-1.0) ** (k - 1) * np.exp(-2.0 * (k * lam) ** 2)
    return float(min(1.0, max(0.0, terms.sum())))


def ks_2samp(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic and asymptotic p-value (numpy; ties handled as in scipy's ``ks_2samp``)."""
    a = np.sort(np.asarray(a, dtype=np.float64))
    b = np.sort(np.asarray(b, dtype=np.float64))
    if len(a) == 0 or len(b) == 0:
        return float("nan"), float("nan")
    both = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, both, side="right") / len(a)
    cdf_b = np.searchsorted(b, both, side="right") / len(b)
    d = float(np.max(np.abs(cdf_a - cdf_b)))
    return d, ks_pvalue(d, len(a), len(b))


def binomial_upper_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed exactly in log space."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    if p <= 0.0:
        return 0.0
    if p >= 1.0:
        return 1.0
    j = np.arange(k, n + 1, dtype=np.float64)
    lg = np.vectorize(math.lgamma)
    logs = lg(n + 1.0) - lg(j + 1.0) - lg(n - j + 1.0) + j * math.log(p) + (n - j) * math.log1p(-p)
    top = logs.max()
    return float(min(1.0, math.exp(top) * np.exp(logs - top).sum()))


def _band_upper(n: int, p: float, level: float) -> int:
    """Largest count k with P(X >= k) > level (counts above it reject)."""
    k = int(math.ceil(n * p))
    while k <= n and binomial_upper_tail(k + 1, n, p) > level:
        k += 1
    return min(k, n)


class DriftMonitor:
    """Sliding-window drift test of incoming scores against reference (calibration) scores.

    Parameters
    ----------
    reference_scores : array-like
        Scores of normal data the model did not train on (e.g. ``calibration_scores_``);
        non-finite values are dropped.
    window : int, default=500
        Number of most recent finite scores tested.
    alpha : float, default=0.01
        Level of the test, and the p-value cut-off of the rate test.
    min_items : int, default=50
        No verdict (NaN statistic, ``drifted=False``) before this many scores.
    autocorrelation : bool, default=True
        Use the AR(1) effective sample size of the window (see the module docstring).
    """

    method = "ks+rate"

    def __init__(self, reference_scores, window: int = 500, alpha: float = 0.01, min_items: int = 50,
                 autocorrelation: bool = True):
        ref = np.asarray(reference_scores, dtype=np.float64).ravel()
        ref = np.sort(ref[np.isfinite(ref)])
        if len(ref) < 2:
            raise ValueError(f"DriftMonitor needs at least 2 finite reference scores, got {len(ref)}")
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha}")
        if window < 1 or min_items < 1:
            raise ValueError(f"window and min_items must be >= 1, got {window}, {min_items}")
        self.reference_scores = ref
        self.window = int(window)
        self.alpha = float(alpha)
        self.min_items = int(min(min_items, window))
        self.autocorrelation = bool(autocorrelation)
        self._recent: deque[float] = deque(maxlen=self.window)
        self._bands: dict[int, int] = {}
        self.n_seen_ = 0

    def reset(self) -> None:
        """Forget the window."""
        self._recent.clear()
        self.n_seen_ = 0

    def update(self, scores) -> DriftStatus:
        """Add new scores (non-finite ones are skipped) and return the status of the window."""
        s = np.asarray(scores, dtype=np.float64).ravel()
        s = s[np.isfinite(s)]
        self._recent.extend(s.tolist())
        self.n_seen_ += len(s)
        return self.status()

    def _p_values(self, x: np.ndarray) -> np.ndarray:
        ref = self.reference_scores
        at_least = len(ref) - np.searchsorted(ref, x, side="left")
        return (1.0 + at_least) / (len(ref) + 1.0)

    def status(self) -> DriftStatus:
        """The drift tests on the current window."""
        n = len(self._recent)
        if n < self.min_items:
            return DriftStatus(float("nan"), float("nan"), False, n, self.method)
        x = np.fromiter(self._recent, dtype=np.float64, count=n)
        ref = self.reference_scores
        f = _ar1_factor(x) if self.autocorrelation else 1.0
        n_eff = max(2.0, n * f)
        d, _ = ks_2samp(x, ref)
        p_ks = ks_pvalue(d, n_eff, len(ref))
        k = int((self._p_values(x) < self.alpha).sum())
        n_int = max(1, int(round(n_eff)))
        p_rate = binomial_upper_tail(int(round(k * n_int / n)), n_int, self.alpha)
        if n_int not in self._bands:
            self._bands[n_int] = _band_upper(n_int, self.alpha, self.alpha / 2)
        p = min(1.0, 2.0 * min(p_ks, p_rate))
        return DriftStatus(
            statistic=d, p_value=p, drifted=bool(p < self.alpha), n=n, method=self.method,
            ks_p_value=p_ks, low_p_share=k / n, low_p_band=self._bands[n_int] / n_int, rate_p_value=p_rate,
            n_eff=float(n_eff),
        )


def _ar1_factor(x: np.ndarray) -> float:
    """``(1 - r) / (1 + r)`` for the lag-1 autocorrelation ``r`` of ``x`` (clipped to [0, 0.95])."""
    if len(x) < 3:
        return 1.0
    c = x - x.mean()
    den = float(c @ c)
    if den <= 0.0:
        return 1.0
    r = min(max(float(c[:-1] @ c[1:]) / den, 0.0), 0.95)
    return (1.0 - r) / (1.0 + r)
