"""``riad``: reconstruction by inpainting (U-Net from scratch), scored by the MSGMS map."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import torch

from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.riad.network import MAP_KINDS, RIADNet
from anomalib_ae.registry import register_detector
from anomalib_ae.training.datamodule import row_blocks
from anomalib_ae.validation import Interval, StrOptions

#: Seed of the fixed scoring cell sets.
MASK_SEED = 0


@register_detector("riad")
class RIAD(BaseDeepDetector):
    """Reconstruction-by-inpainting anomaly detection (Zavrtanik et al., 2021), made for images.

    A U-Net learns to inpaint grid cells removed from normal images (``n_masks`` disjoint
    cell sets per image that together cover it; cell sides drawn from ``cell_sizes``).
    Loss: MSE + ``ssim_weight`` (1 - SSIM) + ``gms_weight`` MSGMS. The anomaly map is the
    multi-scale gradient-magnitude-similarity distance between an image and its inpainted
    reconstruction, averaged over the cell sizes and mean-filtered; the score is the mean of
    its top ``top_fraction`` pixels (the maximum for 0). ``error_map`` returns that map, so
    explanations and pixel AUROC use it. See :mod:`anomalib_ae.models.riad.network`.
    Windows ``(n, T, d)`` are inpainted as one-channel ``T x d`` images and vectors as
    one-pixel-high images (cells then span features), so every input kind fits and scores.

    Parameters
    ----------
    hidden_dims : sequence of int, optional
        U-Net widths per stage; ``len - 1`` 2x downsamplings. Default (8, 16, 32, 64).
    cell_sizes : sequence of int, default (2, 4, 8, 16)
        Sides in pixels of the removed square cells.
    n_masks : int, default 3
        Disjoint cell sets per image (network passes per reconstruction).
    ssim_weight, gms_weight : float, default 1.0
        Weights of the SSIM and MSGMS terms of the loss beside the MSE.
    map_kind : {"auto", "msgms", "ssim", "both", "mse"}, default "auto"
        Distance behind the anomaly map; "auto" is "msgms" for images and "mse" (squared
        error of the inpainted values) for windows and vectors, where gradients and SSIM
        windows mean little (the mean filter applies to images only). Training ignores
        ``map_kind``, ``smooth``, ``map_norm`` and ``top_fraction``; ``top_fraction`` alone
        acts without refitting when changed with ``set_params`` (the threshold and
        calibration scores stay those of the fitted setting).
    smooth : int, default 1
        Side of the mean filter applied to the map (1 = none).
    map_norm : bool, default True
        Standardise the map per pixel by its mean and standard deviation over training
        images (fitted after training); the score is then how much more than normal
        images an image differs from its inpainting, at its most unusual pixel.
    top_fraction : float in [0, 1], default 0.0
        Share of the smoothed map's pixels averaged into the score; 0 = the maximum.
    train_crop : int or None, default 32
        Train on random ``train_crop``-pixel squares (4x cheaper at 64 px; the network is
        fully convolutional and scores whole images); None trains on whole images.
    latent_dim
        Unused (the U-Net has no vector bottleneck); kept for the shared interface.
    epochs, batch_size, lr, weight_decay, validation_fraction, patience, random_state, \
accelerator, verbose, contamination, threshold
        As in :class:`~anomalib_ae.detectors._deep.BaseDeepDetector`.

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).random((40, 16, 16)).astype("float32")
    >>> det = anomalib_ae.create("riad", hidden_dims=(4, 8), cell_sizes=(2, 4), epochs=1,
    ...                          train_crop=None, random_state=0, verbose=False).fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """

    _constraints: dict = {
        **BaseDeepDetector._constraints,
        "cell_sizes": ["array-like"],
        "n_masks": [Interval(Integral, 2, None, closed="left")],
        "ssim_weight": [Interval(Real, 0, None, closed="left")],
        "gms_weight": [Interval(Real, 0, None, closed="left")],
        "map_kind": [StrOptions({"auto", *MAP_KINDS})],
        "smooth": [Interval(Integral, 1, None, closed="left")],
        "top_fraction": [Interval(Real, 0, 1, closed="both")],
        "train_crop": [Interval(Integral, 4, None, closed="left"), None],
        "map_norm": ["boolean"],
    }

    def __init__(
        self,
        *,
        cell_sizes=(2, 4, 8, 16),
        n_masks=3,
        ssim_weight=1.0,
        gms_weight=1.0,
        map_kind="auto",
        smooth=1,
        top_fraction=0.0,
        map_norm=True,
        train_crop=32,
        hidden_dims=None,
        latent_dim=None,
        epochs=40,
        batch_size=32,
        lr=1e-3,
        weight_decay=0.0,
        validation_fraction=0.1,
        patience=None,
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
        self.cell_sizes = cell_sizes
        self.n_masks = n_masks
        self.ssim_weight = ssim_weight
        self.gms_weight = gms_weight
        self.map_kind = map_kind
        self.smooth = smooth
        self.top_fraction = top_fraction
        self.map_norm = map_norm
        self.train_crop = train_crop
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

    def _hidden_dims(self) -> tuple[int, ...]:
        if self.hidden_dims is None:
            return (8, 16, 32, 64)
        return super()._hidden_dims()

    #: these also run on out-of-core rows (StandardizedRows)
    _streaming_overrides = ("_standardizer_fitted", "_train")

    def _standardizer_fitted(self, Xs, train_idx: np.ndarray) -> None:
        """``data_range_``: the span of the standardised training values (SSIM's and MSGMS's range)."""
        hi = lo = None
        for block in row_blocks(Xs[train_idx], self._score_chunk_rows() * 16):
            b_hi, b_lo = block.max(), block.min()  # float32, as numpy's max / min of the whole
            hi = b_hi if hi is None else torch.maximum(hi, b_hi)
            lo = b_lo if lo is None else torch.minimum(lo, b_lo)
        span = float(hi - lo) if hi is not None else 1.0
        self.data_range_ = span if np.isfinite(span) and span > 0 else 1.0

    #: parameters that only change how maps and scores are read: they act without refitting
    SCORING_PARAMS = ("top_fraction",)
    #: parameters the network's training ignores (they shape the map and its normalisation,
    #: fitted after training by :meth:`_fit_map_norm`)
    MAP_PARAMS = ("map_kind", "smooth", "top_fraction", "map_norm")
    #: most training rows behind the per-pixel map statistics
    MAP_NORM_ROWS = 256

    def _map_kind(self) -> str:
        if self.map_kind != "auto":
            return self.map_kind
        return "msgms" if getattr(self, "input_kind_", "image") == "image" else "mse"

    def _sync_scoring(self) -> None:
        module = getattr(self, "module_", None)
        if module is not None:
            key = [self._map_kind(), int(self.smooth)]
            fitted = getattr(self, "map_key_", None)
            if getattr(self, "map_mean_", None) is not None and fitted is not None and list(fitted) != key:
                raise ValueError(
                    f"map_kind / smooth are {key} but the map statistics were fitted for {list(fitted)}: refit"
                )
            module.map_kind, module.smooth = key
            module.top_fraction = float(self.top_fraction)
            mean, scale = getattr(self, "map_mean_", None), getattr(self, "map_scale_", None)
            module.map_mean = None if mean is None else torch.from_numpy(np.asarray(mean, np.float32))
            module.map_scale = None if scale is None else torch.from_numpy(np.asarray(scale, np.float32))

    def _train(self, X_train, y_train, X_val, y_val, seed: int) -> None:
        super()._train(X_train, y_train, X_val, y_val, seed)
        self._fit_map_norm(X_train)

    def _fit_map_norm(self, Xs_train: np.ndarray) -> None:
        """Per-pixel mean and standard deviation of the maps of (up to 256, evenly spaced) training rows.

        Where normal images always differ from their inpainting (tile borders, fixed
        texture), the raw map is high on every image; the standardised map is high where
        this image differs more than normal images do at that pixel. ``map_norm=False``
        keeps the raw map.
        """
        self.map_mean_ = self.map_scale_ = None
        self.map_key_ = [self._map_kind(), int(self.smooth)]
        self._sync_scoring()
        if not self.map_norm or len(Xs_train) < 2:
            return
        n = len(Xs_train)
        idx = np.unique(np.linspace(0, n - 1, min(n, self.MAP_NORM_ROWS)).round().astype(int))
        maps = self._apply_fixed(self.module_.pixel_map, Xs_train[idx])
        self.map_mean_ = maps.mean(axis=0, keepdims=True).astype(np.float32)
        self.map_scale_ = (maps.std(axis=0, keepdims=True) + 1e-6).astype(np.float32)
        self._sync_scoring()

    def _module_score(self, x):
        self._sync_scoring()
        return self.module_.score(x)

    def error_map(self, X):
        self._sync_scoring()
        return super().error_map(X)

    def _build_module(self):
        cells = tuple(int(k) for k in np.atleast_1d(np.asarray(self.cell_sizes)))
        if not cells or min(cells) < 1:
            raise ValueError(f"cell_sizes must be positive integers, got {self.cell_sizes!r}")
        return RIADNet(
            self.model_shape_,
            channels=self._hidden_dims(),
            cell_sizes=cells,
            n_masks=int(self.n_masks),
            data_range=float(getattr(self, "data_range_", 1.0)),
            ssim_weight=float(self.ssim_weight),
            gms_weight=float(self.gms_weight),
            map_kind=self._map_kind(),
            smooth=int(self.smooth),
            top_fraction=float(self.top_fraction),
            train_crop=None if self.train_crop is None else int(self.train_crop),
            seed=MASK_SEED,
        )
