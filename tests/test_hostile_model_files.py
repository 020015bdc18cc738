"""Hostile model files: nothing in a file is executed or imported, and every bad file is refused clearly.

Some files here are edited *and* re-digested (what anyone who can write the file can do):
the digest then matches, so the header's own validation (io.read_model_file for size and depth,
anomalib_ae.header_check for keys, types and ranges) must
refuse them.
"""

import json
import os
import pickle
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.numpy import save_file

import anomalib_ae
from anomalib_ae.cli import cli
from anomalib_ae.io import ModelFileError, digest
from fast_params import make

class _Payload:
    """Unpickling this writes a marker file: proof that a payload ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (_touch, (self.marker,))


def _touch(path):  # module-level so pickle can name it; writes the marker when called
    with open(path, "w") as f:
        f.write("payload ran")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
    make("ae").fit(X).save(d / "ae.pt")
    make("pyod.knn").fit(X).save(d / "knn.pt")
    make("ensemble").fit(X).save(d / "ens.pt")
    from anomalib_ae.pipeline import Pipeline

    import pandas as pd

    Pipeline("pyod.knn", kind="tabular").fit(pd.DataFrame(X, columns=list("abcd"))).save(d / "pipe.pt")
    return d, X


def _read(path):
    with safe_open(str(path), framework="np") as f:
        return dict(f.metadata()), {k: f.get_tensor(k) for k in f.keys()}


def _resign(src, dst, edit_header=None, edit_arrays=None, raw_payload=None):
    """Rewrite ``src`` with an edited header / arrays and a *recomputed* digest."""
    meta, arrays = _read(src)
    if edit_arrays is not None:
        edit_arrays(arrays)
    if raw_payload is not None:
        payload = raw_payload
    else:
        header = json.loads(meta["payload"])
        if edit_header is not None:
            edit_header(header)
        payload = json.dumps(header, allow_nan=True)
    meta["payload"] = payload
    meta["sha256"] = digest(payload, arrays)
    save_file(arrays, str(dst), metadata=meta)
    return dst


def _cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _one_error_line(res):
    assert res.exit_code != 0
    assert "Traceback" not in res.output
    assert not isinstance(res.exception, Exception) or isinstance(res.exception, SystemExit), repr(res.exception)
    lines = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, res.output
    return lines[0]


# ---------------------------------------------------------------------- payloads never run
def test_raw_pickle_file_is_refused_without_running(tmp_path):
    marker = tmp_path / "marker"
    p = tmp_path / "model.pt"
    p.write_bytes(pickle.dumps({"model": _Payload(marker)}))
    with pytest.raises(ModelFileError, match="not a readable anomalib_ae model file"):
        anomalib_ae.load(p)
    assert not marker.exists()
    assert "Error:" in _one_error_line(_cli("score", "-m", p, "-i", tmp_path / "x.csv"))
    assert not marker.exists()


def test_torch_save_with_pickled_objects_is_refused(tmp_path):
    import torch

    marker = tmp_path / "marker"
    p = tmp_path / "torch.pt"
    torch.save({"state": torch.zeros(3), "obj": _Payload(marker)}, p)
    with pytest.raises(ModelFileError):
        anomalib_ae.load(p)
    assert not marker.exists()


def test_pickle_inside_a_safetensors_payload_is_not_unpickled(models, tmp_path):
    d, _ = models
    marker = tmp_path / "marker"
    blob = pickle.dumps(_Payload(marker)).hex()

    def edit(h):
        h["state"]["threshold_"] = {"__pickle__": blob}

    with pytest.raises(ModelFileError, match="threshold_"):
        anomalib_ae.load(_resign(d / "ae.pt", tmp_path / "p.pt", edit))
    assert not marker.exists()


def test_safetensors_file_from_another_library_is_refused(tmp_path):
    p = tmp_path / "other.safetensors"
    save_file({"weight": np.ones((2, 2), np.float32)}, str(p), metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="not an anomalib_ae model file"):
        anomalib_ae.load(p)


# ---------------------------------------------------------------------- digest
def _flip(data: bytes, pos: int) -> bytes:
    b = bytearray(data)
    b[pos] ^= 0x01
    return bytes(b)


def test_edited_threshold_without_new_digest_fails_the_digest(models, tmp_path):
    d, _ = models
    meta, arrays = _read(d / "ae.pt")
    h = json.loads(meta["payload"])
    h["state"]["threshold_"] = 1e9
    meta["payload"] = json.dumps(h)
    save_file(arrays, str(tmp_path / "e.pt"), metadata=meta)  # old sha256 kept
    with pytest.raises(ModelFileError, match="integrity check"):
        anomalib_ae.load(tmp_path / "e.pt")


@pytest.mark.parametrize("cut", [1, 100, 0.5])
def test_truncated_files_are_refused(models, tmp_path, cut):
    d, _ = models
    raw = (d / "knn.pt").read_bytes()
    n = int(len(raw) * cut) if isinstance(cut, float) else len(raw) - cut
    (tmp_path / "t.pt").write_bytes(raw[:n])
    with pytest.raises(ModelFileError):
        anomalib_ae.load(tmp_path / "t.pt")


def test_any_flipped_byte_is_refused(models, tmp_path):
    """One flipped bit anywhere (header length, header JSON, tensor bytes) never loads."""
    d, _ = models
    raw = (d / "ae.pt").read_bytes()
    n = int.from_bytes(raw[:8], "little")
    rng = np.random.default_rng(0)
    positions = [0, 3, 9, 8 + n // 2, 8 + n - 2] + list(rng.integers(8 + n, len(raw), size=12))
    for pos in positions:
        (tmp_path / "f.pt").write_bytes(_flip(raw, int(pos)))
        try:
            anomalib_ae.load(tmp_path / "f.pt")
        except ModelFileError:
            continue
        # a flip inside JSON whitespace / padding changes nothing that is used: only then may it load
        assert raw[8 : 8 + n][int(pos) - 8 : int(pos) - 7] in (b" ",), f"flip at byte {pos} loaded"


def test_newer_format_version_is_refused_saying_so(models, tmp_path):
    d, _ = models
    meta, arrays = _read(d / "ae.pt")
    meta["format_version"] = "2"
    save_file(arrays, str(tmp_path / "v2.pt"), metadata=meta)
    with pytest.raises(ModelFileError, match="newer anomalib_ae.*version 2"):
        anomalib_ae.load(tmp_path / "v2.pt")


# ---------------------------------------------------------------------- paths
def test_directory_gives_one_clear_line(tmp_path):
    with pytest.raises(ModelFileError, match="is a folder"):
        anomalib_ae.load(tmp_path)
    line = _one_error_line(_cli("score", "-m", tmp_path, "-i", tmp_path / "x.csv"))
    assert "is a folder" in line


def test_missing_and_unreadable_paths_give_one_clear_line(models, tmp_path):
    line = _one_error_line(_cli("score", "-m", tmp_path / "no" / "m.pt", "-i", tmp_path / "x.csv"))
    assert "not found" in line
    d, _ = models
    p = tmp_path / "locked.pt"
    p.write_bytes((d / "ae.pt").read_bytes())
    p.chmod(0)
    try:
        if os.geteuid() != 0:  # root reads anything: the permission case only exists for other users
            line = _one_error_line(_cli("score", "-m", p, "-i", tmp_path / "x.csv"))
            assert "locked.pt" in line
    finally:
        p.chmod(0o600)


# ---------------------------------------------------------------------- edited and re-digested
def _edit_state(key, value):
    def edit(h):
        h["state"][key] = value

    return edit


@pytest.mark.parametrize(
    "edit, match",
    [
        (_edit_state("threshold_", float("nan")), "threshold_ must be a finite number"),
        (_edit_state("threshold_", float("inf")), "threshold_ must be a finite number"),
        (_edit_state("threshold_", "0.5"), "threshold_ must be a finite number"),
        (_edit_state("threshold_", True), "threshold_ must be a finite number"),
        (_edit_state("offset_", float("-inf")), "offset_ must be a finite number"),
        (_edit_state("n_features_in_", -3), "n_features_in_"),
        (_edit_state("input_shape_", {"__tuple__": [0]}), "input_shape_"),
        (_edit_state("input_shape_", [4]), "input_shape_"),
        (_edit_state("mean_", {"__array__": True, "x": 1}), "mean_ must be exactly"),
        (_edit_state("ghost_", {"__array__": True}), "ghost_ refers to an array that is not in the file"),
        (lambda h: h.pop("detector"), "lacks its 'detector' entry"),
        (lambda h: h.pop("state"), "lacks its 'state' entry"),
        (lambda h: h.update(detector=["ae"]), "detector must be a string"),
        (lambda h: h.update(params=[1]), "params must be an object"),
        (lambda h: h["params"].update(contamination=float("nan")), "contamination"),
        (lambda h: h["params"].update(contamination=0.9), "contamination"),
        (lambda h: h["params"].update(threshold=float("nan")), "params.threshold"),
        (lambda h: h["params"].update(epochs="many"), "epochs"),
        (lambda h: h["params"].update(no_such_param=1), "no_such_param"),
        (lambda h: h.update(detector="os.system"), "not installed|not a registered|unknown"),
        (lambda h: h.update(library_version={"x": 1}), "library_version"),
    ],
)
def test_edited_and_redigested_headers_are_validated(models, tmp_path, edit, match):
    d, _ = models
    p = _resign(d / "ae.pt", tmp_path / "e.pt", edit)
    with pytest.raises(ModelFileError, match=match):
        anomalib_ae.load(p)


def test_nan_threshold_array_is_refused(models, tmp_path):
    d, _ = models

    def edit(arrays):
        a = arrays["calibration_scores_"].copy()
        a[0] = np.nan
        arrays["calibration_scores_"] = a

    with pytest.raises(ModelFileError, match="calibration_scores_.*non-finite"):
        anomalib_ae.load(_resign(d / "ae.pt", tmp_path / "e.pt", edit_arrays=edit))


@pytest.mark.parametrize("depth", [100, 5000, 200_000])
def test_deeply_nested_header_is_refused_before_parsing(models, tmp_path, depth):
    d, _ = models
    meta, _ = _read(d / "ae.pt")
    payload = meta["payload"][:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}"
    p = _resign(d / "ae.pt", tmp_path / "deep.pt", raw_payload=payload)
    with pytest.raises(ModelFileError, match="nested .* levels deep"):
        anomalib_ae.load(p)


def test_brackets_inside_strings_do_not_count_as_depth():
    from anomalib_ae.io import nesting_depth

    assert nesting_depth('{"a": "[[[[[[{{{{\\"]]]", "b": [1, [2]]}') == 3


@pytest.mark.parametrize(
    "payload, match",
    [
        ("[]", "must be a JSON object"),
        ('{"detector": "ae"', "unreadable JSON"),
        ("null", "must be a JSON object"),
    ],
)
def test_header_that_is_not_an_object(models, tmp_path, payload, match):
    d, _ = models
    with pytest.raises(ModelFileError, match=match):
        anomalib_ae.load(_resign(d / "ae.pt", tmp_path / "x.pt", raw_payload=payload))


def test_ensemble_member_without_its_detector_entry(models, tmp_path):
    d, _ = models

    def edit(h):
        h["state"]["detectors_"]["__members__"][1].pop("detector")

    with pytest.raises(ModelFileError, match=r"detectors_\[1\] lacks its 'detector' entry"):
        anomalib_ae.load(_resign(d / "ens.pt", tmp_path / "e.pt", edit))


def test_ensemble_member_nan_threshold(models, tmp_path):
    d, _ = models

    def edit(h):
        h["state"]["detectors_"]["__members__"][0]["state"]["threshold_"] = float("nan")

    with pytest.raises(ModelFileError, match="threshold_ must be a finite number"):
        anomalib_ae.load(_resign(d / "ens.pt", tmp_path / "e.pt", edit))


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda h: h["pipeline"].update(threshold=float("nan")), "pipeline.threshold"),
        (lambda h: h["pipeline"].pop("kind"), "pipeline lacks its 'kind'"),
        (lambda h: h["pipeline"].update(kind="shell"), "unknown pipeline kind"),
        (lambda h: h["pipeline"].update(n_train_items=-1), "n_train_items"),
        (lambda h: h["pipeline"].update(adapter=None), "pipeline.adapter"),
        (lambda h: h.update(pipeline=[]), "pipeline must be an object"),
    ],
)
def test_pipeline_section_is_validated(models, tmp_path, edit, match):
    d, _ = models
    with pytest.raises(ModelFileError, match=match):
        anomalib_ae.load(_resign(d / "pipe.pt", tmp_path / "e.pt", edit))


def test_valid_files_still_load_and_score_identically(models):
    d, X = models
    for name in ("ae.pt", "knn.pt", "ens.pt"):
        det = anomalib_ae.load(d / name)
        assert np.isfinite(det.score(X)).all()
    pipe = anomalib_ae.load(d / "pipe.pt")
    assert np.isfinite(pipe.threshold_)


# ---------------------------------------------------------------------- no import of named modules
@pytest.fixture
def evil_module(tmp_path, monkeypatch):
    """A module on sys.path that writes a marker when imported."""
    name = "anomalib_ae_evil_mod"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "class Evil:\n    def __init__(self, *a, **k):\n        pass\n"
        "def run(*a, **k):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name, marker
    sys.modules.pop(name, None)


def test_loaded_model_never_imports_a_module_named_in_the_file(models, tmp_path, evil_module):
    d, _ = models
    name, marker = evil_module
    edits = [
        lambda h: h.update(detector=f"{name}.Evil"),
        lambda h: h.update(detector=name),
        lambda h: h["params"].update(hidden_dims={"__detector__": f"{name}.Evil", "params": {}}),
        lambda h: h["state"].update(module_={"__module__": f"{name}.Evil"}),
        lambda h: h["state"].update(extra_={"__class__": f"{name}.Evil", "py/object": f"{name}.Evil"}),
    ]
    for i, edit in enumerate(edits):
        p = _resign(d / "ae.pt", tmp_path / f"e{i}.pt", edit)
        try:
            anomalib_ae.load(p)
        except (ModelFileError, ValueError, TypeError):
            pass
        assert not marker.exists(), f"edit {i} imported {name}"
        assert name not in sys.modules


def test_pyod_skops_blob_with_untrusted_type_is_refused(models, tmp_path, evil_module):
    """The PyOD part of a file (skops bytes) naming an untrusted type is refused, never imported."""
    import skops.io as sio

    d, _ = models
    name, marker = evil_module
    # a skops blob of a harmless trusted object, then the type name rewritten to the evil module's
    import io
    import zipfile

    raw = sio.dumps({"a": np.zeros(2)})
    zin = zipfile.ZipFile(io.BytesIO(raw))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "schema.json":
                schema = json.loads(data)
                schema["__module__"], schema["__class__"] = name, "Evil"
                schema["__loader__"] = "ObjectNode"
                schema["content"] = {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode",
                                     "content": {}, "key_types": {"__class__": "list", "__module__": "builtins",
                                                                  "__loader__": "ListNode", "content": []}}
                data = json.dumps(schema).encode()
            zout.writestr(item, data)
    blob = np.frombuffer(out.getvalue(), dtype=np.uint8).copy()

    def edit(arrays):
        key = next(k for k in arrays if k.endswith("skops"))
        arrays[key] = blob

    with pytest.raises(ModelFileError, match="untrusted|unreadable"):
        anomalib_ae.load(_resign(d / "knn.pt", tmp_path / "k.pt", edit_arrays=edit))
    assert not marker.exists()
    assert name not in sys.modules
