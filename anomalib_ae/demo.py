"""The ``anomalib-ae demo`` job: fit on real normal data shipped with the package, score, plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def run_demo(output_dir: str | Path = "anomalib_ae_demo", detector: str = "ae", seed: int = 0, **params) -> dict:
    """Fit ``detector`` on 70 % of cardio's normal rows, score the rest plus every anomaly.

    The data is ODDS *cardio* (Cardiotocography, 1831 x 21, 176 anomalies) shipped in
    ``anomalib_ae/datasets`` (from ADBench ``adbench/datasets/Classical/6_cardio.npz``).

    Writes ``scores.csv``, ``score_histogram.png`` and ``model.pt`` into ``output_dir`` and
    returns a dict with the AUROC, the paths and counts.
    """
    import pandas as pd
    from sklearn.metrics import average_precision_score, roc_auc_score

    import anomalib_ae
    from anomalib_ae.datasets import load_cardio
    from anomalib_ae.plots import ScoreHistogramDisplay
    from anomalib_ae.plots.files import save_figure

    X, y = load_cardio()
    X, y = X.astype(np.float32), y.astype(np.int64)
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(y == 0))
    n_train = int(0.7 * normal.size)
    train = normal[:n_train]
    test = np.sort(np.concatenate([normal[n_train:], np.flatnonzero(y == 1)]))
    defaults = {"random_state": seed, "verbose": False}
    if detector in ("ae",):
        defaults.update(epochs=100, patience=10)
    # PyOD's detectors (and ours without a training loop) have no `verbose` / `random_state`: pass what it takes
    valid = anomalib_ae.get_detector_class(detector)().get_params(deep=False)
    defaults = {k: v for k, v in defaults.items() if k in valid}
    det = anomalib_ae.create(detector, **{**defaults, **params}).fit(X[train])
    scores = det.score(X[test])
    proba = det.predict_proba(X[test])[:, 1]
    flagged = det.predict(X[test]) == -1
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    scores_path = out / "scores.csv"
    pd.DataFrame(
        {"row_id": test, "label": y[test], "score": scores, "probability": proba, "is_anomaly": flagged}
    ).to_csv(scores_path, index=False)
    disp = ScoreHistogramDisplay.from_scores(scores, det.threshold_, y[test], title=f"{detector} on ODDS cardio (test split)")
    plot_path = save_figure(disp.figure_, out / "score_histogram.png", dpi=110, tight_layout=True)
    model_path = out / "model.pt"
    det.save(model_path)
    return {
        "detector": detector,
        "n_train": int(train.size),
        "n_test": int(test.size),
        "n_test_anomalies": int(y[test].sum()),
        "auroc": float(roc_auc_score(y[test], scores)),
        "auprc": float(average_precision_score(y[test], scores)),
        "flagged_normal_rate": float(flagged[y[test] == 0].mean()),
        "flagged_anomaly_rate": float(flagged[y[test] == 1].mean()),
        "scores_path": str(scores_path),
        "plot_path": str(plot_path),
        "model_path": str(model_path),
    }
