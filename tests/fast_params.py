"""Fast constructor parameters per registered detector, for tests (tiny nets, few epochs)."""

import anomalib_ae

_DEEP_FAST = {"epochs": 3, "batch_size": 32, "random_state": 0, "verbose": False, "accelerator": "cpu"}

# Extra per-detector overrides (merged over the generic deep settings when the detector has them).
OVERRIDES: dict[str, dict] = {}


def fast_params(name: str) -> dict:
    cls = anomalib_ae.get_detector_class(name)
    valid = set(cls().get_params(deep=False))
    params = {k: v for k, v in _DEEP_FAST.items() if k in valid}
    if "random_state" in valid:
        params["random_state"] = 0
    params.update(OVERRIDES.get(name, {}))
    return params


def make(name: str, **extra):
    return anomalib_ae.create(name, **{**fast_params(name), **extra})

# issue 4: PyOD's deep models, ensembles, SAGE
OVERRIDES["pyod.autoencoder"] = {"params": {"epoch_num": 3, "batch_size": 32, "verbose": 0}}
OVERRIDES["pyod.vae"] = {"params": {"epoch_num": 3, "batch_size": 32, "verbose": 0}}
OVERRIDES["pyod.deepsvdd"] = {"params": {"epochs": 3, "batch_size": 32, "verbose": 0}}
OVERRIDES["pyod.iforest"] = {"params": {"n_estimators": 25}}
# INNE's 200 estimators made its scikit-learn checks the slowest tests (17-72 s each); 25 take a tenth
OVERRIDES["pyod.inne"] = {"params": {"n_estimators": 25}}
OVERRIDES["ensemble"] = {"detectors": ["pyod.knn", "pyod.ecod"]}

# issue 3: deep family (fewer latent samples keep the VAE's ELBO scoring cheap)
OVERRIDES["vae"] = {"n_samples": 4}
OVERRIDES["mae"] = {"hidden_dims": (16, 16), "latent_dim": 4}
OVERRIDES["cvad"] = {"disc_epochs": 2}
# pre-training is covered by tests/test_deep_detectors.py; the registry-wide checks skip it
OVERRIDES["deepsvdd"] = {"pretrain": False}
OVERRIDES["deepsad"] = {"pretrain": False}

# issue 17: interpolation network (IDNN); vectors predict every feature from the others (d passes)
OVERRIDES["idnn"] = {"hidden_dims": (16,), "latent_dim": 4}
# issue 17: RIAD (inpainting U-Net): two stages, one cell size, two passes, 16-pixel training crops
OVERRIDES["riad"] = {"hidden_dims": (4, 8), "cell_sizes": (4,), "n_masks": 2, "train_crop": 16, "epochs": 1}
# issue 17: telemetry window AE (one small hidden layer keeps the registry-wide suites fast)
OVERRIDES["winae"] = {"hidden_dims": (16,), "latent_dim": 4}
# issue 17: transformation classifier (GEOM / GOAD): a small classifier (with 4 random maps instead of the
# default 16 a far outlier was classified confidently for some seeds: AUROC 0.07 on the blobs)
OVERRIDES["goad"] = {"hidden_dims": (8, 16)}
