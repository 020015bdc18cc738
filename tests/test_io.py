import json

import numpy as np
import pytest

import anomalib_ae
from anomalib_ae.io import ModelFileError
from fast_params import make


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    X = np.random.default_rng(0).normal(size=(50, 5)).astype(np.float32)
    path = tmp_path_factory.mktemp("m") / "ae.pt"
    make("ae").fit(X).save(path)
    return path


def test_garbage_file(tmp_path):
    p = tmp_path / "garbage.pt"
    p.write_bytes(b"this is not a model" * 10)
    with pytest.raises(ModelFileError, match="not a readable anomalib_ae model file"):
        anomalib_ae.load(p)


def test_truncated_file(saved, tmp_path):
    p = tmp_path / "trunc.pt"
    p.write_bytes(saved.read_bytes()[:-100])
    with pytest.raises(ModelFileError):
        anomalib_ae.load(p)


def test_tampered_weights(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[-5] ^= 0xFF  # flip bits in the last tensor's bytes
    p = tmp_path / "tampered.pt"
    p.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="integrity check"):
        anomalib_ae.load(p)


def _rewrite_header(saved, tmp_path, edit):
    raw = saved.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    edit(header["__metadata__"])
    new = json.dumps(header).encode()
    new += b" " * ((8 - len(new) % 8) % 8)
    p = tmp_path / "edited.pt"
    p.write_bytes(len(new).to_bytes(8, "little") + new + raw[8 + n :])
    return p


def test_tampered_threshold_in_header(saved, tmp_path):
    def edit(meta):
        meta["payload"] = meta["payload"].replace('"threshold_": ', '"threshold_": 1')

    with pytest.raises(ModelFileError, match="integrity check"):
        anomalib_ae.load(_rewrite_header(saved, tmp_path, edit))


def test_unknown_format_version(saved, tmp_path):
    def edit(meta):
        meta["format_version"] = "99"

    with pytest.raises(ModelFileError, match="format version 99"):
        anomalib_ae.load(_rewrite_header(saved, tmp_path, edit))


def test_not_our_safetensors(tmp_path):
    from safetensors.numpy import save_file

    p = tmp_path / "other.safetensors"
    save_file({"w": np.zeros(3, np.float32)}, str(p))
    with pytest.raises(ModelFileError, match="not an anomalib_ae model file"):
        anomalib_ae.load(p)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        anomalib_ae.load(tmp_path / "nope.pt")


def test_file_holds_no_pickle(saved):
    raw = saved.read_bytes()
    assert b"\x80\x04\x95" not in raw[:200]  # no pickle protocol header
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8 : 8 + n])["__metadata__"]
    payload = json.loads(meta["payload"])
    assert payload["detector"] == "ae" and meta["format_version"] == "1"
    assert "threshold_" in payload["state"] and "mean_" in payload["state"]


def test_unfitted_cannot_be_saved(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        make("ae").save(tmp_path / "x.pt")


def test_detector_parameters_round_trip_by_registry_name_only():
    from anomalib_ae.detectors.state import decode_param as _decode, encode_param as _encode

    knn = anomalib_ae.create("pyod.knn", params={"n_neighbors": 7})
    encoded = _encode([knn, ("ae", {"epochs": 2})])
    assert encoded[0] == {"__detector__": "pyod.knn", "params": _encode(knn.get_params(deep=False))}
    back = _decode(encoded)
    assert type(back[0]) is type(knn) and back[0].get_params() == knn.get_params()
    assert back[1] == ("ae", {"epochs": 2})
    with pytest.raises(anomalib_ae.ModelFileError, match="not installed"):
        _decode({"__detector__": "os.system", "params": {}})
    from anomalib_ae.detectors.base import BaseDetector

    class NeverRegistered(BaseDetector):  # no registry name at all, not only a subclass of a registered one
        pass

    with pytest.raises(TypeError, match="NeverRegistered is not a registered detector"):
        _encode([NeverRegistered()])
