"""The tabular benchmark script on two small real sets (needs ../shared/data; deselected by default)."""

import json
import sys
from pathlib import Path

import pytest

from conftest import SHARED_DATA

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.mark.benchmark
@pytest.mark.skipif(not (SHARED_DATA / "tabular").is_dir(), reason="needs ../shared/data/tabular")
def test_tabular_benchmark_runs_and_reports(tmp_path):
    import tabular

    out = tmp_path / "tab"
    tabular.main(["--datasets", "glass,wbc", "--seeds", "0", "--detectors", "pyod.knn,pyod.ecod,ensemble:knn-sage",
                  "--out", str(out)])
    data = json.loads(out.with_suffix(".json").read_text())
    assert set(data["summary"]) == {"pyod.knn", "pyod.ecod", "ensemble:knn-sage"}
    assert all(0.5 < s["mean_auroc"] <= 1 for s in data["summary"].values())
    assert any("best ensemble" in t for t in data["targets"])
