"""How often does it cry wolf? False-alarm rate on normal data that played no part in fitting.

For every domain the model is fitted with the defaults of its config (``configs/*.yaml``; the
tables with ``pyod.knn``, leave-one-out calibrated), the threshold is set to ``fpr:0.01`` and
``fpr:0.05`` on the pipeline's held-out calibration scores (nothing from the test split), and
the realised false-alarm rate on unseen normal items is reported with the recall:

* medical: PneumoniaMNIST, fit on the normal train images, rate on the 234 normal test images;
* industrial: magnetic tile, fit on the 600 good train images, rate on the 352 good test images;
* acoustic: MIMII fan, per machine group: fit on half the normal recordings, rate on the clips
  of the other normal recordings;
* telemetry: SMD, per machine: fit on the train half, rate on the normal test minutes, with a
  static threshold and with rolling re-calibration (``scoring/rolling.py``, ``--rolling-window``, default 4320);
* tables: 25 ODDS / ADBench sets, 70 % of the normal rows train, rate on the other normal rows.
  Probabilities: the p-value -> P(anomaly) map is fitted on a labelled half of the test split
  and its expected calibration error (ECE, 10 bins) measured on the other half.

Usage::

    python benchmarks/alarms.py --quick          # ~10 min on 1 core
    python benchmarks/alarms.py                  # full size (one run)
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DEFAULT_DATA = REPO.parent / "shared" / "data"
ALPHAS = (0.01, 0.05)


def _yaml(name: str) -> dict:
    import yaml

    return yaml.safe_load((REPO / "configs" / f"{name}.yaml").read_text())


def _pipeline(cfg: dict, epochs: int | None, **adapter):
    import anomalib_ae
    from anomalib_ae.pipeline import pipeline_from_config

    dp = {"verbose": False, "accelerator": "cpu"}
    if epochs:
        dp["epochs"] = epochs
    # only what the config's detector takes (industrial.yaml's subspace has no epochs, verbose or accelerator)
    valid = set(anomalib_ae.get_detector_class(cfg["detector"]["name"])().get_params(deep=False))
    dp = {k: v for k, v in dp.items() if k in valid}
    return pipeline_from_config(cfg, detector_params=dp, adapter_params=adapter or None)


def _rates(scores: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    ok = np.isfinite(scores)
    flag = scores > threshold
    return {"fpr": float(flag[(y == 0) & ok].mean()), "recall": float(flag[(y == 1) & ok].mean()) if (y == 1).any() else float("nan"),
            "n_normal": int(((y == 0) & ok).sum()), "n_anomalous": int(((y == 1) & ok).sum())}


def _rows_for(domain: str, dataset: str, pipe, scores: np.ndarray, y: np.ndarray, **extra) -> list[dict]:
    rows = []
    for a in ALPHAS:
        pipe.set_threshold(f"fpr:{a}")
        rows.append({"domain": domain, "dataset": dataset, "alpha": a, **_rates(scores, y, pipe.threshold_),
                     "n_calibration": int(len(pipe.calibration_scores_)), "calibration": pipe.calibration_method_,
                     **extra})
    return rows


# ---------------------------------------------------------------------------------------- domains
def _recalibrated_rows(domain, dataset, pipe, x_normal, x_anom, seed=0) -> list[dict]:
    """What a site does after a shift: `calibrate` on half of its fresh normal items, rate on the other half."""
    perm = np.random.default_rng(seed).permutation(len(x_normal))
    half = len(perm) // 2
    pipe.calibrate(x_normal[perm[:half]], threshold="fpr:0.05")
    s = np.concatenate([pipe.score(x_normal[perm[half:]]), pipe.score(x_anom)])
    y = np.r_[np.zeros(len(perm) - half, int), np.ones(len(x_anom), int)]
    return _rows_for(domain, dataset, pipe, s, y, mode="recalibrated on half the test normals")


def bench_medical(args) -> list[dict]:
    z = np.load(Path(args.data) / "medical" / "pneumoniamnist.npz")
    xn = z["train_images"][z["train_labels"].ravel() == 0]
    perm = np.random.default_rng(0).permutation(len(xn))
    n_fit = 600 if args.quick else int(0.85 * len(xn))
    xtr, x_unseen = xn[perm[:n_fit]], xn[perm[n_fit:]]
    xte, y = z["test_images"], z["test_labels"].ravel().astype(int)
    pipe = _pipeline(_yaml("medical"), 5 if args.quick else None).fit(xtr)
    s_te = pipe.score(xte)
    rows = _rows_for("medical", "pneumoniamnist test split", pipe, s_te, y, n_train=len(xtr))
    s_un = np.concatenate([pipe.score(x_unseen), s_te[y == 1]])
    rows += _rows_for("medical", "pneumoniamnist unseen train normals", pipe, s_un,
                      np.r_[np.zeros(len(x_unseen), int), np.ones(int(y.sum()), int)], n_train=len(xtr),
                      mode="exchangeable")
    rows += _recalibrated_rows("medical", "pneumoniamnist test split", pipe, xte[y == 0], xte[y == 1])
    return rows


def bench_industrial(args) -> list[dict]:
    z = np.load(Path(args.data) / "industrial" / "magnetic_tile_64.npz")
    # x_train is not in random order: a quick run takes a random subset
    xtr = z["x_train"][np.random.default_rng(0).permutation(600)[:300]] if args.quick else z["x_train"]
    pipe = _pipeline(_yaml("industrial"), 5 if args.quick else None).fit(xtr)
    return _rows_for("industrial", "magnetic_tile", pipe, pipe.score(z["x_test"]), z["y_test"].astype(int),
                     n_train=len(xtr))


def bench_acoustic(args) -> list[dict]:
    root = Path(args.data) / "acoustic"
    with open(root / "labels.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    rows = []
    for group in sorted({r["group"] for r in table}):
        g = [r for r in table if r["group"] == group]
        normal_src = sorted({r["source_path"] for r in g if r["label"] == "0"})
        train_src = set(normal_src[: len(normal_src) // 2])
        tr = [str(root / r["file"]) for r in g if r["source_path"] in train_src]
        te = [r for r in g if r["source_path"] not in train_src]
        pipe = _pipeline(_yaml("acoustic"), 3 if args.quick else None).fit(tr)
        s = pipe.score([str(root / r["file"]) for r in te])
        rows += _rows_for("acoustic", group, pipe, s, np.array([int(r["label"]) for r in te]), n_train=len(tr))
    return rows


def _smd_frame(x: np.ndarray, start: int):
    import pandas as pd

    d = pd.DataFrame(x, columns=[f"m{j + 1:02d}" for j in range(x.shape[1])])
    d.insert(0, "timestamp", pd.Timestamp("2019-01-01") + pd.to_timedelta(np.arange(start, start + len(x)), unit="min"))
    return d


def smd_scores(path: Path, args) -> dict:
    """Per-minute scores of one SMD machine, computed once and cached (``--score-cache``).

    * ``test``: the pipeline fitted on the whole train half scores the test half;
      ``cal``: its held-out calibration scores (time-ordered tail of the train half);
    * ``sim_test``, ``sim_cal``: a second pipeline fitted on the first half of the train half
      scores the second half (normal, unlabelled): the label-free simulation on which the
      rolling strategy is chosen (nothing from the test half).
    """
    settings = f"e{args.telemetry_epochs or 'cfg'}_s{args.telemetry_stride or 'cfg'}"
    cache = Path(args.score_cache) / settings / f"{path.stem}.npz" if args.score_cache else None
    if cache is not None and cache.exists():
        z = np.load(cache)
        return {k: z[k] for k in z.files}
    cfg = _yaml("hpc")
    cfg["adapter"]["params"].update(entity_col=None, exclude=[])
    extra = {"stride": args.telemetry_stride} if args.telemetry_stride else {}
    z = np.load(path)
    tr, te = z["train"], z["test"]
    t = time.time()
    pipe = _pipeline(cfg, args.telemetry_epochs, **extra).fit(_smd_frame(tr, 0))
    out = {"test": pipe.score(_smd_frame(te, len(tr))), "cal": np.asarray(pipe.calibration_scores_),
           "y": z["test_label"].astype(int)}
    half = len(tr) // 2
    sim = _pipeline(cfg, args.telemetry_epochs, **extra).fit(_smd_frame(tr[:half], 0))
    out.update(sim_test=sim.score(_smd_frame(tr[half:], half)), sim_cal=np.asarray(sim.calibration_scores_),
               seconds=np.float64(time.time() - t))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.stem}.tmp.npz")
        np.savez(tmp, **out)
        os.replace(tmp, cache)
    return out


#: Rolling strategies compared on SMD; the default of RollingCalibrator was chosen on the label-free
#: train-period simulation (fit on the first half of the train period, roll over its second half).
ROLLING_CANDIDATES = {
    "fixed level, exclusions only (before), refresh 60": {"max_excluded_run": None, "gamma": 0.0, "refresh": 60},
    "+ new-level rule (360), refresh 60": {"gamma": 0.0, "refresh": 60},
    "+ adaptive level (gamma 0.002, cap 2 alpha), refresh 60": {"refresh": 60},
    "+ adaptive level, refresh 5 (default)": {},
}


def _roll_rate(cal, s, y, alpha, window, **kw) -> tuple[float, float, np.ndarray]:
    from anomalib_ae.scoring.rolling import RollingCalibrator

    roll = RollingCalibrator(cal, alpha, window=window, **kw).update(s)
    ok = np.isfinite(s)
    norm, anom = ok & (y == 0), ok & (y == 1)
    return float(roll.flags[norm].mean()), float(roll.flags[anom].mean()) if anom.any() else float("nan"), roll.drift[ok]


def bench_telemetry(args) -> list[dict]:
    from anomalib_ae.scoring.threshold import fpr_threshold

    machines = sorted((Path(args.data) / "telemetry" / "smd").glob("machine-*.npz"))
    if args.machines:
        machines = [m for m in machines if m.stem in args.machines.split(",")]
    rows = []
    for path in machines:
        t = time.time()
        z = smd_scores(path, args)
        s, y, cal = z["test"], z["y"], z["cal"]
        ok = np.isfinite(s)
        for a in ALPHAS:
            rows.append({"domain": "telemetry", "dataset": path.stem, "alpha": a, "mode": "static",
                         **_rates(s, y, fpr_threshold(cal, a)), "n_calibration": int(len(cal)), "calibration": "holdout"})
        for a in ALPHAS:
            fpr, rec, drift = _roll_rate(cal, s, y, a, args.rolling_window)
            rows.append({"domain": "telemetry", "dataset": path.stem, "alpha": a, "mode": "rolling",
                         "fpr": fpr, "recall": rec, "n_normal": int(((y == 0) & ok).sum()),
                         "n_anomalous": int(((y == 1) & ok).sum()), "n_calibration": int(len(cal)),
                         "calibration": "rolling", "drift_warning_share": float(np.mean(drift))})
            if args.rolling_candidates:
                sim, sim_cal = z["sim_test"], z["sim_cal"]
                default = (fpr, rec)
                for name, kw in ROLLING_CANDIDATES.items():
                    sim_rate = _roll_rate(sim_cal, sim, np.zeros(len(sim), int), a, args.rolling_window, **kw)[0]
                    fpr, rec = _roll_rate(cal, s, y, a, args.rolling_window, **kw)[:2] if kw else default
                    rows.append({"domain": "telemetry-selection", "dataset": path.stem, "alpha": a, "mode": name,
                                 "sim_rate": sim_rate, "fpr": fpr, "recall": rec})
        print(f"    {path.stem}: {time.time() - t:.0f} s", flush=True)
    return rows


def bench_tabular(args) -> list[dict]:
    import anomalib_ae
    from anomalib_ae.scoring.probability import fit_probability_map, prior_probability, reliability

    rows = []
    for f in sorted((Path(args.data) / "tabular").glob("*.npz")):
        z = np.load(f)
        X, y = z["X"].astype(np.float64), z["y"].astype(int)
        rng = np.random.default_rng(0)
        normal = rng.permutation(np.flatnonzero(y == 0))
        cap_train, cap_test = (2000, 2000) if args.quick else (20000, 10000)
        n_train = min(int(0.7 * normal.size), cap_train)
        train, test_n = normal[:n_train], normal[n_train:n_train + cap_test]
        test = np.concatenate([test_n, np.flatnonzero(y == 1)])
        det = anomalib_ae.create("pyod.knn", random_state=0).fit(X[train])
        s, yt = det.score(X[test]), y[test]
        from anomalib_ae.pipeline import from_detector

        pipe = from_detector(det)
        extra = {"n_train": int(n_train)}
        # probability: fit the map on a labelled half of the test split, ECE on the other half
        p = det.p_value(X[test])
        half = rng.random(len(test)) < 0.5
        if yt[half].sum() >= 2 and yt[~half].sum() >= 2:
            base = yt[~half].mean()
            extra["ece_one_minus_p"] = reliability(1 - p[~half], yt[~half]).ece
            extra["ece_prior_bound"] = reliability(prior_probability(p[~half], det.contamination), yt[~half]).ece
            for method in ("platt", "isotonic"):
                m = fit_probability_map(p[half], yt[half], method=method)
                extra[f"ece_{method}"] = reliability(m(p[~half]), yt[~half]).ece
            extra["anomaly_share"] = float(base)
        rows += _rows_for("tabular", f.stem, pipe, s, yt, **extra)
    return rows


def bench_tabular_labels(args) -> list[dict]:
    """``fit(X, y)`` with a few known anomalies (Deep SAD style): ECE of ``predict_proba`` on held-out labelled items."""
    import anomalib_ae
    from anomalib_ae.scoring.probability import prior_probability, reliability

    rows = []
    for f in sorted((Path(args.data) / "tabular").glob("*.npz")):
        z = np.load(f)
        X, y = z["X"].astype(np.float64), z["y"].astype(int)
        rng = np.random.default_rng(0)
        normal, anomalous = rng.permutation(np.flatnonzero(y == 0)), rng.permutation(np.flatnonzero(y == 1))
        n_train = min(int(0.7 * normal.size), 2000)
        n_known = min(10, anomalous.size // 2)
        train, known = normal[:n_train], anomalous[:n_known]
        test = np.concatenate([normal[n_train:n_train + 10000], anomalous[n_known:]])
        det = anomalib_ae.create("pyod.knn", random_state=0).fit(X[np.r_[train, known]],
                                                                 np.r_[np.zeros(n_train), np.ones(n_known)])
        yt = y[test]
        rows.append({"domain": "tabular-labels", "dataset": f.stem, "n_train": int(n_train), "n_known": int(n_known),
                     "anomaly_share": float(yt.mean()), "contamination": float(det.contamination),
                     "ece_fit_labels": reliability(det.predict_proba(X[test])[:, 1], yt).ece,
                     "ece_prior_bound": reliability(prior_probability(det.p_value(X[test]), det.contamination), yt).ece})
    return rows


DOMAINS = {"tabular": bench_tabular, "tabular-labels": bench_tabular_labels, "medical": bench_medical, "industrial": bench_industrial,
           "acoustic": bench_acoustic, "telemetry": bench_telemetry}


# ---------------------------------------------------------------------------------------- report
def _selection(rows: list[dict]) -> dict:
    out = {}
    sel = [r for r in rows if r["domain"] == "telemetry-selection"]
    for name in dict.fromkeys(r["mode"] for r in sel):
        for a in ALPHAS:
            rs = [r for r in sel if r["mode"] == name and r["alpha"] == a]
            sim, fpr = np.array([r["sim_rate"] for r in rs]), np.array([r["fpr"] for r in rs])
            out[f"{name}/{a}"] = {"machines": len(rs), "sim_within_0.02": int(np.sum(np.abs(sim - a) <= 0.02)),
                                  "sim_mean_abs_dev": float(np.mean(np.abs(sim - a))),
                                  "test_within_0.02": int(np.sum(np.abs(fpr - a) <= 0.02)),
                                  "test_mean_fpr": float(fpr.mean()), "test_mean_recall": float(np.nanmean([r["recall"] for r in rs]))}
    return out


def _summary(rows: list[dict]) -> dict:
    out = {}
    for dom in sorted({r["domain"] for r in rows} - {"telemetry-selection", "tabular-labels"}):
        for a in ALPHAS:
            for mode in sorted({r.get("mode", "static") for r in rows if r["domain"] == dom}):
                rs = [r for r in rows if r["domain"] == dom and r["alpha"] == a and r.get("mode", "static") == mode]
                if not rs:
                    continue
                dev = np.array([r["fpr"] - a for r in rs])
                out[f"{dom}/{mode}/{a}"] = {
                    "sets": len(rs), "mean_fpr": float(np.mean([r["fpr"] for r in rs])),
                    "mean_abs_dev": float(np.mean(np.abs(dev))), "max_abs_dev": float(np.max(np.abs(dev))),
                    "within_0.02": int(np.sum(np.abs(dev) <= 0.02)), "within_0.05": int(np.sum(np.abs(dev) <= 0.05)),
                    "mean_recall": float(np.nanmean([r["recall"] for r in rs]))}
    return out


def markdown(rows: list[dict], meta: dict) -> str:
    merged = meta.get("merged")
    note = (f" Domains {', '.join(merged['rerun_domains'])} rerun; the others from the previous run "
            f"({merged['previous_meta']['seconds'] / 60:.1f} min, telemetry then: epochs "
            f"{merged['previous_meta'].get('telemetry_epochs')}, stride {merged['previous_meta'].get('telemetry_stride')})."
            if merged else "")
    lines = [f"# False alarms on unseen normal data ({'quick' if meta['quick'] else 'full'} run)", "",
             f"{meta['seconds'] / 60:.1f} min, {meta['threads']} torch thread(s); telemetry epochs "
             f"{meta['telemetry_epochs'] or 'hpc.yaml'}, stride {meta['telemetry_stride'] or 'hpc.yaml'}. Threshold `fpr:alpha` from the "
             "pipeline's held-out calibration scores; `fpr` = share of unseen normal items flagged, "
             "`recall` = share of anomalies flagged." + note, "",
             "## Summary", "", "| domain | mode | alpha | sets | mean fpr | mean abs(fpr - alpha) | max abs | "
             "within 0.02 | within 0.05 | mean recall |", "|---|---|---|---|---|---|---|---|---|---|"]
    for key, v in meta["summary"].items():
        dom, mode, a = key.split("/")
        lines.append(f"| {dom} | {mode} | {a} | {v['sets']} | {v['mean_fpr']:.3f} | {v['mean_abs_dev']:.3f} | "
                     f"{v['max_abs_dev']:.3f} | {v['within_0.02']} | {v['within_0.05']} | {v['mean_recall']:.3f} |")
    lines += ["", "## Per set", "", "| domain | set | mode | fpr@0.01 | recall@0.01 | fpr@0.05 | recall@0.05 | "
              "normal items | calibration items |", "|---|---|---|---|---|---|---|---|---|"]
    keys = []
    for r in rows:
        if r["domain"] in ("telemetry-selection", "tabular-labels"):
            continue
        k = (r["domain"], r["dataset"], r.get("mode", "static"))
        if k not in keys:
            keys.append(k)
    for k in keys:
        rs = {r["alpha"]: r for r in rows if (r["domain"], r["dataset"], r.get("mode", "static")) == k}
        a, b = rs[0.01], rs[0.05]
        lines.append(f"| {k[0]} | {k[1]} | {k[2]} | {a['fpr']:.3f} | {a['recall']:.3f} | {b['fpr']:.3f} | "
                     f"{b['recall']:.3f} | {a['n_normal']} | {a['n_calibration']} ({a['calibration']}) |")
    if meta.get("rolling_selection"):
        lines += ["", "## SMD: choosing the rolling strategy without test labels", "",
                  f"Window {meta['rolling_window']}. `sim`: a pipeline fitted on the first half of each machine's train "
                  "period rolls over the second half (unlabelled, presumed normal: every flag counts as a false alarm); "
                  "the default was chosen on these columns only. `test`: normal test minutes, shown for the record.", "",
                  "| strategy | alpha | sim: machines within 0.02 | sim: mean abs(rate - alpha) | test: machines within 0.02 "
                  "| test: mean fpr | test: mean recall |", "|---|---|---|---|---|---|---|"]
        for key, v in meta["rolling_selection"].items():
            name, a = key.rsplit("/", 1)
            lines.append(f"| {name} | {a} | {v['sim_within_0.02']}/{v['machines']} | {v['sim_mean_abs_dev']:.3f} | "
                         f"{v['test_within_0.02']}/{v['machines']} | {v['test_mean_fpr']:.3f} | {v['test_mean_recall']:.3f} |")
    tab = [r for r in rows if r["domain"] == "tabular" and r["alpha"] == 0.05 and "ece_platt" in r]
    if tab:
        lines += ["", "## Probabilities (tables): expected calibration error on held-out labelled items", "",
                  "Map fitted on a random labelled half of each test split, ECE (10 bins) on the other half. "
                  "`1 - p` is the old probability; the prior bound is the label-free definition "
                  "(prior = contamination 0.1).", "",
                  "| set | anomaly share | ECE 1 - p | ECE prior bound | ECE Platt | ECE isotonic |",
                  "|---|---|---|---|---|---|"]
        for r in tab:
            lines.append(f"| {r['dataset']} | {r['anomaly_share']:.3f} | {r['ece_one_minus_p']:.3f} | "
                         f"{r['ece_prior_bound']:.3f} | {r['ece_platt']:.3f} | {r['ece_isotonic']:.3f} |")
        m = {k: float(np.mean([r[k] for r in tab])) for k in ("ece_one_minus_p", "ece_prior_bound", "ece_platt", "ece_isotonic")}
        lines.append(f"| **mean** | | {m['ece_one_minus_p']:.3f} | {m['ece_prior_bound']:.3f} | {m['ece_platt']:.3f} | "
                     f"{m['ece_isotonic']:.3f} |")
    lab = [r for r in rows if r["domain"] == "tabular-labels"]
    if lab:
        lines += ["", "## Probabilities from fit(X, y) with a few known anomalies (tables)", "",
                  "`pyod.knn` fitted on up to 2000 normal rows plus 10 known anomalies labelled `y = 1` (held out of "
                  "the fit; the Platt map is fitted on their p-values, prior = contamination 0.1); ECE (10 bins) of "
                  "`predict_proba` on the other test rows, beside the label-free prior bound.", "",
                  "| set | known anomalies | anomaly share (test) | ECE fit(X, y) | ECE prior bound |", "|---|---|---|---|---|"]
        for r in lab:
            lines.append(f"| {r['dataset']} | {r['n_known']} | {r['anomaly_share']:.3f} | {r['ece_fit_labels']:.3f} | "
                         f"{r['ece_prior_bound']:.3f} |")
        lines.append(f"| **mean** | | | {np.mean([r['ece_fit_labels'] for r in lab]):.3f} | "
                     f"{np.mean([r['ece_prior_bound'] for r in lab]):.3f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--quick", action="store_true", help="small sizes and few epochs (~10 min on 1 core)")
    ap.add_argument("--domains", default=",".join(DOMAINS))
    ap.add_argument("--machines", default=None, help="SMD machines (comma-separated); default all 19, quick 3")
    ap.add_argument("--rolling-window", type=int, default=4320)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--telemetry-epochs", type=int, default=None, help="default: hpc.yaml's (quick: 3)")
    ap.add_argument("--telemetry-stride", type=int, default=None, help="default: hpc.yaml's (quick: 4)")
    ap.add_argument("--rolling-candidates", action="store_true",
                    help="also compare the rolling strategies of ROLLING_CANDIDATES (train-period simulation and test)")
    ap.add_argument("--score-cache", default=None, help="folder for SMD per-minute scores (computed once, reused)")
    ap.add_argument("--out", default=None, help="result name (default alarms / alarms_quick)")
    ap.add_argument("--merge", action="store_true", help="keep the rows of the domains not rerun from the previous result")
    args = ap.parse_args(argv)
    if not Path(args.data).is_dir():
        sys.exit(f"data folder not found: {args.data}")
    if args.quick:
        args.machines = args.machines or "machine-1-2,machine-2-1,machine-3-2"
        args.telemetry_epochs = args.telemetry_epochs or 3
        args.telemetry_stride = args.telemetry_stride or 4
    meta_extra = {"telemetry_epochs": args.telemetry_epochs, "telemetry_stride": args.telemetry_stride}
    import torch

    torch.set_num_threads(args.threads)
    t0 = time.time()
    rows: list[dict] = []
    for dom in args.domains.split(","):
        t = time.time()
        print(f"{dom} ...", flush=True)
        rows += DOMAINS[dom](args)
        print(f"  {dom}: {time.time() - t:.0f} s", flush=True)
    meta = {"quick": args.quick, "threads": args.threads, "seconds": time.time() - t0, "alphas": list(ALPHAS),
            "rolling_window": args.rolling_window, **meta_extra}
    name = args.out or ("alarms_quick" if args.quick else "alarms")
    res_dir = REPO / "benchmarks" / "results"
    res_dir.mkdir(parents=True, exist_ok=True)
    if args.merge and (res_dir / f"{name}.json").exists():  # keep the other domains' rows of the previous run
        old = json.loads((res_dir / f"{name}.json").read_text())
        rerun = set(args.domains.split(",")) | ({"telemetry-selection"} if "telemetry" in args.domains else set())
        rows = [r for r in old["rows"] if r["domain"] not in rerun] + rows
        first = old["meta"].get("merged", {}).get("previous_meta") or {  # the run the kept rows come from
            k: v for k, v in old["meta"].items() if k not in ("summary", "rolling_selection")}
        rerun |= set(old["meta"].get("merged", {}).get("rerun_domains", []))
        meta["merged"] = {"rerun_domains": sorted(rerun), "previous_meta": first}
    meta["summary"] = _summary(rows)
    meta["rolling_selection"] = _selection(rows)
    meta["loadavg"] = list(os.getloadavg())
    md = markdown(rows, meta)
    for suffix, text in (("json", json.dumps({"meta": meta, "rows": rows}, indent=1, default=float)), ("md", md)):
        tmp = res_dir / f".{name}.{suffix}.tmp"
        tmp.write_text(text)
        os.replace(tmp, res_dir / f"{name}.{suffix}")
    print(md)


if __name__ == "__main__":
    main()
