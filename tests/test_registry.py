import sys
import types
from importlib.metadata import EntryPoint

import pytest

import anomalib_ae
from anomalib_ae import registry
from anomalib_ae.models.ae.detector import AutoEncoder


def test_list_contains_builtin_and_is_sorted():
    names = anomalib_ae.list_detectors()
    assert "ae" in names
    assert names == sorted(names)
    assert anomalib_ae.list_detectors(include="a") == [n for n in names if "a" in n]


def test_create_is_case_insensitive_and_passes_params():
    det = anomalib_ae.create("  AE ", epochs=7)
    assert isinstance(det, AutoEncoder)
    assert det.epochs == 7


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as exc:
        anomalib_ae.create("autoencodr")
    msg = str(exc.value)
    assert "unknown detector 'autoencodr'" in msg
    assert "ae" in msg and "Valid names" in msg


def test_unknown_parameter_names_the_valid_ones():
    with pytest.raises(TypeError, match="Valid parameters of 'ae'.*epochs"):
        anomalib_ae.create("ae", epocs=3)


def test_register_and_duplicate_raises():
    @anomalib_ae.register_detector("test-dummy-detector")
    class Dummy(AutoEncoder):
        pass

    try:
        assert "test-dummy-detector" in anomalib_ae.list_detectors()
        assert anomalib_ae.get_detector_class("Test-Dummy-Detector") is Dummy
        with pytest.raises(ValueError, match="already registered"):

            @anomalib_ae.register_detector("test-dummy-detector")
            class Other(AutoEncoder):
                pass

        # re-registering the same class is harmless; override replaces
        anomalib_ae.register_detector("test-dummy-detector")(Dummy)
    finally:
        registry._REGISTRY.pop("test-dummy-detector", None)


def test_entry_point_plugins_are_loaded(monkeypatch):
    mod = types.ModuleType("fake_plugin_pkg")

    class PluginDetector(AutoEncoder):
        """A detector from a third-party package."""

    mod.PluginDetector = PluginDetector
    monkeypatch.setitem(sys.modules, "fake_plugin_pkg", mod)
    eps = [
        EntryPoint(name="plugin-ae", value="fake_plugin_pkg:PluginDetector", group=registry.ENTRY_POINT_GROUP),
        EntryPoint(name="broken-plugin", value="no_such_module_xyz:Thing", group=registry.ENTRY_POINT_GROUP),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: eps if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry, "_PLUGINS_LOADED", False)
    try:
        assert "plugin-ae" in anomalib_ae.list_detectors()
        assert anomalib_ae.get_detector_class("plugin-ae") is PluginDetector
        with pytest.raises(ValueError, match="failed to load"):
            anomalib_ae.create("broken-plugin")
    finally:
        registry._REGISTRY.pop("plugin-ae", None)
        registry._PLUGIN_ERRORS.pop("broken-plugin", None)
