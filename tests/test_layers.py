"""Layer rules of the package, as tests.

* The contracts of ``[tool.importlinter]`` in pyproject.toml, checked by import-linter (the
  ``lint-imports`` command): nn/ never imports Lightning; scoring/, data/ and adapters/ never
  import torch (directly or through other modules); nothing outside plots/ imports matplotlib.
* No module of ``anomalib_ae`` imports a private module (or private name) of another package,
  such as ``sklearn.utils._param_validation``: those change in any release without notice.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "anomalib_ae"


def test_import_linter_contracts(capsys):
    if os.environ.get("CI"):
        import importlinter  # noqa: F401  (in the dev extra: CI fails rather than skips)
    else:
        pytest.importorskip("importlinter", reason="import-linter is in the dev extra")
    from importlinter.cli import lint_imports

    cwd = os.getcwd()
    os.chdir(ROOT)  # import-linter finds the package from the working directory
    try:
        code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    finally:
        os.chdir(cwd)
    report = capsys.readouterr().out
    assert code == 0, report


def _is_private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def private_imports(source: str) -> list[tuple[int, str]]:
    """``(line, dotted name)`` of each import of a private module or name of another package."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue  # relative imports stay inside the package
        private = [n for n in names if n.split(".")[0] != "anomalib_ae" and any(map(_is_private, n.split(".")))]
        if private:
            found.append((node.lineno, private[0]))
    return found


def test_private_import_finder():
    src = (
        "from sklearn.utils._param_validation import Interval\n"
        "import sklearn.utils._param_validation as pv\n"
        "from sklearn.utils import _param_validation\n"
        "from sklearn.utils.validation import _is_arraylike\n"
        "from __future__ import annotations\n"
        "from anomalib_ae.detectors._deep import BaseDeepDetector\n"
        "from . import _sibling\n"
        "from sklearn.utils.validation import check_array\n"
    )
    assert [line for line, _ in private_imports(src)] == [1, 2, 3, 4]


def test_no_private_module_of_another_package_is_imported():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {name}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for line, name in private_imports(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, "private modules/names of other packages imported:\n" + "\n".join(offenders)
