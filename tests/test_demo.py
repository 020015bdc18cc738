import re
import subprocess
import sys

import pytest

from anomalib_ae.datasets import load_cardio
from anomalib_ae.demo import run_demo


def test_shipped_sample_is_real_cardio():
    X, y = load_cardio()
    assert X.shape == (1831, 21) and int(y.sum()) == 176


@pytest.mark.slow  # ~13 s on 2 cores (measured): the demo through its console entry point, as a user runs it
def test_demo_runs_and_detects_through_the_console_script(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "anomalib_ae.cli.main", "demo", "-o", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "score_histogram.png" in out.stdout
    auroc = float(re.search(r"AUROC (\d\.\d+)", out.stdout).group(1))
    assert auroc > 0.75
    for name in ("score_histogram.png", "scores.csv", "model.pt"):
        assert (tmp_path / name).stat().st_size > 0


def test_run_demo_python_entry_point(tmp_path):
    """The Python entry point with a quick detector: its returned paths exist, the AUROC is real."""
    res = run_demo(tmp_path, detector="pyod.knn")
    assert res["auroc"] > 0.75
    for key in ("scores_path", "plot_path", "model_path"):
        assert (tmp_path / res[key].split("/")[-1]).stat().st_size > 0
