"""Every notebook in notebooks/ runs top to bottom on the data shipped in the repository.

The outputs are not written back (the committed notebooks keep theirs); the kernel is the
``python3`` kernelspec that ``ipykernel`` installs.
"""

import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_notebooks_are_found():
    names = {p.stem for p in NOTEBOOKS}
    assert {"quickstart", "medical", "industrial", "acoustic", "hpc_telemetry"} <= names


@pytest.mark.notebook  # run with `python -m pytest -m notebook` (CI does; out of the default suite's 10 minutes)
@pytest.mark.slow  # 11-32 s each on 2 cores (measured)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit the notebook with its outputs"
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
