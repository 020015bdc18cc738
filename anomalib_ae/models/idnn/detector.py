"""``idnn``: interpolation network scored by the error on the frame it predicts from its neighbours."""

from __future__ import annotations

from numbers import Integral

from anomalib_ae.detectors._deep import BaseDeepDetector
from anomalib_ae.models.idnn.network import TARGETS, build_idnn
from anomalib_ae.registry import register_detector
from anomalib_ae.validation import Interval, StrOptions


@register_detector("idnn")
class InterpolationDNN(BaseDeepDetector):
    """Interpolation DNN (Suefusa et al., ICASSP 2020): predict a removed frame from its context.

    For machine sound: the audio adapter's frame vectors stack ``n_context`` log-mel frames; with
    ``n_frames`` = that context (5 in the DCASE setting) the centre frame is predicted from the
    two frames on each side and the frame score is the mean squared error on it (clip score:
    the adapter's ``clip_aggregate`` over frames). See :mod:`anomalib_ae.models.idnn.network` for
    the frames of windows and images.

    Parameters
    ----------
    n_frames : int, optional
        Frames in one vector (``D / n_frames`` values each). Default: each feature is a frame.
        Windows use their time steps (leave None), images their rows.
    target : {"auto", "centre", "all"}, default "auto"
        ``"centre"``: the paper's setting, frame ``T // 2`` only. ``"all"``: every frame in turn
        (score = mean over frames; costs ``T`` passes). ``"auto"``: ``"all"`` for vectors without
        ``n_frames`` (each feature predicted from the others), ``"centre"`` otherwise.
    hidden_dims : sequence of int, optional
        Encoder widths, mirrored by the decoder. Default (64, 32) (the paper: 64, 32, 16).
    latent_dim : int, optional
        Bottleneck. Default 16.
    Others
        As in :class:`~anomalib_ae.detectors._deep.BaseDeepDetector`.

    Examples
    --------
    >>> import numpy as np, anomalib_ae
    >>> X = np.random.default_rng(0).normal(size=(200, 20)).astype("float32")
    >>> det = anomalib_ae.create("idnn", n_frames=5, epochs=2, random_state=0, verbose=False).fit(X)
    >>> det.score(X[:3]).shape
    (3,)
    """

    _constraints: dict = {
        **BaseDeepDetector._constraints,
        "n_frames": [Interval(Integral, 2, None, closed="left"), None],
        "target": [StrOptions({"auto", *TARGETS})],
    }

    def __init__(
        self,
        *,
        n_frames=None,
        target="auto",
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
        self.n_frames = n_frames
        self.target = target
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
            return (64, 32)
        return super()._hidden_dims()

    def _latent_dim(self) -> int:
        return 16 if self.latent_dim is None else int(self.latent_dim)

    def _target(self) -> str:
        if self.target != "auto":
            return self.target
        return "all" if self.input_kind_ == "vector" and self.n_frames is None else "centre"

    def _build_module(self):
        return build_idnn(self.model_shape_, self.input_kind_, self._hidden_dims(), self._latent_dim(),
                          n_frames=self.n_frames, target=self._target())
