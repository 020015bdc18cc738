"""Are the explanations right? Culprit metrics on SMD, defect localisation on magnetic tiles, sanity checks.

    python benchmarks/explain.py            # --quick (default): 4 SMD machines, 160 tiles, ~10 min on 1 core
    python benchmarks/explain.py --full     # all 19 SMD machines, all 744 test tiles
    python benchmarks/explain.py --full --parts smd   # SMD only (cached: seconds after the first run)

Writes ``benchmarks/results/explain.{json,md}`` (``--out`` to change the stem) and prints the tables.
Data: ``../shared/data`` (``--data``).

SMD (``telemetry/smd``; ``benchmarks/_explain_smd.py``): per machine, a windowed ``ae``
(window 16, stride 4, 10 epochs) is fitted on the first 80 % of ``train``. Synthetic culprit
anomalies (level shifts, spikes, variance bursts, stuck values in 1-6 metrics, 1-150 rows) are
planted in two copies of the held-out last 20 % of ``train``; every candidate ranking (residual,
occlusion, gradient x input, their normalisations by the attribution's spread on training
windows, combinations with the |z-score|, smoothing over rows: 408 in all, the library's
``residual_z`` among them) is scored there and on the test rows of the interpretation labels
(0-based rows, ``end`` exclusive). OmniAnomaly's metrics: HitRate@100 %, HitRate@150 %,
NDCG@150 % per labelled row, and HitRate@150 % per segment (mean attribution over its rows);
means over machines.

ASD (``telemetry/asd``, ``benchmarks/_explain_asd.py``): the same models, attributions and
candidates on the 12 ASD servers, scored on ASD's interpretation labels (``end`` inclusive).
The ranking is chosen by mean HitRate@150 % over ASD's servers (``--select-on asd``, the
default; ties: NDCG@150 %, then HitRate@100 %), so SMD's test labels play no part in the
choice; ``--select-on train`` chooses on the planted anomalies (the earlier protocol, also
reported as a row), ``--select-on test`` on SMD's labels (an exploratory upper bound). The
library's implementation of the ASD choice (``occlusion_z``, window attributions averaged per
row as a telemetry pipeline does) is scored beside it (not a selection candidate).
Baselines in the same run: the naive per-metric |z-score| (training mean / std) and its
robust variant (median / MAD). Models, attributions and evaluations are cached per machine
under ``--cache`` (default ``../cache/explain_smd``): a rerun costs seconds.

Magnetic tiles (``industrial/magnetic_tile_64.npz``): a convolutional ``ae`` on the 600
defect-free training tiles; maps of the test tiles (normal + defective); pixel AUROC and
PRO (MVTec AD's AU-PRO to FPR 0.3) against the masks, beside the plain residual map and the
naive per-pixel |z-score|; each map also after a Gaussian blur (sigma 4, anomalib's
post-processing of anomaly maps).

Sanity checks (Adebayo et al. 2018, "cascading randomisation" of all layers): the same maps
from a copy of the network with re-initialised weights; the mean per-item Spearman rank
correlation between trained and random maps is reported (near 1 = the map ignores the model).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import atomic_write  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"

SMD_QUICK = ("machine-1-7", "machine-2-5", "machine-3-2", "machine-1-2")
CACHE = REPO.parent / "cache" / "explain_smd"
ASD_CACHE = REPO.parent / "cache" / "explain_asd"
#: rankings shown beside the choice whatever it is (the landed methods and the baselines)
SMD_REFERENCE = ("naive |z|", "robust |z|", "residual_z (library method)", "residual [raw]", "residual [std/0.1]", "occlusion [raw]", "gxi+ [raw]",
                 "residual+occlusion [raw]")
TILE_METHODS = ("residual", "gxi", "ig", "occlusion")  # "combined" (residual + occlusion): 0.599 on a 160-tile trial, not run
#: the baselines smoothed like the candidates (pool members, shown for comparison only)
SMOOTHED_BASELINES = ("naive |z| ~31rows", "robust |z| ~31rows")
KEYS = ("hitrate@100", "hitrate@150", "ndcg@150")


def _best(names, score) -> str:
    """The name with the best (HitRate@150 %, NDCG@150 %, HitRate@100 %): the rule fixed before any ASD result."""
    return max(names, key=lambda n: (score(n)["hitrate@150"], score(n)["ndcg@150"], score(n)["hitrate@100"]))


def smd(data: Path, machines, epochs: int, log, cache: Path = CACHE, select_on: str = "train",
        amplitude: tuple[float, float] = (1.5, 8.0), asd_res: dict | None = None) -> dict:
    """Every candidate ranking on planted training anomalies and on the test labels; the choice on ``select_on``.

    ``select_on``: ``"train"`` (planted anomalies in held-out training rows), ``"asd"`` (ASD's
    interpretation labels, ``asd_res`` from :func:`_explain_asd.asd`) or ``"test"`` (SMD's own
    labels: exploratory). With ASD results given, every candidate's ASD scores are kept too.
    """
    from _explain_smd import run_machine

    root = data / "telemetry" / "smd"
    if machines == "all":
        machines = sorted(p.stem for p in root.glob("machine-*.npz"))
    per = {}
    for m in machines:
        t0 = time.time()
        kw = {"epochs": epochs} if tuple(amplitude) == (1.5, 8.0) else {"epochs": epochs, "amplitude": tuple(amplitude)}
        per[m] = run_machine(root / f"{m}.npz", root / "interpretation_label" / f"{m}.txt", cache, log=log, **kw)
        per[m]["seconds"]["this_run"] = round(time.time() - t0, 1)
        log(f"  {m}: {per[m]['n_segments']} segments, {per[m]['n_rows']} rows, {per[m]['n_planted_events']} planted "
            f"events, {per[m]['seconds']['this_run']:.0f} s")
    names = list(next(iter(per.values()))["test"])
    mean = {n: {"selection": {k: float(np.mean([per[m]["selection"][n][k] for m in per]))
                              for k in (*KEYS, "segments_hitrate@150")},
                "test": {k: float(np.mean([per[m]["test"][n][k] for m in per])) for k in (*KEYS, "segments_hitrate@150")}}
            for n in names}
    if asd_res is not None:
        for n in names:
            mean[n]["asd"] = asd_res["mean"][n]
            mean[n]["asd_informative"] = asd_res["mean_informative"][n]
    elif select_on == "asd":
        raise ValueError("select_on='asd' needs the ASD results (asd_res)")
    level = {"train": "selection", "test": "test", "asd": "asd"}[select_on]
    chosen = _best(names, lambda n: mean[n][level])
    deployable = _best([n for n in names if "rows" not in n], lambda n: mean[n][level])
    chosen_planted = _best(names, lambda n: mean[n]["selection"])
    shown = [chosen, deployable, chosen_planted, *SMD_REFERENCE, *SMOOTHED_BASELINES]
    machines_out = {
        m: {**{k: r[k] for k in ("n_segments", "n_rows", "n_planted_events", "n_planted_rows", "seconds")},
            "test": {n: r["test"][n] for n in dict.fromkeys(shown)},
            "selection": {n: r["selection"][n] for n in dict.fromkeys(shown)}}
        for m, r in per.items()
    }
    wins = sum(per[m]["test"][deployable]["hitrate@150"] > per[m]["test"]["naive |z|"]["hitrate@150"] for m in per)
    out = {"select_on": select_on, "plant_amplitude_sd": list(amplitude), "chosen": chosen, "chosen_unsmoothed": deployable,
           "chosen_planted": chosen_planted, "machines_better_than_naive": int(wins), "candidates": mean,
           "machines": machines_out}
    if asd_res is not None:
        out["asd_servers"] = {
            s: {**{k: r[k] for k in ("n_segments", "n_rows", "n_rows_trivial@150", "seconds")},
                "test": {n: r["test"][n] for n in dict.fromkeys(shown)}}
            for s, r in asd_res["servers"].items()}
        out["asd_servers_informative"] = asd_res["servers_informative"]
    return out


LIBRARY_METHOD = "occlusion_z"  # the library's implementation of the ASD choice (not a selection candidate)


def library_check(data: Path, smd_machines, cache: Path, asd_cache: Path, epochs: int, log,
                  method: str = LIBRARY_METHOD) -> dict:
    """The library's ``method`` as a telemetry pipeline applies it (window attributions averaged per row),
    scored like the candidates: SMD planted, SMD test, ASD, ASD without trivial segments."""
    from _explain_asd import _without_trivial
    from _explain_smd import library_rows, machine_arrays, score_rows

    t0 = time.time()
    smd_root, asd_root = data / "telemetry" / "smd", data / "telemetry" / "asd"
    if smd_machines == "all":
        smd_machines = sorted(p.stem for p in smd_root.glob("machine-*.npz"))
    per = {"selection": [], "test": [], "asd": [], "asd_informative": []}
    for m in smd_machines:
        args = (smd_root / f"{m}.npz", smd_root / "interpretation_label" / f"{m}.txt", cache)
        arrays = machine_arrays(*args, epochs=epochs, log=log)
        rows = library_rows(*args, method, epochs=epochs)
        per["selection"].append(score_rows(arrays, rows, sorted(k for k in arrays if k.startswith("plant"))))
        per["test"].append(score_rows(arrays, rows, ["test"]))
    for s in sorted((p.stem for p in asd_root.glob("omi-*.npz")), key=lambda s: int(s.split("-")[1])):
        args = (asd_root / f"{s}.npz", asd_root / "interpretation_label" / f"{s}.txt", asd_cache)
        arrays = machine_arrays(*args, epochs=epochs, n_plant=0, end_inclusive=True, log=log)
        rows = library_rows(*args, method, epochs=epochs, n_plant=0, end_inclusive=True)
        per["asd"].append(score_rows(arrays, rows, ["test"]))
        inf = _without_trivial(arrays)
        if inf is not None:
            per["asd_informative"].append(score_rows(inf, rows, ["test"]))
    out = {lvl: {k: float(np.mean([r[k] for r in v])) for k in v[0]} for lvl, v in per.items()}
    out["smd_test_per_machine"] = dict(zip(smd_machines, per["test"]))
    out["seconds"] = round(time.time() - t0, 1)
    return out


def cached_model(cache: Path, machine: str):
    """The first machine's cached ``ae`` (fitted by :func:`_explain_smd.machine_arrays`)."""
    import anomalib_ae

    files = sorted((cache / machine).glob("ae_*.pt"))
    if not files:
        raise FileNotFoundError(f"no cached model under {cache / machine}")
    return anomalib_ae.load(files[0])


def randomized(det):
    """A copy of a fitted deep detector with every layer re-initialised (cascading randomisation)."""
    import copy

    import torch

    r = copy.deepcopy(det)
    torch.manual_seed(1234)
    for mod in r.module_.modules():
        if hasattr(mod, "reset_parameters"):
            mod.reset_parameters()
    r.module_.eval()
    return r


def spearman_rows(A: np.ndarray, B: np.ndarray) -> float:
    from scipy.stats import spearmanr

    A, B = A.reshape(len(A), -1), B.reshape(len(B), -1)
    vals = []
    for a, b in zip(A, B):
        if np.ptp(a) == 0 or np.ptp(b) == 0:
            continue
        vals.append(spearmanr(a, b).statistic)
    return float(np.mean(vals)) if vals else float("nan")


def smd_sanity(det, path, n: int = 200) -> dict:
    from anomalib_ae.explain.methods import attribute
    from anomalib_ae.explain.residuals import residual_spreads
    from _explain_smd import windows

    d = np.load(path)
    Xfit = d["train"].astype(np.float32)[: int(len(d["train"]) * 0.8)]
    Wfit = windows(Xfit, 16, np.arange(0, len(Xfit) - 15, 4))
    if getattr(det, "residual_q99_", None) is None:  # a cached model from before it was stored: what fit stores now
        det.residual_scale_, det.residual_q99_ = residual_spreads(det, Wfit)
    if getattr(det, "occlusion_scale_", None) is None:
        from anomalib_ae.explain.blend import occlusion_scale

        det.occlusion_scale_ = occlusion_scale(det, Wfit)
    X = d["test"].astype(np.float32)
    lab = np.flatnonzero(d["test_label"])
    W = windows(X, 16, lab[np.linspace(0, len(lab) - 1, n).astype(int)].clip(0, len(X) - 16))
    rnd = randomized(det)
    return {m: spearman_rows(attribute(det, W, m)[0], attribute(rnd, W, m)[0])
            for m in ("occlusion_z", "residual_z", "residual", "gxi", "ig", "occlusion", "combined")}


def tiles(data: Path, n_test: int | None, epochs: int, log) -> dict:
    import anomalib_ae
    from scipy.ndimage import gaussian_filter

    from anomalib_ae.explain.methods import attribute
    from anomalib_ae.explain.metrics import pixel_auroc, pro_score

    d = np.load(data / "industrial" / "magnetic_tile_64.npz")
    xtr = d["x_train"].astype(np.float32) / 255.0
    xte, mte, yte = d["x_test"].astype(np.float32) / 255.0, d["mask_test"], d["y_test"]
    if n_test is not None and n_test < len(xte):  # every k-th normal and defective tile
        norm, bad = np.flatnonzero(yte == 0), np.flatnonzero(yte == 1)
        k = n_test // 2
        sel = np.r_[norm[np.linspace(0, len(norm) - 1, k).astype(int)], bad[np.linspace(0, len(bad) - 1, k).astype(int)]]
        xte, mte = xte[sel], mte[sel]
    t0 = time.time()
    det = anomalib_ae.create("ae", epochs=epochs, random_state=0, verbose=False, accelerator="cpu",
                             input_kind="image").fit(xtr)
    out = {"n_test": int(len(xte)), "n_defect_pixels": int(mte.sum()), "fit_seconds": round(time.time() - t0, 1),
           "maps": {}, "seconds": {}}

    def rec(name, A):
        A = np.asarray(A, dtype=np.float64)
        out["maps"][name] = {"pixel_auroc": pixel_auroc(A, mte), "pro": pro_score(A, mte)}
        B = np.stack([gaussian_filter(a, 4) for a in A])
        out["maps"][name + " +blur4"] = {"pixel_auroc": pixel_auroc(B, mte), "pro": pro_score(B, mte)}
        log(f"  {name:22s} pixel AUROC {out['maps'][name]['pixel_auroc']:.3f} PRO {out['maps'][name]['pro']:.3f}   "
            f"+blur {out['maps'][name + ' +blur4']['pixel_auroc']:.3f} / {out['maps'][name + ' +blur4']['pro']:.3f}")

    mu, sd = xtr.mean(axis=0), xtr.std(axis=0) + 1e-6
    rec("naive_pixel_zscore", np.abs((xte - mu) / sd))
    maps = {}
    for m in TILE_METHODS:
        t1 = time.time()
        A, _ = attribute(det, xte, m)
        maps[m] = A
        out["seconds"][m] = round(time.time() - t1, 1)
        rec(m, A)
        if m in ("gxi", "ig"):
            rec(m + "_abs", np.abs(A))
    sub = xte[np.linspace(0, len(xte) - 1, 40).astype(int)]
    rnd = randomized(det)
    out["sanity"] = {m: spearman_rows(attribute(det, sub, m)[0], attribute(rnd, sub, m)[0]) for m in TILE_METHODS}
    return out


def _md(name: str) -> str:
    """A name inside a Markdown table cell (``|`` escaped)."""
    return name.replace("|", "\\|")


def markdown(res: dict) -> str:
    L = [f"# Explanation benchmark ({res['mode']})", "", f"command: `{res['command']}`  ", f"{res['platform']}, "
         f"{res['seconds']:.0f} s", ""]
    for part, run in res.get("earlier_runs", {}).items():
        L += [f"{part} part from an earlier run: `{run['command']}`, {run['seconds']:.0f} s  ", ""]
    if "smd" in res:
        s = res["smd"]
        c = s["candidates"]
        how = {"train": "planted training anomalies", "asd": "ASD's interpretation labels (12 servers; SMD untouched)",
               "test": "the TEST labels (exploratory, not honest)"}[s["select_on"]]
        has_asd = "asd" in next(iter(c.values()))
        L += [f"## SMD culprit metrics, mean over {len(s['machines'])} machine(s)", "",
              f"{len(c)} candidate rankings; chosen on {how}: `{s['chosen']}`; "
              f"best without the benchmark's extra smoothing of row attributions (`~N rows`): `{s['chosen_unsmoothed']}` "
              f"(beats naive on {s['machines_better_than_naive']} of {len(s['machines'])} machines); "
              f"the planted protocol's choice: `{s.get('chosen_planted', s['chosen'])}`", ""]
        head = "| ranking | planted (train) HR@150% |"
        rule = "|---|---|"
        if has_asd:
            head += " ASD HR@100% | ASD HR@150% | ASD NDCG@150% | ASD per segment HR@150% | ASD HR@150% (<13 culprits) |"
            rule += "---|---|---|---|---|"
        L += [head + " SMD test HR@100% | SMD test HR@150% | SMD test NDCG@150% | SMD test per segment HR@150% |",
              rule + "---|---|---|---|"]
        level = {"train": "selection", "test": "test", "asd": "asd"}[s["select_on"]]
        top = sorted(c, key=lambda n: -c[n][level]["hitrate@150"])[:10]
        for n in dict.fromkeys([s["chosen"], s["chosen_unsmoothed"], s.get("chosen_planted", s["chosen"]),
                                *SMD_REFERENCE, *SMOOTHED_BASELINES, *top]):
            if n not in c:
                continue
            v, t = c[n]["selection"], c[n]["test"]
            tags = [lab for lab, key in (("chosen", "chosen"), ("chosen, unsmoothed", "chosen_unsmoothed"),
                                         ("planted choice", "chosen_planted")) if s.get(key) == n]
            mark = f" ({'; '.join(tags)})" if tags else ""
            row = f"| {_md(n)}{mark} | {v['hitrate@150']:.3f} |"
            if has_asd:
                x, xi = c[n]["asd"], c[n]["asd_informative"]
                row += (f" {x['hitrate@100']:.3f} | {x['hitrate@150']:.3f} | {x['ndcg@150']:.3f} | "
                        f"{x['segments_hitrate@150']:.3f} | {xi['hitrate@150']:.3f} |")
            L.append(row + f" {t['hitrate@100']:.3f} | {t['hitrate@150']:.3f} | {t['ndcg@150']:.3f} | "
                           f"{t['segments_hitrate@150']:.3f} |")
        for n, lib in s.get("library", {}).items():
            v, t = lib["selection"], lib["test"]
            row = f"| `{n}` (library implementation of the choice, not a candidate) | {v['hitrate@150']:.3f} |"
            if has_asd:
                x, xi = lib["asd"], lib["asd_informative"]
                row += (f" {x['hitrate@100']:.3f} | {x['hitrate@150']:.3f} | {x['ndcg@150']:.3f} | "
                        f"{x['segments_hitrate@150']:.3f} | {xi['hitrate@150']:.3f} |")
            L.append(row + f" {t['hitrate@100']:.3f} | {t['hitrate@150']:.3f} | {t['ndcg@150']:.3f} | "
                           f"{t['segments_hitrate@150']:.3f} |")
        n0, n1, n2 = "naive |z|", "residual_z (library method)", s["chosen"]
        libs = s.get("library", {})
        head = f"| machine | segments | rows | planted events | naive HR@150 | {n1} HR@150 | {_md(n2)} HR@150 |"
        head += "".join(f" `{k}` HR@150 |" for k in libs)
        L += ["", head, "|---|---|---|---|---|---|---|" + "---|" * len(libs)]
        for m, r in s["machines"].items():
            L.append(f"| {m} | {r['n_segments']} | {r['n_rows']} | {r['n_planted_events']} | "
                     f"{r['test'][n0]['hitrate@150']:.3f} | {r['test'][n1]['hitrate@150']:.3f} | "
                     f"{r['test'][n2]['hitrate@150']:.3f} |"
                     + "".join(f" {lib['smd_test_per_machine'][m]['hitrate@150']:.3f} |" for lib in libs.values()))
        wins = {n: sum(r["test"][n]["hitrate@150"] > r["test"][n0]["hitrate@150"] for r in s["machines"].values())
                for n in (n1, n2)}
        wins.update({f"`{k}`": sum(lib["smd_test_per_machine"][m]["hitrate@150"] > r["test"][n0]["hitrate@150"]
                                   for m, r in s["machines"].items()) for k, lib in libs.items()})
        L += ["", "Machines where HitRate@150 % beats naive: " + ", ".join(f"{_md(k)} {v}" for k, v in wins.items())]
        if s.get("asd_servers"):
            n2 = s["chosen"]
            L += ["", f"| ASD server | segments | rows | rows with >= 13 culprits | naive HR@150 | {_md(n2)} HR@150 |",
                  "|---|---|---|---|---|---|"]
            for m, r in s["asd_servers"].items():
                L.append(f"| {m} | {r['n_segments']} | {r['n_rows']} | {r['n_rows_trivial@150']} | "
                         f"{r['test'][n0]['hitrate@150']:.3f} | {r['test'][n2]['hitrate@150']:.3f} |")
        if s.get("sanity"):
            L += ["", "Sanity check on SMD (" + next(iter(s["machines"])) + ", Spearman trained vs randomised maps): "
                  + ", ".join(f"{k} {v:.3f}" for k, v in s["sanity"].items())]
        L.append("")
    if "tiles" in res:
        t = res["tiles"]
        L += [f"## Magnetic tiles pixel localisation ({t['n_test']} test tiles)", "", "| map | pixel AUROC | PRO (FPR<=0.3) |",
              "|---|---|---|"]
        for n, v in t["maps"].items():
            L.append(f"| {n} | {v['pixel_auroc']:.3f} | {v['pro']:.3f} |")
        L += ["", "Sanity check on tiles (Spearman trained vs randomised maps): "
              + ", ".join(f"{k} {v:.3f}" for k, v in t["sanity"].items()), ""]
    return "\n".join(L) + "\n"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the default: 4 SMD machines and 160 test tiles")
    p.add_argument("--full", action="store_true", help="all 19 machines and all 744 test tiles")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--parts", default="smd,tiles", help="comma-separated: smd, tiles")
    p.add_argument("--machines", default=None, help="comma-separated SMD machines, or 'all'")
    p.add_argument("--tiles", type=int, default=None, help="number of test tiles (default 160 quick, all full)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--tile-epochs", type=int, default=15)
    p.add_argument("--out", default="explain", help="result file stem under benchmarks/results/")
    p.add_argument("--select-on", choices=("asd", "train", "test"), default="asd",
                   help="choose the SMD ranking on ASD's interpretation labels (default: a second labelled data set; "
                        "SMD's test stays untouched), on planted training anomalies or on SMD's test labels "
                        "(exploratory: an upper bound, not an honest choice)")
    p.add_argument("--asd", action="store_true", help="also score every candidate on ASD's labels (implied by "
                   "--select-on asd)")
    p.add_argument("--asd-cache", type=Path, default=ASD_CACHE, help="per-server ASD models and attributions")
    p.add_argument("--plant-amplitude", default="1.5,8", help="planted anomalies' amplitude range in training "
                   "standard deviations (log-uniform), LO,HI")
    p.add_argument("--no-sanity", action="store_true", help="skip the randomised-weights check on SMD")
    p.add_argument("--cache", type=Path, default=CACHE, help="per-machine models and attributions (reruns cost seconds)")
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    t0 = time.time()
    res = {"mode": "full" if a.full else "quick", "command": "python benchmarks/explain.py " + " ".join(argv or sys.argv[1:]),
           "platform": f"{platform.processor() or platform.machine()}, torch threads 1, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"}
    parts = a.parts.split(",")
    if "smd" in parts:
        machines = a.machines.split(",") if a.machines and a.machines != "all" else ("all" if (a.full or a.machines == "all") else list(SMD_QUICK))
        asd_res = None
        if a.asd or a.select_on == "asd":
            from _explain_asd import asd

            print("ASD culprit metrics (selection set)", flush=True)
            asd_res = asd(a.data, a.asd_cache, lambda s: print(s, flush=True), epochs=a.epochs)
        print("SMD culprit metrics", flush=True)
        res["smd"] = smd(a.data, machines, a.epochs, lambda s: print(s, flush=True), cache=a.cache,
                         select_on=a.select_on, amplitude=tuple(float(v) for v in a.plant_amplitude.split(",")),
                         asd_res=asd_res)
        if asd_res is not None:
            print(f"library method {LIBRARY_METHOD!r} (implementation of the ASD choice)", flush=True)
            res["smd"]["library"] = {LIBRARY_METHOD: library_check(a.data, machines, a.cache, a.asd_cache, a.epochs,
                                                                   lambda s: print(s, flush=True))}
        if not a.no_sanity:
            first = res["smd"]["machines"] and next(iter(res["smd"]["machines"]))
            res["smd"]["sanity"] = smd_sanity(cached_model(a.cache, first), a.data / "telemetry" / "smd" / f"{first}.npz")
    if "tiles" in parts:
        print("magnetic tiles", flush=True)
        res["tiles"] = tiles(a.data, a.tiles if a.tiles else (None if a.full else 160), a.tile_epochs, lambda s: print(s, flush=True))
    res["seconds"] = time.time() - t0
    res["loadavg"] = list(os.getloadavg())  # the machine is shared: timings are under this load
    RESULTS.mkdir(parents=True, exist_ok=True)
    prev = RESULTS / f"{a.out}.json"
    if prev.exists() and set(parts) != {"smd", "tiles"}:  # a run of one part keeps the other part's results
        old = json.loads(prev.read_text())
        for part in ("smd", "tiles"):
            if part not in res and part in old:
                res[part] = old[part]
                res.setdefault("earlier_runs", {})[part] = old.get("earlier_runs", {}).get(part) or {
                    k: old.get(k) for k in ("command", "platform", "seconds")}
    md = markdown(res)
    atomic_write(RESULTS / f"{a.out}.json", json.dumps(res, indent=1, default=float))
    atomic_write(RESULTS / f"{a.out}.md", md)
    print(md)
    return res


if __name__ == "__main__":
    main()
