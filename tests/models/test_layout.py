"""The model folders: one folder per family, networks named ``...Net``, no class name twice."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import anomalib_ae
import anomalib_ae.nn
from anomalib_ae.nn.base import AnomalyModule

PACKAGE = Path(anomalib_ae.__file__).parent
FAMILIES = ["ae", "cvad", "deepsvdd", "idnn", "mae", "riad", "sage", "subspace", "vae", "winae"]


def class_definitions(root: Path) -> dict[str, list[str]]:
    """Class name -> the files (relative to ``root``) that define a class of that name."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                found[node.name].append(str(path.relative_to(root)))
    return found


def duplicates(found: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: files for name, files in found.items() if len(files) > 1}


def test_duplicate_finder(tmp_path):
    (tmp_path / "a.py").write_text("class DeepSVDD:\n    pass\n")
    (tmp_path / "b.py").write_text("class DeepSVDD:\n    pass\nclass Other:\n    pass\n")
    assert duplicates(class_definitions(tmp_path)) == {"DeepSVDD": ["a.py", "b.py"]}


def test_no_two_classes_with_the_same_name():
    assert duplicates(class_definitions(PACKAGE)) == {}


def test_every_family_has_a_network_and_a_detector():
    for family in FAMILIES:
        assert (PACKAGE / "models" / family / "network.py").is_file(), family
        assert (PACKAGE / "models" / family / "detector.py").is_file(), family


def test_networks_end_in_net_and_are_reexported_by_nn():
    for family in FAMILIES:
        module = __import__(f"anomalib_ae.models.{family}.network", fromlist=["*"])
        for name, obj in vars(module).items():
            if isinstance(obj, type) and issubclass(obj, AnomalyModule) and obj.__module__ == module.__name__:
                assert name.endswith("Net"), f"{module.__name__}.{name}"
                assert getattr(anomalib_ae.nn, name) is obj


def test_detectors_keep_their_import_paths():
    from anomalib_ae import detectors
    from anomalib_ae.models.deepsvdd import DeepSVDD, DeepSVDDNet

    assert detectors.DeepSVDD is DeepSVDD and anomalib_ae.get_detector_class("deepsvdd") is DeepSVDD
    assert anomalib_ae.nn.DeepSVDDNet is DeepSVDDNet
    for name in ("AutoEncoder", "VariationalAutoEncoder", "CVAD", "MaskedAutoEncoder", "DeepSAD", "SAGE"):
        assert getattr(detectors, name).__module__.startswith("anomalib_ae.models.")
