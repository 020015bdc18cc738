"""Cheap levers for the telemetry detector, chosen on the training half only (no test label read).

The validation protocol of ``benchmarks/telemetry_select.py``: per SMD machine the training
half is cut in time, the first 80 % fits, the last 20 % gets seeded synthetic anomalies (level
shifts, variance bursts, flat-lines). One ``winae`` fit per machine (window 30, stride 10,
10 epochs, seed 0) is scored in four ways:

* per-metric RMSE averaged as is (``metric_norm="none"``, the detector's default) or each metric's
  RMSE divided by its mean on held-out normal windows (``metric_norm="train"``);
* a row's score = the mean or the max of the windows covering it (``scoring.timestamp_how``).

PyOD's kNN and DeepSVDD (flattened windows, as in telemetry_peers.py) are scored too, and rank
averages of ours with them are listed for information: our ``ensemble`` does not take PyOD
members on windows, so those are not shippable and are not eligible. ``ae`` (plain MSE; the fit of
telemetry_select.py's candidate, reused from its cache) is a candidate too; rank averages of
``ae`` and ``winae`` stand in for an ``ensemble`` of both (not the real ensemble, so not eligible). The eligible candidate with
the best mean validation AUROC over the machines is chosen (ties: best validation best-F1).

    python benchmarks/telemetry_levers.py [--machines all] [--extra-epochs 30]

Writes ``benchmarks/results/telemetry_levers.{json,md}``; scores cached in ``--cache``
(default ``/work/cache/smd_s8`` where ``/work/cache`` exists).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from telemetry_peers import DEFAULT_CACHE as SELECT_CACHE  # noqa: E402
from telemetry_peers import cached_scores, method_key  # noqa: E402
from telemetry_select import add_protocol_args, inject, machine_paths, windows, write_results  # noqa: E402

DEFAULT_CACHE = Path(os.environ.get("SMD_S8_CACHE") or (
    "/work/cache/smd_s8" if Path("/work/cache").is_dir() else Path.home() / ".cache" / "anomalib_ae" / "smd_s8"))


def to_rows(ws: np.ndarray, idx: np.ndarray, n: int, how: str) -> np.ndarray:
    """Window scores -> one per row: mean or max of the windows covering it."""
    flat, vals = idx.ravel(), np.repeat(ws, idx.shape[1])
    if how == "max":
        out = np.full(n, -np.inf)
        np.maximum.at(out, flat, vals)
        return out
    tot, cnt = np.zeros(n), np.zeros(n)
    np.add.at(tot, flat, vals)
    np.add.at(cnt, flat, 1.0)
    return tot / cnt


def parse_spec(spec: str) -> tuple[str, dict, int]:
    """``"ae:epochs=30,latent_dim=16@stride1"`` -> ("ae", {"epochs": 30, "latent_dim": 16}, 1); values are
    YAML scalars / lists; ``@strideN``: training windows every N rows (default: --train-stride)."""
    import yaml

    spec, _, stride = spec.partition("@stride")
    name, _, rest = spec.partition(":")
    params = {}
    for kv in filter(None, rest.split("|")):
        k, _, v = kv.partition("=")
        params[k.strip()] = yaml.safe_load(v)
    return name.strip(), params, int(stride) if stride else None


def ranks(s: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(s) / len(s)


def main(argv=None) -> None:
    from sklearn.metrics import roc_auc_score

    import anomalib_ae
    from anomalib_ae.scoring import best_f1

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_protocol_args(ap)
    ap.add_argument("--window", type=int, default=30)
    ap.add_argument("--extra-epochs", type=int, default=0, help="also fit winae (metric_norm=train) this long")
    ap.add_argument("--grid", default="", help="more candidates, ';'-separated: name:param=value|param=value@strideN "
                    "(e.g. 'ae:epochs=30;ae:latent_dim=16;ae@stride1')")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--select-cache", default=str(SELECT_CACHE), help="telemetry_select.py's cache (ae fits)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    paths = machine_paths(args.data, args.machines)
    w = args.window
    t0 = time.perf_counter()
    rows = []
    for path in paths:
        tr = np.load(path)["train"].astype(np.float64)
        cut = int(len(tr) * (1 - args.val))
        mean, std = tr[:cut].mean(0), tr[:cut].std(0)
        z = (tr - mean) / np.where(std > 0, std, 1.0)
        zval, yval = inject(z[cut:], np.random.default_rng(args.seed), args.events)
        Xfit = windows(z[:cut], w, args.train_stride)[0]
        wv, idx = windows(zval, w, 1)
        base = {"window": w, "train_stride": args.train_stride, "seed": args.seed, "val": args.val,
                "events": args.events, "protocol": "select-v1"}
        cands: dict[str, np.ndarray] = {}

        def fit_winae(epochs: int):
            def compute():
                det = anomalib_ae.create("winae", metric_norm="train", epochs=epochs, random_state=args.seed,
                                         verbose=False, accelerator="cpu", input_kind="window")
                t1 = time.perf_counter()
                det.fit(Xfit)
                t2 = time.perf_counter()
                s_norm = det.score(wv)
                scale = det.module_.metric_scale.clone()
                det.module_.metric_scale.fill_(1.0)
                s_raw = det.score(wv)
                det.module_.metric_scale.copy_(scale)
                # both window-score vectors in one array (the cache stores one): rows 0 / 1
                return np.stack([s_raw, s_norm]), t2 - t1, time.perf_counter() - t2
            key = method_key("levers", f"winae-w{w}-e{epochs}", {**base, "epochs": epochs, "scores": "raw+norm"})
            return cached_scores(Path(args.cache), key, path.stem, {**base, "epochs": epochs}, compute)[0]

        s2 = fit_winae(args.epochs)
        for k, norm in enumerate(("none", "train")):
            for how in ("mean", "max"):
                cands[f"winae norm={norm} how={how}"] = to_rows(s2[k], idx, len(zval), how)
        if args.extra_epochs:
            s2e = fit_winae(args.extra_epochs)
            for how in ("mean", "max"):
                cands[f"winae norm=train how={how} epochs={args.extra_epochs}"] = to_rows(s2e[1], idx, len(zval), how)
        # ae (dense window AE, plain MSE): the same fit as telemetry_select.py's candidate ae:<window>
        # (its cached scores are reused), and rank averages with winae standing in for an ensemble of both
        sel = {"window": w, "train_stride": args.train_stride, "epochs": args.epochs, "seed": args.seed,
               "val": args.val, "events": args.events, "protocol": "select-v1"}

        def compute_ae():
            det = anomalib_ae.create("ae", epochs=args.epochs, random_state=args.seed, verbose=False,
                                     accelerator="cpu", input_kind="window")
            t1 = time.perf_counter()
            det.fit(Xfit)
            t2 = time.perf_counter()
            return to_rows(det.score(wv), idx, len(zval), "mean"), t2 - t1, time.perf_counter() - t2
        cands["ae how=mean"] = cached_scores(Path(args.select_cache), method_key("select", f"ae-w{w}", sel), path.stem,
                                             sel, compute_ae)[0]
        for norm in ("none", "train"):
            a = cands[f"winae norm={norm} how=mean"]
            cands[f"rank-mean(ae, winae norm={norm}) (proxy of an ensemble)"] = (ranks(cands["ae how=mean"]) + ranks(a)) / 2
        for spec in [g.strip() for g in args.grid.split(";") if g.strip()]:
            name, params, fit_stride = parse_spec(spec)

            def compute_spec(name=name, params=params, fit_stride=fit_stride):
                base_p = {"epochs": args.epochs, "random_state": args.seed, "verbose": False, "accelerator": "cpu",
                          "input_kind": "window"}
                det = anomalib_ae.create(name, **{**base_p, **params})
                Xf = Xfit if fit_stride in (None, args.train_stride) else windows(z[:cut], w, fit_stride)[0]
                t1 = time.perf_counter()
                det.fit(Xf)
                t2 = time.perf_counter()
                return det.score(wv), t2 - t1, time.perf_counter() - t2
            key = method_key("levers", f"grid-w{w}", {**base, "epochs": args.epochs, "spec": spec})
            sw = cached_scores(Path(args.cache), key, path.stem, {**base, "spec": spec}, compute_spec)[0]
            cands[f"{spec} how=mean"] = to_rows(sw, idx, len(zval), "mean")
        for name in ("pyod.knn", "pyod.deepsvdd"):
            def compute(name=name):
                params = {"epochs": args.epochs, "verbose": 0} if name == "pyod.deepsvdd" else None
                det = anomalib_ae.create(name, params=params, calibration="train", random_state=args.seed)
                t1 = time.perf_counter()
                det.fit(Xfit.reshape(len(Xfit), -1))
                t2 = time.perf_counter()
                return det.score(wv.reshape(len(wv), -1)), t2 - t1, time.perf_counter() - t2
            key = method_key("levers", f"{name}-w{w}", {**base, "epochs": args.epochs})
            sw = cached_scores(Path(args.cache), key, path.stem, base, compute)[0]
            cands[f"{name} how=mean (peer)"] = to_rows(sw, idx, len(zval), "mean")
        for peer in ("pyod.knn", "pyod.deepsvdd"):
            for norm in ("none", "train"):
                a, b = cands[f"winae norm={norm} how=mean"], cands[f"{peer} how=mean (peer)"]
                cands[f"rank-mean(winae norm={norm}, {peer}) (not shippable)"] = (ranks(a) + ranks(b)) / 2
        for c, s in cands.items():
            rows.append({"machine": path.stem, "candidate": c, "val_auroc": float(roc_auc_score(yval, s)),
                         "val_best_f1": float(best_f1(yval, s).f1)})
        print(f"  {path.stem}: " + ", ".join(f"{r['candidate'].split(' (')[0]} {r['val_auroc']:.3f}"
                                             for r in rows if r["machine"] == path.stem), flush=True)
    names = list(dict.fromkeys(r["candidate"] for r in rows))
    mean = {c: {k: float(np.mean([r[k] for r in rows if r["candidate"] == c])) for k in ("val_auroc", "val_best_f1")}
            for c in names}
    eligible = [c for c in names if "(" not in c]
    chosen = max(eligible, key=lambda c: (round(mean[c]["val_auroc"], 4), mean[c]["val_best_f1"]))
    seconds = time.perf_counter() - t0
    cmd = "python benchmarks/telemetry_levers.py " + " ".join(sys.argv[1:] if argv is None else argv)
    md = ["## telemetry levers: chosen on the training half (synthetic anomalies in its last "
          f"{args.val:.0%}, no test label read)", "", f"command: `{cmd}`  ",
          f"run time: {seconds:.0f} s (cached fits cost nothing), machines: {len(paths)}, "
          f"load average {[round(v, 2) for v in os.getloadavg()]}", "",
          "The last column: the mean over machines of (candidate - chosen) validation AUROC, +- its standard "
          "error (paired by machine): differences within about two standard errors are noise.", "",
          "| candidate | mean validation AUROC | mean validation best F1 | vs chosen (paired) |", "|---|---|---|---|"]
    auc = {(r["machine"], r["candidate"]): r["val_auroc"] for r in rows}
    mcs = list(dict.fromkeys(r["machine"] for r in rows))
    for c in sorted(names, key=lambda c: -mean[c]["val_auroc"]):
        v = mean[c]
        d = np.array([auc[(m, c)] - auc[(m, chosen)] for m in mcs])
        se = float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan")
        mean[c]["diff_vs_chosen"], mean[c]["diff_se"] = float(d.mean()), se
        md.append(f"| {c.replace('|', chr(92) + '|')} | {'**%.4f**' % v['val_auroc'] if c == chosen else '%.4f' % v['val_auroc']} | "
                  f"{v['val_best_f1']:.4f} | {d.mean():+.4f} +- {se:.4f} |")
    md += ["", f"chosen (eligible = reachable through a detector or a config): **{chosen}**", ""]
    text = "\n".join(md)
    print(text)
    out = {"command": cmd, "seconds": round(seconds, 1), "loadavg": [round(v, 2) for v in os.getloadavg()],
           "rows": rows, "means": mean, "eligible": eligible, "chosen": chosen, "settings": vars(args)}
    write_results("telemetry_levers", out, text)


if __name__ == "__main__":
    main()
