"""Rolling re-calibration and a false-alarm-rate drift warning for score streams (numpy only).

Monitored systems drift: a threshold calibrated on last month's normal data flags far more
than ``alpha`` of this month's normal minutes. :class:`RollingCalibrator` keeps a window of
the most recent scores presumed normal and sets each item's threshold from it, so the
threshold follows slow drift, and it warns when the realised alarm rate leaves the binomial
band of ``alpha``.

Which recent items are presumed normal
--------------------------------------
An item enters the window unless it is flagged at the stricter **exclusion level**
``exclude_p`` (default ``alpha / 10``): its tail p-value against the window
(:func:`~anomalib_ae.scoring.calibration.tail_p_values`, an exponential tail beyond the
window's largest score) is below ``exclude_p`` (and below half the smallest conformal p-value
``1 / (window + 1)``, so the exclusion level lies beyond the window's largest score: were it
inside, the largest score could only fall and the threshold with it). Clear anomalies therefore never enter the
window, while items flagged only at the alarm level ``alpha`` do: a window that dropped every
alarm holds only scores below the current threshold, so its threshold could only ever fall
and upward drift would keep the alarm rate high for good.

A run of more than ``max_excluded_run`` consecutive excluded items (default 360: six hours
of minute data) is not an incident but a **new level**: from then on its items enter the
window, so a machine that moved for good (a reconfiguration) is re-learnt within a window
instead of alarming for ever.

Adaptive level (``gamma``)
--------------------------
A window quantile at level ``1 - alpha`` flags more than ``alpha`` of the next normal items
when the scores are autocorrelated and drift (the window always lags). With ``gamma > 0`` the
level adapts as in adaptive conformal inference (Gibbs & Candes, NeurIPS 2021):
``alpha_t+1 = alpha_t + gamma (alpha - flag_t)`` over every item (kept within
``[0, max_level * alpha]``), so the alarm rate is pulled back to ``alpha`` whatever the drift;
after an incident the level is lower for a while (flags on clear anomalies count too, which
did better on SMD's training period than counting only the items that enter the window). The cap stops a long quiet stretch from raising the level so far that the next burst
of normal fluctuations is flagged wholesale.

Each item is scored against the window and level as they stood at the last refresh, at most
``refresh`` items **before** the item (no look-ahead); the window starts from the model's
calibration scores (their most recent ``window``).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np


def binomial_band(alpha: float, n: int, level: float = 0.99) -> tuple[float, float]:
    """Central ``level`` band of the alarm *rate* among ``n`` normal items flagged with probability ``alpha``.

    Exact binomial quantiles: ``(lo / n, hi / n)`` with ``P(K < lo) <= (1 - level) / 2`` and
    ``P(K > hi) <= (1 - level) / 2`` for ``K ~ Binomial(n, alpha)``.
    """
    if n < 1:
        return 0.0, 1.0
    k = np.arange(1, n + 1, dtype=np.float64)  # log pmf by the ratio pmf(k) / pmf(k - 1), vectorised
    steps = np.log(n - k + 1.0) - np.log(k) + math.log(alpha) - math.log1p(-alpha)
    logpmf = np.concatenate([[n * math.log1p(-alpha)], n * math.log1p(-alpha) + np.cumsum(steps)])
    cdf = np.cumsum(np.exp(logpmf - logpmf.max()))
    cdf /= cdf[-1]
    tail = (1.0 - level) / 2.0
    lo = int(np.searchsorted(cdf, tail, side="left"))
    hi = int(np.searchsorted(cdf, 1.0 - tail, side="left"))
    return lo / n, hi / n


@dataclass
class RollingResult:
    """Per-item output of :meth:`RollingCalibrator.update`, in stream order.

    Attributes
    ----------
    thresholds : threshold in force when the item arrived
    flags : score > threshold
    p_values : conformal p-value against the window before the item
    rates : realised alarm rate over the last ``drift_window`` items (NaN until ``min_items``)
    drift : the rate is outside the binomial band of ``alpha`` (a drift warning)
    """

    thresholds: np.ndarray
    flags: np.ndarray
    p_values: np.ndarray
    rates: np.ndarray
    drift: np.ndarray


class RollingCalibrator:
    """Rolling conformal threshold at false-alarm rate ``alpha`` over a window of recent normal scores.

    Parameters
    ----------
    calibration_scores : array
        Scores of held-out normal items, oldest first (the window starts from the last ``window``).
    alpha : float
        Target false-alarm rate (as ``threshold="fpr:alpha"``).
    window : int, default 4320
        Scores kept (three days of minute data).
    exclude_p : float, optional
        Items whose tail p-value is below this do not enter the window; default ``alpha / 10``.
    max_excluded_run : int or None, default 360
        After this many consecutive excluded items, excluded items enter the window (a new level).
    gamma : float, default 0.002
        Step of the adaptive level (0: the fixed level ``1 - alpha``).
    max_level : float, default 2.0
        The adaptive false-alarm level stays within ``[0, max_level * alpha]``.
    refresh : int, default 5
        Threshold, exclusion level and p-values are recomputed every ``refresh`` items.
    drift_window : int, optional
        Items over which the realised rate is checked; default ``window``.
    level : float, default 0.99
        Confidence level of the binomial band.
    min_items : int, default 100
        No drift verdict before this many items.

    The defaults were chosen on SMD's training period only (``benchmarks/alarms.py``,
    docs/alarms.md): fitted on its first half, rolled over its second half.
    """

    def __init__(self, calibration_scores, alpha: float, window: int = 4320, exclude_p: float | None = None,
                 max_excluded_run: int | None = 360, gamma: float = 0.002, max_level: float = 2.0, refresh: int = 5,
                 drift_window: int | None = None, level: float = 0.99, min_items: int = 100):
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        if int(window) < 2:
            raise ValueError(f"window must be at least 2, got {window!r}")
        if int(refresh) < 1 or gamma < 0 or (max_excluded_run is not None and int(max_excluded_run) < 1):
            raise ValueError("refresh and max_excluded_run must be at least 1 and gamma at least 0")
        cal = np.asarray(calibration_scores, dtype=np.float64).reshape(-1)
        cal = cal[np.isfinite(cal)]
        if cal.size < 2:
            raise ValueError("rolling calibration needs at least 2 finite calibration scores")
        self.alpha = float(alpha)
        self.window = int(window)
        self.exclude_p = float(exclude_p) if exclude_p is not None else self.alpha / 10.0
        self.max_excluded_run = None if max_excluded_run is None else int(max_excluded_run)
        self.gamma = float(gamma)
        self.max_level = float(max_level)
        self.refresh = int(refresh)
        self.drift_window = int(drift_window or window)
        self.level = float(level)
        self.min_items = int(min_items)
        self._win: deque[float] = deque((float(v) for v in cal[-self.window:]), maxlen=self.window)
        self.alpha_t_ = self.alpha
        self._run = 0
        self._since = 0
        self._recent: deque[bool] = deque()
        self._n_recent_flags = 0
        self._band_cache: dict[int, tuple[float, float]] = {}
        self._refresh()

    def _refresh(self) -> None:
        srt = np.sort(np.fromiter(self._win, dtype=np.float64, count=len(self._win)))
        n = srt.size
        a = max(self.alpha_t_, 0.5 / (n + 1))
        k = min(n, math.ceil((n + 1) * (1.0 - a) - 1e-12))
        self._sorted = srt
        self.threshold_ = float(srt[k - 1])
        # exclusion level: where the exponential tail fitted beyond the window's largest score
        # (as tail_p_values) reaches exclude_p; always above that largest score, so it can rise
        kt = int(min(n - 1, max(2, math.ceil(0.1 * n))))
        beta = float(srt[n - kt:].mean() - srt[n - kt - 1])
        if not beta > 0:
            beta = float(np.std(srt)) or 1.0
        p_max = 1.0 / (n + 1)
        self.exclude_threshold_ = float(srt[-1] + beta * math.log(p_max / min(self.exclude_p, 0.5 * p_max)))
        self._since = 0

    def _band(self, n: int) -> tuple[float, float]:
        if n not in self._band_cache:
            self._band_cache[n] = binomial_band(self.alpha, n, self.level)
        return self._band_cache[n]

    def update(self, scores) -> RollingResult:
        """Process ``scores`` in order (NaN scores are skipped: no flag, no window change)."""
        s = np.asarray(scores, dtype=np.float64).reshape(-1)
        m = s.size
        th, pv, rates = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
        flags, drift = np.zeros(m, dtype=bool), np.zeros(m, dtype=bool)
        for i, v in enumerate(s):
            if not np.isfinite(v):
                continue
            if self._since >= self.refresh:
                self._refresh()
            self._since += 1
            th[i] = self.threshold_
            n = self._sorted.size
            pv[i] = (1.0 + n - np.searchsorted(self._sorted, v - 1e-9 * abs(v), side="left")) / (n + 1.0)
            flags[i] = v > self.threshold_
            self._recent.append(bool(flags[i]))
            self._n_recent_flags += int(flags[i])
            if len(self._recent) > self.drift_window:
                self._n_recent_flags -= int(self._recent.popleft())
            k = len(self._recent)
            if k >= self.min_items:
                rate = self._n_recent_flags / k
                lo, hi = self._band(k)
                rates[i], drift[i] = rate, not (lo <= rate <= hi)
            step = self.alpha_t_ + self.gamma * (self.alpha - float(flags[i]))
            self.alpha_t_ = min(self.max_level * self.alpha, 1.0, max(0.0, step))
            normal = v <= self.exclude_threshold_
            self._run = 0 if normal else self._run + 1
            if normal or (self.max_excluded_run is not None and self._run > self.max_excluded_run):
                self._win.append(float(v))
        return RollingResult(th, flags, pv, rates, drift)
