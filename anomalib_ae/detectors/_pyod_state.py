"""Safe persistence of fitted PyOD models: no pickle anywhere.

The PyOD object is split in three parts:

* torch modules (deep PyOD models) -> their ``state_dict`` as arrays, rebuilt on load by the
  wrapper's ``_rebuild_torch`` from the loaded hyper-parameters;
* torch tensors -> arrays; other torch objects (optimizer, criterion, device, best-epoch
  state dicts) are not needed to score and are taken from a fresh PyOD instance on load;
* everything else -> ``skops.io`` bytes (an uint8 array in the safetensors file). skops
  rebuilds objects from an explicit schema and refuses any type that is not trusted; we
  trust skops' defaults (numpy, scikit-learn estimators) plus :data:`TRUSTED_TYPES` only.
"""

from __future__ import annotations

import copy

import numpy as np

#: Types beyond skops' defaults that a PyOD model file may contain.
TRUSTED_TYPES = frozenset(
    {
        "pyod.models.iforest.IForest",
        "pyod.models.lof.LOF",
        "pyod.models.knn.KNN",
        "pyod.models.ocsvm.OCSVM",
        "pyod.models.ecod.ECOD",
        "pyod.models.copod.COPOD",
        "pyod.models.hbos.HBOS",
        "pyod.models.pca.PCA",
        "pyod.models.gmm.GMM",
        "pyod.models.kde.KDE",
        "pyod.models.inne.INNE",
        "pyod.models.auto_encoder.AutoEncoder",
        "pyod.models.vae.VAE",
        "pyod.models.deep_svdd.DeepSVDD",
        "sklearn.tree._tree.Tree",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
    }
    # scikit-learn's built-in distance metrics of the neighbour trees (``metric=`` of pyod.knn,
    # pyod.lof, ...); not PyFuncDistance, which wraps an arbitrary Python callable
    | {
        f"sklearn.metrics._dist_metrics.{metric}Distance{bits}"
        for metric in (
            "BrayCurtis", "Canberra", "Chebyshev", "Dice", "Euclidean", "Hamming", "Haversine",
            "Jaccard", "Mahalanobis", "Manhattan", "Matching", "Minkowski", "RogersTanimoto",
            "RussellRao", "SEuclidean", "SokalMichener", "SokalSneath",
        )
        for bits in (32, 64)
    }
)


def _is_torch_object(value) -> bool:
    mod = type(value).__module__ or ""
    if mod.startswith("torch"):
        return True
    if callable(value) and not isinstance(value, type) and not hasattr(value, "get_params"):
        return True  # loss functions and other callables: rebuilt by the constructor
    if isinstance(value, dict) and any((type(v).__module__ or "").startswith("torch") for v in value.values()):
        return True
    return False


def pyod_to_arrays(estimator, prefix: str) -> tuple[dict[str, np.ndarray], dict]:
    """(arrays, JSON-able description) of a fitted PyOD object."""
    import skops.io as sio
    import torch

    arrays: dict[str, np.ndarray] = {}
    modules, tensors, dropped = [], [], []
    shallow = copy.copy(estimator)
    for name, value in list(vars(estimator).items()):
        if isinstance(value, torch.nn.Module) and value.state_dict():
            for key, tensor in value.state_dict().items():
                arrays[f"{prefix}module.{name}.{key}"] = tensor.detach().cpu().numpy()
            modules.append(name)
        elif isinstance(value, torch.Tensor):
            arrays[f"{prefix}tensor.{name}"] = value.detach().cpu().numpy()
            tensors.append(name)
        elif _is_torch_object(value):
            dropped.append(name)
        else:
            continue
        setattr(shallow, name, None)
    arrays[f"{prefix}skops"] = np.frombuffer(sio.dumps(shallow), dtype=np.uint8).copy()
    return arrays, {"modules": modules, "tensors": tensors, "dropped": dropped}


def pyod_from_arrays(arrays: dict[str, np.ndarray], desc: dict, prefix: str, fresh, rebuild_torch):
    """Inverse of :func:`pyod_to_arrays`.

    ``fresh`` is an unfitted PyOD instance with the same parameters (source of the dropped
    torch objects); ``rebuild_torch(estimator, name)`` returns the untrained module ``name``.
    """
    import skops.io as sio
    import torch

    from anomalib_ae.detectors.state import load_module_weights
    from anomalib_ae.io import ModelFileError

    data = np.asarray(arrays[f"{prefix}skops"], dtype=np.uint8).tobytes()
    try:
        untrusted = set(sio.get_untrusted_types(data=data))
    except Exception as exc:
        raise ModelFileError(f"the embedded PyOD model is unreadable ({type(exc).__name__}: {exc})") from None
    refused = untrusted - TRUSTED_TYPES
    if refused:
        raise ModelFileError(f"the embedded PyOD model contains untrusted types: {', '.join(sorted(refused))}")
    estimator = sio.loads(data, trusted=sorted(untrusted))
    for name in desc["dropped"]:
        setattr(estimator, name, getattr(fresh, name, None))
    for name in desc["tensors"]:
        setattr(estimator, name, torch.from_numpy(np.array(arrays[f"{prefix}tensor.{name}"])))
    for name in desc["modules"]:
        module = rebuild_torch(estimator, name)
        head = f"{prefix}module.{name}."
        setattr(estimator, name, load_module_weights(module, arrays, head, f"the PyOD module {name!r}"))
    return estimator
