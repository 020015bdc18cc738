"""Writing a benchmark's result pair (``<stem>.json`` + ``<stem>.md``), each file atomically."""

from __future__ import annotations

import json
import os
from pathlib import Path


def write_results(stem: Path | str, meta: dict, md: str) -> None:
    """``stem.json`` (``meta``, indented) and ``stem.md`` (``md``); a reader never sees a partial file."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    for path, text in ((stem.with_suffix(".json"), json.dumps(meta, indent=1)), (stem.with_suffix(".md"), md)):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
