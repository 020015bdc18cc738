"""The one-class image benchmark script end to end on tiny synthetic "digits" (no ../shared needed)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def _toy_mnist(folder: Path) -> None:
    """Class c = a bright square at position c on noise: one class is easy to tell from the others."""
    rng = np.random.default_rng(0)

    def images(labels):
        x = rng.integers(0, 40, size=(len(labels), 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            r, k = divmod(int(c), 5)
            x[i, 4 + 12 * r: 12 + 12 * r, 1 + 5 * k: 6 + 5 * k] = 255
        return x

    y_train, y_test = np.repeat(np.arange(3), 40), np.repeat(np.arange(3), 20)
    folder.mkdir()
    np.savez(folder / "mnist.npz", x_train=images(y_train), y_train=y_train, x_test=images(y_test), y_test=y_test)


def test_gcn_min_max_uses_training_statistics_only():
    import one_class_images as oc

    rng = np.random.default_rng(1)
    train, test = rng.integers(0, 255, (20, 28, 28)), rng.integers(0, 255, (5, 28, 28))
    prep = oc.MinMaxGCN().fit(train)
    out = prep.transform(train)
    assert out.min() == pytest.approx(0.0) and out.max() == pytest.approx(1.0)
    g = oc.global_contrast_normalize(test)
    np.testing.assert_allclose(np.abs(g).mean(axis=1), 1.0, rtol=1e-5)  # L1 GCN: unit mean |x|
    assert prep.transform(test).shape == test.shape  # test data transformed, not refitted


@pytest.mark.parametrize("jobs", ["1", pytest.param("2", marks=pytest.mark.benchmark)])  # two workers: ~8-22 s, benchmark tooling: out of the default suite (CI budget)
def test_one_class_benchmark_writes_tables_and_records(tmp_path, jobs):
    import one_class_images as oc

    _toy_mnist(tmp_path / "data")
    out = tmp_path / "out"
    oc.main(["--data-dir", str(tmp_path / "data"), "--out-dir", str(out), "--datasets", "mnist",
             "--classes", "0", "1", "--seeds", "0", "--epochs", "2", "--max-train", "30",
             "--detectors", "ae", "sage", "--accelerator", "cpu", "--jobs", jobs, "--tag", "toy"])
    data = json.loads((out / "one_class_images_toy.json").read_text())
    recs = data["records"]
    assert [(r["class"], r["detector"]) for r in recs] == [(0, "ae"), (0, "sage"), (1, "ae"), (1, "sage")]
    assert all(r["n_train"] == 30 and r["n_test"] == 60 for r in recs)
    assert all(r["auroc"] > 90 for r in recs)  # the toy classes are easy
    assert data["config"]["overrides"]["sage"] == {"n_neighbors": 1}
    lines = (out / "one_class_images_toy.jsonl").read_text().splitlines()
    assert len(lines) == 4  # one line per finished run, written as it finishes
    md = (out / "one_class_images_toy.md").read_text()
    assert "| class | paper Deep SVDD | ae | sage |" in md and "| 1 | 99.7 |" in md  # the paper's column beside ours


def test_peers_and_the_shipped_config_row_are_marked(tmp_path):
    import one_class_images as oc

    _toy_mnist(tmp_path / "data")
    out = tmp_path / "out"
    oc.main(["--data-dir", str(tmp_path / "data"), "--out-dir", str(out), "--datasets", "mnist",
             "--classes", "0", "--seeds", "0", "--epochs", "2", "--max-train", "30",
             "--detectors", "ours_default", "ae_flat", "pyod_knn", "pyod_iforest", "--accelerator", "cpu", "--tag", "toy"])
    recs = json.loads((out / "one_class_images_toy.json").read_text())["records"]
    assert {r["detector"] for r in recs} == {"ours_default", "ae_flat", "pyod_knn", "pyod_iforest"}
    assert all(np.isfinite(r["auroc"]) for r in recs)
    md = (out / "one_class_images_toy.md").read_text()
    assert "| best of ours | best peer | ours - peer |" in md
    assert "Ours: ours_default, ae_flat; peers: pyod_knn, pyod_iforest." in md
    # the headline row is the config's detector as shipped (its epochs, not the run's --epochs)
    det = oc.make_detector("ours_default", 2, 5)
    assert det.random_state == 5 and all(m[1]["epochs"] == 8 for m in det.detectors)


def test_selection_reads_the_training_split_only(tmp_path):
    import one_class_select as sel

    y = np.repeat(np.arange(3), 40)
    fit_idx, val_idx, labels = sel.validation_split(y, 1, 0, 20, 10, 5)
    assert len(fit_idx) == 20 and set(y[fit_idx]) == {1}
    assert not set(fit_idx) & set(val_idx)  # validation normals are other training images of the class
    assert labels.tolist() == [0] * 10 + [1] * 10 and (y[val_idx] != 1).tolist() == labels.astype(bool).tolist()
    _toy_mnist(tmp_path / "data")
    out = tmp_path / "out"
    sel.main(["--data-dir", str(tmp_path / "data"), "--out-dir", str(out), "--cache", str(tmp_path / "cache"),
              "--datasets", "mnist", "--classes", "0", "--epochs", "2", "--max-train", "20", "--val-normal", "10",
              "--val-anomalies", "5", "--candidates", "ae_flat", "pyod_knn", "--tag", "toy"])
    data = json.loads((out / "one_class_select_toy.json").read_text())
    assert data["summary"]["mnist"]["chosen"] == "ae_flat" and data["summary"]["mnist"]["best_peer"] == "pyod_knn"
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
