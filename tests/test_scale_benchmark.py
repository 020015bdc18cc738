"""benchmarks/scale.py runs every part of issue 16's point 8 in one run (tiny sizes here)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.benchmark
def test_scale_benchmark_runs_every_part_in_one_run(tmp_path):
    out = tmp_path / "scale"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scale.py"), "--quick", "--rows", "2000",
                    "--ddp-epochs", "1", "--stream-gb", "0.005", "--stream-fit-gb", "0.002", "--ann-sizes", "2000",
                    "--ann-threads", "1", "--workdir", str(tmp_path), "--out", str(out)],
                   check=True, env=env, cwd=ROOT, timeout=900, capture_output=True)
    res = json.loads(out.with_suffix(".json").read_text())
    assert set(res) == {"stream", "dask", "ddp", "ann", "onnx", "setting"}
    assert all(res["stream"]["targets"].values())
    assert [r["workers"] for r in res["dask"]] == [1, 1, 2] and all(r["bit_identical"] for r in res["dask"])
    assert [r["path"] for r in res["ddp"]][0] == "one process" and len(res["ddp"]) == 2
    assert [(r["n"], r["search"]) for r in res["ann"]] == [(2000, "exact"), (2000, "approximate")]
    assert all("error" not in r and r["auroc"] > 0.9 for r in res["ann"])
    assert res["onnx"][1]["max_abs_diff"] < 1e-5
    assert "load_average_start" in res["setting"] and out.with_suffix(".md").exists()
    assert not list(tmp_path.glob("tmp*/**/*.csv"))  # generated files deleted
