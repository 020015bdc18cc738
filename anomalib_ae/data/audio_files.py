"""Audio files: which files are read, reading one (a channel or the mean), cutting long
recordings into overlapping segments.

Any format libsndfile reads through ``soundfile`` (WAV, FLAC, OGG/Vorbis, AIFF, and MP3
with libsndfile >= 1.1).  A segment of a file is the item ``rec.wav#t=12.0-22.0`` (start
and end in seconds, :mod:`anomalib_ae.data.items`).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from anomalib_ae.data.items import format_item_id, parse_item_id

__all__ = ["AUDIO_EXTENSIONS", "Segment", "expand_audio_paths", "list_audio_files", "plan_segments", "read_audio"]

#: File name endings read as audio (case-insensitive).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".mp3")


@dataclass(frozen=True)
class Segment:
    """One scored piece of a recording: ``item`` id, ``path`` of the file, ``start`` / ``end`` seconds."""

    item: str
    path: str
    start: float
    end: float


def list_audio_files(root: str | Path) -> list[Path]:
    """Audio files under ``root`` (recursively, sorted); dangling links are listed (they get an error record)."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS
                  and (p.is_file() or (p.is_symlink() and not p.exists())))


def expand_audio_paths(paths: str | Path | Iterable[str | Path]) -> list[str]:
    """Files and folders (searched recursively) -> file paths / item ids, in order."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        p = Path(p)
        out.extend([str(f) for f in list_audio_files(p)] if p.is_dir() else [str(p)])
    return out


def _check_wav(path: str) -> None:
    """Raise for a RIFF/WAVE file whose data chunk is cut short (libsndfile reads it silently)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        size = Path(path).stat().st_size
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            cid, n = struct.unpack("<4sI", fh.read(8))
            if cid == b"data":
                if n not in (0, 0xFFFFFFFF) and pos + 8 + n > size:
                    raise ValueError(f"truncated WAV: the data chunk declares {n} bytes but the file holds "
                                     f"{size - pos - 8}")
                return
            pos += 8 + n + (n & 1)


def read_audio(item: str, channel: int | None = None) -> tuple[np.ndarray, int]:
    """A file or item id -> mono float32 samples and the file's sample rate.

    ``channel=None`` averages the channels, an int picks one (0-based).  An item id with
    ``#t=a-b`` reads that segment only.

    Raises
    ------
    FileNotFoundError
        Missing file or dangling link.
    ValueError
        Empty or truncated file, a channel the file does not have.
    Exception
        Whatever soundfile raises for a file it cannot decode.
    """
    import soundfile as sf

    path, fields = parse_item_id(item)
    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise FileNotFoundError(f"dangling symbolic link (target {str(p.readlink())!r} does not exist)")
    if not p.exists():
        raise FileNotFoundError("file not found")
    if p.stat().st_size == 0:
        raise ValueError("empty file (0 bytes)")
    _check_wav(path)
    with sf.SoundFile(path) as f:
        sr = int(f.samplerate)
        start = stop = None
        if "t" in fields:
            a, b = (float(v) for v in fields["t"].split("-", 1))
            start, stop = int(round(a * sr)), int(round(b * sr))
            f.seek(start)
        y = f.read(frames=-1 if stop is None else stop - start, dtype="float32", always_2d=True)
    if y.shape[0] == 0:
        raise ValueError("file holds no audio samples")
    if channel is None:
        y = y.mean(axis=1) if y.shape[1] > 1 else y[:, 0]
    else:
        if not 0 <= int(channel) < y.shape[1]:
            raise ValueError(f"channel={channel} but the file has {y.shape[1]} channel(s)")
        y = y[:, int(channel)]
    return np.ascontiguousarray(y, dtype=np.float32), sr


def plan_segments(path: str, n_samples: int, sr: int, clip_seconds: float, hop_seconds: float) -> list[Segment]:
    """Overlapping segments of ``clip_seconds`` every ``hop_seconds``; the last one ends at the recording's end.

    Raises
    ------
    ValueError
        When the recording is shorter than one clip.
    """
    duration = n_samples / float(sr)
    clip = int(round(clip_seconds * sr))
    hop = max(1, int(round(hop_seconds * sr)))
    if n_samples < clip:
        raise ValueError(f"recording too short: {duration:.3f} s, shorter than clip_seconds={clip_seconds:g}")
    starts = list(range(0, n_samples - clip + 1, hop))
    if starts[-1] + clip < n_samples:
        starts.append(n_samples - clip)
    out = []
    for s in starts:
        a, b = s / sr, (s + clip) / sr
        out.append(Segment(format_item_id(path, t=f"{_sec(a)}-{_sec(b)}"), path, a, b))
    return out


def _sec(x: float) -> str:
    """Seconds with up to 3 decimals and at least one: 12.0, 12.5, 12.125."""
    s = f"{x:.3f}".rstrip("0")
    return s + "0" if s.endswith(".") else s
