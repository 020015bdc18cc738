"""A clean exit for spawned DDP workers: the process group is shut down before Python finalises.

Lightning's ``ddp_spawn`` workers return from training and exit without
``torch.distributed.destroy_process_group()``. A spawned worker ends with ``sys.exit``, so the
interpreter finalises with the Gloo process group still alive; its C++ threads can still hold
work objects whose tensors reference Python objects, and freeing them then needs the GIL of an
interpreter being torn down: the worker dies with SIGABRT, now and then (the mechanism in
pytorch/pytorch#179291, an ``atexit`` fix proposed there and not merged). The callback below
registers that fix in each worker: at exit, a barrier (so no rank closes its connections while
another still finishes its last collective), then ``destroy_process_group()``, while the
interpreter is still whole.
"""

from __future__ import annotations

import atexit
import datetime

import pytorch_lightning as pl

__all__ = ["ShutdownProcessGroupAtExit", "shutdown_process_group"]

_registered = False


def shutdown_process_group(timeout_s: float = 120.0) -> None:
    """Barrier, then destroy the default process group, if one is up (a no-op otherwise)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=datetime.timedelta(seconds=timeout_s))
        else:
            dist.barrier()
    except Exception:  # a peer already gone: nothing to wait for
        pass
    dist.destroy_process_group()


class ShutdownProcessGroupAtExit(pl.Callback):
    """Registers :func:`shutdown_process_group` with ``atexit`` in each spawned worker (once)."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        global _registered
        import multiprocessing

        if not _registered and multiprocessing.parent_process() is not None:  # a spawned worker, not the launcher
            atexit.register(shutdown_process_group)
            _registered = True
