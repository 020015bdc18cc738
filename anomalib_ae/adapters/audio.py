"""Audio clips (wav / flac files or folders): the detector scores frame vectors, one score per clip."""

from __future__ import annotations

from typing import Any

import numpy as np

from anomalib_ae.adapters.base import Adapter, Features
from anomalib_ae.explain.attributions import feature_contributions, spectrogram_error_map
from anomalib_ae.explain.types import Explanation

__all__ = ["AudioAdapter"]

#: Parameters handed to :class:`~anomalib_ae.data.AudioFeaturizer`.
FEATURIZER_PARAMS = ("sr", "n_mels", "n_fft", "hop_length", "power", "n_context", "eps", "fmin", "fmax",
                     "clip_seconds", "hop_seconds", "channel", "summary")


class AudioAdapter(Adapter):
    """Clips -> log-mel frame vectors with context (:class:`~anomalib_ae.data.AudioFeaturizer`).

    Parameters
    ----------
    sr, n_mels, n_fft, hop_length, power, n_context, eps, fmin, fmax
        As :class:`~anomalib_ae.data.AudioFeaturizer` (DCASE baseline defaults).
    summary : {None, "mean_std"}, default=None
        ``"mean_std"``: one vector per clip (each band's mean and standard deviation over
        time) instead of frame vectors; see :class:`~anomalib_ae.data.AudioFeaturizer`.
    clip_seconds, hop_seconds, channel
        Long recordings cut into overlapping clips (items ``rec.wav#t=12.0-22.0`` with
        ``file``, ``start_s``, ``end_s`` columns), and the channel of multi-channel files.
    clip_aggregate : str, default="mean"
        Frame scores -> clip score: ``"mean"`` (DCASE), ``"max"`` or ``"quantile:q"``.
    """

    kind = "audio"
    calibrate_on_items = True

    def __init__(self, sr=16000, n_mels=128, n_fft=1024, hop_length=512, power=2.0, n_context=5,
                 eps=2.220446049250313e-16, fmin=0.0, fmax=None, clip_seconds=None, hop_seconds=None, channel=None,
                 clip_aggregate="mean", summary=None):
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
        self.clip_aggregate = clip_aggregate
        self.summary = summary

    def fit_transform(self, data, y=None) -> Features:
        from anomalib_ae.data import AudioFeaturizer

        self.reader_ = AudioFeaturizer(**{k: getattr(self, k) for k in FEATURIZER_PARAMS})
        return self.transform(data)

    def transform(self, data) -> Features:
        from anomalib_ae.data.audio import expand_audio_paths

        paths = expand_audio_paths(data)
        if not paths:
            raise ValueError(f"no audio file (wav, flac, ogg, aiff, mp3) found in {str(data)!r}")
        batch = self.reader_.transform_files(paths)  # with clip_seconds, one item per segment
        errors = batch.item_errors()
        return Features(X=batch.frames, items=batch.item_table(),
                        valid=np.array([e is None for e in errors], dtype=bool), errors=errors, paths=batch.items,
                        clip_index=batch.clip_index, n_clips=batch.n_clips)

    def item_scores(self, raw: np.ndarray, features: Features) -> np.ndarray:
        from anomalib_ae.data import aggregate_clip_scores

        per_clip = aggregate_clip_scores(raw, features.clip_index, features.n_clips, self.clip_aggregate)
        return super().item_scores(per_clip, features)

    def explain(self, detector, result, top, reference, attribute=None, method=None) -> Explanation:
        f, r = result.details, self.reader_
        n_mels, n_context = int(r.n_mels), int(r.n_context)
        pos = f.x_rows
        maps, mels, contribs, method = [], [], [], ""
        for i in top:
            c, method = feature_contributions(detector, f.X[f.clip_index == pos[i]], reference, attribute)
            mel = r.log_mel([result.table["path"].iloc[i]])[0]
            if r.summary:  # one vector per clip: a band's mean and std parts, no time axis
                band = c[0, :n_mels] + c[0, n_mels:]
                m = np.repeat(band[:, None], 1 if mel is None else mel.shape[1], axis=1)
            else:
                m = spectrogram_error_map(c, n_mels, n_context)
            maps.append(m)
            contribs.append(m.mean(axis=1))
            mels.append(mel)
        return Explanation(method=method, feature_names=[f"mel{j:03d}" for j in range(n_mels)], top=list(top),
                           item_ids=self._item_ids(result, top), scores=result.scores[top],
                           contributions=np.array(contribs).reshape(len(top), n_mels), attributions=maps,
                           kind=self.kind, log_mels=mels, result=result)

    def figure_options(self) -> dict[str, Any]:
        """Seconds per STFT frame of the fitted featurizer (time axis of the maps); a clip summary's map
        is per band only, and its title says so."""
        opts: dict[str, Any] = {"hop_seconds": float(self.reader_.hop_length) / float(self.reader_.sr)}
        if self.reader_.summary:
            opts["error_title"] = "contribution per mel band (one vector per clip: no time axis)"
        return opts

    def to_dict(self) -> dict[str, Any]:
        return self.reader_.to_dict()

    @classmethod
    def from_dict(cls, d: dict[str, Any], **params) -> "AudioAdapter":
        from anomalib_ae.data import AudioFeaturizer

        a = cls(**params)
        a.reader_ = AudioFeaturizer.from_dict(d)
        return a
