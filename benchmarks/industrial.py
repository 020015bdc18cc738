"""Magnetic tiles: our image models beside every peer, same split, same pixels, one run.

    python benchmarks/industrial.py                     # everything (cached results reused)
    python benchmarks/industrial.py --methods riad,pyod.knn --no-cache
    python benchmarks/industrial.py --quick             # 120 training tiles, 3 epochs: a smoke run
    python benchmarks/industrial.py --methods anomalib.ganomaly,anomalib.draem --anomalib-python V/bin/python

Data: ``shared/data/industrial/magnetic_tile_64.npz``: 600 defect-free training tiles, 744 test
tiles (352 good, 392 defective) with pixel masks, grey 64x64, pixels / 255. Every method fits
the 600 training tiles (our deep detectors hold out 10 % of them themselves) and scores the 744.

Metrics: image AUROC (score vs defective), pixel AUROC of the anomaly maps against the masks
over all 744 x 64 x 64 pixels, and PRO (MVTec AD's area under the per-region-overlap curve up
to FPR 0.3, :func:`anomalib_ae.explain.metrics.pro_score`). Maps:

* ours: the detector's ``error_map`` (``subspace``: the projection residual in out-of-fold RMS
  units, Gaussian-smoothed; RIAD: the smoothed MSGMS map; autoencoders: the squared residual),
  channels averaged, what ``anomalib-ae explain`` shows;
* PyOD peers (``pyod.*`` of our registry, on flattened pixels with PyOD's default
  parameters): occlusion against the training median (16-pixel patches, stride 8), the
  model-agnostic method of :mod:`anomalib_ae.explain.occlusion`;
* anomalib peers (GANomaly, DRAEM), when ``--anomalib-python`` names a Python that imports
  anomalib: ``benchmarks/_anomalib_peer.py`` runs there on the same split arrays; DRAEM's own map,
  GANomaly's input-minus-generated difference. They train on 90 % of the training tiles for
  ``--ganomaly-epochs`` / ``--draem-epochs`` epochs (defaults: what about 15 / 20 CPU minutes on one
  thread allow; anomalib's own defaults are 100 / 700 epochs) and keep the epoch with the best mean
  of image and pixel AUROC on the other 10 %, half of them with planted synthetic defects
  (:func:`peer_validation`; no test label is read). Their scores are cached under ``--anomalib-cache``.
  ``--quick`` trains them 1 epoch, but they still score all 744 test tiles (about 6 CPU minutes).

The ``config`` row runs the detector and parameters of ``configs/industrial.yaml`` (the shipped
default), so it is the number ``anomalib-ae fit --config configs/industrial.yaml`` gives. One seed
(0) on the CPU (``subspace`` has no randomness); run times were measured on a shared, loaded machine (load in the JSON).
Results go to ``benchmarks/results/industrial.{json,md}``; per-method scores and maps are
cached under ``--cache`` (keyed by method, parameters and data) so a rerun recomputes nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from _results import atomic_write  # noqa: E402  (re-exported: industrial_select*.py import it from here)

DEFAULT_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results"
CONFIG = REPO / "configs" / "industrial.yaml"

#: RIAD's settings, chosen on synthetic defects in held-out training tiles (docs/domains.md)
RIAD_PARAMS = {"hidden_dims": [8, 16, 32, 64], "cell_sizes": [2, 4, 8, 16], "n_masks": 3, "train_crop": 32,
               "epochs": 30, "batch_size": 32, "map_kind": "msgms", "smooth": 1, "top_fraction": 0.0,
               "map_norm": True}
#: our detectors: row -> (registered detector, parameters); None = configs/industrial.yaml's detector
OURS = {
    # projection onto the training span, per-pixel standardised (its defaults: chosen on synthetic defects in
    # held-out training tiles by benchmarks/industrial_select.py)
    "subspace": ("subspace", {"n_components": None, "smooth": 2.0, "n_folds": 5}),
    "riad": ("riad", RIAD_PARAMS),
    # RIAD's own map as published: MSGMS, 7 x 7 mean filter (21 x 21 at 256 px), no standardisation
    "riad_raw": ("riad", {**RIAD_PARAMS, "smooth": 7, "map_norm": False}),
    # the shipped default: whatever configs/industrial.yaml names, with its parameters
    "config": (None, None),
    # our best of benchmarks/domains.py industrial (8 epochs, batch 128)
    "cvad": ("cvad", {"epochs": 8, "batch_size": 128}),
    # the convolutional AE that configs/industrial.yaml shipped before subspace
    "ae": ("ae", {"epochs": 30, "batch_size": 32, "input_kind": "image", "hidden_dims": [32, 64], "latent_dim": 64}),
}
#: every PyOD detector of our registry named by the issue; PyOD's default parameters
PYOD = ("pyod.autoencoder", "pyod.vae", "pyod.deepsvdd", "pyod.iforest", "pyod.ecod", "pyod.knn", "pyod.lof")
ANOMALIB = ("anomalib.ganomaly", "anomalib.draem")
#: epochs each anomalib peer trains by default: what about 15 (GANomaly) and 20 (DRAEM) CPU minutes on one
#: thread allow (measured, docs/domains.md); anomalib's own defaults are 100 and 700 epochs
ANOMALIB_EPOCHS = {"anomalib.ganomaly": 25, "anomalib.draem": 2}
ANOMALIB_VAL_FRACTION = 0.1
ANOMALIB_MAPS = {"anomalib.ganomaly": "absolute difference of input and generated image (GANomaly has no map of "
                                      "its own)",
                 "anomalib.draem": "the model's own anomaly map (softmax of its discriminative network)"}
OCCLUSION_PATCH = 16


def load_split(data: Path, max_train: int = 0):
    z = np.load(data / "industrial" / "magnetic_tile_64.npz")
    Xtr = z["x_train"].astype(np.float32) / 255.0
    if max_train:
        Xtr = Xtr[:max_train]
    Xte = z["x_test"].astype(np.float32) / 255.0
    return Xtr, Xte, z["y_test"].astype(int), z["mask_test"].astype(np.uint8), z["defect_type_test"].astype(int)


def config_detector() -> tuple[str, dict]:
    """The detector and parameters of ``configs/industrial.yaml`` (what ``anomalib-ae fit --config`` builds)."""
    import yaml

    det = yaml.safe_load(CONFIG.read_text())["detector"]
    return det["name"], dict(det.get("params") or {})


def method_params(name: str, args) -> tuple[str, dict]:
    if name in OURS:
        det, params = OURS[name]
        if det is None:
            det, params = config_detector()
        params = dict(params)
        import anomalib_ae

        valid = set(anomalib_ae.get_detector_class(det)().get_params(deep=False))
        params.update({k: v for k, v in {"random_state": args.seed, "verbose": False, "accelerator": "cpu"}.items()
                       if k in valid})
        if args.quick and "epochs" in valid:
            params["epochs"] = 3
        return det, params
    if name in PYOD:
        extra = {"random_state": args.seed} if name in ("pyod.iforest",) else {}
        if name in ("pyod.autoencoder", "pyod.vae", "pyod.deepsvdd"):
            extra = {"verbose": 0, "random_state": args.seed}
            if args.quick:
                extra["epoch_num" if name != "pyod.deepsvdd" else "epochs"] = 3
        return name, {"params": extra or None}
    epochs = args.anomalib_epochs or {"anomalib.ganomaly": args.ganomaly_epochs,
                                      "anomalib.draem": args.draem_epochs}[name]
    # the protocol tag keeps results of an older runner (no validation, no epoch choice) out of the cache
    return name, {"epochs": 1 if args.quick else epochs, "seed": args.seed, "val_fraction": ANOMALIB_VAL_FRACTION,
                  "protocol": "holdout-synthetic-v1"}


def cache_key(name: str, params: dict, Xtr: np.ndarray, Xte: np.ndarray) -> str:
    h = hashlib.sha256(json.dumps([name, params], sort_keys=True, default=str).encode())
    h.update(Xtr.tobytes())
    h.update(Xte.tobytes())
    return f"{name.replace('.', '_')}_{h.hexdigest()[:16]}"


def occlusion_maps(det, Xte: np.ndarray, median: np.ndarray, patch: int = OCCLUSION_PATCH,
                   chunk: int = 16) -> np.ndarray:
    """Occlusion maps ``(n, H, W)`` of a detector fitted on flattened tiles.

    As :func:`anomalib_ae.explain.occlusion.occlusion_attributions` does for images (each
    ``patch`` square, stride ``patch // 2``, set to the training median; a pixel gets the mean
    score drop of the patches that cover it), but scoring ``chunk`` images' occluded copies
    in one call: PyOD's per-call overhead dominated one call per image.
    """
    n, H, W = Xte.shape
    stride = max(1, patch // 2)
    boxes = [(t, l) for t in range(0, H - patch + 1, stride) for l in range(0, W - patch + 1, stride)]
    cover = np.zeros((H, W))
    for t, l in boxes:
        cover[t:t + patch, l:l + patch] += 1
    base = det.score(Xte.reshape(n, -1))
    out = np.zeros((n, H, W))
    for s in range(0, n, chunk):
        xb = Xte[s:s + chunk]
        rep = np.repeat(xb[:, None], len(boxes), axis=1)  # (b, boxes, H, W)
        for b, (t, l) in enumerate(boxes):
            rep[:, b, t:t + patch, l:l + patch] = median[t:t + patch, l:l + patch]
        drops = base[s:s + chunk, None] - det.score(rep.reshape(-1, H * W)).reshape(len(xb), len(boxes))
        for b, (t, l) in enumerate(boxes):
            out[s:s + chunk, t:t + patch, l:l + patch] += drops[:, b, None, None]
    return out / np.maximum(cover, 1)


def map_label(det_name: str, params: dict) -> str:
    """What our detector's ``error_map`` shows, in words."""
    if det_name == "subspace":
        return f"error_map (projection residual / out-of-fold RMS, Gaussian sigma {params.get('smooth', 2.0):g} px)"
    if det_name != "riad":
        return "error_map (squared residual)"
    smooth = int(params.get("smooth", 1))
    k = f", {smooth}x{smooth} mean filter" if smooth > 1 else ""
    norm = ", standardised per pixel, clipped at 0" if params.get("map_norm", True) else ""
    return f"error_map ({params.get('map_kind', 'msgms').upper()}{k}{norm})"


def run_ours(name: str, det_name: str, params: dict, Xtr, Xte, cache: Path | None = None) -> dict:
    """Fit (or load the cached fitted model: RIAD's scoring-only parameters need no refit), score, map."""
    import anomalib_ae

    map_params = {}
    if det_name == "riad":  # training ignores these: one trained network serves every map setting
        from anomalib_ae.models.riad.detector import RIAD

        map_params = {k: params[k] for k in RIAD.MAP_PARAMS if k in params}
    fit_params = {k: v for k, v in params.items() if k not in map_params}
    model = None if cache is None else cache / (cache_key(det_name + "_model", fit_params, Xtr, Xte) + ".pt")
    meta = None if model is None else model.with_suffix(".json")
    if model is not None and model.exists() and meta.exists():
        det = anomalib_ae.load(model)
        fit_s = json.loads(meta.read_text())["fit_s"]
    else:
        det = anomalib_ae.create(det_name, **fit_params)
        t0 = time.perf_counter()
        det.fit(Xtr)
        fit_s = time.perf_counter() - t0
        if model is not None:
            det.save(model)
            atomic_write(meta, json.dumps({"fit_s": fit_s, "loadavg": os.getloadavg()}))
    if map_params:
        # what fit does after training, for this map setting: the same split (same seed), the
        # same map statistics over the training rows
        det.set_params(**map_params)
        Xs, train_idx, _, _ = det._split_standardize(Xtr)
        t0 = time.perf_counter()
        det._fit_map_norm(Xs[train_idx])
        fit_s += time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = det.score(Xte)
    score_s = time.perf_counter() - t0
    maps = det.error_map(Xte)
    maps = np.asarray(maps).reshape(len(Xte), -1, *Xte.shape[1:]).mean(axis=1)
    return {"scores": scores, "maps": maps, "fit_s": fit_s, "score_s": score_s,
            "map_method": map_label(det_name, params),
            "epochs_run": int(getattr(det, "n_epochs_", 0) or 0)}


def run_pyod(name: str, params: dict, Xtr, Xte) -> dict:
    import anomalib_ae

    det = anomalib_ae.create(name, **params)
    Ftr = Xtr.reshape(len(Xtr), -1)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det.fit(Ftr)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        scores = det.score(Xte.reshape(len(Xte), -1))
        score_s = time.perf_counter() - t0
        maps = occlusion_maps(det, Xte, np.median(Xtr, axis=0))
    return {"scores": scores, "maps": maps, "fit_s": fit_s, "score_s": score_s,
            "map_method": f"occlusion ({OCCLUSION_PATCH}px patches at the training median)"}


def peer_validation(Xtr: np.ndarray, frac: float = ANOMALIB_VAL_FRACTION, seed: int = 0):
    """Split the training tiles for a peer that picks its epoch: (fit tiles, validation tiles, labels, masks).

    A seeded ``frac`` of the defect-free training tiles is held out; half of them get one planted
    synthetic defect (``industrial_select.plant_defects``: dark blob, thin dark line, pasted square).
    Only training tiles are read: the epoch is chosen without any test label.
    """
    from industrial_select import plant_defects

    perm = np.random.default_rng(seed).permutation(len(Xtr))
    n_val = max(2, int(round(frac * len(Xtr))))
    fit, held = Xtr[perm[n_val:]], Xtr[perm[:n_val]]
    half = n_val // 2
    bad, masks = plant_defects(held[:half], np.random.default_rng(seed + 1))
    Xv = np.concatenate([held[half:], bad])
    yv = np.r_[np.zeros(n_val - half), np.ones(half)].astype(np.int64)
    Mv = np.concatenate([np.zeros(held[half:].shape, bool), masks])
    return fit, Xv, yv, Mv


def run_anomalib(name: str, params: dict, Xtr, Xte, python: str, cache: Path, key: str) -> dict:
    """GANomaly / DRAEM in another Python (anomalib needs torchvision) on the same arrays.

    The peer trains on 90 % of the training tiles and keeps the epoch with the best mean of image
    and pixel AUROC on the other 10 % (half with a planted defect): :func:`peer_validation`.
    """
    fit, Xv, yv, Mv = peer_validation(Xtr, params["val_fraction"], params["seed"])
    split = cache / f"{key}_split.npz"
    np.savez(split, x_train=fit, x_test=Xte, x_val=Xv, y_val=yv, m_val=Mv)
    out = cache / f"{key}_out.npz"
    log = cache / f"{key}.log"
    cmd = [python, str(REPO / "benchmarks" / "_anomalib_peer.py"), name.split(".", 1)[1], str(split), str(out),
           "--epochs", str(params["epochs"]), "--seed", str(params["seed"])]
    t0 = time.perf_counter()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with open(log, "w") as f:  # per-epoch progress, readable while it trains
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, text=True, env=env)
    split.unlink()
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-5:]
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): " + " | ".join(tail))
    z = np.load(out)
    hist = z["history"]
    return {"scores": z["scores"], "maps": z["maps"].astype(np.float64), "fit_s": float(z["fit_s"]),
            "fit_cpu_s": float(z["fit_cpu_s"]), "score_s": float(z["score_s"]),
            "map_method": ANOMALIB_MAPS[name], "wall_s": time.perf_counter() - t0,
            "chosen_epoch": int(z["chosen_epoch"]), "epochs_run": int(z["epochs_run"]), "history": hist,
            "n_fit": int(z["n_train"])}


def evaluate(res: dict, y, masks) -> dict:
    from sklearn.metrics import roc_auc_score

    from anomalib_ae.explain.metrics import pixel_auroc, pro_score

    out = {"image_auroc": float(roc_auc_score(y, res["scores"]))}
    maps = res.get("maps")
    if maps is not None:
        out["pixel_auroc"] = pixel_auroc(maps, masks)
        out["pro"] = pro_score(maps, masks)
    return out


def family(name: str) -> str:
    return "ours" if name in OURS else ("anomalib" if name.startswith("anomalib.") else "pyod")


def table(rows: list[dict]) -> str:
    ok = [r for r in rows if "image_auroc" in r]
    peers = [r for r in ok if r["family"] != "ours"]
    ours = [r for r in ok if r["family"] == "ours"]
    best = {}
    for label, group in (("best peer", peers), ("our best", ours)):
        for m in ("image_auroc", "pixel_auroc", "pro"):
            vals = [r for r in group if np.isfinite(r.get(m, np.nan))]
            if vals:
                best[(label, m)] = max(vals, key=lambda r: r[m])["method"]
    lines = ["| method | family | image AUROC | pixel AUROC | PRO (FPR <= 0.3) | map | fit s |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        if "image_auroc" not in r:
            lines.append(f"| {r['method']} | {r['family']} | failed | | | {r.get('error', '')[:300]} | |")
            continue
        cells = []
        for m in ("image_auroc", "pixel_auroc", "pro"):
            v = r.get(m, np.nan)
            tag = "".join(f" ({lab})" for lab in ("best peer", "our best") if best.get((lab, m)) == r["method"])
            cells.append(("**%.3f**%s" % (v, tag)) if tag else ("%.3f" % v if np.isfinite(v) else "n/a"))
        lines.append(f"| {r['method']} | {r['family']} | " + " | ".join(cells) + f" | {r['map_method']} | {r['fit_s']:.0f} |")
    return "\n".join(lines)


def verdict(rows: list[dict]) -> str:
    """Issue 17's targets: image and pixel AUROC >= 0.85, and above the best peer on both."""
    ok = [r for r in rows if "image_auroc" in r]
    lines = []
    for m in ("image_auroc", "pixel_auroc"):
        ours = [r[m] for r in ok if r["family"] == "ours" and np.isfinite(r.get(m, np.nan))]
        peers = [r[m] for r in ok if r["family"] != "ours" and np.isfinite(r.get(m, np.nan))]
        if not ours:
            continue
        best, peer = max(ours), (max(peers) if peers else float("nan"))
        met = best >= 0.85 and (not peers or best > peer)
        lines.append(f"{m}: our best {best:.3f}, best peer {peer:.3f}: target (>= 0.85 and above the best peer) "
                     + ("met" if met else "missed"))
    return "  \n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA))
    ap.add_argument("--methods", default=",".join([*OURS, *PYOD, *ANOMALIB]))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="120 training tiles, 3 epochs (a smoke run, not a result)")
    ap.add_argument("--cache", default=str(REPO.parent / "cache" / "tiles"))
    ap.add_argument("--no-cache", action="store_true")
    ap.add_argument("--anomalib-python", default=os.environ.get("ANOMALIB_PYTHON", ""),
                    help="a Python with anomalib installed (its own venv: anomalib needs torchvision)")
    ap.add_argument("--ganomaly-epochs", type=int, default=ANOMALIB_EPOCHS["anomalib.ganomaly"],
                    help="GANomaly's epochs (anomalib's default: 100; this default fits ~15 CPU minutes)")
    ap.add_argument("--draem-epochs", type=int, default=ANOMALIB_EPOCHS["anomalib.draem"],
                    help="DRAEM's epochs (anomalib's default: 700; this default fits ~20 CPU minutes)")
    ap.add_argument("--anomalib-epochs", type=int, default=0, help="if > 0: both anomalib peers' epochs")
    ap.add_argument("--anomalib-cache", default="",
                    help="where the anomalib peers' scores are cached (default: --cache)")
    ap.add_argument("--tag", default="")
    ap.add_argument("--note", default="", help="a line printed under the table (e.g. why a peer did not run)")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    anomalib_cache = Path(args.anomalib_cache or args.cache)
    anomalib_cache.mkdir(parents=True, exist_ok=True)
    Xtr, Xte, y, masks, _ = load_split(Path(args.data), 120 if args.quick else 0)
    print(f"magnetic tiles: train {Xtr.shape}, test {Xte.shape}, {int(y.sum())} defective", flush=True)
    rows = []
    t_all = time.perf_counter()
    for name in [m for m in args.methods.split(",") if m]:
        det_name, params = method_params(name, args)
        key = cache_key(det_name, params, Xtr, Xte)
        path = (anomalib_cache if name in ANOMALIB else cache) / f"{key}.npz"
        label = f"{det_name} (configs/industrial.yaml)" if name == "config" else name
        row = {"method": label, "detector": det_name, "family": family(name), "params": params}
        try:
            if path.exists() and not args.no_cache:
                z = np.load(path, allow_pickle=False)
                res = {k: (z[k] if z[k].ndim else z[k].item()) for k in z.files}
                res["map_method"] = (map_label(det_name, params) if name in OURS else
                                     ANOMALIB_MAPS.get(name, str(res["map_method"])))
                row["cached"] = True
            else:
                if name in OURS:
                    res = run_ours(name, det_name, params, Xtr, Xte, None if args.no_cache else cache)
                elif name in PYOD:
                    res = run_pyod(name, params, Xtr, Xte)
                else:
                    if not args.anomalib_python:
                        raise RuntimeError(
                            "no --anomalib-python given: anomalib needs torchvision, which fails to import beside "
                            "torch 2.13.0 ('operator torchvision::nms does not exist'); see docs/domains.md")
                    res = run_anomalib(name, params, Xtr, Xte, args.anomalib_python, anomalib_cache, key)
                np.savez_compressed(path, **{k: v for k, v in res.items() if v is not None})
            row.update(evaluate(res, y, masks))
            row.update({"map_method": res["map_method"], "fit_s": round(float(res["fit_s"]), 1),
                        "score_s": round(float(res.get("score_s", np.nan)), 1)})
            if name in ANOMALIB:  # the epoch picked on training tiles, and what each epoch cost
                hist = np.asarray(res["history"])
                res.setdefault("epochs_run", len(hist))  # results cached before the stop file existed
                row["map_method"] += (f"; {int(res['epochs_run'])} of {params['epochs']} epochs run on "
                                      f"{int(res['n_fit'])} tiles, epoch {int(res['chosen_epoch'])} chosen on "
                                      "held-out training tiles")
                row.update({"chosen_epoch": int(res["chosen_epoch"]), "n_fit": int(res["n_fit"]),
                            "epochs_run": int(res["epochs_run"]),
                            "fit_cpu_s": round(float(res["fit_cpu_s"]), 1),
                            "history": [dict(zip(("epoch", "train_loss", "val_image_auroc", "val_pixel_auroc",
                                                  "cpu_s"), map(float, h))) for h in hist]})
            print(f"  {name}: image {row['image_auroc']:.4f}  pixel {row.get('pixel_auroc', np.nan):.4f}  "
                  f"PRO {row.get('pro', np.nan):.4f}  fit {row['fit_s']}s", flush=True)
        except Exception as exc:  # noqa: BLE001  (a peer that fails is recorded, the run goes on)
            row["error"] = f"{type(exc).__name__}: {exc}"
            print(f"  {name}: FAILED {row['error']}", flush=True)
        rows.append(row)
    seconds = time.perf_counter() - t_all
    md = "\n".join([
        "## industrial: magnetic tiles (64x64), every peer in the same run",
        "",
        f"command: `{' '.join(sys.argv)}`  ",
        f"run time: {seconds:.0f} s (cached methods cost nothing; fit times are each method's own, measured on a "
        f"shared 2-core machine, load {os.getloadavg()[0]:.1f})  ",
        f"train: {len(Xtr)} defect-free tiles; test: {len(Xte)} tiles ({int(y.sum())} defective); "
        f"seed {args.seed}, CPU" + (" (--quick: a smoke run, not a result)" if args.quick else ""),
        "",
        table(rows),
        "",
        verdict(rows),
        "",
        *([args.note, ""] if args.note else []),
    ])
    print(md, flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "industrial" + (f"_{args.tag}" if args.tag else "") + ("_quick" if args.quick else "")
    meta = {"command": " ".join(sys.argv), "seconds": round(seconds, 1), "seed": args.seed, "quick": args.quick,
            "n_train": len(Xtr), "n_test": len(Xte), "loadavg": os.getloadavg(), "python": platform.python_version(),
            "threads": torch.get_num_threads(), "rows": rows}
    atomic_write(RESULTS / f"{stem}.json", json.dumps(meta, indent=1, default=str))
    atomic_write(RESULTS / f"{stem}.md", md)


if __name__ == "__main__":
    main()
