"""Audio adapter on the shipped MIMII fan clips."""

import json
import warnings

import numpy as np
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from anomalib_ae.data import AudioFeaturizer, FileError, aggregate_clip_scores, log_mel  # noqa: E402
from anomalib_ae.datasets import load_mimii_sample, mimii_sample_dir  # noqa: E402


@pytest.fixture(scope="module")
def sample():
    return load_mimii_sample()


def test_dcase_frames_on_shipped_clips(sample):
    paths = sample["paths"][:4]
    b = AudioFeaturizer().transform_files(paths)
    # 2 s at 16 kHz, hop 512, centred: 63 STFT frames -> 59 vectors of 5 x 128
    assert b.frames.shape == (4 * 59, 640) and b.frames.dtype == np.float32
    assert np.isfinite(b.frames).all()
    assert b.clip_index.tolist() == sorted(b.clip_index.tolist())
    assert np.bincount(b.clip_index).tolist() == [59] * 4
    assert b.paths == paths and b.errors == []
    # frame-major stacking: vector k, block 1 == vector k + 1, block 0
    np.testing.assert_array_equal(b.frames[0, 128:256], b.frames[1, :128])


def test_clip_summary_is_band_mean_and_std(sample, tmp_path):
    paths = sample["paths"][:3]
    f = AudioFeaturizer(n_fft=256, hop_length=128, n_mels=64, summary="mean_std")
    b = f.transform_files(paths)
    assert b.frames.shape == (3, 128) and f.n_features == 128
    assert b.clip_index.tolist() == [0, 1, 2]
    spec = f.log_mel(paths[1:2])[0]  # (64, 251)
    np.testing.assert_allclose(b.frames[1, :64], spec.mean(axis=1), rtol=1e-6)
    np.testing.assert_allclose(b.frames[1, 64:], spec.std(axis=1), rtol=1e-5)
    # survives the model-file dictionary; an unknown summary and a one-frame clip are errors naming them
    assert AudioFeaturizer.from_dict(json.loads(json.dumps(f.to_dict()))).summary == "mean_std"
    with pytest.raises(ValueError, match="summary must be one of"):
        AudioFeaturizer(summary="median").transform_files(paths[:1])
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(100, np.float32), 16000)  # one STFT frame at hop 128: no std
    e = f.transform_files([short]).errors
    assert len(e) == 1 and "fewer than 2 (summary)" in e[0].message


def test_folder_input_and_labels(sample):
    b = AudioFeaturizer(n_mels=32, n_context=2).transform_files(mimii_sample_dir())
    assert b.n_clips == 40 and b.frames.shape[1] == 64
    assert len(set(sample["groups"])) == 11 and int(sample["labels"].sum()) == 10


def test_corrupt_zero_length_and_resampled(tmp_path, sample):
    x, sr = sf.read(sample["paths"][0], dtype="float32")
    assert sr == 16000
    good = tmp_path / "good.wav"
    sf.write(good, x, sr)
    low = tmp_path / "low_8k.wav"
    sf.write(low, x[::2], 8000)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    no_samples = tmp_path / "no_samples.wav"
    sf.write(no_samples, np.zeros(0, np.float32), 16000)
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF" + bytes(range(256)) * 4)
    stereo = tmp_path / "stereo.flac"
    sf.write(stereo, np.stack([x, x], axis=1), sr)
    paths = [good, empty, low, no_samples, garbage, stereo]
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        b = AudioFeaturizer().transform_files(paths)
    msgs = [str(w.message) for w in rec]
    assert any("low_8k.wav" in m and "8000" in m and "16000" in m for m in msgs)
    assert b.paths == [str(good), str(low), str(stereo)]
    assert sorted(e.path for e in b.errors) == sorted(map(str, [empty, no_samples, garbage]))
    assert all(isinstance(e, FileError) and e.message for e in b.errors)
    per_clip = np.bincount(b.clip_index)
    assert per_clip.tolist() == [59, 59, 59]
    # stereo of two equal channels == mono
    np.testing.assert_allclose(b.frames[b.clip_index == 2], b.frames[b.clip_index == 0], atol=1e-4)


def test_too_short_clip_is_an_error(tmp_path):
    p = tmp_path / "short.wav"
    sf.write(p, np.zeros(600, np.float32), 16000)  # 2 STFT frames < 5
    b = AudioFeaturizer().transform_files([p])
    assert b.n_clips == 0 and b.frames.shape == (0, 640)
    assert "too short" in b.errors[0].message


def test_log_mel_and_roundtrip(sample):
    f = AudioFeaturizer(n_mels=64)
    f2 = AudioFeaturizer.from_dict(json.loads(json.dumps(f.to_dict())))
    specs = log_mel(sample["paths"][:2], f2)
    assert [s.shape for s in specs] == [(64, 63), (64, 63)]
    np.testing.assert_array_equal(specs[0], f.log_mel(sample["paths"][:1])[0])
    with pytest.raises(ValueError, match="unknown"):
        AudioFeaturizer.from_dict({"n_melz": 3})


def test_aggregate_clip_scores():
    s = np.array([1.0, 3.0, 10.0, 0.0, 2.0, 4.0])
    c = np.array([0, 0, 2, 2, 2, 2])
    np.testing.assert_allclose(aggregate_clip_scores(s, c, 3, "mean"), [2.0, np.nan, 4.0])
    np.testing.assert_allclose(aggregate_clip_scores(s, c, 3, "max"), [3.0, np.nan, 10.0])
    np.testing.assert_allclose(aggregate_clip_scores(s, c, 3, "quantile:0.5"), [2.0, np.nan, 3.0])
    with pytest.raises(ValueError):
        aggregate_clip_scores(s, c, 3, "median")
    with pytest.raises(ValueError):
        aggregate_clip_scores(s, c, 2)
