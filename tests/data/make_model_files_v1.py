"""Write the model files and scores that tests/data/test_model_files_v1.py checks after refactors.

Run once with the code whose behaviour must be kept (it was run before the issue-12 house
refactor): ``OMP_NUM_THREADS=1 python tests/data/make_model_files_v1.py``. Every registered
detector is fitted on a small slice of the shipped cardio sample (fast test parameters) and
every adapter kind on a shipped sample; each model file is saved with the scores it gave
(``<name>.scores.npy``) on the data listed in ``manifest.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import anomalib_ae  # noqa: E402
from anomalib_ae import datasets  # noqa: E402
from anomalib_ae.pipeline import Pipeline  # noqa: E402
from fast_params import fast_params  # noqa: E402

OUT = HERE / "model_files_v1"
MAX_BYTES = 400_000
FAST = {"epochs": 2, "batch_size": 64, "random_state": 0, "verbose": False, "accelerator": "cpu"}
SMALL_CONV = {**FAST, "hidden_dims": (4, 8), "latent_dim": 8}


def cardio():
    X, _ = datasets.load_cardio()
    return X[:120].astype(np.float32), X[1500:1540].astype(np.float32)


def pipeline_cases():
    """(name, builder, fit data, score data) for every adapter kind; data given as JSON-able specs."""
    return {
        "pipe_tabular_ae": (lambda: Pipeline("ae", kind="tabular", detector_params=FAST), "cardio_df_train", "cardio_df_test"),
        "pipe_tabular_knn": (lambda: Pipeline("pyod.knn", kind="tabular"), "cardio_df_train", "cardio_df_test"),
        "pipe_image_ae": (lambda: Pipeline("ae", kind="image", adapter_params={"size": 16}, detector_params=SMALL_CONV),
                          "pneumonia_png", "pneumonia_png"),
        "pipe_image_arrays_ae": (lambda: Pipeline("ae", kind="image", adapter_params={"size": 16}, detector_params=SMALL_CONV),
                                 "pneumonia_arrays_train", "pneumonia_arrays_test"),
        "pipe_audio_ae": (lambda: Pipeline("ae", kind="audio", adapter_params={"n_mels": 32}, detector_params=FAST),
                          "mimii_train", "mimii_test"),
        "pipe_telemetry_ae": (lambda: Pipeline("ae", kind="telemetry",
                                               adapter_params={"window": 8, "entity_col": "machine",
                                                               "exclude": ["label", "source_row"]},
                                               detector_params={**FAST, "input_kind": "window"}),
                              "smd_train", "smd_test"),
    }


def data(spec: str):
    """The data a spec names (also used by the test)."""
    import pandas as pd

    if spec.startswith("cardio_df"):
        tr, te = cardio()
        X = tr if spec.endswith("train") else te
        return pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    if spec == "pneumonia_png":
        return datasets.pneumonia_png_dir()
    if spec.startswith("pneumonia_arrays"):
        d = datasets.load_pneumonia_sample()
        return d["x_train"][:60] if spec.endswith("train") else d["x_test"][:20]
    if spec.startswith("mimii"):
        m = datasets.load_mimii_sample()
        return m["paths"][:6] if spec.endswith("train") else m["paths"][25:31]
    if spec.startswith("smd"):
        d = datasets.load_smd_sample()
        return d["train"].iloc[:300] if spec.endswith("train") else d["test"].iloc[:200]
    raise KeyError(spec)


def main() -> None:
    torch.set_num_threads(1)
    OUT.mkdir(exist_ok=True)
    Xtr, Xte = cardio()
    np.save(OUT / "cardio_test.npy", Xte)
    manifest = {"detectors": {}, "pipelines": {}, "skipped": {}}
    for name in anomalib_ae.list_detectors():
        params = fast_params(name)
        if name == "pyod.iforest":  # keep the file small
            params["params"] = {"n_estimators": 5, "max_samples": 32}
        det = anomalib_ae.create(name, **params).fit(Xtr)
        path = OUT / f"{name}.pt"
        det.save(path)
        if path.stat().st_size > MAX_BYTES:
            manifest["skipped"][name] = f"file {path.stat().st_size} bytes"
            path.unlink()
            continue
        np.save(OUT / f"{name}.scores.npy", det.score(Xte))
        manifest["detectors"][name] = {"file": path.name, "data": "cardio_test.npy"}
    for name, (build, fit_spec, score_spec) in pipeline_cases().items():
        pipe = build().fit(data(fit_spec))
        path = OUT / f"{name}.pt"
        pipe.save(path)
        if path.stat().st_size > MAX_BYTES:
            manifest["skipped"][name] = f"file {path.stat().st_size} bytes"
            path.unlink()
            continue
        res = pipe.score_items(data(score_spec))
        np.save(OUT / f"{name}.scores.npy", res.scores)
        res.table.to_csv(OUT / f"{name}.table.csv", index=False)
        manifest["pipelines"][name] = {"file": path.name, "data": score_spec, "threshold": float(pipe.threshold_)}
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(json.dumps(manifest["skipped"]), f"total {total} bytes")


if __name__ == "__main__":
    main()
