"""benchmarks/acoustic.py: split by recording, synthetic validation anomalies, tables (no training here)."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import acoustic  # noqa: E402

DATA = acoustic.DEFAULT_DATA / "acoustic"


@pytest.mark.skipif(not (DATA / "labels.csv").exists(), reason="needs ../shared/data/acoustic")
def test_split_never_shares_a_recording():
    sp = acoustic.load_split(DATA, "mimii_fan_id00")
    src = {k: {r["source_path"] for r in sp[k]} for k in ("train", "test", "fit", "hold")}
    assert not src["train"] & src["test"] and not src["fit"] & src["hold"]
    assert src["fit"] | src["hold"] == src["train"]
    assert all(r["label"] == "0" for r in sp["train"]) and {r["label"] for r in sp["test"]} == {"0", "1"}
    assert len(src["train"]) == 10 and len(src["fit"]) == 7


def test_perturbations_keep_length_and_change_the_signal():
    y = np.sin(np.linspace(0, 400 * np.pi, 32000)).astype(np.float32)
    for name, f in acoustic.PERTURBATIONS.items():
        z = f(y)
        assert z.shape == y.shape and z.dtype == np.float32 and not np.allclose(z, y), name


def test_summary_marks_best_of_ours_and_of_the_peers():
    rows = []
    for m, auc in (("idnn", 0.8), ("ae", 0.7), ("pyod.knn", 0.75), ("pyod.lof", 0.6)):
        for seed in (0, 1):
            for how in acoustic.AGGREGATES:
                rows.append({"group": "g", "model": m, "seed": seed, "aggregate": how, "val_auc": 0.5,
                             "auc": auc + 0.01 * seed, "pauc": 0.5, "fit_s": 1.0})
    md, head = acoustic.summarise(rows, ["g"], [0, 1])
    assert head["g"]["dcase_mean"]["ours"]["model"] == "idnn"
    assert head["g"]["dcase_mean"]["peer"]["model"] == "pyod.knn"
    assert "| `idnn` | ours | **0.8050 ± 0.0050** |" in md
