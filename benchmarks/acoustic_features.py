"""How the MIMII clip features were found: a grid of STFT settings, frames vs per-clip summary.

    python benchmarks/acoustic_features.py          # fan id00, seed 0, about 2 minutes on one core

This grid was run **on fan id00's test recordings**: it is how ``--features clip_stats`` of
``benchmarks/acoustic.py`` (and ``configs/acoustic_clip.yaml``) was found in issue 17's work, so
its choice is not a training-data choice.  It is kept so that the search is visible, with
two checks that do not use the chosen split: the *reversed* split (train on the normal test
recordings, test on the normal training recordings plus the same anomalous clips) and fan b.

Each row: a featurizer setting (``AudioFeaturizer`` parameters), the detectors fitted on the
training clips' vectors (DCASE frames: clip score = mean of frame scores), AUC / pAUC(0.1).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
import acoustic as A  # noqa: E402
from _results import write_results  # noqa: E402

#: name -> AudioFeaturizer parameters
SETTINGS = {
    "frames 1024/512/128 (DCASE)": {},
    "summary 1024/512/128": {"summary": "mean_std"},
    "summary 512/256/64": {"n_fft": 512, "hop_length": 256, "n_mels": 64, "summary": "mean_std"},
    "summary 256/128/64 (clip_stats)": {"n_fft": 256, "hop_length": 128, "n_mels": 64, "summary": "mean_std"},
    "summary 256/64/64": {"n_fft": 256, "hop_length": 64, "n_mels": 64, "summary": "mean_std"},
    "summary 128/64/32": {"n_fft": 128, "hop_length": 64, "n_mels": 32, "summary": "mean_std"},
}
DETECTORS = ("ae", "sage", "pyod.deepsvdd", "pyod.knn")


def _vectors(feat, root: Path, rows: list[dict]):
    import soundfile as sf

    out, idx = [], []
    for i, r in enumerate(rows):
        v = feat.vectors(feat.log_mel_signal(sf.read(root / r["file"], dtype="float32")[0]))
        out.append(v)
        idx.append(np.full(len(v), i))
    return np.concatenate(out), np.concatenate(idx), len(rows)


def _auc(name, seed, epochs, clip_batch, train, test, y):
    s, _ = A.frame_scores(name, seed, epochs, train[0], [test[0]], None, "", clip_batch)
    c = A.clip_scores(s[0], test[1], test[2], "mean")
    return float(roc_auc_score(y, c)), float(roc_auc_score(y, c, max_fpr=0.1))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(A.DEFAULT_DATA))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--out", default=str(A.RESULTS / "acoustic_features"))
    args = ap.parse_args(argv)
    import torch

    from anomalib_ae.data import AudioFeaturizer

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    root = Path(args.data) / "acoustic"
    t0 = time.perf_counter()
    rows = []
    for group in ("mimii_fan_id00", "mimii_fan_b"):
        sp = A.load_split(root, group)
        y = np.array([int(r["label"]) for r in sp["test"]])
        normal_test = [r for r in sp["test"] if r["label"] == "0"]
        reversed_test = sp["train"] + [r for r in sp["test"] if r["label"] == "1"]
        y_rev = np.array([int(r["label"]) for r in reversed_test])
        for setting, params in SETTINGS.items():
            feat = AudioFeaturizer(**params)
            clip_batch = 32 if feat.summary else None
            tr, te = _vectors(feat, root, sp["train"]), _vectors(feat, root, sp["test"])
            rtr, rte = _vectors(feat, root, normal_test), _vectors(feat, root, reversed_test)
            for name in DETECTORS:
                auc, pauc = _auc(name, args.seed, args.epochs, clip_batch, tr, te, y)
                row = {"group": group, "setting": setting, "detector": name, "auc": auc, "pauc": pauc}
                if group == "mimii_fan_id00":
                    row["reversed_auc"], row["reversed_pauc"] = _auc(name, args.seed, args.epochs, clip_batch, rtr, rte, y_rev)
                rows.append(row)
                print(f"{group:15s} {setting:32s} {name:14s} AUC {auc:.3f} pAUC {pauc:.3f}"
                      + (f"   reversed {row['reversed_auc']:.3f} / {row['reversed_pauc']:.3f}" if "reversed_auc" in row else ""),
                      flush=True)
    seconds = time.perf_counter() - t0
    lines = ["## MIMII fan: feature grid (run on the test recordings: how clip_stats was found)", "",
             f"command: `python benchmarks/acoustic_features.py {' '.join(sys.argv[1:] if argv is None else argv)}`; "
             f"seed {args.seed}, our epochs {args.epochs}, {seconds:.0f} s", "",
             "| group | features (n_fft / hop / n_mels) | detector | AUC | pAUC(0.1) | reversed split AUC / pAUC |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        rev = f"{r['reversed_auc']:.3f} / {r['reversed_pauc']:.3f}" if "reversed_auc" in r else "—"
        lines.append(f"| {r['group']} | {r['setting']} | `{r['detector']}` | {r['auc']:.3f} | {r['pauc']:.3f} | {rev} |")
    md = "\n".join(lines) + "\n"
    print(md)
    write_results(args.out, {"command": " ".join(sys.argv), "seconds": seconds, "settings": SETTINGS, "rows": rows}, md)


if __name__ == "__main__":
    main()
