"""Concurrent use of one model file and of one output path."""

import multiprocessing as mp
from pathlib import Path

import numpy as np
import pandas as pd

import anomalib_ae

ROOT = Path(__file__).resolve().parents[1]


# Four `score` processes sharing one model file: tests/test_reliability_crash.py (forked processes,
# the same check without four fresh interpreters importing torch, ~20 s of the CI budget).


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
