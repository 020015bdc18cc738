"""Offline search over ensembles from the test scores kept by ``tabular.py --save-scores``.

Every member's test scores become surprises ``-log p`` against its own calibration scores
(as :class:`anomalib_ae.Ensemble` does), then every subset of the candidate members (sizes
``--sizes``) is combined by every rule in ``--rules`` and scored by AUROC per (set, seed);
subsets are ranked by mean AUROC over data sets (mean over seeds first).

This is an approximation of the real ensemble and a selection on the test data:

* with ``calibration="split"`` the real ``Ensemble`` fits its members on 90 % of the training
  rows and calibrates the combination on the other 10 %; here each member was fitted on all of
  them by ``tabular.py``. With ``calibration="oof"`` (the default for classical PyOD members) the
  ensemble fits them on all rows too, and its score is exactly the one computed here (up to the
  members' seeds: the ensemble seeds member ``i`` with ``seed + i``);
* choosing the best combination by its test AUROC is selection on the test sets: its mean
  AUROC is optimistically biased, and a combination chosen here must be re-run for real
  (``tabular.py --detectors ensemble:...``) and reported as "selected on this benchmark".

    python benchmarks/tabular.py --seeds 0 --detectors all --save-scores /tmp/scores
    python benchmarks/tabular_combinations.py /tmp/scores --top 30
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np


def load(folder: Path, members: list[str] | None):
    """``{(set, seed): {member: surprise}}`` and ``{(set, seed): y}`` from the npz files."""
    from anomalib_ae.scoring.calibration import surprise

    table, labels = {}, {}
    for f in sorted(folder.glob("*/*/*.npz")):
        ds, seed, name = f.parent.parent.name, int(f.parent.name), f.stem
        if members is not None and name not in members:
            continue
        d = np.load(f)
        table.setdefault((ds, seed), {})[name] = surprise(d["calibration"], d["scores"])
        labels[(ds, seed)] = d["y"]
    return table, labels


def evaluate(table, labels, combo: tuple[str, ...], rule: str) -> dict[str, float] | None:
    """Mean AUROC over seeds per data set for one combination, None where a member is missing."""
    from sklearn.metrics import roc_auc_score

    from anomalib_ae.scoring.combination import combine

    per_set: dict[str, list[float]] = {}
    for key, cols in table.items():
        if any(m not in cols for m in combo):
            return None
        s = combine(np.column_stack([cols[m] for m in combo]), rule, random_state=0)
        per_set.setdefault(key[0], []).append(roc_auc_score(labels[key], s))
    return {ds: float(np.mean(v)) for ds, v in per_set.items()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scores", type=Path, help="folder written by tabular.py --save-scores")
    ap.add_argument("--members", default=None, help="comma-separated candidate members (default: every detector found)")
    ap.add_argument("--exclude", default="", help="comma-separated detectors to leave out of the candidates")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--rules", nargs="+", default=["mean", "max", "median"])
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", type=Path, default=None, help="JSON with every combination's per-set AUROC")
    args = ap.parse_args(argv)

    members = None if args.members is None else args.members.split(",")
    table, labels = load(args.scores, members)
    found = sorted({m for cols in table.values() for m in cols} - set(args.exclude.split(",")))
    sets = sorted({k[0] for k in table})
    rows = []
    for k in args.sizes:
        for combo in itertools.combinations(found, k):
            for rule in args.rules if k > 1 else ["mean"]:
                if rule == "median" and k < 3:
                    continue
                per_set = evaluate(table, labels, combo, rule)
                if per_set is not None and len(per_set) == len(sets):
                    rows.append({"members": combo, "rule": rule, "mean_auroc": float(np.mean(list(per_set.values()))),
                                 "per_set": per_set})
    rows.sort(key=lambda r: -r["mean_auroc"])
    singles = [r for r in rows if len(r["members"]) == 1]
    print(f"{len(sets)} data sets, seeds {sorted({k[1] for k in table})}, {len(found)} candidates, "
          f"{len(rows)} combinations")
    print("best single detectors:", ", ".join(f"{r['members'][0]} {r['mean_auroc']:.4f}" for r in singles[:5]))
    for r in rows[: args.top]:
        print(f"{r['mean_auroc']:.4f}  {r['rule']:6s} {' + '.join(r['members'])}")
    if args.out is not None:
        args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
