"""Audio clips -> log-mel frame vectors (DCASE Task 2 baseline features).

Pure numpy + soundfile + librosa (no torch).  Defaults follow the DCASE 2020-2023 Task 2
autoencoder baseline: 16 kHz, STFT with ``n_fft=1024`` and ``hop_length=512``, 128 mel
bands, power spectrogram (``power=2``), ``10 * log10(mel + eps)`` and 5 consecutive frames
stacked into one 640-dimensional vector.  A clip of 2 s at 16 kHz gives 63 STFT frames and
so 59 vectors.

Scoring works per frame vector; :func:`aggregate_clip_scores` turns frame scores back
into one score per clip (DCASE uses the mean).

Long recordings: with ``clip_seconds`` set, each file is cut into overlapping clips of that
length every ``hop_seconds`` (the last clip ends at the recording's end), and each clip is an
item ``rec.wav#t=12.0-22.0`` with its start and end in seconds: the scores form a timeline.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from anomalib_ae.data.audio_files import AUDIO_EXTENSIONS, Segment, expand_audio_paths, list_audio_files, \
    plan_segments, read_audio
from anomalib_ae.data.audio_scores import aggregate_clip_scores
from anomalib_ae.data.errors import FileError, describe_exception

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioBatch",
    "AudioFeaturizer",
    "aggregate_clip_scores",
    "list_audio_files",
    "log_mel",
]

@dataclass
class AudioBatch:
    """Frame vectors of several clips.

    Attributes
    ----------
    frames : ndarray of float32 of shape (n_frames, n_mels * n_context)
        One row per stacked frame vector, clips one after another.
    clip_index : ndarray of int64 of shape (n_frames,)
        For each row of ``frames``, the position of its clip in ``paths``.
    paths : list of str
        The clips that were featurised (``n_clips = len(paths)``).
    errors : list of FileError
        Clips that could not be read or were too short, with the reason.
    items : list of str
        Every item in input order, featurised or not (``paths`` plus the failed ones).
    segments : list of Segment or None
        With ``clip_seconds``: the :class:`Segment` (start / end seconds) of each of ``items``
        (a file that failed as a whole has ``start = end = NaN``).
    """

    frames: np.ndarray
    clip_index: np.ndarray
    paths: list[str]
    errors: list[FileError] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    segments: list[Segment] | None = None

    def item_errors(self) -> list[str | None]:
        """The error message of each of ``items`` (None where it was featurised)."""
        err = {e.path: e.message for e in self.errors}
        return [err.get(i) for i in self.items]

    def item_table(self):
        """One row per item: ``path`` (the item id) and, for segments, ``file``, ``start_s``, ``end_s``."""
        import pandas as pd

        table = pd.DataFrame({"path": self.items})
        if self.segments is not None:
            table["file"] = [s.path for s in self.segments]
            table["start_s"] = [s.start for s in self.segments]
            table["end_s"] = [s.end for s in self.segments]
        return table

    @property
    def n_clips(self) -> int:
        """Number of featurised clips."""
        return len(self.paths)


_expand = expand_audio_paths  # older name, used by the pipeline


class AudioFeaturizer:
    """Log-mel frame vectors, DCASE Task 2 style.

    Parameters
    ----------
    sr : int, default=16000
        Rate the features are computed at.  Files at another rate are resampled (with
        ``librosa.resample``, soxr high quality) and a warning names the file and both rates.
    n_mels : int, default=128
    n_fft : int, default=1024
    hop_length : int, default=512
    power : float, default=2.0
        Exponent of the magnitude spectrogram (2 = power).
    n_context : int, default=5
        Consecutive frames stacked into one vector of ``n_mels * n_context`` values
        (frame-major: the first ``n_mels`` values are frame t, the next frame t+1 ...).
    eps : float, default=2.220446049250313e-16
        Floor added before the log: ``20 / power * log10(mel + eps)`` (DCASE uses
        ``sys.float_info.epsilon``); with ``power=2`` this is decibels.
    fmin, fmax : float, default 0 and None (= sr / 2)
        Mel filterbank range.
    clip_seconds : float or None, default=None
        ``None``: each file is one clip.  A number: each file is cut into clips of this
        length (see the module notes); a recording shorter than one clip is an error record.
    hop_seconds : float or None, default=None
        Start-to-start distance of the clips; ``None`` = half of ``clip_seconds``.
    channel : int or None, default=None
        Multi-channel files: ``None`` averages the channels, an int keeps that channel
        (0-based; MIMII users often keep channel 0).
    summary : {None, "mean_std"}, default=None
        ``None``: frame vectors with context (DCASE).  ``"mean_std"``: one vector per clip,
        the mean and the standard deviation over time of each log-mel band (``2 * n_mels``
        values: the clip's spectral shape and how much each band fluctuates).  With short
        STFT windows the standard deviation sees amplitude modulation faster than the
        DCASE frames resolve (e.g. a fan's imbalance); ``n_context`` is then unused.

    Notes
    -----
    Clips shorter than ``n_context`` STFT frames (two with ``summary``) give no vector and
    are reported in ``errors``.
    """

    def __init__(
        self,
        sr: int = 16000,
        n_mels: int = 128,
        n_fft: int = 1024,
        hop_length: int = 512,
        power: float = 2.0,
        n_context: int = 5,
        eps: float = 2.220446049250313e-16,
        fmin: float = 0.0,
        fmax: float | None = None,
        clip_seconds: float | None = None,
        hop_seconds: float | None = None,
        channel: int | None = None,
        summary: str | None = None,
    ):
        self.sr = sr
        self.n_mels = n_mels
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.power = power
        self.n_context = n_context
        self.eps = eps
        self.fmin = fmin
        self.fmax = fmax
        self.clip_seconds = clip_seconds
        self.hop_seconds = hop_seconds
        self.channel = channel
        self.summary = summary

    _PARAMS = ("sr", "n_mels", "n_fft", "hop_length", "power", "n_context", "eps", "fmin", "fmax",
               "clip_seconds", "hop_seconds", "channel", "summary")
    _SUMMARIES = (None, "mean_std")

    @property
    def n_features(self) -> int:
        """Length of one vector: ``n_mels * n_context`` frames, ``2 * n_mels`` with ``summary``."""
        return int(self.n_mels) * (2 if self.summary else int(self.n_context))

    @property
    def min_frames(self) -> int:
        """STFT frames a clip needs to give a vector."""
        return 2 if self.summary else int(self.n_context)

    def vectors(self, spec: np.ndarray) -> np.ndarray:
        """A clip's ``(n_mels, T)`` log-mel spectrogram -> its vectors (frames with context, or one summary)."""
        if self.summary is None:
            return self.stack_context(spec)
        return np.concatenate([spec.mean(axis=1), spec.std(axis=1)])[None, :].astype(np.float32, copy=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters."""
        return {"type": "AudioFeaturizer", **{k: getattr(self, k) for k in self._PARAMS}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "AudioFeaturizer":
        """Rebuild from :meth:`to_dict` output (unknown keys are rejected)."""
        kw = {k: v for k, v in d.items() if k != "type"}
        unknown = sorted(set(kw) - set(cls._PARAMS))
        if unknown:
            raise ValueError(f"unknown AudioFeaturizer parameter(s): {unknown}; valid: {list(cls._PARAMS)}")
        return cls(**kw)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._PARAMS)
        return f"AudioFeaturizer({args})"

    # ------------------------------------------------------------------ io
    def read(self, path: str | Path) -> np.ndarray:
        """Read one file (or one ``#t=a-b`` segment of it) as mono float32 at ``sr``.

        Resampled with a warning if the file's rate differs; ``channel`` picks a channel.

        Raises
        ------
        FileNotFoundError, ValueError
            Missing file, dangling link, empty or truncated file, missing channel.
        Exception
            Whatever soundfile raises for an unreadable file.
        """
        y, file_sr = read_audio(str(path), self.channel)
        if int(file_sr) != int(self.sr):
            import librosa

            warnings.warn(
                f"{str(path)!r}: sample rate {int(file_sr)} Hz differs from the configured "
                f"{int(self.sr)} Hz; resampled to {int(self.sr)} Hz",
                UserWarning,
                stacklevel=3,
            )
            y = librosa.resample(y, orig_sr=int(file_sr), target_sr=int(self.sr), res_type="soxr_hq")
        return np.ascontiguousarray(y, dtype=np.float32)

    def log_mel_signal(self, y: np.ndarray) -> np.ndarray:
        """Log-mel spectrogram of a mono signal at ``sr``: float32 ``(n_mels, n_stft_frames)``."""
        import librosa

        mel = librosa.feature.melspectrogram(
            y=np.asarray(y, dtype=np.float32), sr=self.sr, n_fft=self.n_fft, hop_length=self.hop_length,
            n_mels=self.n_mels, power=self.power, fmin=self.fmin, fmax=self.fmax,
        )
        return (20.0 / self.power * np.log10(mel + self.eps)).astype(np.float32)

    def stack_context(self, spec: np.ndarray) -> np.ndarray:
        """``(n_mels, T)`` -> ``(T - n_context + 1, n_mels * n_context)`` float32 vectors.

        Vector ``k`` holds STFT frames ``k .. k + n_context - 1``.
        """
        c = int(self.n_context)
        n = spec.shape[1] - c + 1
        if n < 1:
            return np.zeros((0, spec.shape[0] * c), dtype=np.float32)
        return np.concatenate([spec[:, t:t + n].T for t in range(c)], axis=1).astype(np.float32, copy=False)

    # ----------------------------------------------------------- transform
    def _clips(self, p: str) -> list[tuple[Segment | None, np.ndarray]]:
        """One file (or item id) -> its clips: the whole signal, or its segments."""
        y = self.read(p)
        if self.clip_seconds is None:
            return [(None, y)]
        clip = float(self.clip_seconds)
        hop = float(self.hop_seconds) if self.hop_seconds is not None else clip / 2.0
        if "#t=" in p:  # already one segment
            a, b = (float(v) for v in p.rsplit("#t=", 1)[1].split("-", 1))
            return [(Segment(p, p.rsplit("#", 1)[0], a, b), y)]
        sr = int(self.sr)
        return [(seg, y[int(round(seg.start * sr)):int(round(seg.start * sr)) + int(round(clip * sr))])
                for seg in plan_segments(p, len(y), sr, clip, hop)]

    def transform_files(self, paths: str | Path | Iterable[str | Path]) -> AudioBatch:
        """Featurise clips.

        Parameters
        ----------
        paths : path or iterable of paths
            Files (or item ids), or folders searched recursively for audio files.

        Returns
        -------
        AudioBatch
            Corrupt, zero-length, truncated or too-short files are in ``errors``; the rest
            are in ``frames`` / ``paths``.  With ``clip_seconds``, one item per segment.
        """
        if self.clip_seconds is not None and not float(self.clip_seconds) > 0:
            raise ValueError(f"clip_seconds must be > 0, got {self.clip_seconds!r}")
        if self.clip_seconds is None and self.hop_seconds is not None:
            raise ValueError("hop_seconds needs clip_seconds (the length of the clips a recording is cut into)")
        if self.hop_seconds is not None and not float(self.hop_seconds) > 0:
            raise ValueError(f"hop_seconds must be > 0, got {self.hop_seconds!r}")
        if self.summary not in self._SUMMARIES:
            raise ValueError(f"summary must be one of {list(self._SUMMARIES)}, got {self.summary!r}")
        rows: list[np.ndarray] = []
        idx: list[np.ndarray] = []
        ok: list[str] = []
        every: list[str] = []
        segs: list[Segment] = []
        errors: list[FileError] = []
        for p in expand_audio_paths(paths):
            try:
                clips = self._clips(p)
            except Exception as exc:  # noqa: BLE001 - any read failure is recorded, not raised
                errors.append(FileError(p, describe_exception(exc)))
                every.append(p)
                segs.append(Segment(p, p, float("nan"), float("nan")))
                continue
            for seg, y in clips:
                item = p if seg is None else seg.item
                every.append(item)
                segs.append(seg or Segment(p, p, 0.0, len(y) / float(self.sr)))
                n_stft = 1 + len(y) // int(self.hop_length)  # librosa's centred STFT
                if n_stft < self.min_frames:
                    need = "2 (summary)" if self.summary else f"n_context={self.n_context}"
                    errors.append(FileError(item, f"clip too short: {len(y)} samples give {n_stft} STFT "
                                                  f"frame(s), fewer than {need}"))
                    continue
                try:
                    vec = self.vectors(self.log_mel_signal(y))
                except Exception as exc:  # noqa: BLE001
                    errors.append(FileError(item, describe_exception(exc)))
                    continue
                idx.append(np.full(len(vec), len(ok), dtype=np.int64))
                rows.append(vec)
                ok.append(item)
        if rows:
            frames = np.concatenate(rows).astype(np.float32, copy=False)
            clip_index = np.concatenate(idx)
        else:
            frames = np.zeros((0, self.n_features), dtype=np.float32)
            clip_index = np.zeros(0, dtype=np.int64)
        return AudioBatch(frames=frames, clip_index=clip_index, paths=ok, errors=errors, items=every,
                          segments=segs if self.clip_seconds is not None else None)

    def log_mel(self, paths: str | Path | Iterable[str | Path]) -> list[np.ndarray | None]:
        """Per-clip log-mel spectrograms ``(n_mels, n_stft_frames)``, for explanation plots.

        Returns
        -------
        list
            One entry per file (folders expanded), in order; ``None`` for a file that
            could not be read (a warning names it).
        """
        out: list[np.ndarray | None] = []
        for p in expand_audio_paths(paths):
            try:
                out.append(self.log_mel_signal(self.read(p)))
            except Exception as exc:  # noqa: BLE001
                warnings.warn(f"{p!r} skipped: {describe_exception(exc)}", UserWarning, stacklevel=2)
                out.append(None)
        return out


def log_mel(
    paths: str | Path | Iterable[str | Path], featurizer: AudioFeaturizer | None = None
) -> list[np.ndarray | None]:
    """Log-mel spectrograms of clips with ``featurizer`` (default DCASE settings).

    See :meth:`AudioFeaturizer.log_mel`.
    """
    return (featurizer or AudioFeaturizer()).log_mel(paths)
