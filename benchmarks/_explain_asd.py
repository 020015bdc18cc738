"""ASD part of benchmarks/explain.py: a second labelled culprit set, used to choose SMD's ranking.

The Application Server Dataset (InterFusion, Li et al., KDD 2021; ``telemetry/asd``: 12 servers,
19 metrics, 5-minute steps) ships interpretation labels (``interpretation_label/omi-<k>.txt``,
77 segments, ``end`` INCLUSIVE, 1-based metrics) from the same operators' world as SMD. Per
server the protocol is SMD's exactly (:func:`_explain_smd.machine_arrays`): a windowed ``ae``
(window 16, training windows every 4 rows, 10 epochs, seed 0) on the first 80 % of ``train``,
per-row base attributions on the labelled test rows (padded by 8 rows), the spread of every base
attribution on 512 fit windows, and the same frozen grid of candidate rankings
(:func:`_explain_smd.evaluate`). No anomalies are planted: ASD's own labels are the selection set,
and SMD's test labels are left untouched by the choice.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from _explain_smd import CACHE_VERSION, EVAL_VERSION, dump, evaluate, machine_arrays


def run_server(path_npz: Path, path_interp: Path, cache: Path, log=print, *, epochs: int = 10) -> dict:
    """Culprit scores of every candidate ranking on one ASD server's labelled test rows (cached)."""
    arrays = machine_arrays(path_npz, path_interp, cache, epochs=epochs, n_plant=0, end_inclusive=True, log=log)
    res_file = cache / path_npz.stem / f"eval_v{CACHE_VERSION}.{EVAL_VERSION}_asd_epochs{epochs}.json"
    if res_file.exists():
        return json.loads(res_file.read_text())
    seg = arrays["test"]["seg"]
    lab = seg >= 0
    sizes = arrays["test"]["culprits"][lab].sum(axis=1)
    res = {
        "n_segments": int(len(np.unique(seg[lab]))),
        "n_rows": int(lab.sum()),
        # HitRate@150 % is 1 for every ranking when 1.5 |G| >= the number of metrics (19): |G| >= 13
        "n_rows_trivial@150": int((np.floor(1.5 * sizes + 1e-9) >= arrays["test"]["culprits"].shape[1]).sum()),
        "seconds": {"fit_ae": round(float(arrays["spread"]["fit_seconds"]), 1)},
        "test": evaluate(arrays, ["test"], segments=True),
    }
    informative = _without_trivial(arrays)
    if informative is not None:
        res["informative"] = evaluate(informative, ["test"], segments=True)
    dump(res, res_file)
    return res


def _without_trivial(arrays: dict) -> dict | None:
    """The arrays with segments of >= ``ceil(d / 1.5)`` culprits unlabelled (HitRate@150 % is 1 for any
    ranking there); None when no segment is left."""
    B = dict(arrays["test"])
    d = B["culprits"].shape[1]
    seg = B["seg"].copy()
    for i in np.unique(seg[seg >= 0]):
        if np.floor(1.5 * B["culprits"][seg == i][0].sum() + 1e-9) >= d:
            seg[seg == i] = -1
    if not (seg >= 0).any():
        return None
    B["seg"] = seg
    return {**arrays, "test": B}


def asd(data: Path, cache: Path, log=print, *, epochs: int = 10, servers=None) -> dict:
    """Every candidate on every ASD server; means over servers (as SMD's means over machines)."""
    root = data / "telemetry" / "asd"
    if not root.is_dir():
        raise FileNotFoundError(f"ASD data not found under {root}")
    names = servers or sorted((p.stem for p in root.glob("omi-*.npz")), key=lambda s: int(s.split("-")[1]))
    per = {}
    for s in names:
        per[s] = run_server(root / f"{s}.npz", root / "interpretation_label" / f"{s}.txt", cache, log=log, epochs=epochs)
        log(f"  {s}: {per[s]['n_segments']} segments, {per[s]['n_rows']} rows "
            f"({per[s]['n_rows_trivial@150']} with >= 13 culprits: HitRate@150 % is 1 for any ranking)")
    cands = list(next(iter(per.values()))["test"])
    keys = next(iter(next(iter(per.values()))["test"].values())).keys()
    mean = {n: {k: float(np.mean([per[s]["test"][n][k] for s in per])) for k in keys} for n in cands}
    inf = [s for s in per if "informative" in per[s]]
    mean_inf = {n: {k: float(np.mean([per[s]["informative"][n][k] for s in inf])) for k in keys} for n in cands}
    return {"servers": per, "mean": mean, "mean_informative": mean_inf, "servers_informative": inf}
