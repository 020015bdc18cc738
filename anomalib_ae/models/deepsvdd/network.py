"""Deep SVDD (Ruff et al., ICML 2018) and Deep SAD (Ruff et al., ICLR 2020).

A network ``phi`` maps normal data into a small hypersphere around a fixed centre ``c``. To
keep the trivial solution (all weights zero, every point on ``c``) out of reach, every layer is
bias-free and BatchNorm has no affine parameters, and ``c`` is fixed from a first forward pass
with no coordinate closer to 0 than ``center_eps``.

Networks by kind:

* images up to 28 px (``arch="lenet"``): the MNIST LeNet of the paper: conv 8@5x5 -> BN ->
  LeakyReLU -> max-pool, conv 4@5x5 -> BN -> LeakyReLU -> max-pool, linear to ``latent_dim``
  (the paper's ``rep_dim``, 32); ``hidden_dims`` is not used.
* larger images (``arch="cifar"``): the CIFAR-10 LeNet of the paper (conv 5x5 -> BN ->
  LeakyReLU -> max-pool per stage, then linear) with ``hidden_dims`` as the channels per stage
  (the paper uses 32, 64, 128), extended by repeating the last width until the feature map is
  at most 8 px, so 64 and 128 px inputs do not end in a huge linear layer.
* vectors and windows (flattened): a bias-free MLP with non-affine BatchNorm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from math import prod

import torch
from torch import nn

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.nn.blocks import mlp
from anomalib_ae.nn.losses import deep_sad_loss, svdd_one_class_loss, svdd_soft_boundary_loss

OBJECTIVES = ("one-class", "soft-boundary", "deep-sad")
ARCHS = ("auto", "lenet", "cifar")
BN_EPS = 1e-4  # as in the reference implementation


def _resolve_arch(input_shape: Sequence[int], arch: str) -> str:
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    if arch != "auto":
        return arch
    return "lenet" if max(int(v) for v in input_shape[1:]) <= 28 else "cifar"


def _conv_channels(input_shape: Sequence[int], hidden_dims: Sequence[int], arch: str) -> list[int]:
    if arch == "lenet":
        return [8, 4]
    channels = [int(h) for h in hidden_dims] or [32]
    size = max(int(v) for v in input_shape[1:]) // 2 ** len(channels)
    while size > 8:
        channels.append(channels[-1])
        size //= 2
    return channels


class SVDDConvNet(nn.Module):
    """Bias-free LeNet-type encoder: per stage conv 5x5 -> BN (no affine) -> LeakyReLU -> pool 2."""

    def __init__(self, input_shape: Sequence[int], channels: Sequence[int], rep_dim: int) -> None:
        super().__init__()
        c, h, w = (int(v) for v in input_shape)
        layers: list[nn.Module] = []
        prev = c
        for ch in channels:
            layers += [
                nn.Conv2d(prev, ch, 5, padding=2, bias=False),
                nn.BatchNorm2d(ch, eps=BN_EPS, affine=False),
                nn.LeakyReLU(),
                nn.MaxPool2d(2, 2),
            ]
            prev = ch
            h, w = h // 2, w // 2
        if h < 1 or w < 1:
            raise ValueError(f"input {tuple(input_shape)} too small for {len(channels)} pooling stages")
        self.features = nn.Sequential(*layers)
        self.feature_shape = (prev, h, w)
        self.head = nn.Linear(prev * h * w, rep_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def build_svdd_encoder(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int, arch: str = "auto"
) -> nn.Module:
    """The bias-free Deep SVDD network ``(n, *input_shape) -> (n, latent_dim)`` for ``kind``."""
    if kind == "image":
        arch = _resolve_arch(input_shape, arch)
        return SVDDConvNet(input_shape, _conv_channels(input_shape, hidden_dims, arch), latent_dim)
    d = prod(int(v) for v in input_shape)
    return nn.Sequential(
        nn.Flatten(1),
        mlp([d, *hidden_dims, latent_dim], activation=nn.LeakyReLU, bias=False, batch_norm=True),
    )


def apply_center_eps(c: torch.Tensor, eps: float = 0.1) -> torch.Tensor:
    """Move coordinates of ``c`` closer to 0 than ``eps`` out to ``+-eps``, keeping their sign.

    Exact zeros go to ``+eps`` (the reference code leaves them at 0, where a zero-weight
    network would map everything).
    """
    c = c.clone()
    small = c.abs() < eps
    c[small & (c < 0)] = -eps
    c[small & (c >= 0)] = eps
    return c


class DeepSVDDNet(AnomalyModule):
    """Deep SVDD / Deep SAD: distance to a fixed centre in the output space of a bias-free net.

    Parameters
    ----------
    input_shape : sequence of int
        Per-sample shape: ``(d,)``, ``(T, d)`` or ``(C, H, W)``.
    kind : {"vector", "window", "image"}
        Dense net for vectors and windows, LeNet-type conv net for images.
    hidden_dims : sequence of int
        Dense widths, or conv channels of the "cifar" net (unused by the 28 px "lenet" net).
    latent_dim : int
        Output dimension ``rep_dim`` (the paper uses 32 for MNIST, 128 for CIFAR-10).
    objective : {"one-class", "soft-boundary", "deep-sad"}
        One-class: mean ``||z - c||^2``. Soft-boundary: ``R^2 + 1/nu * mean(max(0,
        ||z - c||^2 - R^2))`` with ``R`` updated from each training batch. Deep SAD:
        labelled anomalies (``y == 1``) contribute ``eta / (||z - c||^2 + eps)``.
    nu : float
        Soft-boundary trade-off in ``(0, 1]``.
    eta : float
        Deep SAD weight of the labelled anomalies.
    eps : float
        Deep SAD stabiliser of the inverse distance.
    center_eps : float
        The eps rule for the centre, see :func:`apply_center_eps`.
    warmup_steps : int
        Soft-boundary: training batches before ``R`` starts being updated.
    arch : {"auto", "lenet", "cifar"}
        Image network; "auto" takes "lenet" up to 28 px and "cifar" above.

    Notes
    -----
    Buffers: ``c`` (centre), ``R`` (radius), ``center_initialized`` and ``n_steps``. Call
    :meth:`init_center` on the training data before training (after
    :meth:`load_encoder_from` when pre-training an autoencoder); if it was not called, the
    first training batch sets ``c`` (with the same eps rule).
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        kind: str,
        hidden_dims: Sequence[int],
        latent_dim: int,
        objective: str = "one-class",
        nu: float = 0.1,
        eta: float = 1.0,
        eps: float = 1e-6,
        center_eps: float = 0.1,
        warmup_steps: int = 0,
        arch: str = "auto",
    ) -> None:
        super().__init__()
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
        if not 0.0 < nu <= 1.0:
            raise ValueError(f"nu must be in (0, 1], got {nu}")
        self.input_shape = tuple(int(v) for v in input_shape)
        self.kind = kind
        self.objective = objective
        self.nu = float(nu)
        self.eta = float(eta)
        self.eps = float(eps)
        self.center_eps = float(center_eps)
        self.warmup_steps = int(warmup_steps)
        self.encoder = build_svdd_encoder(self.input_shape, kind, hidden_dims, latent_dim, arch)
        self.register_buffer("c", torch.zeros(int(latent_dim)))
        self.register_buffer("R", torch.tensor(0.0))
        self.register_buffer("center_initialized", torch.tensor(False))
        self.register_buffer("n_steps", torch.tensor(0, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Representation ``z = phi(x)``, ``(n, latent_dim)``."""
        return self.encoder(x)

    def set_center(self, c: torch.Tensor) -> torch.Tensor:
        """Set ``c`` to the eps-ruled version of ``c`` and mark it initialised; returns it."""
        c = apply_center_eps(c.detach().to(self.c), self.center_eps)
        self.c.copy_(c)
        self.center_initialized.fill_(True)
        return self.c

    @torch.no_grad()
    def init_center(self, batches: torch.Tensor | Iterable[torch.Tensor | Sequence[torch.Tensor]]) -> torch.Tensor:
        """Centre = mean representation over ``batches`` (eval mode), then the eps rule.

        Parameters
        ----------
        batches : tensor or iterable
            One input tensor, or an iterable of tensors or of ``(x, ...)`` tuples (a
            ``DataLoader``); only the first element of a tuple is used.

        Returns
        -------
        torch.Tensor
            The new centre ``c``.
        """
        if isinstance(batches, torch.Tensor):
            batches = [batches]
        was_training = self.training
        self.eval()
        total = torch.zeros_like(self.c)
        count = 0
        try:
            for batch in batches:
                xb = batch[0] if isinstance(batch, (tuple, list)) else batch
                z = self.encoder(xb.to(self.c.device))
                total += z.sum(dim=0)
                count += z.shape[0]
        finally:
            self.train(was_training)
        if count == 0:
            raise ValueError("init_center got no data")
        return self.set_center(total / count)

    def dist(self, x: torch.Tensor) -> torch.Tensor:
        """Squared distance ``||phi(x) - c||^2`` per sample, ``(n,)``."""
        return (self.encoder(x) - self.c).pow(2).sum(dim=1)

    @staticmethod
    def radius_from_dist(dist: torch.Tensor, nu: float) -> torch.Tensor:
        """The ``(1 - nu)`` quantile of ``sqrt(dist)``: the soft-boundary radius update."""
        return torch.quantile(dist.detach().float().clamp_min(0.0).sqrt(), 1.0 - nu).to(dist.dtype)

    @torch.no_grad()
    def update_radius(self, dist: torch.Tensor) -> torch.Tensor:
        """Set ``R`` to the ``(1 - nu)`` quantile of ``sqrt(dist)`` (a batch or an epoch); returns it."""
        self.R.copy_(self.radius_from_dist(dist, self.nu))
        return self.R

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        z = self.encoder(x)
        if not bool(self.center_initialized):
            ref = z.detach()
            if y is not None:
                normal = y.reshape(-1).to(z.device) != 1
                ref = ref[normal] if bool(normal.any()) else ref
            self.set_center(ref.mean(dim=0))
        dist = (z - self.c).pow(2).sum(dim=1)
        if self.objective == "one-class":
            return svdd_one_class_loss(dist)
        if self.objective == "deep-sad":
            return deep_sad_loss(dist, y, eta=self.eta, eps=self.eps)
        loss = svdd_soft_boundary_loss(dist, self.R.detach().clone(), self.nu)
        if self.training:
            self.n_steps += 1
            if int(self.n_steps) > self.warmup_steps:
                self.update_radius(dist)
        return loss

    def score(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dist(x)
        if self.objective == "soft-boundary":
            return d - self.R.pow(2)
        return d

    def load_encoder_from(self, ae: nn.Module) -> None:
        """Copy the weights (and BatchNorm statistics) of a pre-trained autoencoder's encoder
        (a :class:`~anomalib_ae.models.deepsvdd.pretrain.DeepSVDDAutoEncoderNet`)."""
        self.encoder.load_state_dict(ae.encoder.state_dict())


def build_deep_svdd(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int, **kw: object
) -> DeepSVDDNet:
    """Build a :class:`DeepSVDDNet`; ``kw``: ``objective``, ``nu``, ``eta``, ``eps``, ``center_eps``,
    ``warmup_steps``, ``arch``."""
    return DeepSVDDNet(input_shape, kind, hidden_dims, latent_dim, **kw)
