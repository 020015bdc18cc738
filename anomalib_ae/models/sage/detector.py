"""``sage``: ensemble OOD metric of latent kNN distance, reconstruction error and task loss.

After "Generalization is not a universal guarantee: Estimating similarity to training data
with an ensemble out-of-distribution metric". An autoencoder (with a task head when task
labels are passed to ``fit(X, y)``) gives up to three signals per sample:

1. kNN distance of its latent code to the latent codes of the training rows;
2. its reconstruction error;
3. its task loss against the predicted class, ``-log max softmax`` (only with task labels).

Each signal becomes an empirical (conformal, tail-extended) probability against the same
signal on held-out normal rows (:func:`anomalib_ae.scoring.calibration.surprise`); the score is
the mean surprise ``-log p`` over the signals, higher = more out-of-distribution.
"""

from __future__ import annotations

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.sage.network import SAGENet, knn_distance
from anomalib_ae.neighbors import APPROX_THRESHOLD, NEIGHBORS, ApproximateSearch, resolve_neighbors
from anomalib_ae.registry import register_detector
from anomalib_ae.scoring.calibration import surprise
from anomalib_ae.training.datamodule import row_blocks
from anomalib_ae.validation import Interval, StrOptions

SIGNALS = ("latent_knn", "reconstruction", "task_loss")


@register_detector("sage")
class SAGE(BaseDeepDetector):
    """SAGE-style ensemble OOD metric.

    ``fit(X)`` trains a plain autoencoder; ``fit(X, y)`` treats ``y`` as **task labels**
    (class labels of the supervised task the data serves, not anomaly labels) and trains the
    autoencoder jointly with a linear classification head, adding the task-loss signal.

    Parameters
    ----------
    n_neighbors : int, default 5
        Neighbours of the latent kNN distance.
    neighbors : {"auto", "exact", "approximate"}, default "auto"
        Search of the latent kNN: exact below ``approx_threshold`` training latents, approximate
        (a faiss IVF index, :mod:`anomalib_ae.neighbors`; its index is stored in the model file) above.
    approx_threshold : int, default 50,000
        Training latents from which "auto" searches approximately.
    task_weight : float, default 1.0
        Weight of the task cross-entropy in the training loss.
    Others
        As :class:`~anomalib_ae.detectors._deep.BaseDeepDetector`; ``validation_fraction`` of
        the rows is held out for early stopping and for the signals' empirical probabilities.

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).normal(size=(200, 6))
    >>> det = anomalib_ae.create("sage", epochs=2, random_state=0, verbose=False).fit(X)
    >>> det.signal_names_
    ['latent_knn', 'reconstruction']
    """

    _constraints: dict = {
        **BaseDeepDetector._constraints,
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "task_weight": [Interval(Real, 0, None, closed="left")],
        "neighbors": [StrOptions(set(NEIGHBORS))],
        "approx_threshold": [Interval(Integral, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        n_neighbors=5,
        neighbors="auto",
        approx_threshold=APPROX_THRESHOLD,
        task_weight=1.0,
        hidden_dims=None,
        latent_dim=None,
        epochs=30,
        batch_size=128,
        lr=1e-3,
        weight_decay=0.0,
        validation_fraction=0.1,
        patience=5,
        input_kind="auto",
        random_state=None,
        accelerator="auto",
        strategy="auto",
        devices=1,
        num_nodes=1,
        precision=None,
        verbose="auto",
        contamination=0.1,
        threshold=None,
    ):
        self.n_neighbors = n_neighbors
        self.neighbors = neighbors
        self.approx_threshold = approx_threshold
        self.task_weight = task_weight
        self.hidden_dims = hidden_dims
        self.latent_dim = latent_dim
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.input_kind = input_kind
        self.random_state = random_state
        self.accelerator = accelerator
        self.strategy = strategy
        self.devices = devices
        self.num_nodes = num_nodes
        self.precision = precision
        self.verbose = verbose
        self.contamination = contamination
        self.threshold = threshold

    def _build_module(self):
        return SAGENet(
            self.model_shape_,
            self.input_kind_,
            self._hidden_dims(),
            self._latent_dim(),
            n_classes=self.n_classes_,
            task_weight=self.task_weight,
        )

    # ------------------------------------------------------------------ signals
    def _raw_signals(self, Xs: np.ndarray) -> np.ndarray:
        """Raw signals ``(n, k)`` of standardised, model-layout rows."""
        # float64 copy of the network: a row's signals do not depend on the rows batched with it
        net = copy.deepcopy(self.module_).double().eval()
        reference = torch.from_numpy(self.train_latents_)

        def fn(x):
            z, cols = net.signals(x)
            knn = self._latent_knn(z, reference)
            return torch.cat([knn[:, None], cols], dim=1)

        with torch.no_grad():
            out = [fn(b) for b in self._float64_blocks(Xs)]
        return torch.cat(out).numpy()

    @staticmethod
    def _float64_blocks(Xs):
        """Standardised rows (an array or out-of-core StandardizedRows) in float64 blocks of up to 4096."""
        rows = max(1, min(4096, 2**21 // max(1, int(np.prod(Xs.shape[1:])))))
        if isinstance(Xs, np.ndarray):  # numpy's float64 copy keeps the array's memory order, as before
            return (torch.from_numpy(np.asarray(Xs[i : i + rows], dtype=np.float64)) for i in range(0, len(Xs), rows))
        return (b.double() for b in row_blocks(Xs, rows))

    def _latent_knn(self, z: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """Mean distance of each latent code to its nearest training latents (exact or approximate)."""
        if getattr(self, "latent_index_", None) is None:  # exact search (and files written before the index)
            return knn_distance(z, reference, self.n_neighbors)
        search = getattr(self, "_latent_search", None)
        if search is None:  # loaded model: the stored index, not a rebuilt one
            search = ApproximateSearch.from_arrays({"index": self.latent_index_}, "euclidean")
            self._latent_search = search
        k = max(1, min(int(self.n_neighbors), search.n_rows_))
        return torch.from_numpy(search.kneighbors(z.numpy(), k).distances.mean(axis=1))

    def _latents(self, Xs: np.ndarray) -> np.ndarray:
        """Latent codes of standardised rows, a block at a time into one array (latents are small)."""
        net = copy.deepcopy(self.module_).double().eval()
        out, at = None, 0
        with torch.no_grad():
            for b in self._float64_blocks(Xs):
                z = net.encode(b).numpy()
                if out is None:
                    out = np.empty((len(Xs), *z.shape[1:]))
                out[at : at + len(z)] = z
                at += len(z)
        return out

    def _surprises(self, raw: np.ndarray) -> np.ndarray:
        return np.column_stack(
            [surprise(self.signal_calibration_[:, j], raw[:, j]) for j in range(raw.shape[1])]
        )

    # ------------------------------------------------------------------ contract
    #: also runs on out-of-core rows (StandardizedRows): the latents are computed a block at a time
    _streaming_overrides = ("_fit_standardized",)

    def _fit_labels(self, n: int, y) -> np.ndarray | None:
        """Task labels as class indices (float32); sets ``classes_`` / ``n_classes_``."""
        if n < 2:
            raise ValueError(f"SAGE needs at least 2 samples, got n_samples={n}")
        y_idx = None
        self.classes_ = None
        self.n_classes_ = 0
        if y is not None:
            classes, y_idx = np.unique(np.asarray(y).reshape(-1), return_inverse=True)
            if classes.size < 2:
                raise ValueError(f"SAGE task labels y need at least 2 classes, got {classes.size}")
            self.classes_ = classes
            self.n_classes_ = int(classes.size)
            y_idx = y_idx.astype(np.float32)
        return y_idx

    def _fit_standardized(self, Xs, y_idx, train_idx, val_idx, seed: int) -> None:
        n_val = val_idx.size
        self._train(
            Xs[train_idx],
            None if y_idx is None else y_idx[train_idx],
            Xs[val_idx] if n_val else None,
            None if (y_idx is None or not n_val) else y_idx[val_idx],
            seed,
        )
        self.train_latents_ = self._latents(Xs[train_idx])
        self.latent_index_ = None
        if resolve_neighbors(self.neighbors, train_idx.size, self.approx_threshold) == "approximate":
            self._latent_search = ApproximateSearch("euclidean").fit(self.train_latents_)
            self.latent_index_ = self._latent_search.to_arrays()["index"]
        self.signal_names_ = list(SIGNALS[: 2 + (self.n_classes_ >= 2)])
        # held-out rows calibrate each signal (training rows when there are too few samples)
        held = Xs[val_idx] if n_val else Xs[train_idx]
        self.signal_calibration_ = self._raw_signals(held)
        self.calibration_scores_ = self._surprises(self.signal_calibration_).mean(axis=1) if n_val else None

    def _score(self, X: np.ndarray) -> np.ndarray:
        return self._surprises(self._raw_signals(self._prepare(X))).mean(axis=1)

    def signal_probabilities(self, X) -> np.ndarray:
        """``(n, k)``: per signal, the empirical probability that the sample is unusual (``1 - p``)."""
        check_is_fitted(self)
        raw = self._raw_signals(self._prepare(self._validate_input(X, reset=False)))
        return 1.0 - np.exp(-self._surprises(raw))
