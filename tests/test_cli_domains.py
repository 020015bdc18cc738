"""CLI on folders of images and clips and on telemetry tables (shipped real samples)."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import anomalib_ae
from anomalib_ae import datasets
from anomalib_ae.cli import cli

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
FAST = ["-p", "epochs=2", "-p", "verbose=false", "-p", "accelerator=cpu"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def image_dirs(tmp_path):
    images = datasets.pneumonia_png_dir()
    train = tmp_path / "train"
    shutil.copytree(images / "good", train)
    new = tmp_path / "new"
    shutil.copytree(images / "pneumonia", new)
    (new / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    (new / "empty.png").write_bytes(b"")
    return train, new


def test_image_folder_fit_score_explain(tmp_path, image_dirs):
    train, new = image_dirs
    model = tmp_path / "m.pt"
    # industrial.yaml's detector (subspace) has no epochs: it fits in closed form, fast as it is
    res = run("fit", "--config", CONFIGS / "industrial.yaml", "--input", train, "--model", model, "-a", "size=32")
    assert res.exit_code == 0, res.output
    assert anomalib_ae.load(model).adapter_.reader_.size_ == (32, 32)  # -a overrides the config's 64
    out = tmp_path / "s.csv"
    res = run("score", "--model", model, "--input", new, "--output", out)
    assert res.exit_code == 0, res.output
    df = pd.read_csv(out)
    assert len(df) == 10  # one row per file, the bad ones included
    bad = df[df["path"].str.contains("corrupt|empty")]
    assert len(bad) == 2 and bad["score"].isna().all() and bad["error"].notna().all()
    good = df.drop(bad.index)
    assert good["score"].notna().all() and good["error"].isna().all()
    res = run("explain", "--model", model, "--input", new, "--output-dir", tmp_path / "ex", "--top-k", 3)
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "ex").glob("heatmap_*.png"))) == 3
    assert len(pd.read_csv(tmp_path / "ex" / "contributions.csv")) == 3


@pytest.mark.parametrize("config", ["acoustic.yaml", "acoustic_clip.yaml"])
def test_audio_folder_with_zero_length_clip(tmp_path, config):
    m = datasets.load_mimii_sample()
    train, new = tmp_path / "train", tmp_path / "new"
    train.mkdir()
    new.mkdir()
    for p in m["paths"][:6]:
        shutil.copy(p, train)
    for p in m["paths"][30:33]:
        shutil.copy(p, new)
    (new / "zero.wav").write_bytes(b"")
    model = tmp_path / "fan.pt"
    res = run("fit", "--config", CONFIGS / config, "--input", train, "--model", model, *FAST)
    assert res.exit_code == 0, res.output
    res = run("score", "--model", model, "--input", new, "--output", tmp_path / "s.csv")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp_path / "s.csv")
    assert len(df) == 4
    zero = df[df["path"].str.endswith("zero.wav")]
    assert zero["score"].isna().all() and zero["error"].notna().all()
    assert df.drop(zero.index)["score"].notna().all()
    res = run("explain", "-m", model, "-i", new, "-o", tmp_path / "ex", "-k", 2)
    assert res.exit_code == 0, res.output
    assert len(list((tmp_path / "ex").glob("spectrogram_*.png"))) == 2
    top = pd.read_csv(tmp_path / "ex" / "contributions.csv")
    assert len(top) == 2 and top["feature_1"].str.fullmatch(r"mel\d{3}").all()  # per-band contributions
    fitted = anomalib_ae.load(model)
    if config == "acoustic_clip.yaml":  # one vector of 2 x 64 values per clip; its map has no time axis
        assert fitted.detector_.n_features_in_ == 128
        assert "no time axis" in fitted.adapter_.figure_options()["error_title"]
    else:
        assert "error_title" not in fitted.adapter_.figure_options()


@pytest.fixture
def smd_files(tmp_path):
    d = datasets.load_smd_sample()
    d["train"].iloc[:600].to_parquet(tmp_path / "train.parquet")
    test = d["test"].iloc[:300].copy()
    test.to_csv(tmp_path / "test.csv", index=False)
    test.drop(columns=["m05"]).to_csv(tmp_path / "missing.csv", index=False)
    return tmp_path


def test_telemetry_fit_score_explain_and_missing_column(smd_files):
    tmp = smd_files
    model = tmp / "m.pt"
    res = run("fit", "--config", CONFIGS / "hpc.yaml", "--input", tmp / "train.parquet", "--model", model,
              *FAST, "-a", "window=8", "-a", "stride=4")
    assert res.exit_code == 0, res.output
    res = run("score", "-m", model, "-i", tmp / "test.csv", "-o", tmp / "s.csv")
    assert res.exit_code == 0, res.output
    df = pd.read_csv(tmp / "s.csv")
    assert len(df) == 300 and {"timestamp", "machine", "score", "error"} <= set(df.columns)
    res = run("explain", "-m", model, "-i", tmp / "test.csv", "-o", tmp / "ex", "-k", 4)
    assert res.exit_code == 0, res.output
    assert (tmp / "ex" / "timeline_machine-1-6.png").is_file()
    assert pd.read_csv(tmp / "ex" / "contributions.csv")["feature_1"].str.match(r"m\d\d").all()
    res = CliRunner().invoke(cli, ["score", "-m", str(model), "-i", str(tmp / "missing.csv")])
    assert res.exit_code != 0
    lines = [ln for ln in res.output.strip().splitlines() if ln]
    assert len(lines) == 1 and lines[0].startswith("Error:") and "m05" in lines[0]


def test_score_to_stdout_and_bad_config(tmp_path, smd_files):
    bad = tmp_path / "bad.yaml"
    bad.write_text("adapter: {kind: telemetry}\ndetectr: {name: ae}\n")
    res = CliRunner().invoke(cli, ["fit", "-c", str(bad), "-i", str(smd_files / "train.parquet"), "-m", str(tmp_path / "x.pt")])
    assert res.exit_code != 0 and "unknown config key" in res.output
    res = CliRunner().invoke(cli, ["fit", "-c", str(tmp_path / "nope.yaml"), "-i", "x", "-m", "y"])
    assert res.exit_code != 0 and "config file not found" in res.output


def test_hpc_config_on_a_plain_timestamp_and_metrics_table(tmp_path):
    """configs/hpc.yaml names machine / label / source_row: a plain export lacks them, which is only a note;
    a column the user names with -x must still exist."""
    d = datasets.load_smd_sample()
    plain = d["train"].iloc[:400][["timestamp", *d["metric_cols"][:6]]]
    plain.to_csv(tmp_path / "plain.csv", index=False)
    model = tmp_path / "m.pt"
    res = CliRunner().invoke(cli, ["fit", "--config", str(CONFIGS / "hpc.yaml"), "-i", str(tmp_path / "plain.csv"),
                                   "-m", str(model), *map(str, FAST), "-a", "window=8", "-a", "stride=4"])
    assert res.exit_code == 0, res.output
    assert "skipped" in res.output and "label" in res.output and "machine" in res.output
    pipe = anomalib_ae.load(model)
    assert pipe.adapter_.reader_.metric_cols_ == d["metric_cols"][:6] and pipe.adapter_.reader_.entity_col is None
    res = CliRunner().invoke(cli, ["score", "-m", str(model), "-i", str(tmp_path / "plain.csv"), "-o", str(tmp_path / "s.csv")])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "s.csv")) == 400
    res = CliRunner().invoke(cli, ["fit", "--config", str(CONFIGS / "hpc.yaml"), "-i", str(tmp_path / "plain.csv"),
                                   "-m", str(model), *map(str, FAST), "-a", "window=8", "-x", "nosuch"])
    assert res.exit_code != 0 and "nosuch" in res.output and "Traceback" not in res.output
