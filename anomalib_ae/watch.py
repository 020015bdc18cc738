"""Score every new file that lands in a folder exactly once (``anomalib-ae watch``).

>>> Watcher("incoming/", "fan.pt", "scores/").run()                 # doctest: +SKIP

How "exactly once" holds, also across a crash or SIGKILL:

* **Output**: one file per input file version, ``OUT/<path with / as __>.<sha256[:12]>.jsonl``
  (or ``.csv``), holding one :class:`~anomalib_ae.records.ScoreRecord` per item (rows,
  timestamps, the image, the clip) or one error record. It is written atomically
  (:mod:`anomalib_ae.outputs`), and its name depends only on the input's path and content,
  so scoring the same file again after a crash replaces it rather than adding a copy.
* **Ledger** ``OUT/ledger.jsonl``: append-only JSON lines, fsynced, one per handled file
  (path, size, mtime_ns, sha256, status, output, counts). A line is appended only after the
  output file is durable. On start the ledger is read back (a line torn by a crash is cut
  off) and every (path, size, mtime) or (path, content hash) in it is skipped. Hence: killed
  before the ledger line -> scored again, same output file; after it -> skipped.
* **Half-written files** are not scored: a file must keep the same size and mtime for
  ``settle`` seconds; names of temporary files (``.*``, ``*.part``, ``*.tmp``, ``*~``,
  ``*.crdownload``, ``*.swp``) are ignored until renamed. The file is copied to a private
  snapshot and scored from it; if it changed during the copy it waits to settle again.
* **Bad input**: a file deleted before it could be read is logged and recorded in the ledger
  as ``vanished``; one deleted while scored is scored from the snapshot; an unreadable or
  unsupported file gets one error record; a removed folder is logged and watched for until it
  comes back. A file rewritten later with new content is a new version and is scored again.

Filesystem events (``watchdog``) wake the loop at once; a scan every ``poll_interval``
seconds is the fallback (and the only mechanism when watchdog is missing or fails) and is
the source of truth, so a missed event delays a file but never loses it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from anomalib_ae.ledger import LEDGER_NAME, Ledger, utc_now, read_ledger

log = logging.getLogger("anomalib_ae.watch")

__all__ = ["LEDGER_NAME", "Watcher", "WatchStats", "is_temporary_name", "read_ledger"]  # ledger names re-exported

_TEMP_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".crdownload", ".download", ".swp", ".lock", "~")


def is_temporary_name(name: str) -> bool:
    """Names of files still being written or of editors' / downloaders' scratch files."""
    low = name.lower()
    return name.startswith((".", "~$")) or low.endswith(_TEMP_SUFFIXES)


def _suffixes(kind: str) -> set[str]:
    if kind == "image":
        from anomalib_ae.data.images import IMAGE_EXTENSIONS

        return {s.lower() for s in IMAGE_EXTENSIONS}
    if kind == "audio":
        return {".wav", ".flac"}
    from anomalib_ae.data.tabular import TABLE_SUFFIXES

    return set(TABLE_SUFFIXES)


@dataclass
class WatchStats:
    """Counts of one run: files scored, files with an error record, skipped (already done), vanished."""

    scored: int = 0
    errors: int = 0
    skipped: int = 0
    vanished: int = 0
    records: int = 0


class Watcher:
    """Watch ``folder`` and score each new file with the model at ``model_path`` into ``output``.

    Parameters
    ----------
    folder : path
        Watched folder (searched recursively; hidden folders and ``output`` are skipped).
    model_path : path
        A model file written by ``fit`` (a detector or a pipeline).
    output : path
        Output folder: one records file per input file, plus ``ledger.jsonl``.
    format : {"jsonl", "csv"}, default="jsonl"
    poll_interval : float, default=1.0
        Seconds between scans when no filesystem event arrives.
    settle : float, default=1.0
        Seconds a file's size and mtime must stay unchanged before it is scored.
    use_events : bool, default=True
        Use watchdog events to wake up early (scans still run every ``poll_interval``).
    top_k : int, default=3
        Contributing features recorded per flagged item (0: none, skips explanations).
    """

    def __init__(self, folder, model_path, output, *, format: str = "jsonl", poll_interval: float = 1.0,
                 settle: float = 1.0, use_events: bool = True, top_k: int = 3):
        from anomalib_ae.outputs import FORMATS

        if format not in FORMATS:
            raise ValueError(f"format must be one of {list(FORMATS)}, got {format!r}")
        self.folder = Path(folder)
        self.output = Path(output)
        if self.output.resolve() == self.folder.resolve():
            raise ValueError(f"--output {str(output)!r} is the watched folder; use a separate folder")
        self.model_path = Path(model_path)
        self.format, self.poll_interval, self.settle = format, float(poll_interval), float(settle)
        self.use_events, self.top_k = use_events, int(top_k)
        self.stats = WatchStats()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._observer = None
        self._pending: dict[str, tuple[int, int, float]] = {}  # rel -> (size, mtime_ns, since)
        self._folder_missing = False

    # ------------------------------------------------------------------ setup
    def _load(self) -> None:
        import anomalib_ae
        from anomalib_ae.pipeline import Pipeline, from_detector
        from anomalib_ae.records import model_info
        from anomalib_ae.scoring.drift import DriftMonitor

        if not self.model_path.is_file():
            raise FileNotFoundError(f"model file not found: {self.model_path}")
        obj = anomalib_ae.load(self.model_path)
        self.pipe = obj if isinstance(obj, Pipeline) else from_detector(obj)
        self.info = model_info(obj, self.model_path)
        self.suffixes = _suffixes(self.pipe.kind)
        self.drift = DriftMonitor(self.pipe.calibration_scores_)
        self.output.mkdir(parents=True, exist_ok=True)
        self.ledger_path = self.output / LEDGER_NAME
        from anomalib_ae.outputs import TEMP_PREFIX

        for stale in self.output.glob(f"{TEMP_PREFIX}*"):  # outputs of a run killed mid-write
            stale.unlink(missing_ok=True)
            log.info("removed %s left by an interrupted run", stale.name)
        self.ledger = Ledger(self.ledger_path)
        log.info("watching %s with %s (%s, %s); output %s; %d file(s) already in the ledger", self.folder,
                 self.model_path, self.pipe.kind, self.info.detector, self.output, len(self.ledger))

    def _start_observer(self) -> None:
        if not self.use_events or self._observer is not None or not self.folder.is_dir():
            return
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError:
            log.info("watchdog is not installed: polling every %.3g s", self.poll_interval)
            self.use_events = False
            return
        wake = self._wake

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event):  # noqa: D401 - watchdog callback
                wake.set()

        try:
            obs = Observer()
            obs.schedule(_Handler(), str(self.folder), recursive=True)
            obs.daemon = True
            obs.start()
            self._observer = obs
        except Exception as exc:  # noqa: BLE001 - e.g. inotify watch limit: fall back to polling
            log.warning("filesystem events unavailable (%s); polling every %.3g s", exc, self.poll_interval)
            self._observer = None

    def _stop_observer(self) -> None:
        obs, self._observer = self._observer, None
        if obs is not None:
            try:
                obs.stop()
                obs.join(timeout=2)
            except Exception:  # noqa: BLE001 - the watched folder may be gone
                pass

    # ------------------------------------------------------------------ loop
    def stop(self) -> None:
        """Ask :meth:`run` to return after the file being scored."""
        self._stop.set()
        self._wake.set()

    def run(self, once: bool = False, max_wait: float = 60.0) -> WatchStats:
        """Scan, score settled files and wait for more until :meth:`stop` (or, with ``once``, until every
        file present is handled; files still changing after ``max_wait`` seconds are left for the next run)."""
        self._load()
        t0 = time.monotonic()
        try:
            while not self._stop.is_set():
                self._start_observer()
                pending = self.scan()
                if once and (not pending or time.monotonic() - t0 > max_wait):
                    for rel in self._pending:
                        log.warning("%s is still being written; not scored (run again to score it)", rel)
                    break
                self._wake.wait(min(self.poll_interval, self.settle / 2) if pending else self.poll_interval)
                self._wake.clear()
        finally:
            self._stop_observer()
        s = self.stats
        log.info("done: %d file(s) scored (%d records), %d with error records, %d skipped, %d vanished",
                 s.scored, s.records, s.errors, s.skipped, s.vanished)
        return s

    def _candidates(self) -> list[Path]:
        out_dir = self.output.resolve()
        found = []
        for root, dirs, files in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root, d).resolve() != out_dir)
            found.extend(Path(root, f) for f in sorted(files) if not is_temporary_name(f))
        return found

    def scan(self) -> bool:
        """Handle every settled file now; True when some file is still waiting to settle."""
        if not self.folder.is_dir():
            if not self._folder_missing:
                log.warning("watched folder %s is missing (removed?); waiting for it to come back", self.folder)
                self._folder_missing = True
                self._stop_observer()
            return False
        if self._folder_missing:
            log.info("watched folder %s is back", self.folder)
            self._folder_missing = False
        now = time.monotonic()
        seen = set()
        for path in self._candidates():
            if self._stop.is_set():
                return False
            rel = path.relative_to(self.folder).as_posix()
            seen.add(rel)
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            key = (st.st_size, st.st_mtime_ns)
            if self.ledger.done_stat(rel, *key):
                self._pending.pop(rel, None)
                continue
            prev = self._pending.get(rel)
            if prev is None or prev[:2] != key:
                self._pending[rel] = (*key, now)
                continue
            if now - prev[2] < self.settle:
                continue
            del self._pending[rel]
            self._handle(path, rel, key)
        for rel in set(self._pending) - seen:
            del self._pending[rel]
            log.warning("%s disappeared before it settled; nothing to score", rel)
        return bool(self._pending)

    # ------------------------------------------------------------------ one file
    def _handle(self, path: Path, rel: str, key: tuple[int, int]) -> None:
        work = Path(tempfile.mkdtemp(prefix=".work-", dir=self.output))
        try:
            snap = work / path.name
            try:
                shutil.copyfile(path, snap)
            except FileNotFoundError:
                log.warning("%s was deleted before it could be read; nothing to score", rel)
                self.stats.vanished += 1
                self.ledger.append(rel, key, "vanished")
                return
            except OSError as exc:
                self._score_error(rel, key, None, f"cannot read the file: {exc}")
                return
            try:
                st = path.stat()
                if (st.st_size, st.st_mtime_ns) != key:
                    log.info("%s changed while it was read; waiting for it to settle again", rel)
                    self._pending[rel] = (st.st_size, st.st_mtime_ns, time.monotonic())
                    return
            except FileNotFoundError:
                log.warning("%s was deleted while it was read; scoring the complete copy taken before", rel)
            sha = _sha256(snap)
            if self.ledger.done_hash(rel, sha):
                log.info("%s: same content as already scored (touched); not scored again", rel)
                self.stats.skipped += 1
                self.ledger.append(rel, key, "duplicate", sha, self._output_name(rel, sha))
                return
            if path.suffix.lower() not in self.suffixes:
                self._score_error(rel, key, sha, f"unsupported file type {path.suffix or '(none)'!r} for a "
                                  f"{self.pipe.kind} model (expected one of {sorted(self.suffixes)})", "unsupported")
                return
            self._score(path, snap, rel, key, sha)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _output_name(self, rel: str, sha: str | None) -> str:
        stem = rel.replace("/", "__")
        return f"{stem}.{(sha or 'nohash')[:12]}.{self.format}"

    def _write(self, rel: str, sha: str | None, records) -> str:
        from anomalib_ae.outputs import write_records

        name = self._output_name(rel, sha)
        write_records(records, self.output / name, format=self.format)  # durable before the ledger line
        return name

    def _score_error(self, rel, key, sha, message: str, status: str = "error") -> None:
        from anomalib_ae.records import ScoreRecord

        rec = ScoreRecord(timestamp=utc_now(), source=str(self.folder / rel), entity=None, row_id=None, item=rel,
                          score=None, p_value=None, probability=None, is_anomaly=None, threshold=self.info.threshold,
                          model=self.info.name, model_digest=self.info.digest, top_features=[], error=message)
        name = self._write(rel, sha, [rec])
        self.ledger.append(rel, key, status, sha, name, records=1, errors=1, anomalies=0)
        self.stats.errors += 1
        self.stats.records += 1
        log.warning("%s: error record written to %s: %s", rel, name, message)

    def _score(self, path: Path, snap: Path, rel: str, key, sha: str) -> None:
        import numpy as np

        from anomalib_ae.records import records_from_result

        try:
            res = self.pipe.score_items(str(snap))
        except Exception as exc:  # noqa: BLE001 - any failure of one file becomes its error record
            self._score_error(rel, key, sha, f"{type(exc).__name__}: {' '.join(str(exc).replace(str(snap), rel).split())}")
            return
        if "path" in res.table.columns:
            res.table["path"] = [str(path) if str(p) == str(snap) else p for p in res.table["path"]]
        explanation = None
        n_flag = int(np.nansum(res.scores > self.pipe.threshold_))
        if self.top_k > 0 and n_flag:
            try:
                explanation = self.pipe.explain(res, top_k=min(n_flag, 50))
            except Exception as exc:  # noqa: BLE001 - scores still count without culprit features
                log.warning("%s: no culprit features for this model (%s: %s); not trying again in this run", rel,
                            type(exc).__name__, exc)
                self.top_k = 0
        recs = records_from_result(res, model_info=self.info, source=str(path), top_k=self.top_k,
                                   explanation=explanation)
        name = self._write(rel, sha, recs)
        n_err = sum(r.error is not None for r in recs)
        self.ledger.append(rel, key, "scored", sha, name, records=len(recs), errors=n_err, anomalies=n_flag)
        self.stats.scored += 1
        self.stats.records += len(recs)
        d = self.drift.update(res.scores)
        drift = ("drift: waiting (%d of %d scores)" % (d.n, self.drift.min_items) if not np.isfinite(d.statistic)
                 else "drift: %s (KS D=%.3f, p=%.3g, low-p share %.3f vs band %.3f, n=%d)"
                 % ("DRIFTED" if d.drifted else "ok", d.statistic, d.p_value, d.low_p_share, d.low_p_band, d.n))
        log.info("%s: %d item(s), %d flagged, %d error(s) -> %s; %s", rel, len(recs), n_flag, n_err, name, drift)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
