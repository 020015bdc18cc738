import subprocess
import sys

import pytest

from anomalib_ae.datasets import load_cardio
from anomalib_ae.demo import run_demo


def test_shipped_sample_is_real_cardio():
    X, y = load_cardio()
    assert X.shape == (1831, 21) and int(y.sum()) == 176


@pytest.mark.slow  # ~37 s (measured)
def test_demo_runs_and_detects(tmp_path):
    res = run_demo(tmp_path)
    assert res["auroc"] > 0.75
    for key in ("scores_path", "plot_path", "model_path"):
        assert (tmp_path / res[key].split("/")[-1]).stat().st_size > 0


@pytest.mark.slow  # ~60 s (measured)
def test_demo_console_script(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "anomalib_ae.cli.main", "demo", "-o", str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "AUROC" in out.stdout and "score_histogram.png" in out.stdout
