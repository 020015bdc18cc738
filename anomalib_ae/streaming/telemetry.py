"""Telemetry scored chunk by chunk with exactly the per-timestamp scores of one-piece scoring.

:class:`TelemetryStream` applies :class:`~anomalib_ae.data.TelemetryWindower`'s policy
incrementally (see its module docstring), per entity:

* **Gaps** compare each row with the entity's previous row, also across chunks.
* **Forward fill** carries the last ``ffill_limit`` raw rows of the entity's gap segment, so a
  row is filled from exactly the value one-piece scoring would use (pandas ``ffill(limit)``
  only looks back ``ffill_limit`` rows).  A row that stays NaN is an error and ends the
  segment, as in one piece.
* **Windows** start on the stride grid of the segment's start; a window is built as soon as
  its ``window`` rows have arrived.  At the segment's end (a gap, an unfillable row or the end
  of the input) the end-aligned window, or the edge-padded window of a short segment, is added.
* **Carry.**  Only the last ``window`` rows of each open segment are kept; a row's score is
  final once its segment has ``window`` rows after it (no later window can cover it) or the
  segment has ended.  Window scores are summed per row in window order, so means are
  bit-identical.  Output rows are released in input order: a row waits until every earlier
  row is final, so an entity that stops reporting holds later rows back until its segment ends.

The input must be time-ordered per entity across chunks (unordered rows inside one chunk are
fine: they are sorted as in one piece).  A row older than its entity's last row of an earlier
chunk raises ``ValueError``; score such a file in memory (``--chunk-rows 0``).  The detector
scores each chunk's windows in one call; detectors whose window scores do not depend on the
batch (all numpy / scikit-learn ones, and torch networks in eval mode up to float rounding of
the batched matrix products) give identical scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from anomalib_ae.data.telemetry_parse import _metric_values, _parse_time, _to_datetime
from anomalib_ae.streaming.readers import Chunk

__all__ = ["TelemetryStream"]


@dataclass
class _Segment:
    """The open (still growing) segment of one entity: its last rows and where windows stand."""

    m: int
    n: int = 0  # rows in the segment so far
    next_start: int = 0  # next grid window start (segment position)
    pos0: int = 0  # segment position of rows[0]
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    vals: np.ndarray | None = None

    def __post_init__(self):
        if self.vals is None:
            self.vals = np.zeros((0, self.m))


@dataclass
class _Entity:
    last_t: float
    raw_tail: np.ndarray  # last ffill_limit raw rows of the current gap segment
    seg: _Segment | None = None


class TelemetryStream:
    """Incremental scoring of a telemetry table for a fitted telemetry :class:`~anomalib_ae.pipeline.Pipeline`."""

    def __init__(self, pipeline):
        self.pipe = pipeline
        self.win = pipeline.adapter_.reader_
        self.w, self.stride = int(self.win.window), int(self.win.stride)
        self.limit = int(self.win.ffill_limit)
        self.m = len(self.win.metric_cols_)
        self.how = pipeline.timestamp_how
        self.entities: dict = {}
        # pending rows (final score not known yet): global ids, sorted, with their partial sums / max
        self.p_ids = np.zeros(0, np.int64)
        self.p_tot = np.zeros(0)
        self.p_cnt = np.zeros(0)
        self.p_max = np.zeros(0)
        self.out: pd.DataFrame | None = None  # received rows not yet released
        self.out_score = np.zeros(0)

    # ------------------------------------------------------------------ parsing
    def _parse(self, chunk: Chunk):
        """Chunk -> (ids, t, entity, raw values) of its usable rows; bad rows join ``chunk.errors``."""
        win, df = self.win, chunk.frame
        need = [win.timestamp_col] + ([win.entity_col] if win.entity_col is not None else []) + list(win.metric_cols_)
        if len(df) and (missing := [c for c in need if c not in df.columns]):
            raise ValueError(f"column(s) {missing} not found in the table; columns present: {list(map(str, df.columns))}")
        ids = chunk.rows
        if not len(df):
            return ids, np.zeros(0), np.zeros(0, object), np.zeros((0, self.m)), np.zeros(0, object)
        bad = np.zeros(len(df), bool)
        why = [None] * len(df)
        ts = df[win.timestamp_col]
        if pd.api.types.is_numeric_dtype(ts) and not pd.api.types.is_bool_dtype(ts):
            tbad = ~np.isfinite(ts.to_numpy(dtype=np.float64, na_value=np.nan))
        elif pd.api.types.is_datetime64_any_dtype(ts):
            tbad = ts.isna().to_numpy()
        else:
            parsed = _to_datetime(ts)
            if (parsed.isna() & ts.notna()).any():
                parsed = _to_datetime(ts, format="mixed")
            tbad = parsed.isna().to_numpy()
        for i in np.flatnonzero(tbad):
            bad[i], why[i] = True, f"timestamp column {win.timestamp_col!r} cannot be parsed: {ts.iloc[i]!r}"
        if win.entity_col is not None:
            for i in np.flatnonzero(df[win.entity_col].isna().to_numpy() & ~bad):
                bad[i], why[i] = True, f"entity column {win.entity_col!r} is missing"
        for i in np.flatnonzero(bad):
            chunk.errors[int(ids[i])] = why[i]
        if bad.any():
            df, ids = df[~bad], ids[~bad]
        if not len(df):
            return ids, np.zeros(0), np.zeros(0, object), np.zeros((0, self.m)), np.zeros(0, object)
        t, kind = _parse_time(df, win.timestamp_col)
        if kind != win.time_kind_:
            raise ValueError(f"timestamp column {win.timestamp_col!r} is {kind} but was {win.time_kind_} at fit")
        vals, cells = _metric_values(df, win.metric_cols_)  # non-numeric / infinite cells: errors, never filled
        badmsg = np.full(len(df), None, object)
        for k, msg in cells.items():
            badmsg[k] = msg
        return ids, t, win._entities(df), vals, badmsg

    # ------------------------------------------------------------------ windows
    def _emit(self, seg: _Segment, starts: np.ndarray, jobs: list) -> None:
        local = starts[:, None] - seg.pos0 + np.arange(self.w)[None, :]
        jobs.append((seg.rows[local], seg.vals[local].astype(np.float32)))

    def _close(self, ent: _Entity, jobs: list, final: list) -> None:
        seg, ent.seg = ent.seg, None
        if seg is None or seg.n == 0:
            return
        w, n = self.w, seg.n
        if n < w:  # edge padding: the rows, then copies of the last one
            local = np.minimum(np.arange(w), n - 1)
            idx = np.full(w, -1, np.int64)
            idx[:n] = seg.rows[:n]
            jobs.append((idx[None], seg.vals[local][None].astype(np.float32)))
        elif (n - w) % self.stride:
            self._emit(seg, np.array([n - w]), jobs)
        final.append(seg.rows)

    def _extend(self, ent: _Entity, ids: np.ndarray, scaled: np.ndarray, jobs: list, final: list) -> None:
        seg = ent.seg if ent.seg is not None else _Segment(self.m)
        ent.seg = seg
        seg.rows = np.concatenate([seg.rows, ids])
        seg.vals = np.concatenate([seg.vals, scaled])
        seg.n += len(ids)
        starts = np.arange(seg.next_start, seg.n - self.w + 1, self.stride, dtype=np.int64)
        if len(starts):
            self._emit(seg, starts, jobs)
            seg.next_start = int(starts[-1]) + self.stride
        keep = max(seg.n - self.w, seg.pos0)  # positions before n - w are final
        drop = keep - seg.pos0
        if drop:
            final.append(seg.rows[:drop])
            seg.rows, seg.vals, seg.pos0 = seg.rows[drop:], seg.vals[drop:], keep

    def _entity_rows(self, key, g, ids, t, vals, badmsg, errors, jobs, final) -> None:
        win, gap = self.win, self.win.max_gap_
        tg = t[g]
        ent = self.entities.get(key)
        if ent is not None and tg[0] < ent.last_t:
            raise ValueError(
                f"rows are not time-ordered per entity: row {int(ids[g[0]])} ({win.entity_col or 'the series'} "
                f"{key!r}) is older than a row of an earlier chunk; sort the file by time, or score it in memory "
                "(--chunk-rows 0)")
        if ent is None:
            ent = self.entities[key] = _Entity(last_t=tg[0], raw_tail=np.zeros((0, self.m)))
        breaks = np.flatnonzero(np.diff(np.concatenate([[ent.last_t], tg])) > gap)
        for k, piece in enumerate(np.split(g, breaks)):
            if k:  # a gap before this piece (``breaks`` may start at 0: a gap from the last chunk)
                self._close(ent, jobs, final)
                ent.raw_tail = np.zeros((0, self.m))
            if not len(piece):
                continue
            raw = vals[piece]
            filled = raw
            if self.limit > 0:
                both = np.concatenate([ent.raw_tail, raw])
                if np.isnan(both).any():
                    filled = pd.DataFrame(both).ffill(limit=self.limit).to_numpy()[len(ent.raw_tail):]
                ent.raw_tail = both[-self.limit:]
            is_bad = np.array([m is not None for m in badmsg[piece]], bool)
            if is_bad.any():  # a bad cell is an error, never forward-filled
                filled = filled.copy()
                filled[is_bad] = np.nan
            nan_rows = np.isnan(filled).any(axis=1)
            for j in np.flatnonzero(nan_rows):
                if is_bad[j]:
                    errors[int(ids[piece[j]])] = badmsg[piece[j]]
                    continue
                names = [win.metric_cols_[c] for c in np.flatnonzero(np.isnan(filled[j]))]
                errors[int(ids[piece[j]])] = (f"metric(s) {names} missing and not forward-fillable "
                                              f"(ffill_limit={self.limit}, a gap or segment start before it)")
            scaled = (filled - win.mean_) / win.std_ if win.scale else filled
            for j, sub in enumerate(np.split(np.arange(len(piece)), np.flatnonzero(nan_rows))):
                if j:  # starts with the unfillable row: it ends the segment
                    self._close(ent, jobs, final)
                    sub = sub[1:]
                if len(sub):
                    self._extend(ent, ids[piece[sub]], scaled[sub], jobs, final)
        ent.last_t = tg[-1]

    # ------------------------------------------------------------------ scoring and release
    def feed(self, chunk: Chunk) -> pd.DataFrame:
        """Take the next chunk; return the rows whose scores are now final and all of whose
        predecessors were released (possibly none), as :meth:`Pipeline.score_items` tables."""
        ids, t, ent, vals, badmsg = self._parse(chunk)
        jobs: list = []
        final: list = []
        if len(ids):
            codes, uniq = pd.factorize(pd.Series(ent, dtype=object), use_na_sentinel=False)
            order = np.lexsort((np.arange(len(t)), t, codes))
            for g in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1):
                self._entity_rows(uniq[codes[g[0]]], g, ids, t, vals, badmsg, chunk.errors, jobs, final)
        self._buffer(chunk, ids, t, ent)
        self._score(ids, jobs, final)
        return self._release(chunk.stop)

    def close(self) -> pd.DataFrame:
        """End of input: end every open segment and return the remaining rows."""
        jobs: list = []
        final: list = []
        for ent in self.entities.values():
            self._close(ent, jobs, final)
        self._score(np.zeros(0, np.int64), jobs, final)
        return self._release(None)

    def _buffer(self, chunk: Chunk, ids, t, ent) -> None:
        n = chunk.n_rows
        pos = ids - chunk.start
        ts = np.full(n, np.datetime64("NaT"), "datetime64[ns]") if self.win.time_kind_ == "datetime" else np.full(n, np.nan)
        ts[pos] = self.win._to_time(t)
        ents = np.full(n, None, object)
        ents[pos] = ent
        err = np.full(n, None, object)
        for r, msg in chunk.errors.items():
            err[r - chunk.start] = msg
        if self.out is None:
            self.out = {"start": chunk.start, "ts": ts, "ent": ents, "err": err}
            self.out_score = np.full(n, np.nan)
        else:
            o = self.out
            o["ts"], o["ent"], o["err"] = (np.concatenate([o["ts"], ts]), np.concatenate([o["ent"], ents]),
                                           np.concatenate([o["err"], err]))
            self.out_score = np.concatenate([self.out_score, np.full(n, np.nan)])

    def _score(self, ids: np.ndarray, jobs: list, final: list) -> None:
        pool = np.concatenate([self.p_ids, ids])
        k = len(ids)
        tot = np.concatenate([self.p_tot, np.zeros(k)])
        cnt = np.concatenate([self.p_cnt, np.zeros(k)])
        mx = np.concatenate([self.p_max, np.full(k, -np.inf)])
        if jobs:
            wi = np.concatenate([j[0] for j in jobs])
            X = np.concatenate([j[1] for j in jobs])
            from anomalib_ae.value_range import score_finite_rows

            raw = np.asarray(score_finite_rows(self.pipe.detector_, self.pipe.adapter_.detector_input(X))[0],
                             dtype=np.float64)
            v = np.broadcast_to(raw[:, None], wi.shape)
            real = wi >= 0
            loc = np.searchsorted(pool, wi[real])
            vr = v[real]
            np.add.at(tot, loc, vr)
            np.add.at(cnt, loc, 1.0)
            np.maximum.at(mx, loc, vr)
        if final:
            fin = np.concatenate(final)
            loc = np.searchsorted(pool, fin)
            if self.how == "max":
                sc = np.where(np.isneginf(mx[loc]), np.nan, mx[loc])
            else:
                with np.errstate(invalid="ignore", divide="ignore"):
                    sc = np.where(cnt[loc] > 0, tot[loc] / np.where(cnt[loc] > 0, cnt[loc], 1.0), np.nan)
            self.out_score[fin - self.out["start"]] = sc
        open_rows = [e.seg.rows for e in self.entities.values() if e.seg is not None and len(e.seg.rows)]
        pend = np.sort(np.concatenate(open_rows)) if open_rows else np.zeros(0, np.int64)
        loc = np.searchsorted(pool, pend)
        self.p_ids, self.p_tot, self.p_cnt, self.p_max = pend, tot[loc], cnt[loc], mx[loc]

    def _release(self, stop: int | None) -> pd.DataFrame:
        o = self.out
        if o is None:
            return self._table(0, np.zeros(0), np.zeros(0), np.zeros(0, object), np.zeros(0, object))
        frontier = int(self.p_ids[0]) if len(self.p_ids) else o["start"] + len(self.out_score)
        k = frontier - o["start"]
        score = self.out_score[:k]
        table = self._table(o["start"], score, o["ts"][:k], o["ent"][:k], o["err"][:k])
        o["start"] = frontier
        o["ts"], o["ent"], o["err"] = o["ts"][k:], o["ent"][k:], o["err"][k:]
        self.out_score = self.out_score[k:]
        return table

    def _table(self, start, score, ts, ents, err) -> pd.DataFrame:
        n = len(score)
        win, pipe = self.win, self.pipe
        table = pd.DataFrame({"row": np.arange(start, start + n, dtype=np.int64), win.timestamp_col: ts})
        if win.entity_col is not None:
            table[win.entity_col] = ents
        ok = np.isfinite(score)
        cols = pipe._alarm_columns(table, score)  # p_value, probability, is_anomaly: per row
        errors = [e if e is not None or ok[i] else "not scored" for i, e in enumerate(err)]
        table["score"] = score
        for k, v in cols.items():
            table[k] = v
        table["error"] = pd.array(errors, dtype="string")
        return table
