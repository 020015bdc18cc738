"""Item ids: one file may hold several scored items (DICOM frames, NIfTI slices, audio segments).

An item id is the file path, plus a fragment after ``#`` when the file expands to several
items::

    scan.dcm                      a single-frame DICOM, a PNG, a whole audio clip
    cine.dcm#frame=3              frame 3 (0-based) of a multi-frame DICOM
    vol.nii.gz#axis=2,slice=40    slice 40 along axis 2 of a 3-D NIfTI volume
    bold.nii.gz#t=1,axis=2,slice=4   slice 4 of the second volume of a 4-D NIfTI file
    vol.nii.gz#patch=0:16;16:32;8:24 a 3-D patch (start:stop along each axis)
    rec.wav#t=12.0-22.0           the segment from 12.0 s to 22.0 s of a long recording

Ids round-trip: :func:`parse_item_id` splits an id back into the path and its fields, so a
reader given an item id (e.g. an explanation of one slice) reads just that item.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["format_item_id", "parse_item_id"]

_FRAGMENT = re.compile(r"^[a-z]+=[^,#=]+(,[a-z]+=[^,#=]+)*$")


def format_item_id(path: str, **fields) -> str:
    """``format_item_id("a.dcm", frame=3)`` -> ``"a.dcm#frame=3"`` (fields in the order given)."""
    if not fields:
        return str(path)
    return f"{path}#" + ",".join(f"{k}={v}" for k, v in fields.items())


def parse_item_id(item: str) -> tuple[str, dict[str, str]]:
    """``"a.dcm#frame=3"`` -> ``("a.dcm", {"frame": "3"})``; a plain path -> ``(path, {})``.

    A ``#`` that is part of an existing file's name, or not followed by ``key=value`` pairs,
    is kept in the path.
    """
    item = str(item)
    if "#" not in item or Path(item).exists():
        return item, {}
    path, frag = item.rsplit("#", 1)
    if not _FRAGMENT.match(frag):
        return item, {}
    return path, dict(kv.split("=", 1) for kv in frag.split(","))
