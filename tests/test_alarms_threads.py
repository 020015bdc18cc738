"""Threads (issue 13): the CLI sets torch's thread count deliberately; scoring a fitted model does
not depend on it (training may differ in the last float32 bits across thread counts: docs/alarms.md)."""

import numpy as np
import torch
from click.testing import CliRunner

import anomalib_ae
from anomalib_ae.cli import cli
from anomalib_ae.cli.threads import DEFAULT_THREADS, resolve_threads
from anomalib_ae.datasets import load_cardio


def test_cli_threads_option_env_and_default(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert CliRunner().invoke(cli, ["--threads", "2", "list"]).exit_code == 0
        assert torch.get_num_threads() == 2
        monkeypatch.setenv("ANOMALIB_AE_THREADS", "1")
        assert CliRunner().invoke(cli, ["list"]).exit_code == 0
        assert torch.get_num_threads() == 1
        res = CliRunner().invoke(cli, ["--threads", "0", "list"])
        assert res.exit_code != 0 and "at least 1" in res.output
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        assert resolve_threads(None) == DEFAULT_THREADS == 1
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert resolve_threads(None) == 3 and resolve_threads(2) == 2
    finally:
        torch.set_num_threads(before)


def test_scores_of_a_fitted_model_do_not_depend_on_the_thread_count():
    X, y = load_cardio()
    X = X[y == 0][:700].astype(np.float32)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        det = anomalib_ae.create("ae", random_state=0, verbose=False, accelerator="cpu", epochs=2).fit(X[:500])
        one = det.score(np.concatenate([X[500:]] * 10))
        torch.set_num_threads(2)
        two = det.score(np.concatenate([X[500:]] * 10))
    finally:
        torch.set_num_threads(before)
    np.testing.assert_array_equal(one, two)
