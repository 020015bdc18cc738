"""The tabular benchmark script on two small real sets (needs ../shared/data; deselected by default)."""

import json
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.benchmark
@pytest.mark.skipif(not (SHARED_DATA / "tabular").is_dir(), reason="needs ../shared/data/tabular")
def test_tabular_benchmark_runs_and_reports(tmp_path):
    import tabular

    out = tmp_path / "tab"
    tabular.main(["--datasets", "glass,wbc", "--seeds", "0", "--detectors", "pyod.knn,pyod.ecod,ensemble:knn3-knn10-lof",
                  "--out", str(out)])
    data = json.loads(out.with_suffix(".json").read_text())
    assert set(data["summary"]) == {"pyod.knn", "pyod.ecod", "ensemble:knn3-knn10-lof"}
    assert all(0.5 < s["mean_auroc"] <= 1 for s in data["summary"].values())
    assert any("best ensemble" in t for t in data["targets"])


def _toy_sets(folder: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    folder.mkdir()
    for name, n in (("toy_a", 160), ("toy_b", 120)):
        X = np.vstack([rng.normal(size=(n, 4)), rng.normal(4, 1, size=(12, 4))])
        np.savez(folder / f"{name}.npz", X=X, y=np.r_[np.zeros(n), np.ones(12)].astype(int))


@pytest.mark.benchmark  # benchmark tooling, ~10 s on 2 cores: out of the default suite (CI budget)
def test_benchmark_settings_test_cap_jobs_and_saved_scores(tmp_path):
    import numpy as np

    import tabular
    import tabular_combinations

    # benchmark settings reach detectors and ensemble members; the default run caps test normals
    mae = tabular.build("mae", 0)
    assert (mae.epochs, mae.n_score_masks) == (3, 2) and tabular.build("ae", 0).epochs == 30
    assert tabular.build("pyod.ocsvm", 0).calibration == "split"
    assert tabular.build("pyod.kde", 0).calibration == "split"
    # search candidates: a registered detector with other parameters, seeded like the rest
    knn1 = tabular.build("cand:knn1", 3)
    assert knn1.params == {"n_neighbors": 1} and knn1.random_state == 3 and "cand:knn1" not in tabular.ENSEMBLES
    assert tabular.build("ensemble:knn1-gmm8", 0).detectors[1] == (
        "pyod.gmm", {"params": {"n_components": 8, "reg_covar": 1e-2}})
    members = tabular.build("ensemble:knn3-knn-lof-deepsvdd", 0).detectors
    assert members[0] == ("pyod.knn", {"params": {"n_neighbors": 3}})
    assert members[3] == ("deepsvdd", {"verbose": False, "accelerator": "cpu"})
    assert "ensemble:knn1-gmm8" not in tabular.ENSEMBLES  # by name only, not in the default run
    assert all(p["calibration"] == "split" for _, p in tabular.build("ensemble:knn-cos-gmm8", 0).detectors)
    # the default run's ensemble: members fitted on all rows, the combination calibrated on their
    # leave-one-out / cross-fitted scores of the training rows; fitted and scored
    ens = tabular.build("ensemble:knn-lof-cos-gmm", 0)
    assert ("pyod.knn", {"params": {"n_neighbors": 1, "metric": "cosine"}}) in ens.detectors
    rng = np.random.default_rng(0)
    ens.fit(rng.normal(size=(200, 4)))
    assert ens.calibration_method_ == "oof" and ens.calibration_scores_.shape == (200,)
    assert [m.calibration_method_ for m in ens.detectors_] == ["loo"] * 5 + ["cv"]
    assert ens.score(np.full((1, 4), 6.0))[0] > ens.score(np.zeros((1, 4)))[0]
    _, X_test, y_test = tabular.split(np.zeros((100, 2)), np.r_[np.zeros(90), np.ones(10)].astype(int), 0, 20000, 20)
    assert (y_test == 0).sum() == 20 and (y_test == 1).sum() == 10
    data = tmp_path / "data"
    _toy_sets(data)
    common = ["--data-dir", str(data), "--seeds", "0", "1", "--detectors", "pyod.knn,pyod.ecod"]
    tabular.main([*common, "--jobs", "1", "--save-scores", str(tmp_path / "scores"), "--out", str(tmp_path / "one")])
    tabular.main([*common, "--jobs", "2", "--out", str(tmp_path / "two")])
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    assert [(r["dataset"], r["seed"], r["detector"], r["auroc"]) for r in one["results"]] == [
        (r["dataset"], r["seed"], r["detector"], r["auroc"]) for r in two["results"]
    ]  # worker processes give the same rows in the same order
    assert "at most 10,000" in (tmp_path / "one.md").read_text()
    assert len(list((tmp_path / "scores").glob("*/*/*.npz"))) == 2 * 2 * 2
    # offline combination: a single member reproduces the benchmark's AUROC
    tabular_combinations.main([str(tmp_path / "scores"), "--sizes", "1", "2", "--out", str(tmp_path / "c.json")])
    rows = json.loads((tmp_path / "c.json").read_text())
    knn = next(r for r in rows if r["members"] == ["pyod.knn"])
    assert knn["per_set"]["toy_a"] == pytest.approx(one["per_dataset"]["pyod.knn"]["toy_a"]["auroc"])
    assert any(r["members"] == ["pyod.ecod", "pyod.knn"] and r["rule"] == "max" for r in rows)
