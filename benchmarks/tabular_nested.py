"""Nested protocol for the tabular ensembles: choose on some data sets, report on the others.

The ensembles of ``benchmarks/tabular.py`` (``ensemble:knn-lof-cos-gmm``) were chosen by their
mean AUROC on the very test sets they are reported on (docs/calibration_ensembles.md). Here the
choice never sees the sets it is reported on:

* the 25 sets, sorted by name, are split into two halves (alternating: 13 and 12 sets);
* every combination of the candidate members (sizes ``--sizes``, rules ``--rules``) is scored
  offline from the scores kept by ``tabular.py --save-scores`` (member scores -> surprises
  against their own calibration scores, then combined, as ``anomalib_ae.Ensemble`` does; see
  ``benchmarks/tabular_combinations.py``);
* the combination with the best mean AUROC on one half is reported on the other half, in both
  directions, beside ``pyod.knn`` (the best single PyOD detector) and the current ensemble's
  members combined the same way (chosen on all 25 sets: optimistic on both halves);
* the two held-out halves together give each of the 25 sets a score from a combination chosen
  without it: the *nested mean AUROC*;
* ``--random-splits N`` repeats the choice over N random 12 / 13 splits (both directions) and
  reports the spread of the held-out gain over ``pyod.knn``.

    python benchmarks/tabular.py --seeds 0 --jobs 1 --detectors pyod.knn,pyod.lof,ae,deepsvdd,cand:knn1,... \\
        --save-scores /work/cache/tabular_nested/scores --out /work/cache/tabular_nested/seed0_candidates
    python benchmarks/tabular_nested.py /work/cache/tabular_nested/scores --sizes 1 2 3 4 --random-splits 50

A detector's own settings, chosen the same way from result JSONs (defaults + ``cand:<name>-*`` rows):

    python benchmarks/tabular_nested.py --choose-setting vae out.json benchmarks/results/tabular_seed0.json variants.json
    python benchmarks/tabular_nested.py --choose-setting vae out.json --seeds 0 1 benchmarks/results/tabular.json ...
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import rankdata

sys.path.insert(0, str(Path(__file__).resolve().parent))

RESULTS = Path(__file__).resolve().parent / "results"
#: ``ensemble:knn-lof-cos-gmm`` of benchmarks/tabular.py by its ``cand:*`` member names (mean rule)
#: (score files name ``cand:x`` as ``cand_x``)
CURRENT = ("cand_knn1", "cand_knn1-l1", "cand_knn7-mean-l1", "cand_knn1-cos", "cand_lof10", "cand_gmm8-reg0.1")
BASELINE = "pyod.knn"


def fast_auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Mann-Whitney AUROC (ties count one half), equal to scikit-learn's ``roc_auc_score``."""
    r = rankdata(s)
    pos = y.astype(bool)
    n1, n0 = int(pos.sum()), int((~pos).sum())
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def combo_table(table, labels, members: list[str], sizes: list[int], rules: list[str]):
    """-> (list of (combo, rule), AUROC array (n_combos, n_sets) averaged over seeds, set names)."""
    from anomalib_ae.scoring.combination import combine

    sets = sorted({k[0] for k in table})
    keys = sorted(table)
    combos = []
    for k in sizes:
        for c in itertools.combinations(members, k):
            for rule in (["mean"] if k == 1 else rules):
                if rule == "median" and k < 3:
                    continue
                combos.append((c, rule))
    auc = np.zeros((len(combos), len(sets)))
    counts = np.zeros(len(sets))
    col = {m: i for i, m in enumerate(members)}
    for key in keys:
        j = sets.index(key[0])
        counts[j] += 1
        S_all, y = np.column_stack([table[key][m] for m in members]), labels[key]
        for i, (c, rule) in enumerate(combos):
            S = S_all[:, [col[m] for m in c]]
            s = S.mean(axis=1) if rule == "mean" else combine(S, rule, random_state=0)
            auc[i, j] += fast_auroc(y, s)
    return combos, auc / counts, sets


def choose(auc: np.ndarray, cols: np.ndarray) -> int:
    """Index of the combination with the best mean AUROC over the sets ``cols`` (first on ties)."""
    return int(np.argmax(auc[:, cols].mean(axis=1)))


def direction(combos, auc, sets, sel: np.ndarray, rep: np.ndarray, idx_base: int, idx_cur: int | None,
              singles: np.ndarray) -> dict:
    i = choose(auc, sel)
    j = int(singles[np.argmax(auc[singles][:, sel].mean(axis=1))])
    out = {
        "select_on": [sets[k] for k in sel], "report_on": [sets[k] for k in rep],
        "chosen": {"members": list(combos[i][0]), "rule": combos[i][1],
                   "auroc_selection": float(auc[i, sel].mean()), "auroc_held_out": float(auc[i, rep].mean())},
        "best_single_on_selection": {"member": combos[j][0][0], "auroc_held_out": float(auc[j, rep].mean())},
        "pyod_knn_held_out": float(auc[idx_base, rep].mean()),
        "best_on_held_out_itself": float(auc[:, rep].mean(axis=1).max()),
    }
    if idx_cur is not None:
        out["current_ensemble_held_out"] = float(auc[idx_cur, rep].mean())
    return out, i


def choose_setting(result_files: list[Path], prefix: str, out: Path | None, seeds: set[int] | None = None) -> dict:
    """Nested choice of one detector's setting from ``tabular.py`` result JSONs (rows ``auroc`` per set, seed).

    Candidates: detector ``prefix`` (its defaults) and every ``cand:<prefix>-*`` row. The setting with the best
    mean AUROC on one half of the sets (the same alternating halves) is reported on the other half. A set's
    AUROC is the mean over the seeds in the files (only ``seeds`` when given, and
    then only settings run on all of them; a seed twice counts once).
    """
    per = {}
    for f in result_files:
        for r in json.loads(Path(f).read_text())["results"]:
            name = r["detector"]
            if seeds is not None and r["seed"] not in seeds:
                continue
            if (name == prefix or name.startswith(f"cand:{prefix}-")) and r.get("auroc") is not None:
                per.setdefault(name, {}).setdefault(r["dataset"], {})[r["seed"]] = r["auroc"]
    if seeds is not None:  # settings not run on every requested seed (and set) take no part
        dropped = sorted(n for n, v in per.items() if any(set(x) != seeds for x in v.values()))
        if dropped:
            print(f"left out (not run on every set with seeds {sorted(seeds)}): {dropped}", file=sys.stderr)
        per = {n: v for n, v in per.items() if n not in dropped}
    sets = sorted(set.intersection(*(set(v) for v in per.values())))
    names = sorted(per)
    used = {n: sorted({sd for ds in sets for sd in per[n][ds]}) for n in names}
    if len({tuple(v) for v in used.values()}) > 1:
        sys.exit(f"the settings were run on different seeds: {used}; pass --seeds")
    auc = np.array([[np.mean(list(per[n][ds].values())) for ds in sets] for n in names])
    n = len(sets)
    a, b = np.arange(0, n, 2), np.arange(1, n, 2)
    nested = np.zeros(n)
    dirs = {}
    for label, sel, rep in (("choose_on_B_report_on_A", b, a), ("choose_on_A_report_on_B", a, b)):
        i = choose(auc, sel)
        nested[rep] = auc[i, rep]
        dirs[label] = {"chosen": names[i], "auroc_selection": float(auc[i, sel].mean()),
                       "auroc_held_out": float(auc[i, rep].mean()),
                       "default_held_out": float(auc[names.index(prefix), rep].mean())}
    # the same choice over 50 random 12 / 13 splits, both directions: how often each setting is chosen, and its
    # held-out gain over the defaults
    rng = np.random.default_rng(0)
    counts = dict.fromkeys(names, 0)
    gains = []
    for _ in range(50):
        perm = rng.permutation(n)
        for sel, rep in ((perm[:12], perm[12:]), (perm[12:], perm[:12])):
            i = choose(auc, sel)
            counts[names[i]] += 1
            gains.append(float(auc[i, rep].mean() - auc[names.index(prefix), rep].mean()))
    res = {"detector": prefix, "seeds": used[prefix], "sets": sets,
           "settings": {nm: float(auc[k].mean()) for k, nm in enumerate(names)},
           "directions": dirs, "nested_mean_auroc": float(nested.mean()),
           "default_mean_auroc": float(auc[names.index(prefix)].mean()),
           "random_splits": {"n_choices": len(gains), "chosen_counts": counts,
                             "held_out_gain_over_default_mean": float(np.mean(gains)),
                             "held_out_gain_over_default_std": float(np.std(gains)),
                             "gain_positive_share": float(np.mean(np.array(gains) > 0))}}
    print(json.dumps(res, indent=1))
    if out is not None:
        out.write_text(json.dumps(res, indent=1))
    return res


def main(argv=None) -> None:
    from tabular_combinations import load

    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "--choose-setting":  # --choose-setting PREFIX OUT.json [--seeds S ...] RESULTS.json ...
        files, seeds = argv[3:], None
        if files and files[0] == "--seeds":
            seeds = {int(v) for v in itertools.takewhile(str.isdigit, files[1:])}
            files = files[1 + len(seeds):]
        choose_setting([Path(f) for f in files], argv[1], Path(argv[2]), seeds)
        return

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scores", type=Path, help="folder written by tabular.py --save-scores")
    ap.add_argument("--exclude", default="", help="comma-separated members to leave out")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--rules", nargs="+", default=["mean"])
    ap.add_argument("--random-splits", type=int, default=50)
    ap.add_argument("--out", type=Path, default=RESULTS / "tabular_nested")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    table, labels = load(args.scores, None)
    members = sorted({m for cols in table.values() for m in cols} - set(args.exclude.split(",")))
    complete = {k: v for k, v in table.items() if all(m in v for m in members)}
    if len(complete) < len(table):
        sys.exit(f"members missing on {sorted(set(table) - set(complete))}; rerun or --exclude them")
    seeds = sorted({k[1] for k in table})
    combos, auc, sets = combo_table(table, labels, members, args.sizes, args.rules)
    print(f"{len(sets)} sets, seeds {seeds}, {len(members)} candidates, {len(combos)} combinations "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)
    index = {c: i for i, c in enumerate(combos)}
    idx_base = index[((BASELINE,), "mean")]
    cur = (tuple(sorted(CURRENT)), "mean")
    idx_cur = index.get(cur) if all(m in members for m in CURRENT) else None
    if idx_cur is None and all(m in members for m in CURRENT):  # the current ensemble's size is not searched
        S = []
        for key in sorted(table):
            S.append((key[0], fast_auroc(labels[key], np.column_stack([table[key][m] for m in CURRENT]).mean(axis=1))))
        row = np.array([np.mean([a for s, a in S if s == ds]) for ds in sets])
        combos.append(cur)
        auc = np.vstack([auc, row])
        idx_cur = len(combos) - 1
    singles = np.array([i for i, (c, _) in enumerate(combos) if len(c) == 1])
    searched = np.arange(len(combos) if idx_cur is None or len(cur[0]) in args.sizes else len(combos) - 1)

    n = len(sets)
    half_a, half_b = np.arange(0, n, 2), np.arange(1, n, 2)
    dirs = {}
    nested = np.zeros(n)
    for name, sel, rep in (("choose_on_B_report_on_A", half_b, half_a), ("choose_on_A_report_on_B", half_a, half_b)):
        d, i = direction([combos[k] for k in searched], auc[searched], sets, sel, rep, idx_base,
                         idx_cur if idx_cur in searched else None, singles)
        if idx_cur is not None:
            d["current_ensemble_held_out"] = float(auc[idx_cur, rep].mean())
        nested[rep] = auc[searched][i, rep]
        dirs[name] = d

    rng = np.random.default_rng(0)
    gains, gains_cur = [], []
    for _ in range(args.random_splits):
        perm = rng.permutation(n)
        a, b = np.sort(perm[: n // 2]), np.sort(perm[n // 2:])
        for sel, rep in ((a, b), (b, a)):
            i = searched[choose(auc[searched], sel)]
            gains.append(float(auc[i, rep].mean() - auc[idx_base, rep].mean()))
            if idx_cur is not None:
                gains_cur.append(float(auc[i, rep].mean() - auc[idx_cur, rep].mean()))
    summary = {
        "nested_mean_auroc": float(nested.mean()),
        "nested_per_set": dict(zip(sets, map(float, nested))),
        "pyod_knn_mean_auroc": float(auc[idx_base].mean()),
        "current_ensemble_mean_auroc": None if idx_cur is None else float(auc[idx_cur].mean()),
        "best_combination_all_sets": {"members": list(combos[searched[np.argmax(auc[searched].mean(axis=1))]][0]),
                                      "auroc": float(auc[searched].mean(axis=1).max())},
        "random_splits": {"n": args.random_splits, "gain_over_pyod_knn_mean": float(np.mean(gains)),
                          "gain_over_pyod_knn_sd": float(np.std(gains)),
                          "gain_over_pyod_knn_share_positive": float(np.mean(np.array(gains) > 0)),
                          "gain_over_current_mean": float(np.mean(gains_cur)) if gains_cur else None},
    }
    meta = {"command": " ".join(["python", "benchmarks/tabular_nested.py", *(argv if argv is not None else sys.argv[1:])]),
            "seeds": seeds, "members": members, "sizes": args.sizes, "rules": args.rules,
            "n_combinations": len(searched), "seconds": round(time.perf_counter() - t0, 1),
            "load_average": os.getloadavg(), "directions": dirs, "summary": summary}
    md = render(meta)
    print(md)
    for path, text in ((args.out.with_suffix(".json"), json.dumps(meta, indent=1)), (args.out.with_suffix(".md"), md)):
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)


def render(meta: dict) -> str:
    s = meta["summary"]
    cur = s["current_ensemble_mean_auroc"]
    lines = [f"Command: `{meta['command']}` — seeds {meta['seeds']}, {len(meta['members'])} candidate members "
             f"({', '.join(meta['members'])}), {meta['n_combinations']} combinations (sizes {meta['sizes']}, "
             f"rules {meta['rules']}), offline AUROC from saved member scores.", "",
             "| direction | chosen (on the selection half) | AUROC selection half | **AUROC held-out half** | "
             "best single (chosen on selection) held-out | pyod.knn held-out | current ensemble held-out (chosen on all 25) | best possible on held-out |",
             "|---|---|---|---|---|---|---|---|"]
    for name, d in meta["directions"].items():
        c = d["chosen"]
        lines.append(f"| {name.replace('_', ' ')} ({len(d['select_on'])} -> {len(d['report_on'])} sets) | "
                     f"{' + '.join(c['members'])} ({c['rule']}) | {c['auroc_selection']:.4f} | **{c['auroc_held_out']:.4f}** | "
                     f"{d['best_single_on_selection']['member']} {d['best_single_on_selection']['auroc_held_out']:.4f} | "
                     f"{d['pyod_knn_held_out']:.4f} | {d.get('current_ensemble_held_out', float('nan')):.4f} | "
                     f"{d['best_on_held_out_itself']:.4f} |")
    r = s["random_splits"]
    lines += ["",
              f"- **Nested mean AUROC over all 25 sets** (each set scored by the combination chosen on the other half): "
              f"**{s['nested_mean_auroc']:.4f}**; `pyod.knn` {s['pyod_knn_mean_auroc']:.4f}; the current "
              f"`ensemble:knn-lof-cos-gmm` members offline " + ("n/a" if cur is None else f"{cur:.4f}") +
              " (chosen on these same sets).",
              f"- Best combination on all 25 sets (selection on the test data): {' + '.join(s['best_combination_all_sets']['members'])} "
              f"{s['best_combination_all_sets']['auroc']:.4f}.",
              f"- {r['n']} random 12/13 splits, both directions: held-out gain of the chosen combination over "
              f"`pyod.knn` {r['gain_over_pyod_knn_mean']:+.4f} ± {r['gain_over_pyod_knn_sd']:.4f} (positive in "
              f"{100 * r['gain_over_pyod_knn_share_positive']:.0f} %)" +
              ("" if r["gain_over_current_mean"] is None else
               f"; against the current ensemble's members on the same held-out half {r['gain_over_current_mean']:+.4f}") + ".",
              "", "Per set (nested AUROC):", "", "| set | nested AUROC |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in s["nested_per_set"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
