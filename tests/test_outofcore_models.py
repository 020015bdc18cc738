"""Out-of-core training of the deep detectors with steps of their own (deepsvdd, deepsad, cvad,
riad, sage, winae): from a ``.npy`` path or a memory map they give the in-memory model bit for
bit (weights, every fitted statistic, scores), labels stay in memory, and a detector that
overrides a training step without streaming it says so.
"""

import tracemalloc

import numpy as np
import pytest
import torch

import anomalib_ae
from anomalib_ae.models.ae.detector import AutoEncoder
from memmap_data import write_gaussian_npy

KW = dict(epochs=2, random_state=0, verbose=0)
SMALL = {
    "deepsvdd": {},
    "deepsvdd-soft": dict(objective="soft-boundary"),
    "cvad": dict(disc_epochs=1),
    "riad": dict(hidden_dims=(4, 8), cell_sizes=(2,), train_crop=None),
    "sage": {},
    "winae": dict(metric_norm="train"),
    "goad": dict(hidden_dims=(8,)),  # random maps drawn at build time, a buffer of the module
}
FITTED = ("mean_", "scale_", "decision_scores_", "calibration_scores_", "threshold_", "train_mean_",
          "train_scale_", "train_median_", "residual_scale_", "residual_q99_")
OWN = {  # what each detector's own passes fit, beside the weights
    "deepsvdd": ("n_pretrain_epochs_",), "cvad": ("n_disc_epochs_", "recon_kl_scale_", "disc_scale_"),
    "riad": ("data_range_", "map_mean_", "map_scale_"), "sage": ("train_latents_", "signal_calibration_"),
    "deepsad": ("n_pretrain_epochs_",),
}


def _make(key, **kw):
    name = key.split("-")[0]
    return anomalib_ae.create(name, **dict(KW, **SMALL.get(key, {}), **kw))


def _data(n=400, d=6, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * rng.uniform(0.5, 5, d) + rng.uniform(-10, 50, d)).astype(np.float32)


def _same(a, b, X_test):
    assert a.n_epochs_ == b.n_epochs_
    for name in FITTED + OWN.get(a._registered_name, ()):
        va, vb = getattr(a, name), getattr(b, name)
        assert (va is None and vb is None) or np.array_equal(va, vb), name
    sa, sb = a.module_.state_dict(), b.module_.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)  # centre c, R, metric_scale, ...
    assert np.array_equal(a.score(X_test), b.score(X_test))


@pytest.mark.parametrize("key", list(SMALL))
def test_npy_and_memmap_fit_equal_in_memory(tmp_path, key):
    X = _data()
    np.save(tmp_path / "x.npy", X)
    a = _make(key).fit(X)
    b = _make(key).fit(str(tmp_path / "x.npy"))
    c = _make(key).fit(np.load(tmp_path / "x.npy", mmap_mode="r"))
    X_test = _data(60, seed=1) * 1.3
    _same(a, b, X_test)
    _same(a, c, X_test)


@pytest.mark.parametrize("key", ["winae", "deepsvdd", "cvad"])
def test_windows_from_npy_equal_in_memory(tmp_path, key):
    W = _data(250 * 8, 3).reshape(250, 8, 3)
    np.save(tmp_path / "w.npy", W)
    a = _make(key).fit(W)
    b = _make(key).fit(tmp_path / "w.npy")
    assert b.input_kind_ == "window"
    _same(a, b, W[:40] + 1)


@pytest.mark.parametrize("key,shape", [("deepsvdd", (50, 16, 16)), ("ae", (50, 3, 16, 16)),
                                       ("vae", (50, 16, 16, 3)), ("riad", (50, 16, 16, 3))])
def test_images_from_npy_equal_in_memory(tmp_path, key, shape):
    """Grayscale, channels-first and channels-last (transposed a block at a time) images; the
    standardiser is per channel, pooled over samples and pixels."""
    X = (np.random.default_rng(0).random(shape) * np.linspace(50, 200, shape[-1]) + 10).astype(np.float32)
    np.save(tmp_path / "i.npy", X)
    a = _make(key, epochs=1).fit(X)
    b = _make(key, epochs=1).fit(tmp_path / "i.npy")
    assert b.input_kind_ == "image" and b.mean_.shape == a.mean_.shape == (a.model_shape_[0], 1, 1)
    _same(a, b, X[:20] * 1.1)


def test_deepsad_streams_with_in_memory_labels(tmp_path):
    X = np.vstack([_data(380), _data(20, seed=5) + 15])
    y = np.r_[np.zeros(380), np.ones(20)]
    np.save(tmp_path / "x.npy", X)
    a = _make("deepsad").fit(X, y)
    b = _make("deepsad").fit(tmp_path / "x.npy", y)
    c = _make("deepsad").fit(np.load(tmp_path / "x.npy", mmap_mode="r"), y)
    _same(a, b, X[::7])
    _same(a, c, X[::7])
    # the labels changed training: it is not the unlabelled fit
    assert not np.array_equal(a.decision_scores_, _make("deepsad").fit(tmp_path / "x.npy").decision_scores_)


def test_sage_streams_with_task_labels(tmp_path):
    X = _data(400)
    y = np.arange(400) % 3
    np.save(tmp_path / "x.npy", X)
    a = _make("sage").fit(X, y)
    b = _make("sage").fit(tmp_path / "x.npy", y)
    assert b.signal_names_ == ["latent_knn", "reconstruction", "task_loss"]
    _same(a, b, X[:50] * 1.2)


@pytest.mark.parametrize("key", ["cvad", "winae", "riad", "deepsvdd", "sage"])
def test_own_passes_over_many_blocks_equal_in_memory(tmp_path, monkeypatch, key):
    """Scoring chunks of 16 rows (blocks of 256), and enough rows for several blocks of the
    Deep SVDD centre (1024) and of SAGE's float64 latents (4096)."""
    from anomalib_ae.detectors._deep import BaseDeepDetector

    monkeypatch.setattr(BaseDeepDetector, "_score_chunk_rows", lambda self: 16)
    X = _data(9000 if key in ("deepsvdd", "sage") else 1200, 4)
    np.save(tmp_path / "x.npy", X)
    a = _make(key, epochs=1).fit(X)
    b = _make(key, epochs=1).fit(tmp_path / "x.npy")
    _same(a, b, X[:300] * 1.1)


class _OwnTraining(AutoEncoder):
    """A user's detector: its own training step, not declared streamable."""

    def _train(self, X_train, y_train, X_val, y_val, seed):
        super()._train(X_train, y_train, X_val, y_val, seed)
        self.extra_ = float(np.asarray(X_train).std())


def test_undeclared_own_step_says_so_and_a_memmap_trains_in_memory(tmp_path):
    X = _data(200)
    np.save(tmp_path / "x.npy", X)
    msg = r"_OwnTraining overrides _train without streaming it.*_streaming_overrides"
    with pytest.raises(NotImplementedError, match=msg):
        _OwnTraining(**KW).fit(tmp_path / "x.npy")
    a = _OwnTraining(**KW).fit(X)
    b = _OwnTraining(**KW).fit(np.load(tmp_path / "x.npy", mmap_mode="r"))  # loaded, as before
    assert a.extra_ == b.extra_ and np.array_equal(a.decision_scores_, b.decision_scores_)


def test_deepsvdd_memmap_is_never_copied_whole(tmp_path):
    n, d = 200_000, 64
    path = write_gaussian_npy(tmp_path / "big.npy", n, d)
    det = anomalib_ae.create("deepsvdd", epochs=1, pretrain_epochs=1, batch_size=4096, random_state=0, verbose=0)
    tracemalloc.start()
    try:
        det.fit(path)  # pre-training, the centre, training, scoring
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.5 * path.stat().st_size, (peak, path.stat().st_size)
    assert det.decision_scores_.shape == (n,) and bool(torch.isfinite(det.module_.c).all())


def test_transposed_rows_pickle_as_the_file_name(tmp_path):
    import pickle

    from anomalib_ae.training.datamodule import StandardizedRows

    X = np.random.default_rng(0).random((30, 8, 8, 3)).astype(np.float32)
    np.save(tmp_path / "i.npy", X)
    mm = np.load(tmp_path / "i.npy", mmap_mode="r")
    mean, scale = np.full((3, 1, 1), 0.5, np.float32), np.full((3, 1, 1), 0.25, np.float32)
    rows = StandardizedRows(mm, np.arange(30), mean, scale, axes=(0, 3, 1, 2))[np.arange(5, 30, 2)]
    assert rows.shape == (13, 3, 8, 8)
    blob = pickle.dumps(rows)
    assert len(blob) < 2000  # the file's name, not the data
    want = (np.ascontiguousarray(X.transpose(0, 3, 1, 2))[5::2] - mean) / scale
    assert np.array_equal(pickle.loads(blob)[0:13].numpy(), want.astype(np.float32))


@pytest.mark.benchmark
def test_outofcore_benchmark_quick_run(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "r.json"
    env = dict(os.environ, PYTHONPATH=str(root))
    subprocess.run([sys.executable, str(root / "benchmarks" / "outofcore_fit.py"), "--quick", "--json", str(out)],
                   env=env, check=True, capture_output=True, timeout=300)
    result = json.loads(out.read_text())
    assert result["same_training_scores"] and [f["mode"] for f in result["fits"]] == ["out_of_core", "in_memory"]
    assert "loadavg" in result
