"""Concurrent use of one model file and of one output path."""

import multiprocessing as mp
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import anomalib_ae

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # four fresh interpreters importing torch: ~40 s of CPU
def test_four_score_processes_share_one_model_file(tmp_path):
    """Four ``anomalib-ae score`` processes reading one model file at once all give the in-process scores."""
    rng = np.random.default_rng(0)
    cols = ["a", "b", "c"]
    det = anomalib_ae.create("pyod.knn").fit(pd.DataFrame(rng.normal(size=(80, 3)), columns=cols))
    model = tmp_path / "m.pt"
    det.save(model)
    before = model.read_bytes()
    new = pd.DataFrame(rng.normal(size=(300, 3)), columns=cols)
    src = tmp_path / "new.csv"
    new.to_csv(src, index=False)
    expected = det.score(pd.read_csv(src))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    procs = [
        subprocess.Popen([sys.executable, "-m", "anomalib_ae.cli", "score", "-m", str(model), "-i", str(src),
                          "-o", str(tmp_path / f"out{i}.csv")], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        for i in range(4)
    ]
    for p in procs:
        out, _ = p.communicate(timeout=300)
        assert p.returncode == 0, out
        assert "Traceback" not in out
    for i in range(4):
        table = pd.read_csv(tmp_path / f"out{i}.csv")
        assert len(table) == len(new)
        np.testing.assert_array_equal(table["score"].to_numpy(), expected)
    assert model.read_bytes() == before  # readers never touch the file


def _writer(path: str, seed: int, n: int, rounds: int) -> None:
    from anomalib_ae.data.tabular import write_table

    frame = pd.DataFrame({"row": np.arange(n), "score": np.full(n, float(seed))})
    for _ in range(rounds):
        write_table(frame, path)


def test_two_writers_to_one_output_never_leave_a_torn_file(tmp_path):
    """Two processes writing different tables to one path: the file is always exactly one of them."""
    path = tmp_path / "scores.csv"
    ctx = mp.get_context("fork")
    sizes = {1: 40_000, 2: 25_000}
    procs = [ctx.Process(target=_writer, args=(str(path), seed, n, 15)) for seed, n in sizes.items()]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    table = pd.read_csv(path)
    assert table["score"].nunique() == 1, "rows of both writers in one file"
    seed = int(table["score"].iloc[0])
    assert len(table) == sizes[seed] and (table["row"].to_numpy() == np.arange(sizes[seed])).all()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"], "temporary files left behind"


def test_concurrent_model_saves_leave_one_whole_file(tmp_path):
    """Two processes saving models to one path: the file loads and is one of the two (unique temp names)."""
    rng = np.random.default_rng(1)
    dets = [anomalib_ae.create("pyod.knn").fit(rng.normal(size=(60, 3)) + k) for k in range(2)]
    path = tmp_path / "m.pt"
    ctx = mp.get_context("fork")

    def save_many(det):
        for _ in range(10):
            det.save(path)

    procs = [ctx.Process(target=save_many, args=(d,)) for d in dets]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    loaded = anomalib_ae.load(path)
    probe = rng.normal(size=(5, 3))
    assert any(np.array_equal(loaded.score(probe), d.score(probe)) for d in dets)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
