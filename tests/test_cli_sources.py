"""CLI routes of issue 19 on real sample files: a DICOM series folder (pydicom's shipped test
files), NIfTI volumes (nibabel's shipped test data), a long recording (shipped MIMII clips)."""

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from anomalib_ae.cli import cli

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FAST = ["-p", "epochs=2", "-p", "verbose=false", "-p", "accelerator=cpu"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_dicom_series_fit_and_score(tmp_path):
    pytest.importorskip("pydicom")
    from pydicom.data import get_testdata_file

    files = Path(get_testdata_file("CT_small.dcm", download=False)).parent
    train = tmp_path / "train"
    shutil.copytree(files / "dicomdirtests" / "98892003", train)  # MR series, extension-less files
    new = tmp_path / "new"
    shutil.copytree(files / "dicomdirtests" / "77654033", new)  # CT and MONOCHROME1 CR series
    for name in ("rtdose.dcm", "MR_truncated.dcm", "nested_priv_SQ.dcm"):
        shutil.copy(files / name, new / name)
    (new / "notes.dcm").write_text("not a DICOM file")
    os.symlink(new / "gone.dcm", new / "dangling.dcm")
    model = tmp_path / "m.pt"
    res = run("fit", "-c", CONFIGS / "medical.yaml", "-i", train, "-m", model, "-a", "size=16", *FAST)
    assert res.exit_code == 0, res.output
    assert "on 17 item(s)" in res.output
    out = tmp_path / "s.csv"
    res = run("score", "-m", model, "-i", new, "-o", out)
    assert res.exit_code == 0, res.output
    t = pd.read_csv(out)
    assert len(t) == 7 + 15 + 4 and t["path"].is_unique  # 7 CT/CR, 15 frames, 4 broken files
    assert t["path"].str.endswith("rtdose.dcm#frame=14").sum() == 1
    err = t.set_index(t["path"].map(lambda p: Path(p.split("#")[0]).name))["error"]
    for name in ("MR_truncated.dcm", "nested_priv_SQ.dcm", "notes.dcm", "dangling.dcm"):
        assert isinstance(err[name], str) and err[name], name
    assert t["score"].notna().sum() == 22


def test_nifti_slices_fit_and_score(tmp_path):
    pytest.importorskip("nibabel")
    from nibabel.testing import data_path

    model = tmp_path / "m.pt"
    anat = os.path.join(data_path, "anatomical.nii")
    res = run("fit", "--kind", "image", "-d", "ae", "-i", anat, "-m", model, "-a", "size=16", *FAST,
              "-p", "input_kind=image")
    assert res.exit_code == 0, res.output
    res = run("score", "-m", model, "-i", os.path.join(data_path, "example4d.nii.gz"), "-o", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "s.csv")
    assert len(t) == 48 and t["path"].iloc[30].endswith("example4d.nii.gz#t=1,axis=2,slice=6")
    assert t["score"].notna().all()


def test_long_recording_timeline_cli(tmp_path):
    sf = pytest.importorskip("soundfile")
    from anomalib_ae.datasets import load_mimii_sample

    s = load_mimii_sample()
    normal = [p for p, y in zip(s["paths"], s["labels"]) if y == 0]
    train = tmp_path / "train"
    train.mkdir()
    sf.write(train / "hour.flac", np.concatenate([sf.read(p, dtype="float32")[0] for p in normal[:8]]), 16000)
    rec = tmp_path / "shift.wav"
    sf.write(rec, np.concatenate([sf.read(p, dtype="float32")[0] for p in normal[8:11]]), 16000)
    model = tmp_path / "m.pt"
    res = run("fit", "-c", CONFIGS / "acoustic.yaml", "-i", train, "-m", model, *FAST,
              "-a", "n_mels=32", "-a", "clip_seconds=2.0", "-a", "hop_seconds=1.0")
    assert res.exit_code == 0, res.output
    assert "on 15 item(s)" in res.output
    res = run("score", "-m", model, "-i", rec, "-o", tmp_path / "t.csv")
    assert res.exit_code == 0, res.output
    t = pd.read_csv(tmp_path / "t.csv")
    assert t["start_s"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and t["end_s"].tolist() == [2.0, 3.0, 4.0, 5.0, 6.0]
    assert t["path"].iloc[1] == f"{rec}#t=1.0-3.0" and t["score"].notna().all()
