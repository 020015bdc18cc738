"""ONNX export: onnxruntime reproduces our scores, standardiser included; others refuse clearly."""

import numpy as np
import pytest

import anomalib_ae
from anomalib_ae.export import ExportError

ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(0)
VEC = (RNG.normal(size=(300, 12)) * 5 + 3).astype(np.float32)  # far from standardised on purpose
WIN = RNG.normal(size=(200, 8, 4)).astype(np.float32)
IMG = RNG.normal(size=(80, 1, 16, 16)).astype(np.float32)

CASES = [
    ("ae", {}, VEC),
    ("ae", {}, WIN),
    ("ae", {}, IMG),
    ("vae", {}, VEC),
    ("vae", {"score_type": "elbo", "n_samples": 3}, VEC),
    ("vae", {"score_type": "iwae", "n_samples": 3}, VEC),
    ("vae", {"score_type": "beta-elbo", "beta": 0.1, "n_samples": 3}, VEC),
    ("vae", {"score_type": "beta-elbo", "decoder_variance": "optimal", "n_samples": 3}, VEC),
    ("deepsvdd", {}, VEC),
    ("deepsvdd", {"objective": "soft-boundary"}, VEC),
    ("deepsvdd", {}, IMG),
    ("goad", {}, VEC),
    ("goad", {"hidden_dims": (4, 8)}, IMG),
]


@pytest.mark.parametrize("name,params,X", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_onnxruntime_matches_scores(tmp_path, name, params, X):
    det = anomalib_ae.create(name, epochs=1, random_state=0, verbose=False, **params).fit(X)
    path = det.export_onnx(tmp_path / "m.onnx")
    assert path.exists() and not list(tmp_path.glob(".*tmp*"))
    sess = ort.InferenceSession(str(path))
    assert [i.name for i in sess.get_inputs()] == ["x"]
    new = X[:37] + np.float32(0.5)  # a batch size never seen at export time
    got = sess.run(None, {"x": new})[0]
    want = det.score(new)
    assert got.shape == (37,)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_deepsad_exports(tmp_path):
    y = np.zeros(len(VEC), dtype=int)
    y[:5] = 1
    det = anomalib_ae.create("deepsad", epochs=1, random_state=0, verbose=False).fit(VEC, y)
    got = ort.InferenceSession(str(det.export_onnx(tmp_path / "s.onnx"))).run(None, {"x": VEC[:20]})[0]
    np.testing.assert_allclose(got, det.score(VEC[:20]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", ["pyod.knn", "cvad"])
def test_unexportable_detectors_say_why(tmp_path, name):
    det = anomalib_ae.create(name, **({"epochs": 1, "verbose": False} if name == "cvad" else {})).fit(VEC)
    with pytest.raises(ExportError, match="cannot be exported"):
        det.export_onnx(tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_unfitted_and_ssim_refused(tmp_path):
    with pytest.raises(ExportError, match="not fitted"):
        anomalib_ae.create("ae").export_onnx(tmp_path / "x.onnx")
    det = anomalib_ae.create("ae", score_type="ssim", epochs=1, verbose=False, random_state=0).fit(IMG)
    with pytest.raises(ExportError, match="ssim"):
        det.export_onnx(tmp_path / "x.onnx")
