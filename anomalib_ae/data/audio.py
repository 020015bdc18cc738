"""Audio clips -> log-mel frame vectors (DCASE Task 2 baseline features).

Pure numpy + soundfile + librosa (no torch).  Defaults follow the DCASE 2020-2023 Task 2
autoencoder baseline: 16 kHz, STFT with ``n_fft=1024`` and ``hop_length=512``, 128 mel
bands, power spectrogram (``power=2``), ``10 * log10(mel + eps)`` and 5 consecutive frames
stacked into one 640-dimensional vector.  A clip of 2 s at 16 kHz gives 63 STFT frames and
so 59 vectors.

Scoring works per frame vector; :func:`aggregate_clip_scores` turns frame scores back
into one score per clip (DCASE uses the mean).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from anomalib_ae.data.errors import FileError, describe_exception

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioBatch",
    "AudioFeaturizer",
    "aggregate_clip_scores",
    "list_audio_files",
    "log_mel",
]

#: File name endings read as audio (case-insensitive).
AUDIO_EXTENSIONS = (".wav", ".flac")


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
    """

    frames: np.ndarray
    clip_index: np.ndarray
    paths: list[str]
    errors: list[FileError] = field(default_factory=list)

    @property
    def n_clips(self) -> int:
        """Number of featurised clips."""
        return len(self.paths)


def list_audio_files(root: str | Path) -> list[Path]:
    """All ``.wav`` / ``.flac`` files under ``root`` (recursively), sorted."""
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def expand_audio_paths(paths: str | Path | Iterable[str | Path]) -> list[str]:
    """Files of ``paths`` (a file, a folder searched recursively, or a list of both) as strings."""
    if isinstance(paths, (str, Path)):
        p = Path(paths)
        if p.is_dir():
            return [str(f) for f in list_audio_files(p)]
        return [str(p)]
    out: list[str] = []
    for p in paths:
        p = Path(p)
        out.extend([str(f) for f in list_audio_files(p)] if p.is_dir() else [str(p)])
    return out


_expand = expand_audio_paths  # the former private name


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

    Notes
    -----
    Multi-channel files are reduced to mono by the **mean of their channels** (MIMII
    users often keep channel 0 instead; do that before if you prefer it).  Clips shorter
    than ``n_context`` STFT frames give no vector and are reported in ``errors``.
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

    _PARAMS = ("sr", "n_mels", "n_fft", "hop_length", "power", "n_context", "eps", "fmin", "fmax")

    @property
    def n_features(self) -> int:
        """Length of one frame vector, ``n_mels * n_context``."""
        return int(self.n_mels) * int(self.n_context)

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
        """Read one file as mono float32 at ``sr`` (resampled with a warning if needed).

        Raises
        ------
        ValueError
            When the file holds no samples.
        Exception
            Whatever soundfile raises for an unreadable file.
        """
        import soundfile as sf

        y, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
        if y.shape[0] == 0:
            raise ValueError("file holds no audio samples")
        y = y.mean(axis=1) if y.shape[1] > 1 else y[:, 0]
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
    def transform_files(self, paths: str | Path | Iterable[str | Path]) -> AudioBatch:
        """Featurise clips.

        Parameters
        ----------
        paths : path or iterable of paths
            Files, or folders searched recursively for ``.wav`` / ``.flac``.

        Returns
        -------
        AudioBatch
            Corrupt, zero-length or too-short files are in ``errors``; the rest are in
            ``frames`` / ``paths``.
        """
        rows: list[np.ndarray] = []
        idx: list[np.ndarray] = []
        ok: list[str] = []
        errors: list[FileError] = []
        for p in expand_audio_paths(paths):
            try:
                y = self.read(p)
                n_stft = 1 + len(y) // int(self.hop_length)  # librosa's centred STFT
                if n_stft < int(self.n_context):
                    errors.append(FileError(p, f"clip too short: {len(y)} samples give {n_stft} STFT "
                                               f"frame(s), fewer than n_context={self.n_context}"))
                    continue
                vec = self.stack_context(self.log_mel_signal(y))
            except Exception as exc:  # noqa: BLE001 - any read failure is recorded, not raised
                errors.append(FileError(p, describe_exception(exc)))
                continue
            idx.append(np.full(len(vec), len(ok), dtype=np.int64))
            rows.append(vec)
            ok.append(p)
        if rows:
            frames = np.concatenate(rows).astype(np.float32, copy=False)
            clip_index = np.concatenate(idx)
        else:
            frames = np.zeros((0, self.n_features), dtype=np.float32)
            clip_index = np.zeros(0, dtype=np.int64)
        return AudioBatch(frames=frames, clip_index=clip_index, paths=ok, errors=errors)

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


def aggregate_clip_scores(
    frame_scores: Sequence[float] | np.ndarray,
    clip_index: Sequence[int] | np.ndarray,
    n_clips: int,
    how: str = "mean",
) -> np.ndarray:
    """One score per clip from frame scores.

    Parameters
    ----------
    frame_scores : array-like of shape (n_frames,)
        Higher = more anomalous.
    clip_index : array-like of int of shape (n_frames,)
        ``AudioBatch.clip_index``.
    n_clips : int
        Number of clips (``AudioBatch.n_clips``).
    how : {"mean", "max", "quantile:q"}, default="mean"
        ``"quantile:0.9"`` takes the 0.9 quantile of each clip's frame scores.

    Returns
    -------
    ndarray of float64 of shape (n_clips,)
        NaN for a clip with no frame.
    """
    s = np.asarray(frame_scores, dtype=np.float64).ravel()
    c = np.asarray(clip_index).ravel()
    if s.shape != c.shape:
        raise ValueError(f"frame_scores has {s.size} values but clip_index has {c.size}")
    if c.size and (c.min() < 0 or c.max() >= n_clips):
        raise ValueError(f"clip_index values must lie in [0, {n_clips}), got [{c.min()}, {c.max()}]")
    c = c.astype(np.int64)
    out = np.full(int(n_clips), np.nan)
    counts = np.bincount(c, minlength=n_clips)
    has = counts > 0
    if how == "mean":
        out[has] = np.bincount(c, weights=s, minlength=n_clips)[has] / counts[has]
    elif how == "max":
        m = np.full(int(n_clips), -np.inf)
        np.maximum.at(m, c, s)
        out[has] = m[has]
    elif how.startswith("quantile:"):
        try:
            q = float(how.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"bad quantile in how={how!r}; use e.g. 'quantile:0.9'") from None
        if not 0.0 <= q <= 1.0 or math.isnan(q):
            raise ValueError(f"quantile must be in [0, 1], got {q}")
        order = np.argsort(c, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        ss = s[order]
        for k in np.flatnonzero(has):
            out[k] = np.quantile(ss[bounds[k]:bounds[k + 1]], q)
    else:
        raise ValueError(f"how must be 'mean', 'max' or 'quantile:q', got {how!r}")
    return out
