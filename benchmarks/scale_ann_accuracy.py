"""AUROC of the default tabular ensemble with approximate neighbour search against exact search.

Reads the exact rows of ``benchmarks/results/tabular.json`` (the default protocol) and the rows
of runs made with ``benchmarks/tabular.py --neighbors approximate`` (faiss on every set,
threshold 0), matches (data set, seed), and writes the per-set and mean changes to
``benchmarks/results/scale_ann_accuracy.{json,md}`` (atomically).

    python benchmarks/scale_ann_accuracy.py benchmarks/results/tabular_ann_ivf_seed0.json [more.json ...]
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
DETECTOR = "ensemble:knn-lof-cos-gmm"


def rows(path: Path) -> dict[tuple[str, int], float]:
    out = {}
    for r in json.loads(Path(path).read_text())["results"]:
        if r.get("detector") == DETECTOR and r.get("auroc") is not None:
            out[(r["dataset"], int(r["seed"]))] = float(r["auroc"])
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("approximate", nargs="+", type=Path)
    ap.add_argument("--exact", type=Path, default=RESULTS / "tabular.json")
    ap.add_argument("--out", type=Path, default=RESULTS / "scale_ann_accuracy")
    args = ap.parse_args(argv)
    exact = rows(args.exact)
    approx = {}
    for p in args.approximate:
        approx.update(rows(p))
    pairs = sorted(k for k in approx if k in exact)
    seeds = sorted({s for _, s in pairs})
    per_seed = {}
    for s in seeds:
        keys = [k for k in pairs if k[1] == s]
        e = sum(exact[k] for k in keys) / len(keys)
        a = sum(approx[k] for k in keys) / len(keys)
        per_seed[s] = {"n_sets": len(keys), "exact": e, "approximate": a, "change": a - e}
    diffs = sorted(((approx[k] - exact[k], k) for k in pairs), key=lambda t: t[0])
    res = {"detector": DETECTOR, "per_seed": per_seed,
           "mean_change": sum(v["change"] for v in per_seed.values()) / max(1, len(per_seed)),
           "per_set": [{"dataset": k[0], "seed": k[1], "exact": exact[k], "approximate": approx[k]} for k in pairs]}
    md = [f"{DETECTOR}: mean AUROC, approximate (faiss on every set, threshold 0) against exact", "",
          "| seed | sets | exact | approximate | change |", "|---|---|---|---|---|"]
    md += [f"| {s} | {v['n_sets']} | {v['exact']:.5f} | {v['approximate']:.5f} | {v['change']:+.5f} |"
           for s, v in per_seed.items()]
    md += ["", f"Mean change over seeds: {res['mean_change']:+.5f}", "",
           "Largest per-set drops: " + ", ".join(f"{k[0]} (seed {k[1]}) {d:+.4f}" for d, k in diffs[:5]),
           "Largest per-set gains: " + ", ".join(f"{k[0]} (seed {k[1]}) {d:+.4f}" for d, k in diffs[::-1][:3])]
    text = "\n".join(md) + "\n"
    print(text)
    for path, body in ((args.out.with_suffix(".json"), json.dumps(res, indent=1)), (args.out.with_suffix(".md"), text)):
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(body)
        os.replace(tmp, path)


if __name__ == "__main__":
    main()
