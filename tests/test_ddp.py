"""Lightning DDP on the CPU (gloo): two processes train to the same AUROC, within noise, as one."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import anomalib_ae
from anomalib_ae.datasets import load_cardio


@pytest.mark.slow
def test_ddp_spawn_two_processes_matches_one():
    X, y = load_cardio()
    rng = np.random.default_rng(0)
    normal, anomalies = X[y == 0], X[y == 1]
    order = rng.permutation(len(normal))
    train, test_normal = normal[order[:1100]], normal[order[1100:]]
    X_test = np.vstack([test_normal, anomalies])
    y_test = np.r_[np.zeros(len(test_normal)), np.ones(len(anomalies))]
    common = dict(epochs=30, patience=None, random_state=0, verbose=False, accelerator="cpu")
    one = anomalib_ae.create("ae", **common).fit(train)
    ddp = anomalib_ae.create("ae", strategy="ddp_spawn", devices=2, **common).fit(train)
    auc_one = roc_auc_score(y_test, one.score(X_test))
    auc_ddp = roc_auc_score(y_test, ddp.score(X_test))
    assert ddp.n_epochs_ == 30
    # trained for real in the workers (the weights came back), and to the same quality:
    # each rank takes its half of every mini-batch, so DDP takes one process's steps
    untrained = anomalib_ae.create("ae", **{**common, "epochs": 1}).fit(train)
    assert not np.allclose(ddp.score(X_test), untrained.score(X_test))
    assert auc_one > 0.7
    assert abs(auc_ddp - auc_one) < 0.01, (auc_one, auc_ddp)
    # the fitted model is an ordinary one: save / load / score identically
    assert np.isfinite(ddp.threshold_) and ddp.calibration_scores_ is not None


def test_spawned_workers_shut_their_process_group_down_at_exit(tmp_path):
    """The ``atexit`` handler the DDP-spawn callback registers: a barrier, then the group is destroyed."""
    import torch.distributed as dist

    from anomalib_ae.training.spawn_exit import shutdown_process_group

    shutdown_process_group()  # no group: nothing to do
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        assert dist.is_initialized()
        shutdown_process_group(timeout_s=10)
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
