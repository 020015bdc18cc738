"""The append-only ledger of ``anomalib-ae watch``: which file versions were handled, durably.

One JSON line per handled file: ``path`` (relative to the watched folder), ``size``,
``mtime_ns``, ``sha256``, ``status`` (``scored``, ``error``, ``unsupported``, ``duplicate``,
``vanished``), ``output`` (the records file), counts and ``time``. Each line is written with
one ``write`` and fsynced before the watcher moves on; a line torn by a crash is cut off when
the ledger is opened again.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("anomalib_ae.watch")

__all__ = ["DONE", "LEDGER_NAME", "Ledger", "read_ledger", "utc_now"]

LEDGER_NAME = "ledger.jsonl"
#: Statuses that mean "this file version is handled; never again".
DONE = frozenset({"scored", "error", "unsupported", "duplicate"})


def utc_now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def read_ledger(path: str | os.PathLike, repair: bool = False) -> list[dict]:
    """Entries of a ledger file; a last line torn by a crash is skipped (and cut off with ``repair``)."""
    path = Path(path)
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):
        log.warning("ledger %s: dropping a torn last line (%d bytes) left by an interrupted run", path, len(data) - end)
        if repair:
            os.truncate(path, end)
    out = []
    for i, line in enumerate(data[:end].decode("utf-8", errors="replace").splitlines(), start=1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("ledger %s line %d is not JSON; ignored", path, i)
    return out


class Ledger:
    """The ledger file plus in-memory indexes of the handled (path, size, mtime) and (path, sha256)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        entries = read_ledger(self.path, repair=True)
        done = [e for e in entries if e.get("status") in DONE and "path" in e]
        self._stat = {(e["path"], e.get("size"), e.get("mtime_ns")) for e in done}
        self._hash = {(e["path"], e["sha256"]) for e in done if e.get("sha256")}

    def __len__(self) -> int:
        return len(self._hash)

    def done_stat(self, rel: str, size: int, mtime_ns: int) -> bool:
        return (rel, size, mtime_ns) in self._stat

    def done_hash(self, rel: str, sha: str) -> bool:
        return (rel, sha) in self._hash

    def append(self, rel: str, key: tuple[int, int], status: str, sha: str | None = None, output: str | None = None,
               **counts) -> None:
        """Append one fsynced line (call only once the output it names is durable)."""
        from anomalib_ae.outputs import append_jsonl

        append_jsonl(self.path, [{"path": rel, "size": key[0], "mtime_ns": key[1], "sha256": sha, "status": status,
                                  "output": output, **counts, "time": utc_now()}])
        if status in DONE:
            self._stat.add((rel, *key))
            if sha:
                self._hash.add((rel, sha))
