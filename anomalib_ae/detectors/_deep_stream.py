"""Out-of-core fit of a deep detector: training from a memory map without loading it.

:meth:`BaseDeepDetector.fit <anomalib_ae.detectors._deep.BaseDeepDetector.fit>` comes here for
a ``.npy`` path, a :class:`numpy.memmap`, a Parquet file / folder or a
:class:`~anomalib_ae.data.outofcore.TrainingData`. It does what the in-memory fit does, in the
same order and with the same random draws, so on data that fits in memory both give the same
model and the same scores bit for bit:

1. validate the input chunk by chunk (the first bad row is named);
2. the seeded split of :meth:`BaseDeepDetector._split` (the same permutation);
3. the standardiser from :func:`~anomalib_ae.data.outofcore.chunked_moments` (numpy's sums);
4. training through a :class:`~anomalib_ae.training.datamodule.StreamingDataModule`;
5. calibration scores, training scores and the explanation statistics, scored in chunks.

Labels (``y``) and images are in-memory only; so are detectors with a training or scoring
pass of their own (they say so).
"""

from __future__ import annotations

import numpy as np

from anomalib_ae.data.outofcore import check_finite_chunks, chunked_moments, open_training_data
from anomalib_ae.detectors.layout import infer_input_kind, to_model_layout
from anomalib_ae.preprocessing import standardization_axes
from anomalib_ae.scoring.threshold import parse_threshold
from anomalib_ae.training import fit_module, seeded
from anomalib_ae.training.datamodule import StreamingDataModule
from anomalib_ae.validation import check_params


def _own_methods(det) -> list[str]:
    return det._own_training_methods()


def streamable(det, X, y=None) -> bool:
    """Whether :func:`fit_out_of_core` takes the array ``X`` (else an in-memory fit, as before:
    a :class:`numpy.memmap` with labels, of images, of integers or for a detector of its own)."""
    if y is not None or _own_methods(det) or getattr(X, "dtype", None) not in (np.float32, np.float64):
        return False
    try:
        return X.ndim >= 2 and infer_input_kind(tuple(X.shape[1:]), det.input_kind) != "image"
    except ValueError:
        return False


def _check_supported(det) -> None:
    cls = type(det)
    own = _own_methods(det)
    if own:
        raise NotImplementedError(
            f"{cls.__name__} has its own {', '.join(own)}: it trains from in-memory arrays only "
            "(out-of-core training covers detectors on the shared deep training path, e.g. 'ae')"
        )


def fit_out_of_core(det, source, y=None):
    """Fit ``det`` from ``source`` (see the module docstring); returns ``det``."""
    check_params(det)
    if y is not None:
        raise ValueError("out-of-core training takes unlabelled normal data: y must be None")
    _check_supported(det)
    parse_threshold(getattr(det, "threshold", None))
    data = open_training_data(source)
    try:
        X = data.array
        check_finite_chunks(X, data.source, data.columns)
        _fit_arrays(det, X, data.columns)
    finally:
        if data is not source:
            data.close()
    return det


def _fit_arrays(det, X: np.ndarray, columns) -> None:
    from anomalib_ae.explain.reference import fit_reference

    det.input_shape_ = tuple(int(v) for v in X.shape[1:])
    det.n_features_in_ = int(X.shape[1])
    if columns is not None:
        det.feature_names_in_ = np.asarray(columns, dtype=object)
    elif hasattr(det, "feature_names_in_"):
        del det.feature_names_in_
    det.calibration_scores_ = None
    det.probability_map_ = None
    train_idx, val_idx, seed = det._split(X)
    if det.input_kind_ == "image":
        raise NotImplementedError("out-of-core training takes vectors (n, d) and windows (n, T, d), not images")
    Xm = to_model_layout(X, det.input_kind_)  # a view: vectors and windows keep their layout
    in_train = np.zeros(len(Xm), dtype=bool)
    in_train[train_idx] = True
    mean, scale = chunked_moments(Xm, pooled=True, mask=in_train)
    scale[scale < 1e-12] = 1.0
    axes = standardization_axes(det.input_kind_, Xm.ndim)  # the shape fit_standardizer gives
    shape = tuple(1 if i in axes else int(v) for i, v in enumerate(Xm.shape))[1:]
    det.mean_, det.scale_ = mean.reshape(shape).astype(np.float32), scale.reshape(shape).astype(np.float32)

    with seeded(seed):
        det.module_ = det._build_module()
    dm = StreamingDataModule(Xm, train_idx, val_idx, det.mean_, det.scale_)
    result = fit_module(det.module_, None, datamodule=dm, **det._fit_kwargs(seed))
    det.n_epochs_ = result.epochs_run

    if val_idx.size:
        det.calibration_scores_ = _score_rows(det, Xm, val_idx)
    ref_mean, ref_scale = chunked_moments(X, pooled=False)
    ref_scale[ref_scale < 1e-12] = 1.0
    for name, value in fit_reference(det, X, moments=(ref_mean, ref_scale)).items():
        setattr(det, name, value)
    det.decision_scores_ = det._checked_scores(_score_rows(det, Xm), X.shape[0])  # = _training_scores(X)
    if det.calibration_scores_ is None:
        det.calibration_scores_ = det.decision_scores_.copy()
    det._apply_threshold(getattr(det, "threshold", None))


def _score_rows(det, Xm: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
    """Scores of rows ``idx`` of ``Xm`` (all rows when None), read a block at a time into one
    preallocated array. A block is whole scoring chunks, so each score is what scoring all rows
    at once gives; keeping no per-chunk results alive between blocks keeps the heap from
    fragmenting (scoring 4M rows in one ``batched_apply`` left ~1 GB of freed-but-held memory)."""
    n = Xm.shape[0] if idx is None else idx.size
    out = np.empty(n)
    block = det._score_chunk_rows() * 16
    for s in range(0, n, block):
        part = Xm[s : s + block] if idx is None else Xm[idx[s : s + block]]
        out[s : s + len(part)] = det._apply_fixed(det._module_score, part, raw=True)
    return out
