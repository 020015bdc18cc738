"""Out-of-core training of deep detectors: memory-mapped .npy files and Parquet datasets.

On data that fits in memory the streamed fit equals the in-memory fit bit for bit (same seed,
same split, same mini-batches, same standardiser), the memory map is never copied whole, bad
values are named by row, and a model trained out of core saves and loads like any other.
"""

import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import anomalib_ae
from anomalib_ae.data.outofcore import chunked_moments, open_training_data
from anomalib_ae.preprocessing import fit_standardizer
from memmap_data import write_gaussian_npy

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

KW = dict(epochs=3, random_state=0, verbose=0)
FITTED = ("mean_", "scale_", "decision_scores_", "calibration_scores_", "threshold_", "train_mean_",
          "train_scale_", "train_median_", "residual_scale_", "residual_q99_")


def _data(n=1500, d=10, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)) * rng.uniform(0.5, 20, d) + rng.uniform(-50, 500, d)).astype(dtype)


def _same_fit(a, b, X_test, X_test_b=None):
    """Bit-identical fits (also against an in-memory fit on a column-major array, what pandas
    gives: the standardiser reads C-ordered float64 chunks either way)."""
    assert a.n_epochs_ == b.n_epochs_
    for name in FITTED:
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.score(X_test), b.score(X_test if X_test_b is None else X_test_b))


@pytest.mark.parametrize("name", ["ae", "vae"])
def test_npy_memmap_fit_equals_in_memory(tmp_path, name):
    X = _data()
    path = tmp_path / "train.npy"
    np.save(path, X)
    a = anomalib_ae.create(name, **KW).fit(X)
    b = anomalib_ae.create(name, **KW).fit(str(path))
    c = anomalib_ae.create(name, **KW).fit(np.load(path, mmap_mode="r"))
    X_test = _data(300, seed=1) * 1.2
    _same_fit(a, b, X_test)
    _same_fit(a, c, X_test)


def test_windows_from_memmap_equal_in_memory(tmp_path):
    W = _data(400 * 6, 4).reshape(400, 6, 4)
    np.save(tmp_path / "w.npy", W)
    a = anomalib_ae.create("ae", **KW).fit(W)
    b = anomalib_ae.create("ae", **KW).fit(tmp_path / "w.npy")
    assert b.input_kind_ == "window"
    _same_fit(a, b, W[:50] + 1)
    assert np.array_equal(a.occlusion_scale_, b.occlusion_scale_)


def test_chunked_moments_equal_the_in_memory_standardiser():
    X = _data(70_001, 7, dtype=np.float64)
    mask = np.random.default_rng(3).random(len(X)) < 0.9
    mean, std = chunked_moments(X, pooled=True, mask=mask)
    m32, s32 = fit_standardizer(X[mask], "vector")
    assert np.array_equal(mean.astype(np.float32), m32) and np.array_equal(std.astype(np.float32), s32)
    m64, s64 = fit_standardizer(X[mask], "vector", dtype=np.float64)
    assert np.array_equal(mean, m64) and np.array_equal(std, s64)  # the same chunks: every bit
    np.testing.assert_allclose(mean, X[mask].mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(std, X[mask].std(axis=0), rtol=1e-12)
    W = X[:70_000].reshape(10_000, 7, 7)
    mean, std = chunked_moments(W, pooled=False)
    np.testing.assert_allclose(mean, W.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(std, W.std(axis=0), rtol=1e-12)


def _frame(X, with_id=False):
    df = pd.DataFrame(X.astype(np.float64), columns=[f"f{j}" for j in range(X.shape[1])])
    if with_id:
        df.insert(0, "host", [f"h{i % 7}" for i in range(len(df))])
    return df


def test_parquet_file_and_folder_equal_in_memory(tmp_path):
    df = _frame(_data(1200, 6))
    df.to_parquet(tmp_path / "train.parquet")
    folder = tmp_path / "parts"
    folder.mkdir()
    df.iloc[:500].to_parquet(folder / "part-0.parquet")
    df.iloc[500:].to_parquet(folder / "part-1.parquet")
    a = anomalib_ae.create("ae", **KW).fit(df)
    a_c = anomalib_ae.create("ae", **KW).fit(np.ascontiguousarray(df.to_numpy()))  # row-major: every bit
    b = anomalib_ae.create("ae", **KW).fit(tmp_path / "train.parquet")
    c = anomalib_ae.create("ae", **KW).fit(str(folder))
    test = _frame(_data(200, 6, seed=4))
    _same_fit(a, b, test)
    for fitted in (b, c):
        _same_fit(a_c, fitted, test.to_numpy(), X_test_b=test)
    assert list(b.feature_names_in_) == list(df.columns)


def test_parquet_non_numeric_column_excluded_or_named(tmp_path):
    df = _frame(_data(600, 5), with_id=True)
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    with pytest.raises(ValueError, match=r"column 'host' is not numeric.*exclude=\['host'\]"):
        anomalib_ae.create("ae", **KW).fit(path)
    data = open_training_data(path, exclude=["host"])
    b = anomalib_ae.create("ae", **KW).fit(data)
    data.close()
    a = anomalib_ae.create("ae", **KW).fit(df.drop(columns="host"))
    _same_fit(a, b, df.drop(columns="host").iloc[:100])


def test_parquet_null_names_row_and_column(tmp_path):
    df = _frame(_data(300, 4))
    df.loc[123, "f2"] = None
    df.to_parquet(tmp_path / "n.parquet")
    with pytest.raises(ValueError, match=r"row 123 has a NaN \(missing\) value in column 'f2'"):
        anomalib_ae.create("ae", **KW).fit(tmp_path / "n.parquet")


@pytest.mark.parametrize("bad,what", [(np.nan, "NaN"), (np.inf, "infinite"), (1e39, "beyond float32")])
def test_bad_value_in_npy_names_the_row(tmp_path, bad, what):
    X = _data(50_000, 4, dtype=np.float64)
    X[43_210, 3] = bad
    np.save(tmp_path / "bad.npy", X)
    with pytest.raises(ValueError, match=rf"bad.npy: row 43210 has a.*{what}.* value in column 3$"):
        anomalib_ae.create("ae", **KW).fit(tmp_path / "bad.npy")


def test_integer_npy_and_held_out_labels_are_refused(tmp_path):
    np.save(tmp_path / "i.npy", np.arange(40).reshape(20, 2))
    with pytest.raises(ValueError, match="float32 or float64"):
        anomalib_ae.create("ae", **KW).fit(tmp_path / "i.npy")
    np.save(tmp_path / "f.npy", _data(40, 2))
    y = np.zeros(40)
    y[:3] = 1  # known anomalies: ae would hold them out of its fit
    with pytest.raises(ValueError, match=r"AutoEncoder holds the known anomalies \(y == 1\) out of its fit"):
        anomalib_ae.create("ae", **KW).fit(tmp_path / "f.npy", y)
    with pytest.raises(ValueError, match="y has 39 labels but X has 40 samples"):
        anomalib_ae.create("ae", **KW).fit(tmp_path / "f.npy", y[:39])


def test_memmap_is_never_copied_whole(tmp_path):
    n, d = 400_000, 32
    path = write_gaussian_npy(tmp_path / "big.npy", n, d)
    det = anomalib_ae.create("ae", epochs=1, batch_size=2048, random_state=0, verbose=0)
    tracemalloc.start()
    try:
        det.fit(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = os.path.getsize(path)
    # an in-memory fit holds the data at least twice (float64 copy, standardised copy)
    assert peak < 0.5 * size, (peak, size)
    assert det.decision_scores_.shape == (n,)


def test_save_load_after_out_of_core_fit(tmp_path):
    X = _data()
    np.save(tmp_path / "train.npy", X)
    det = anomalib_ae.create("ae", **KW).fit(tmp_path / "train.npy")
    det.save(tmp_path / "m.aeb")
    back = anomalib_ae.load(tmp_path / "m.aeb")
    assert np.array_equal(det.score(X), back.score(X))
    assert np.array_equal(det.predict(X), back.predict(X))


def test_memmap_the_stream_cannot_take_fits_in_memory_as_before(tmp_path):
    X = _data(300, 4)
    np.save(tmp_path / "f.npy", X)
    mm = np.load(tmp_path / "f.npy", mmap_mode="r")
    y = np.zeros(300)
    y[:5] = 1
    a = anomalib_ae.create("ae", **KW).fit(X, y)
    b = anomalib_ae.create("ae", **KW).fit(mm, y)  # labels: the in-memory fit
    assert np.array_equal(a.decision_scores_, b.decision_scores_)


def test_rows_pickle_as_the_file_name(tmp_path):
    import pickle

    from anomalib_ae.training.datamodule import StandardizedRows

    np.save(tmp_path / "a.npy", _data(5000, 3))
    mm = np.load(tmp_path / "a.npy", mmap_mode="r")
    for arr in (mm, mm[1000:]):
        rows = StandardizedRows(arr, np.arange(10), np.zeros(3, np.float32), np.ones(3, np.float32))
        blob = pickle.dumps(rows)
        assert len(blob) < 2000  # not the data
        assert np.array_equal(pickle.loads(blob)[0:10].numpy(), np.asarray(arr[:10]))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("ANOMALIB_AE_TEST_DDP_MEMMAP"),
                    reason="failed 1 run in 4 on a 2-core machine in session 8 (a gloo worker died with SIGABRT; "
                           "likely cause, a Gloo group alive at interpreter exit, fixed in training/spawn_exit.py; "
                           "17 runs passed since, not enough to prove it): run with ANOMALIB_AE_TEST_DDP_MEMMAP=1")
def test_ddp_spawn_from_a_memmap(tmp_path):
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    np.save(tmp_path / "t.npy", rng.standard_normal((4000, 16)).astype(np.float32))
    test = np.vstack([rng.standard_normal((500, 16)), rng.standard_normal((50, 16)) * 3]).astype(np.float32)
    y = np.r_[np.zeros(500), np.ones(50)]
    common = dict(epochs=5, random_state=0, verbose=0, accelerator="cpu")
    one = anomalib_ae.create("ae", **common).fit(tmp_path / "t.npy")
    ddp = anomalib_ae.create("ae", strategy="ddp_spawn", devices=2, **common).fit(tmp_path / "t.npy")
    assert abs(roc_auc_score(y, one.score(test)) - roc_auc_score(y, ddp.score(test))) < 0.02
