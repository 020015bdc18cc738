"""benchmarks/industrial.py: the anomalib peers' protocol (validation on training tiles only, epochs, cache
location) and the table's marks with anomalib rows. No shared data and no anomalib needed."""

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import industrial as ind  # noqa: E402


def _args(**kw):
    base = dict(seed=0, quick=False, ganomaly_epochs=ind.ANOMALIB_EPOCHS["anomalib.ganomaly"],
                draem_epochs=ind.ANOMALIB_EPOCHS["anomalib.draem"], anomalib_epochs=0)
    return argparse.Namespace(**{**base, **kw})


def test_peer_validation_holds_out_training_tiles_and_plants_defects_in_half():
    X = np.random.default_rng(0).random((100, 32, 32)).astype(np.float32)
    fit, Xv, yv, Mv = ind.peer_validation(X, 0.1, seed=0)
    assert fit.shape == (90, 32, 32) and Xv.shape == (10, 32, 32)
    assert yv.tolist() == [0] * 5 + [1] * 5
    assert not Mv[yv == 0].any() and all(m.any() for m in Mv[yv == 1])
    # the clean validation tiles are training tiles not in the fit part
    flat = {t.tobytes() for t in X}
    assert all(t.tobytes() in flat for t in Xv[yv == 0])
    assert not {t.tobytes() for t in fit} & {t.tobytes() for t in Xv[yv == 0]}
    again = ind.peer_validation(X, 0.1, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip((fit, Xv, yv, Mv), again))


def test_anomalib_epochs_defaults_quick_and_override():
    assert ind.method_params("anomalib.ganomaly", _args())[1]["epochs"] == ind.ANOMALIB_EPOCHS["anomalib.ganomaly"]
    assert ind.method_params("anomalib.draem", _args())[1]["epochs"] == ind.ANOMALIB_EPOCHS["anomalib.draem"]
    assert ind.method_params("anomalib.draem", _args(quick=True))[1]["epochs"] == 1
    assert ind.method_params("anomalib.ganomaly", _args(anomalib_epochs=7))[1]["epochs"] == 7
    assert ind.method_params("anomalib.draem", _args(draem_epochs=4))[1]["epochs"] == 4
    # the cache key changes with the epochs
    X = np.zeros((2, 4, 4), np.float32)
    k = [ind.cache_key("anomalib.draem", ind.method_params("anomalib.draem", _args(draem_epochs=e))[1], X, X)
         for e in (2, 3)]
    assert k[0] != k[1]


def test_table_marks_an_anomalib_row_as_best_peer():
    rows = [
        dict(method="subspace", family="ours", image_auroc=0.88, pixel_auroc=0.75, pro=0.58, map_method="m", fit_s=1),
        dict(method="pyod.deepsvdd", family="pyod", image_auroc=0.84, pixel_auroc=0.54, pro=0.27, map_method="m",
             fit_s=1),
        dict(method="anomalib.draem", family="anomalib", image_auroc=0.60, pixel_auroc=0.70, pro=0.30,
             map_method="m", fit_s=1),
    ]
    md = ind.table(rows)
    line = next(x for x in md.splitlines() if x.startswith("| anomalib.draem"))
    assert "**0.700** (best peer)" in line and "**0.300** (best peer)" in line and "0.600 |" in line
    assert "pixel_auroc: our best 0.750, best peer 0.700" in ind.verdict(rows)
