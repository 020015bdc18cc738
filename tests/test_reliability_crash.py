"""`anomalib-ae score` under real operating-system failure: SIGKILL mid-write, four processes on one
model file, a full disk (RLIMIT_FSIZE: writes fail with EFBIG) and permission denied (run as
``nobody``; the tests run as root, for whom chmod blocks nothing).

Each run is a real process: forked from the test process (so it does not pay for importing torch
again), it opens, reads and writes its files itself and exits through click like the console
script (``cli.main``, one ``Error:`` line and exit code 1 on a user or OS error).
"""

from __future__ import annotations

import os
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import anomalib_ae
from anomalib_ae.outputs import TEMP_PREFIX

COLS = ["a", "b", "c"]
pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork (POSIX)")


@pytest.fixture(scope="module")
def world():
    """A world-readable folder (``nobody`` must read it) with a model and a table to score."""
    folder = Path(tempfile.mkdtemp(prefix="anomalib_ae_rel_", dir="/tmp"))
    folder.chmod(0o755)
    rng = np.random.default_rng(0)
    det = anomalib_ae.create("pyod.pca").fit(pd.DataFrame(rng.normal(size=(200, 3)), columns=COLS))
    det.save(folder / "model.pt")
    new = pd.DataFrame(rng.normal(size=(6000, 3)).round(6), columns=COLS)
    new.to_csv(folder / "new.csv", index=False)
    for p in folder.iterdir():
        p.chmod(0o644)
    # one run in this process imports everything `score` imports lazily: the forked runs as user
    # nobody could not read the interpreter's site-packages (under /root) to import it themselves
    from click.testing import CliRunner

    from anomalib_ae.cli import cli

    warm = CliRunner().invoke(cli, ["score", "-m", str(folder / "model.pt"), "-i", str(folder / "new.csv"),
                                    "-o", str(folder / "warm.csv")])
    assert warm.exit_code == 0, warm.output
    (folder / "warm.csv").unlink()
    yield {"folder": folder, "model": folder / "model.pt", "input": folder / "new.csv",
           "expected": det.score(pd.read_csv(folder / "new.csv")), "n": len(new)}
    import shutil

    shutil.rmtree(folder, ignore_errors=True)


def _spawn(args: list[str], log: Path, before=None) -> int:
    """Fork a process that runs ``anomalib-ae ARGS`` (stdout and stderr to ``log``); its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 99
    try:
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdout = sys.stderr = open(fd, "w", buffering=1, closefd=False)
        if before is not None:
            before()
        from anomalib_ae.cli.main import cli

        try:
            cli.main(args, prog_name="anomalib-ae", standalone_mode=True)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report anything, never return into pytest
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
        finally:
            os._exit(code)


def _wait(pid: int, timeout: float = 120.0) -> int:
    t0 = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() - t0 > timeout:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"process {pid} did not finish in {timeout} s")
        time.sleep(0.01)


def _score_args(world, out: Path, *extra: str) -> list[str]:
    return ["score", "-m", str(world["model"]), "-i", str(world["input"]), "-o", str(out), *extra]


def _check_complete(world, out: Path) -> None:
    table = pd.read_csv(out)
    assert table["row_id"].tolist() == list(range(world["n"])), "a row missing, repeated or out of order"
    np.testing.assert_array_equal(table["score"].to_numpy(), world["expected"])
    assert table["error"].isna().all()


def _one_error_line(log: Path) -> str:
    text = log.read_text()
    lines = [ln for ln in text.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1 and "Traceback" not in text, text
    return lines[0]


# ---------------------------------------------------------------------- SIGKILL mid-write
def test_sigkill_during_streaming_score_leaves_no_partial_output_and_a_rerun_completes_once(world, tmp_path):
    out = tmp_path / "scores.csv"
    pid = _spawn(_score_args(world, out, "--chunk-rows", "5"), tmp_path / "log.txt")
    t0 = time.monotonic()
    temp = []
    while not temp:  # the kill lands while the temporary file is being written, chunk by chunk
        temp = [p for p in tmp_path.glob(f"{TEMP_PREFIX}scores.csv.*") if p.stat().st_size > 0]
        done, _ = os.waitpid(pid, os.WNOHANG)
        assert not done, "score finished before it could be killed: " + (tmp_path / "log.txt").read_text()
        assert time.monotonic() - t0 < 120, "no temporary output appeared"
        time.sleep(0.002)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert not out.exists(), "a partial file at the final path"
    partial = temp[0].read_text().splitlines()
    assert 1 < len(partial) < world["n"] + 1, "the kill did not land mid-write"
    # the rerun (streaming again) writes every row exactly once; the killed run's hidden temp file stays
    # beside it (named .tmp-scores.csv.<random>.tmp) and never becomes the output
    code = _wait(_spawn(_score_args(world, out, "--chunk-rows", "500"), tmp_path / "log2.txt"))
    assert code == 0, (tmp_path / "log2.txt").read_text()
    _check_complete(world, out)


# ---------------------------------------------------------------------- four readers of one model
def test_four_score_processes_share_one_model_file(world, tmp_path):
    before = world["model"].read_bytes()
    outs = [tmp_path / f"out{i}.csv" for i in range(4)]
    pids = [_spawn(_score_args(world, o), tmp_path / f"log{i}.txt") for i, o in enumerate(outs)]
    codes = [_wait(p) for p in pids]
    assert codes == [0, 0, 0, 0], [(tmp_path / f"log{i}.txt").read_text() for i in range(4)]
    first = outs[0].read_bytes()
    assert all(o.read_bytes() == first for o in outs[1:]), "the four outputs differ"
    _check_complete(world, outs[0])
    assert world["model"].read_bytes() == before  # readers never touch the model file
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".csv") == [o.name for o in outs]


# ---------------------------------------------------------------------- full disk
def _file_size_limit(n_bytes: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG, like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (n_bytes, n_bytes))

    return apply


@pytest.mark.parametrize("extra", [(), ("--chunk-rows", "1000")], ids=["in-memory", "streaming"])
def test_full_disk_gives_one_error_line_and_no_partial_file(world, tmp_path, extra):
    out = tmp_path / "scores.csv"
    log = tmp_path / "log.txt"
    code = _wait(_spawn(_score_args(world, out, *extra), log, before=_file_size_limit(20_000)))
    line = _one_error_line(log)
    assert code == 1 and "File too large" in line and str(out) in line, line
    assert not out.exists(), "a partial file at the final path"
    assert [p.name for p in tmp_path.iterdir()] == ["log.txt"], "a temporary file left behind"


# ---------------------------------------------------------------------- permission denied
def _as_nobody():
    import pwd

    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to user nobody needs root")
@pytest.mark.parametrize("what", ["output", "model"])
def test_permission_denied_gives_one_error_line_and_no_partial_file(world, tmp_path, what):
    locked = world["folder"] / f"locked_{what}"
    locked.mkdir(mode=0o700)  # owned by root: nobody can neither list nor write it
    try:
        out = (locked if what == "output" else tmp_path.parent / f"free_{os.getpid()}") / "scores.csv"
        args = _score_args(world, out)
        if what == "model":
            (locked / "model.pt").write_bytes(world["model"].read_bytes())
            args[args.index("-m") + 1] = str(locked / "model.pt")
        log = world["folder"] / f"log_{what}.txt"
        code = _wait(_spawn(args, log, before=_as_nobody))
        line = _one_error_line(log)
        assert code == 1 and "Permission denied" in line and str(locked) in line, line
        assert not out.exists()
        assert sorted(p.name for p in locked.iterdir()) == ([] if what == "output" else ["model.pt"])
    finally:
        import shutil

        shutil.rmtree(locked, ignore_errors=True)
