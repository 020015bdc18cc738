"""benchmarks/tabular_nested.py on a toy score folder: the choice never sees the sets it is reported on."""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import tabular_nested  # noqa: E402


def _write(folder: Path, n_sets: int = 6) -> None:
    rng = np.random.default_rng(0)
    for k in range(n_sets):
        y = np.r_[np.zeros(60), np.ones(15)].astype(int)
        for m, strength in (("pyod.knn", 1.0), ("a", 2.0 if k % 2 else 0.2), ("b", 0.2 if k % 2 else 2.0), ("c", 0.5)):
            d = folder / f"set{k}" / "0"
            d.mkdir(parents=True, exist_ok=True)
            s = rng.normal(size=y.size) + strength * y
            np.savez(d / f"{m}.npz", scores=s, calibration=rng.normal(size=40), y=y)


def test_auroc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # ties
    assert abs(tabular_nested.fast_auroc(y, s) - roc_auc_score(y, s)) < 1e-12


def test_nested_choice_reports_on_the_other_half(tmp_path):
    _write(tmp_path / "scores")
    out = tmp_path / "nested"
    tabular_nested.main([str(tmp_path / "scores"), "--sizes", "1", "2", "--random-splits", "3", "--out", str(out)])
    meta = json.loads(out.with_suffix(".json").read_text())
    d1, d2 = meta["directions"].values()
    # the halves alternate by sorted name and never overlap
    assert d1["select_on"] == d2["report_on"] and d1["report_on"] == d2["select_on"]
    assert not set(d1["select_on"]) & set(d1["report_on"])
    # "a" is strong on odd sets, "b" on even: each half picks a combination containing its own winner
    assert meta["summary"]["nested_per_set"].keys() == {f"set{k}" for k in range(6)}
    assert "Nested mean AUROC" in out.with_suffix(".md").read_text()


def test_setting_choice_uses_the_other_half(tmp_path):
    rows = []
    for k in range(6):
        for det, auc in (("vae", 0.8), ("cand:vae-x", 0.9 if k % 2 else 0.7), ("pyod.knn", 0.99)):
            rows.append({"dataset": f"s{k}", "seed": 0, "detector": det, "auroc": auc})
    f = tmp_path / "r.json"
    f.write_text(json.dumps({"results": rows}))
    res = tabular_nested.choose_setting([f], "vae", tmp_path / "o.json")
    assert set(res["settings"]) == {"vae", "cand:vae-x"}
    # B = odd sets, where the variant wins: chosen there, reported on the even sets where it loses
    d = res["directions"]["choose_on_B_report_on_A"]
    assert d["chosen"] == "cand:vae-x" and abs(d["auroc_held_out"] - 0.7) < 1e-12
    assert res["directions"]["choose_on_A_report_on_B"]["chosen"] == "vae"
    assert abs(res["nested_mean_auroc"] - 0.75) < 1e-12
