"""Out-of-core fit of a deep detector: training from a memory map without loading it.

:meth:`BaseDeepDetector.fit <anomalib_ae.detectors._deep.BaseDeepDetector.fit>` comes here for
a ``.npy`` path, a :class:`numpy.memmap`, a Parquet file / folder or a
:class:`~anomalib_ae.data.outofcore.TrainingData`. It does what the in-memory fit does, in the
same order and with the same random draws, so on data that fits in memory both give the same
model and the same scores bit for bit:

1. validate the input chunk by chunk (the first bad row is named) and the labels ``y``
   (in memory: labels are small);
2. the seeded split of :meth:`BaseDeepDetector._split` (the same permutation);
3. the standardiser from :func:`~anomalib_ae.data.outofcore.chunked_moments` (images: per
   channel, pooled over samples and pixels, read with the channel axis last);
4. the detector's own :meth:`~BaseDeepDetector._fit_standardized` (training and its extra
   passes: Deep SVDD's centre, CVAD's discriminator and score scales, SAGE's latents, ...) on
   :class:`~anomalib_ae.training.datamodule.StandardizedRows`, a lazily standardised view of the
   memory map, instead of the standardised array: mini-batches come through a
   :class:`~anomalib_ae.training.datamodule.StreamingDataModule`, other passes read whole
   scoring chunks a block at a time;
5. training scores and the explanation statistics, scored in blocks.

Vectors, windows and images ``(n, H, W)``, ``(n, C, H, W)`` or ``(n, H, W, C)`` (each block is
transposed as it is read) all stream. A detector that overrides a training method without
declaring it streamable (:meth:`BaseDeepDetector._own_training_methods`) stays in memory (a
path says so); so do labels with a detector that holds known anomalies out of its fit.
"""

from __future__ import annotations

import numpy as np

from anomalib_ae.data.outofcore import check_finite_chunks, chunked_moments, open_training_data
from anomalib_ae.detectors.layout import infer_input_kind, to_model_layout
from anomalib_ae.preprocessing import standardization_axes
from anomalib_ae.scoring.probability import labelled_anomalies
from anomalib_ae.scoring.threshold import parse_threshold
from anomalib_ae.training.datamodule import StandardizedRows
from anomalib_ae.validation import check_params


def _own_methods(det) -> list[str]:
    return det._own_training_methods()


def _holds_out(det, y) -> bool:
    """Labels that :meth:`BaseDetector.fit` would use to hold known anomalies out of the fit."""
    return y is not None and not det._fits_labels and labelled_anomalies(y) is not None


def streamable(det, X, y=None) -> bool:
    """Whether :func:`fit_out_of_core` takes the array ``X`` (else an in-memory fit, as before:
    a :class:`numpy.memmap` of images, of integers, with known anomalies to hold out, or for a
    detector with an in-memory training method)."""
    if _holds_out(det, y) or _own_methods(det) or getattr(X, "dtype", None) not in (np.float32, np.float64):
        return False
    try:
        infer_input_kind(tuple(X.shape[1:]), det.input_kind)
    except ValueError:
        return False
    return X.ndim >= 2


def _check_supported(det) -> None:
    own = _own_methods(det)
    if own:
        raise NotImplementedError(
            f"{type(det).__name__} overrides {', '.join(own)} without streaming it: it trains from in-memory "
            "arrays only (a subclass lists the methods that take StandardizedRows in _streaming_overrides)"
        )


def _check_labels(det, X: np.ndarray, y):
    if y is None:
        return None
    y = np.asarray(y)
    if y.shape[:1] != X.shape[:1]:
        raise ValueError(f"y has {y.shape[0] if y.ndim else 0} labels but X has {X.shape[0]} samples")
    if _holds_out(det, y):
        raise ValueError(
            f"{type(det).__name__} holds the known anomalies (y == 1) out of its fit, which out-of-core training "
            "does not do: leave those rows out of the training file and call fit without y "
            "(or use 'deepsad', which trains on them)"
        )
    return y


def fit_out_of_core(det, source, y=None):
    """Fit ``det`` from ``source`` (see the module docstring); returns ``det``."""
    check_params(det)
    _check_supported(det)
    parse_threshold(getattr(det, "threshold", None))
    data = open_training_data(source)
    try:
        X = data.array
        check_finite_chunks(X, data.source, data.columns)
        y = _check_labels(det, X, y)
        _fit_arrays(det, X, y, data.columns)
    finally:
        if data is not source:
            data.close()
    return det


def _fit_arrays(det, X: np.ndarray, y, columns) -> None:
    from anomalib_ae.explain.reference import fit_reference

    det.input_shape_ = tuple(int(v) for v in X.shape[1:])
    det.n_features_in_ = int(X.shape[1])
    if columns is not None:
        det.feature_names_in_ = np.asarray(columns, dtype=object)
    elif hasattr(det, "feature_names_in_"):
        del det.feature_names_in_
    det.calibration_scores_ = None
    det.probability_map_ = None
    y_arr = det._fit_labels(X.shape[0], y)
    train_idx, val_idx, seed = det._split(X)
    Xm, layout = _model_rows(X, det.input_kind_)
    in_train = np.zeros(len(X), dtype=bool)
    in_train[train_idx] = True
    mean, scale = chunked_moments(_channels_last(Xm, layout, det.input_kind_), pooled=True, mask=in_train)
    scale[scale < 1e-12] = 1.0
    model_shape = (len(X), *det.model_shape_)
    axes = standardization_axes(det.input_kind_, len(model_shape))  # the shape fit_standardizer gives
    shape = tuple(1 if i in axes else int(v) for i, v in enumerate(model_shape))[1:]
    det.mean_, det.scale_ = mean.reshape(shape).astype(np.float32), scale.reshape(shape).astype(np.float32)

    Xs = StandardizedRows(Xm, np.arange(len(X)), det.mean_, det.scale_, axes=layout)
    det._standardizer_fitted(Xs, train_idx)
    det._fit_standardized(Xs, y_arr, train_idx, val_idx, seed)

    ref_mean, ref_scale = chunked_moments(X, pooled=False)
    ref_scale[ref_scale < 1e-12] = 1.0
    for name, value in fit_reference(det, X, moments=(ref_mean, ref_scale)).items():
        setattr(det, name, value)
    det.decision_scores_ = det._checked_scores(_score_rows(det, X), X.shape[0])  # = _training_scores(X)
    if getattr(det, "calibration_scores_", None) is None:
        det.calibration_scores_ = det.decision_scores_.copy()
    det._apply_threshold(getattr(det, "threshold", None))


def _model_rows(X: np.ndarray, kind: str) -> tuple[np.ndarray, tuple[int, ...] | None]:
    """``X`` in model layout without a copy: a view (vectors, windows, ``input_kind="flat"``,
    grayscale and channels-first images), or ``X`` and the permutation that each read block
    takes (channels-last images, which :func:`to_model_layout` would copy whole)."""
    if kind == "image" and X.ndim == 4 and to_model_layout(X[:1], kind).shape[1:] != X.shape[1:]:
        return X, (0, 3, 1, 2)
    return to_model_layout(X, kind), None


def _channels_last(Xm: np.ndarray, layout, kind: str) -> np.ndarray:
    """The array whose last axis is what the standardiser keeps (a view): images pool samples
    and pixels per channel, so their channel axis goes last."""
    if kind != "image" or layout is not None:
        return Xm  # vectors / windows; channels-last images as stored
    return Xm.transpose(0, 2, 3, 1)


def _score_rows(det, X: np.ndarray) -> np.ndarray:
    """``det._score`` of every row of ``X``, read a block at a time into one preallocated array.
    A block is whole scoring chunks, so each score is what scoring all rows at once gives;
    keeping no per-chunk results alive between blocks keeps the heap from fragmenting (scoring
    4M rows in one ``batched_apply`` left ~1 GB of freed-but-held memory)."""
    n = X.shape[0]
    out = np.empty(n)
    block = det._score_chunk_rows() * 16
    for s in range(0, n, block):
        part = np.asarray(X[s : s + block])
        out[s : s + len(part)] = det._score(part)
    return out
