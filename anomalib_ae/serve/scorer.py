"""The model behind the service: loaded once, scores parsed bodies into :class:`ScoreRecord` s.

* **Tables** (``tabular`` pipelines and bare detectors): the model's feature columns must be
  present (else 422 naming the missing ones); a row with a missing, non-numeric or infinite
  value gets an error record. Optional non-feature columns ``entity`` and ``timestamp`` fill
  those record fields.
* **Telemetry**: rows need the windower's timestamp, entity and metric columns. The service
  keeps, per entity, the last ``window - 1`` rows it has seen, so rows streamed a few at a
  time are scored in the same windows as one long table (each row's score then comes from
  the windows that end at or before the newest row of its request: causal scoring).
  Rows with a non-numeric or infinite metric value get an error record; missing values
  follow the windower's forward-fill policy.
* **Images / audio**: uploaded files, one record each; an unreadable file gets an error record.

Flagged items carry their top contributing features (``Pipeline.explain``: reconstruction
error per feature, or squared z-scores for detectors without a reconstruction): table
columns, telemetry metrics, mel bands for audio, the hottest ``pixel[row,col]`` for images.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from anomalib_ae.records import ScoreRecord, model_info, records_from_result
from anomalib_ae.serve.bodies import BadInput, Body

log = logging.getLogger("anomalib_ae.serve")


def _explain_parts(ex) -> tuple[list[int], list[str], np.ndarray]:
    get = ex.get if isinstance(ex, dict) else (lambda k, d=None: getattr(ex, k, d))
    top = get("top")
    if top is None:
        top = get("items", [])
    return [int(i) for i in top], [str(n) for n in get("feature_names") or []], np.asarray(get("contributions"))


class ModelService:
    """A loaded model file and how to score request bodies with it (thread-safe)."""

    def __init__(self, model_path: str | os.PathLike, *, top_k: int = 3, max_explain: int = 100,
                 max_context_entities: int = 10_000):
        import anomalib_ae
        from anomalib_ae.pipeline import Pipeline, from_detector

        self.path = Path(model_path)
        obj = anomalib_ae.load(self.path)
        self.info = model_info(obj, self.path)
        self.pipe = obj if isinstance(obj, Pipeline) else from_detector(obj)
        self.kind = self.pipe.kind
        self.threshold = float(self.pipe.threshold_)
        self.calibration_scores = np.asarray(self.pipe.calibration_scores_, dtype=np.float64)
        self.top_k, self.max_explain = int(top_k), int(max_explain)
        self._context: dict = {}
        self.max_context_entities = int(max_context_entities)
        self._telemetry_lock = threading.Lock()
        try:
            from anomalib_ae.scoring.drift import DriftMonitor

            self.drift = DriftMonitor(self.calibration_scores)
        except (ImportError, ValueError) as exc:  # too few calibration scores: no drift test
            log.warning("drift monitoring off: %s", exc)
            self.drift = None
        self._drift_lock = threading.Lock()
        self._drift_status = None

    # ------------------------------------------------------------------ columns
    @property
    def windower(self):
        """The fitted telemetry windower (the adapter itself, or the adapter's ``reader_``)."""
        a = self.pipe.adapter_
        return getattr(a, "reader_", a)

    @property
    def feature_columns(self) -> list[str]:
        if self.kind == "tabular":
            a = self.pipe.adapter_
            return list(a["columns"] if isinstance(a, dict) else a.columns_)
        if self.kind == "telemetry":
            return list(self.windower.metric_cols_)
        return []

    def expected_columns(self) -> list[str]:
        cols = self.feature_columns
        if self.kind == "telemetry":
            w = self.windower
            cols = [w.timestamp_col] + ([w.entity_col] if w.entity_col else []) + cols
        return cols

    def _check_columns(self, df: pd.DataFrame) -> None:
        missing = [c for c in self.expected_columns() if c not in df.columns]
        if missing:
            raise BadInput(422, "bad_columns", f"missing column(s) {missing[:20]}; the model expects "
                                               f"{self.expected_columns()[:50]}, got {[str(c) for c in df.columns][:50]}")

    # ------------------------------------------------------------------ scoring
    def score_body(self, body: Body, *, source: str, entity: str | None) -> list[ScoreRecord]:
        if self.kind in ("tabular", "telemetry"):
            if body.table is None:
                raise BadInput(415, "unsupported_media_type", f"this {self.kind} model scores table rows: send JSON "
                                                              "rows, CSV or Parquet, not files")
            df = body.table
            df.columns = [str(c) for c in df.columns]
            if len(df) == 0:
                raise BadInput(422, "bad_request", "the table has no rows")
            self._check_columns(df)
            recs = self._score_tabular(df, source, entity) if self.kind == "tabular" else \
                self._score_telemetry(df, source, entity)
        else:
            if not body.files:
                raise BadInput(415, "unsupported_media_type", f"this {self.kind} model scores "
                               f"{'image' if self.kind == 'image' else 'wav / flac'} files: upload them as "
                               "multipart/form-data or send one file as the body")
            recs = self._score_files(body.files, source, entity)
        if self.drift is not None:
            with self._drift_lock:
                self._drift_status = self.drift.update([r.score for r in recs if r.score is not None])
        return recs

    def drift_status(self):
        """The drift test after the latest batch (None without a drift monitor)."""
        if self.drift is None:
            return None
        with self._drift_lock:
            if self._drift_status is None:
                self._drift_status = self.drift.status()
            return self._drift_status

    def _records(self, result, source, explanation, **cols) -> list[ScoreRecord]:
        return records_from_result(result, model_info=self.info, source=source, top_k=self.top_k,
                                   explanation=explanation, threshold=self.threshold, **cols)

    def _explain(self, result, n_flagged: int):
        """Top features of the flagged items (highest scores first), or None."""
        if n_flagged == 0 or self.top_k <= 0:
            return None
        try:
            return self.pipe.explain(result, top_k=min(n_flagged, self.max_explain))
        except Exception as exc:  # noqa: BLE001 - explanations are extra; scoring must not fail on them
            log.warning("no explanation: %s: %s", type(exc).__name__, exc)
            return None

    def _score_tabular(self, df, source, entity) -> list[ScoreRecord]:
        res = self.pipe.score_items(df)
        ex = self._explain(res, int(np.nansum(res.scores > self.threshold)))
        t = res.table
        for c in ("entity", "timestamp"):
            if c in df.columns and c not in self.feature_columns:
                t[c] = df[c].to_numpy()
        if "entity" not in t.columns and entity is not None:
            t["entity"] = entity
        return self._records(res, source, ex, timestamp_col="timestamp" if "timestamp" in t.columns else None,
                             entity_col="entity" if "entity" in t.columns else None)

    def _score_telemetry(self, df, source, entity) -> list[ScoreRecord]:
        from anomalib_ae.pipeline import ScoreResult

        a = self.windower
        ts, ent_col, metrics = a.timestamp_col, a.entity_col, self.feature_columns
        df = df.reset_index(drop=True)
        vals = df[metrics].apply(pd.to_numeric, errors="coerce")
        bad_val = (vals.isna() & df[metrics].notna()) | np.isinf(vals.to_numpy(dtype=np.float64, na_value=0.0))
        bad = bad_val.any(axis=1).to_numpy()
        errors = {int(i): f"column {bad_val.columns[bad_val.iloc[i].to_numpy()][0]!r} has a non-numeric or "
                          f"infinite value" for i in np.flatnonzero(bad)}
        good = df.loc[~bad].copy()
        good[metrics] = vals.loc[~bad]
        orig = np.flatnonzero(~bad)
        n = len(df)
        table = pd.DataFrame({"row": np.arange(n), "timestamp": df[ts].to_numpy(),
                              "entity": df[ent_col].astype(str).to_numpy() if ent_col else entity,
                              "score": np.nan, "probability": np.nan,
                              "is_anomaly": pd.array([pd.NA] * n, dtype="boolean"),
                              "error": pd.array([errors.get(i) for i in range(n)], dtype="string")})
        ex = None
        if len(good):
            with self._telemetry_lock:
                keys = good[ent_col].astype(str).to_numpy() if ent_col else np.array(["_"] * len(good))
                ctx = [self._context[k] for k in dict.fromkeys(keys) if k in self._context]
                n_ctx = sum(len(c) for c in ctx)
                combined = pd.concat(ctx + [good[[ts] + ([ent_col] if ent_col else []) + metrics]],
                                     ignore_index=True)
                try:
                    res = self.pipe.score_items(combined)
                except ValueError as exc:
                    raise BadInput(422, "bad_request", str(exc)) from None
                self._remember(combined, ent_col, ts, int(a.window))
                flagged = np.flatnonzero(res.scores > self.threshold)
                ex = self._explain(res, len(flagged))
            rt = res.table.iloc[n_ctx:]
            table["timestamp"] = table["timestamp"].astype(object)
            table.loc[orig, "timestamp"] = pd.Series(rt[ts].to_numpy(), dtype=object).to_numpy()  # parsed by the windower
            table.loc[orig, "score"] = rt["score"].to_numpy()
            table.loc[orig, "probability"] = rt["probability"].to_numpy()
            table.loc[orig, "is_anomaly"] = rt["is_anomaly"].to_numpy()
            table.loc[orig, "error"] = rt["error"].to_numpy()
            if ex is not None:
                top, names, contrib = _explain_parts(ex)
                keep = [(int(orig[i - n_ctx]), c) for i, c in zip(top, contrib) if i >= n_ctx]
                ex = {"top": [k for k, _ in keep], "feature_names": names,
                      "contributions": np.array([c for _, c in keep]).reshape(len(keep), len(names))}
        result = ScoreResult(table=table, scores=table["score"].to_numpy(dtype=np.float64))
        return self._records(result, source, ex, timestamp_col="timestamp", entity_col="entity")

    def _remember(self, combined: pd.DataFrame, ent_col, ts, window: int) -> None:
        """Keep the last ``window - 1`` rows (by timestamp) of every entity in ``combined``."""
        keep = max(int(window) - 1, 0)
        if keep == 0:
            return
        groups = combined.groupby(combined[ent_col].astype(str), sort=False) if ent_col else [("_", combined)]
        for key, g in groups:
            self._context.pop(key, None)
            self._context[key] = g.sort_values(ts, kind="stable").tail(keep).reset_index(drop=True)
        while len(self._context) > self.max_context_entities:
            self._context.pop(next(iter(self._context)))

    def _score_files(self, files, source, entity) -> list[ScoreRecord]:
        with tempfile.TemporaryDirectory(prefix="anomalib_ae_serve_") as tmp:
            paths = []
            for i, f in enumerate(files):
                safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(f.name).name)[-100:] or "upload"
                p = Path(tmp) / f"{i:05d}_{safe}"
                p.write_bytes(f.data)
                paths.append(str(p))
            try:
                res = self.pipe.score_items(paths)
            except ValueError as exc:
                raise BadInput(422, "bad_request", str(exc)) from None
            # explained while the files exist (audio explanations re-read the clips)
            ex = self._explain(res, int(np.nansum(res.scores > self.threshold)))
            by_path = dict(zip(paths, (f.name for f in files)))
            res.table["path"] = [by_path.get(str(p), str(p)) for p in res.table["path"]]
            err = list(res.table["error"].astype(object))
            for i, e in enumerate(err):  # name the upload, not our temporary file
                if isinstance(e, str) and e:
                    for p, name in by_path.items():
                        e = e.replace(p, name)
                    err[i] = e.replace(tmp + os.sep, "").replace(tmp, "")
            res.table["error"] = pd.array(err, dtype="string")
            if entity is not None:
                res.table["entity"] = entity
            return self._records(res, source, ex, entity_col="entity" if entity is not None else None)
