"""Long recordings cut into overlapping timed clips, channels, ogg and broken files,
on shipped MIMII fan clips concatenated into one recording here."""

import numpy as np
import pandas as pd
import pytest

sf = pytest.importorskip("soundfile")
pytest.importorskip("librosa")

from anomalib_ae.data import AudioFeaturizer  # noqa: E402
from anomalib_ae.data.audio_files import list_audio_files, plan_segments  # noqa: E402
from anomalib_ae.datasets import load_mimii_sample  # noqa: E402
from anomalib_ae.pipeline import Pipeline  # noqa: E402


@pytest.fixture(scope="module")
def clips():
    s = load_mimii_sample()
    normal = [p for p, y in zip(s["paths"], s["labels"]) if y == 0]
    anomalous = [p for p, y in zip(s["paths"], s["labels"]) if y == 1]
    return normal, anomalous


def concat(paths, out):
    ys = [sf.read(p, dtype="float32")[0] for p in paths]
    sf.write(out, np.concatenate(ys), 16000)
    return str(out)


def test_plan_segments_cover_the_recording():
    segs = plan_segments("r.wav", 16000 * 7, 16000, 2.0, 1.5)
    assert [s.start for s in segs] == [0.0, 1.5, 3.0, 4.5, 5.0]  # last one ends at 7.0 s
    assert segs[1].item == "r.wav#t=1.5-3.5" and segs[-1].end == 7.0
    with pytest.raises(ValueError, match="too short"):
        plan_segments("r.wav", 16000, 16000, 2.0, 1.0)


def test_long_recording_timeline(tmp_path, clips):
    normal, _ = clips
    rec = concat(normal[:5], tmp_path / "long.wav")  # 5 x 2 s = 10 s
    f = AudioFeaturizer(clip_seconds=2.0, hop_seconds=1.0)
    b = f.transform_files([rec])
    assert b.items == [f"{rec}#t={a:.1f}-{a + 2:.1f}" for a in range(9)]
    t = b.item_table()
    assert t["start_s"].tolist() == list(map(float, range(9))) and (t["end_s"] - t["start_s"] == 2.0).all()
    assert (t["file"] == rec).all() and b.n_clips == 9
    # the clip at 2.0-4.0 s is exactly the second shipped clip
    whole = AudioFeaturizer().transform_files([normal[1]])
    np.testing.assert_allclose(b.frames[b.clip_index == 2], whole.frames, atol=1e-4)
    # an item id reads just that segment
    one = f.transform_files([b.items[2]])
    np.testing.assert_allclose(one.frames, whole.frames, atol=1e-4)


def test_short_recording_and_broken_files_are_error_records(tmp_path, clips):
    normal, _ = clips
    rec = concat(normal[:3], tmp_path / "six_s.wav")
    short = concat(normal[:1], tmp_path / "two_s.wav")
    full = (tmp_path / "six_s.wav").read_bytes()
    (tmp_path / "truncated.wav").write_bytes(full[: len(full) // 2])
    (tmp_path / "header.wav").write_bytes(full[:30])
    (tmp_path / "zero.wav").write_bytes(b"")
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "nowhere.wav")
    files = list_audio_files(tmp_path)
    assert len(files) == 6
    b = AudioFeaturizer(clip_seconds=4.0, hop_seconds=2.0).transform_files(files)
    rows = dict(zip(b.items, b.item_errors()))
    assert rows[f"{rec}#t=0.0-4.0"] is None and rows[f"{rec}#t=2.0-6.0"] is None
    assert "too short" in rows[short] and "clip_seconds=4" in rows[short]
    assert "truncated" in rows[str(tmp_path / "truncated.wav")]
    assert rows[str(tmp_path / "header.wav")]
    assert "empty" in rows[str(tmp_path / "zero.wav")]
    assert "dangling" in rows[str(tmp_path / "dangling.wav")]
    assert len(rows) == 7


def test_channels_and_ogg(tmp_path, clips):
    normal, _ = clips
    x = sf.read(normal[0], dtype="float32")[0]
    stereo = tmp_path / "st.flac"
    sf.write(stereo, np.stack([x, 0.25 * x], axis=1), 16000)
    ch0 = AudioFeaturizer(channel=0).transform_files([stereo])
    mono = AudioFeaturizer().transform_files([normal[0]])
    np.testing.assert_allclose(ch0.frames, mono.frames, atol=1e-4)
    ch1 = AudioFeaturizer(channel=1).transform_files([stereo])
    assert abs(float((ch1.frames - mono.frames).mean()) - 20 * np.log10(0.25)) < 0.1  # -12 dB
    bad = AudioFeaturizer(channel=2).transform_files([stereo])
    assert "2 channel" in bad.errors[0].message
    ogg = tmp_path / "clip.ogg"
    sf.write(ogg, x, 16000, format="OGG", subtype="VORBIS")
    assert list_audio_files(tmp_path) == sorted([ogg, stereo])
    o = AudioFeaturizer().transform_files([ogg])
    assert o.errors == [] and o.frames.shape == mono.frames.shape
    assert np.corrcoef(o.frames.ravel(), mono.frames.ravel())[0, 1] > 0.95  # lossy, close


def test_pipeline_scores_a_timeline(tmp_path, clips):
    normal, anomalous = clips
    train = tmp_path / "train"
    train.mkdir()
    concat(normal[:10], train / "normal_20s.wav")
    rec = concat(normal[10:13] + anomalous[:2], tmp_path / "mixed.wav")  # anomalies in 6-10 s
    pipe = Pipeline("pyod.pca", kind="audio", adapter_params={"n_mels": 32, "clip_seconds": 2.0, "hop_seconds": 2.0})
    pipe.fit(train)
    t = pipe.score_items(rec).table
    assert list(t.columns[:4]) == ["path", "file", "start_s", "end_s"] and len(t) == 5
    assert t["error"].isna().all()
    assert t["score"].iloc[3:].mean() > t["score"].iloc[:3].mean()
    p = tmp_path / "m.pt"
    pipe.save(p)
    import anomalib_ae

    t2 = anomalib_ae.load(p).score_items(rec).table
    pd.testing.assert_frame_equal(t, t2)


def test_bad_segment_parameters_are_refused(tmp_path, clips):
    normal, _ = clips
    for kw, msg in (({"hop_seconds": 1.0}, "needs clip_seconds"), ({"clip_seconds": 0}, "clip_seconds must be"),
                    ({"clip_seconds": 2.0, "hop_seconds": -1}, "hop_seconds must be")):
        with pytest.raises(ValueError, match=msg):
            AudioFeaturizer(**kw).transform_files(normal[:1])
