"""Run a benchmark's independent tasks in worker processes (shared by the benchmark scripts)."""

from __future__ import annotations

from typing import Any, Callable, Iterable


def run_tasks(fn: Callable[[Any], Any], tasks: Iterable, jobs: int, on_result: Callable[[Any], None],
              initializer: Callable | None = None, initargs: tuple = ()) -> None:
    """Call ``on_result(fn(task))`` for every task, as each finishes.

    ``jobs`` <= 1 runs in this process, in order; otherwise ``jobs`` *spawned* worker processes
    (no fork of a process holding torch thread pools) run the tasks in any order. ``fn`` must be
    importable by the workers (a module-level function of the script).
    """
    if jobs <= 1:
        if initializer is not None:
            initializer(*initargs)
        for task in tasks:
            on_result(fn(task))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=initializer, initargs=initargs) as pool:
        for fut in as_completed([pool.submit(fn, task) for task in tasks]):
            on_result(fut.result())
