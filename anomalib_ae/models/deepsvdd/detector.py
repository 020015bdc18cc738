"""``deepsvdd`` (Ruff et al., 2018) and ``deepsad`` (Ruff et al., 2020): distance to a hypersphere centre."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.deepsvdd.network import ARCHS, build_deep_svdd
from anomalib_ae.models.deepsvdd.pretrain import build_svdd_autoencoder
from anomalib_ae.registry import register_detector
from anomalib_ae.training import fit_module, seeded
from anomalib_ae.training.datamodule import row_blocks
from anomalib_ae.validation import Interval, StrOptions

_COMMON_DOC = """
    pretrain : bool, default True
        Pre-train the matching bias-free autoencoder on the normal training data and start
        from its encoder (as in the paper).
    pretrain_epochs : int, optional
        Epochs of the autoencoder pre-training (default: ``epochs``).
    center_eps : float, default 0.1
        Eps rule of the centre: coordinates of ``c`` closer to 0 than this move to +-eps.
    arch : {"auto", "lenet", "cifar"}, default "auto"
        Image network: the paper's MNIST LeNet up to 28 px, its CIFAR-10 LeNet (channels from
        ``hidden_dims``, deepened until the map is at most 8 px) above.
    hidden_dims : sequence of int, optional
        Dense widths (vectors, windows) or conv channels (images). Default: (128, 64) for vectors
        (tabular benchmark, chosen by the nested protocol, ``docs/calibration_ensembles.md``),
        (64, 32) for windows, (32, 64) for images. The fitted widths are kept in ``hidden_dims_``
        (vector model files written before they were stored were built with (64, 32)).
    latent_dim : int, optional
        Output size ``rep_dim``. Default 32 for every input kind (the paper's MNIST value;
        PyOD's last layer for vectors). Unlike an autoencoder's bottleneck it is not shrunk
        for few features: a 2-d output (``d // 4`` for 8 features) loses the directions
        anomalies differ in.
    epochs : int, optional
        Training epochs of the one-class objective (and of pre-training, unless
        ``pretrain_epochs`` is set). Default: 30 for images; 10 for vectors and windows,
        where longer one-class training contracts the dense net's output and ranks
        anomalies worse (tabular benchmark, ``docs/calibration_ensembles.md``).
    batch_size, lr, weight_decay, validation_fraction, \
patience, input_kind, random_state, accelerator, verbose, contamination
        As in :class:`~anomalib_ae.detectors._deep.BaseDeepDetector` (``weight_decay``
        defaults to the paper's 1e-6).
"""

#: Default ``epochs`` of Deep SVDD / SAD by input kind (``epochs=None``).
DEFAULT_EPOCHS = {"image": 30, "dense": 10}

#: Default output size ``rep_dim`` of the dense net (vectors and windows; ``latent_dim=None``).
DENSE_LATENT_DIM = 32

#: Default dense widths for vectors (``hidden_dims=None``), chosen on the tabular benchmark by the nested
#: protocol (docs/calibration_ensembles.md); windows keep the shared (64, 32). Deep SAD without labels is
#: Deep SVDD, so both use it.
VECTOR_HIDDEN_DIMS = (128, 64)
#: What ``hidden_dims=None`` built for vectors before session 9: model files without ``hidden_dims_`` get it.
OLD_VECTOR_HIDDEN_DIMS = (64, 32)


def batch_size_without_singletons(n: int, batch_size: int) -> int:
    """Largest batch size ``<= batch_size`` whose last batch of ``n`` samples is not a single one.

    BatchNorm cannot train on a batch of one sample; falls back to one batch of all ``n``.
    """
    b = min(int(batch_size), int(n))
    while b >= 2:
        if n % b != 1:
            return b
        b -= 1
    return int(n)


class _SVDDDetector(BaseDeepDetector):
    """Shared training of Deep SVDD and Deep SAD: pre-training, centre, then the objective.

    ``_train`` also takes out-of-core rows (:class:`~anomalib_ae.training.datamodule.StandardizedRows`):
    the centre is the mean of forward passes over blocks of 1024 rows in order, as in memory.
    """

    _streaming_overrides = ("_train",)

    _constraints: dict = {
        **BaseDeepDetector._constraints,
        "pretrain": ["boolean"],
        "pretrain_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "center_eps": [Interval(Real, 0, None, closed="neither")],
        "arch": [StrOptions(set(ARCHS))],
        "epochs": [Interval(Integral, 1, None, closed="left"), None],
    }

    def _objective_kwargs(self) -> dict:
        raise NotImplementedError

    def _epochs(self) -> int:
        if self.epochs is not None:
            return int(self.epochs)
        return DEFAULT_EPOCHS["image" if self.input_kind_ == "image" else "dense"]

    def _resolve_hidden_dims(self) -> tuple[int, ...]:
        """``hidden_dims``, or the default widths for the input kind (vectors: ``VECTOR_HIDDEN_DIMS``)."""
        if self.hidden_dims is None and self.input_kind_ == "vector":
            return VECTOR_HIDDEN_DIMS
        return super()._hidden_dims()

    def _hidden_dims(self) -> tuple[int, ...]:
        pinned = getattr(self, "hidden_dims_", None)  # the fitted (or loaded) network's widths
        return tuple(int(h) for h in pinned) if pinned is not None else self._resolve_hidden_dims()

    def _set_state(self, arrays, state) -> None:
        if "hidden_dims_" not in state and self.hidden_dims is None and state.get("input_kind_") == "vector":
            # files written before the widths were stored (session 9) were built with the old default
            state = dict(state, hidden_dims_=list(OLD_VECTOR_HIDDEN_DIMS))
        super()._set_state(arrays, state)

    def _latent_dim(self) -> int:
        if self.latent_dim is None and self.input_kind_ != "image":
            return DENSE_LATENT_DIM
        return super()._latent_dim()

    def _fit_kwargs(self, seed: int) -> dict:
        return dict(super()._fit_kwargs(seed), epochs=self._epochs())

    def _build_module(self):
        return build_deep_svdd(
            self.model_shape_,
            self.input_kind_,
            self._hidden_dims(),
            self._latent_dim(),
            center_eps=float(self.center_eps),
            arch=self.arch,
            **self._objective_kwargs(),
        )

    def _fit_labels(self, n: int, y) -> np.ndarray | None:
        if n < 2:
            raise ValueError(
                f"{type(self).__name__} trains BatchNorm layers and needs at least 2 samples, got 1 sample"
            )
        return super()._fit_labels(n, y)

    def fitted_schedule(self) -> dict:
        """As :meth:`BaseDeepDetector.fitted_schedule`, with the pre-training stage's length too."""
        out = super().fitted_schedule()
        if out and getattr(self, "n_pretrain_epochs_", None) is not None:
            out["pretrain_epochs"] = int(self.n_pretrain_epochs_)
        return out

    def _train(self, X_train, y_train, X_val, y_val, seed: int) -> None:
        normal = X_train if y_train is None else X_train[y_train != 1]
        normal = normal if len(normal) >= 2 else X_train
        self.hidden_dims_ = self._resolve_hidden_dims()
        with seeded(seed):
            self.module_ = self._build_module()
        kwargs = self._fit_kwargs(seed)
        if self.pretrain:
            with seeded(seed + 1):
                ae = build_svdd_autoencoder(
                    self.model_shape_, self.input_kind_, self._hidden_dims(), self._latent_dim(), arch=self.arch
                )
            val_normal = X_val if (X_val is None or y_val is None) else X_val[y_val != 1]
            pre = dict(kwargs, seed=seed + 1, batch_size=batch_size_without_singletons(len(normal), self.batch_size))
            if self.pretrain_epochs is not None:
                pre["epochs"] = int(self.pretrain_epochs)
            self.n_pretrain_epochs_ = fit_module(ae, normal, None, val_normal, None, **pre).epochs_run
            self.module_.load_encoder_from(ae)
        self.module_.init_center(row_blocks(normal, 1024))
        kwargs["batch_size"] = batch_size_without_singletons(len(X_train), self.batch_size)
        self.n_epochs_ = fit_module(self.module_, X_train, y_train, X_val, y_val, **kwargs).epochs_run


@register_detector("deepsvdd")
class DeepSVDD(_SVDDDetector):
    __doc__ = (
        """Deep SVDD (Ruff et al., ICML 2018): map normal data close to a fixed centre ``c``.

    Bias-free networks with non-affine BatchNorm (:mod:`anomalib_ae.models.deepsvdd.network`); ``c`` is the
    mean output of a first forward pass over the training data, with the eps rule. Score:
    squared distance ``||phi(x) - c||^2`` ("one-class"), or that minus ``R^2``
    ("soft-boundary"). Labels passed to ``fit`` are ignored (see ``deepsad`` to use them).

    Parameters
    ----------
    objective : {"one-class", "soft-boundary"}, default "one-class"
        One-class: minimise the mean squared distance. Soft-boundary: ``R^2 + 1/nu *
        mean(max(0, d - R^2))``, with ``R`` the ``(1 - nu)`` quantile of the batch distances.
    nu : float in (0, 1], default 0.1
        Soft-boundary trade-off (upper bound on the share of training points outside ``R``)."""
        + _COMMON_DOC
        + """
    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).normal(size=(200, 8))
    >>> det = anomalib_ae.create("deepsvdd", epochs=2, random_state=0, verbose=False).fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """
    )

    _constraints: dict = {
        **_SVDDDetector._constraints,
        "objective": [StrOptions({"one-class", "soft-boundary"})],
        "nu": [Interval(Real, 0, 1, closed="right")],
    }

    def __init__(
        self,
        *,
        objective="one-class",
        nu=0.1,
        pretrain=True,
        pretrain_epochs=None,
        center_eps=0.1,
        arch="auto",
        hidden_dims=None,
        latent_dim=None,
        epochs=None,
        batch_size=128,
        lr=1e-3,
        weight_decay=1e-6,
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
        self.objective = objective
        self.nu = nu
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
        self.center_eps = center_eps
        self.arch = arch
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

    def _objective_kwargs(self) -> dict:
        return {"objective": self.objective, "nu": float(self.nu)}

    def _fit_labels(self, n: int, y) -> np.ndarray | None:
        return super()._fit_labels(n, None)  # unsupervised: labels are ignored


@register_detector("deepsad")
class DeepSAD(_SVDDDetector):
    _fits_labels = True  # trains on the known anomalies (base.fit does not hold them out)
    __doc__ = (
        """Deep SAD (Ruff et al., ICLR 2020): Deep SVDD that also learns from a few known anomalies.

    ``fit(X, y)`` with ``y == 1`` for known anomalies and any other value (0) for unlabelled
    or normal samples. Unlabelled samples are pulled towards the centre ``c`` (the mean output
    over the unlabelled training data, eps rule), known anomalies are pushed away with the
    loss ``eta / (||phi(x) - c||^2 + 1e-6)``. Pre-training and the centre use the unlabelled
    samples only; labelled anomalies held out for validation are also left out of the
    calibration scores. Without labels it is one-class Deep SVDD. Score: ``||phi(x) - c||^2``.

    Parameters
    ----------
    eta : float, default 1.0
        Weight of the known anomalies in the loss."""
        + _COMMON_DOC
        + """
    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(size=(200, 8)), rng.normal(4, 1, size=(5, 8))])
    >>> y = np.r_[np.zeros(200), np.ones(5)]
    >>> det = anomalib_ae.create("deepsad", epochs=2, random_state=0, verbose=False).fit(X, y)
    >>> det.score(X[:3]).shape
    (3,)
    """
    )

    _constraints: dict = {
        **_SVDDDetector._constraints,
        "eta": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        *,
        eta=1.0,
        pretrain=True,
        pretrain_epochs=None,
        center_eps=0.1,
        arch="auto",
        hidden_dims=None,
        latent_dim=None,
        epochs=None,
        batch_size=128,
        lr=1e-3,
        weight_decay=1e-6,
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
        self.eta = eta
        self.pretrain = pretrain
        self.pretrain_epochs = pretrain_epochs
        self.center_eps = center_eps
        self.arch = arch
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

    def _objective_kwargs(self) -> dict:
        return {"objective": "deep-sad", "eta": float(self.eta)}
