"""Writing benchmark results atomically: one text file, or a result pair (``<stem>.json`` + ``<stem>.md``)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def atomic_write(path: Path | str, text: str) -> None:
    """Write ``text`` to ``path`` through a uniquely named temporary file: a reader never sees a partial file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_results(stem: Path | str, meta: dict, md: str) -> None:
    """``stem.json`` (``meta``, indented) and ``stem.md`` (``md``), each written atomically."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(stem.with_suffix(".json"), json.dumps(meta, indent=1))
    atomic_write(stem.with_suffix(".md"), md)
