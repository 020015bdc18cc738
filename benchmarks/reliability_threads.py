"""Do scores depend on the number of torch threads? Fit and score with 1 and 2 threads.

ODDS cardio (shipped sample): half of the normal rows train, the rest plus all anomalies are
scored. For each detector, every (fit threads, score threads) pair is compared with (1, 1):
largest absolute score difference and AUROC.

    python benchmarks/reliability_threads.py [--out benchmarks/results/reliability_threads.json]
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np

DETECTORS = {
    "ae": {"epochs": 20, "random_state": 0, "verbose": False, "accelerator": "cpu"},
    "pyod.knn": {},
    "pyod.iforest": {"random_state": 0},
}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "reliability_threads.json"))
    args = ap.parse_args(argv)
    import torch
    from sklearn.metrics import roc_auc_score

    import anomalib_ae
    from anomalib_ae import datasets

    warnings.filterwarnings("ignore")
    X, y = datasets.load_cardio()
    rng = np.random.default_rng(0)
    normal = np.flatnonzero(y == 0)
    rng.shuffle(normal)
    train = normal[: len(normal) // 2]
    test = np.setdiff1d(np.arange(len(y)), train)
    out: dict = {"torch": torch.__version__, "detectors": {}}
    for name, params in DETECTORS.items():
        scores = {}
        for fit_threads in (1, 2):
            torch.set_num_threads(fit_threads)
            det = anomalib_ae.create(name, **params).fit(X[train])
            for score_threads in (1, 2):
                torch.set_num_threads(score_threads)
                scores[(fit_threads, score_threads)] = det.score(X[test])
        base = scores[(1, 1)]
        out["detectors"][name] = {
            f"fit{f}_score{s}": {"max_abs_diff": float(np.max(np.abs(v - base))),
                                 "auroc": round(float(roc_auc_score(y[test], v)), 6)}
            for (f, s), v in scores.items()
        }
    torch.set_num_threads(1)
    print(f"{'detector':<14} {'fit/score threads':<18} {'max |diff| vs 1/1':>18} {'AUROC':>9}")
    for name, rows in out["detectors"].items():
        for key, r in rows.items():
            print(f"{name:<14} {key:<18} {r['max_abs_diff']:>18.3g} {r['auroc']:>9.6f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":  # pragma: no cover
    main()
