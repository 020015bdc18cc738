"""How many CPU threads the command line lets torch and BLAS use.

Order: ``--threads N`` (or the environment variable ``ANOMALIB_AE_THREADS``), else an
``OMP_NUM_THREADS`` the user already set, else :data:`DEFAULT_THREADS`. One thread is the
default because torch's own default (one thread per core) oversubscribes a machine that is
busy with anything else: the console-script demo took 320 s with torch's default threads
against 24 s with one thread on a busy 2-core machine (issue 13; our measurement is in
docs/alarms.md). The small networks anomalib_ae trains gain little from more threads.
Give ``--threads`` more on an idle many-core machine.
"""

from __future__ import annotations

import os

DEFAULT_THREADS = 1
_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def resolve_threads(threads: int | None) -> int:
    """The thread count the CLI uses (see the module docstring)."""
    if threads is not None:
        if int(threads) < 1:
            raise ValueError(f"--threads must be at least 1, got {threads}")
        return int(threads)
    omp = os.environ.get("OMP_NUM_THREADS", "")
    return int(omp) if omp.isdigit() and int(omp) >= 1 else DEFAULT_THREADS


def set_threads(threads: int | None) -> int:
    """Apply the thread count to BLAS (environment, for libraries not yet loaded) and torch."""
    import click

    try:
        n = resolve_threads(threads)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    for var in _VARS:
        if threads is not None or var not in os.environ:
            os.environ[var] = str(n)
    import torch  # anomalib_ae's commands all load it; set it once here, before any work

    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(n)
    except RuntimeError:  # already set, or parallel work already started
        pass
    return n
