import os
from pathlib import Path

# Thread counts are chosen, not inherited: one BLAS / OpenMP / torch thread per test process (the
# CLI subprocesses default to one as well). Two processes on a 2-core CI machine do not fight over
# cores, and stored reference scores (tests/data/model_files_v1) were computed with one thread:
# float32 scores of some networks differ in the 9th digit between 1 and 2 threads.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def blobs_with_outliers():
    """200 normal points around 0 in 6-D for training, a test set with 10 planted far outliers."""
    r = np.random.default_rng(42)
    X_train = r.normal(size=(200, 6)).astype(np.float32)
    X_test = np.vstack([r.normal(size=(90, 6)), r.normal(loc=6.0, size=(10, 6))]).astype(np.float32)
    y_test = np.r_[np.zeros(90, int), np.ones(10, int)]
    return X_train, X_test, y_test


def pytest_terminal_summary(terminalreporter):
    """Reliability counts per entry point when tests/test_hostile_inputs.py ran (benchmarks/reliability.py)."""
    import sys

    rel = sys.modules.get("reliability")
    if rel is None or not getattr(rel, "RECORDED", None):
        return
    summary = rel.summarise(rel.RECORDED)
    terminalreporter.section("reliability (hostile inputs)")
    for name, e in sorted(summary["entries"].items()):
        terminalreporter.write_line(
            f"{name:<16} tried {e['tried']:>3}  ok {e['ok']:>3}  crashes {e['crash']}  silent wrong {e['silent_wrong']}"
            f"  rows lost {e['rows_lost']}  unexpected {e['unexpected']}"
        )


#: markers whose tests run only when named in ``-m`` (``-m benchmark``, ``-m notebook``)
OPT_IN_MARKERS = ("benchmark", "notebook")


def pytest_collection_modifyitems(config, items):
    """Long benchmark runs and the notebooks stay out unless asked for by name (``-m benchmark``,
    ``-m notebook``), also when another ``-m`` expression (``-m "not slow"``, the quick inner loop)
    replaces the default one."""
    expr = config.getoption("markexpr") or ""
    for marker in OPT_IN_MARKERS:
        if marker in expr:
            continue
        out = [item for item in items if item.get_closest_marker(marker) is not None]
        if out:
            config.hook.pytest_deselected(items=out)
            items[:] = [item for item in items if item.get_closest_marker(marker) is None]
