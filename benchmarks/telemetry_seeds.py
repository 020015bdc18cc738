"""SMD against its peers over several seeds: mean ± std over seeds of the 19-machine means.

    python benchmarks/telemetry_peers.py --methods ours:ae,ours:winae,pyod:pyod.deepsvdd,pyod:pyod.autoencoder,\\
        pyod:pyod.vae,pyod:pyod.iforest --window 30 --seed 1 --tag seed1        # and --seed 2 --tag seed2
    python benchmarks/telemetry_peers.py --methods deepod:COUTA --seed 1 --tag deepod_seed1    # DeepOD too
    python benchmarks/telemetry_seeds.py        # results/telemetry_peers.json (seed 0) + every *seed<N>.json

Reads the result files of ``telemetry_peers.py`` runs that differ only in ``--seed`` (same machines,
windows, training stride and epochs; checked) and writes ``results/telemetry_seeds.{json,md}``.
A (method, seed) in several files counts once. A method is shown with the seeds it has (PyOD's kNN, LOF and ECOD are
deterministic).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _results import write_results  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
METRICS = ("auroc", "best_f1", "f1_pa", "range_f1")
DETERMINISTIC = ("pyod:pyod.knn@", "pyod:pyod.lof@", "pyod:pyod.ecod@")


def machine_means(run: dict) -> dict[str, dict]:
    """method -> {metric: mean over machines, 'machines': n} of one run."""
    out = {}
    for m in run["methods"]:
        rows = [r for r in run["rows"] if r["method"] == m]
        out[m] = {k: float(np.mean([r[k] for r in rows])) for k in METRICS} | {"machines": len(rows)}
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", default=[str(RESULTS / "telemetry_peers.json"),
                                                *map(str, sorted(RESULTS.glob("telemetry_peers*seed[0-9]*.json")))])
    ap.add_argument("--out", default=str(RESULTS / "telemetry_seeds"))
    args = ap.parse_args(argv)
    runs = [json.loads(Path(p).read_text()) for p in args.runs]
    settings = {json.dumps({k: v for k, v in r["settings"].items() if k not in ("seed", "deepod")}, sort_keys=True)
                for r in runs}  # DeepOD's settings are listed only by runs that had DeepOD methods
    if len(settings) != 1:
        sys.exit(f"the runs differ in more than the seed: {sorted(settings)}")
    by_seed: dict[tuple[str, int], dict] = {}  # (method, seed) -> its means; a seed in two files counts once
    for r in runs:
        for m, v in machine_means(r).items():
            key = (m, int(r["settings"].get("seed", 0)))
            if key not in by_seed or v["machines"] > by_seed[key]["machines"]:
                by_seed[key] = v
    methods = list(dict.fromkeys(m for m, _ in by_seed))
    table = {}
    for m in methods:
        got = [v for (mm, _), v in by_seed.items() if mm == m]
        most = max(g["machines"] for g in got)
        got = [g for g in got if g["machines"] == most]
        table[m] = {"seeds": len(got), "machines": most,
                    **{k: float(np.mean([g[k] for g in got])) for k in METRICS},
                    **{f"{k}_sd": float(np.std([g[k] for g in got])) for k in METRICS}}
    order = sorted(methods, key=lambda m: -table[m]["auroc"])
    lines = ["## SMD against its peers, several seeds", "",
             f"runs: {', '.join(Path(p).name for p in args.runs)}; settings {next(iter(settings))}", "",
             "Mean over the machines per seed, then mean ± std over the seeds the method has. **Bold**: best of "
             "ours, _italic_: best peer (PyOD or DeepOD), per column, among the methods that ran on every machine.", "",
             "| method | seeds | machines | AUROC | best F1 | F1-PA | range F1 |", "|---|---|---|---|---|---|---|"]
    full = max(t["machines"] for t in table.values())  # best-of marks only among methods on every machine
    ours = [m for m in methods if not m.startswith(("pyod:", "deepod:")) and table[m]["machines"] == full]
    peers = [m for m in methods if m.startswith(("pyod:", "deepod:")) and table[m]["machines"] == full]
    best = {(side, k): max(ms, key=lambda m: table[m][k]) for side, ms in (("ours", ours), ("peer", peers)) if ms
            for k in METRICS}
    for m in order:
        t = table[m]
        side = "peer" if m in peers else "ours"

        def cell(k):
            v = f"{t[k]:.4f}" + (f" ± {t[k + '_sd']:.4f}" if t["seeds"] > 1 else "")
            if best.get((side, k)) == m:
                v = f"**{v}**" if side == "ours" else f"_{v}_"
            return v

        note = " (deterministic)" if m.startswith(DETERMINISTIC) else ""
        lines.append(f"| `{m}`{note} | {t['seeds']} | {t['machines']} | " + " | ".join(cell(k) for k in METRICS) + " |")
    md = "\n".join(lines) + "\n"
    print(md)
    write_results(args.out, {"runs": args.runs, "table": table}, md)


if __name__ == "__main__":
    main()
