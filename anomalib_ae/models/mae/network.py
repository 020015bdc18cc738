"""Masked autoencoder (He et al., "Masked Autoencoders Are Scalable Vision Learners", 2022).

Inputs are cut into tokens, a random ``mask_ratio`` of them is hidden, a small transformer
encoder sees only the visible tokens, and a light transformer decoder fills the hidden ones
in from learned mask tokens. The loss is the mean squared error over the hidden values only.

Tokens by kind:

* ``"image"`` ``(C, H, W)`` (also spectrograms): ``patch_size x patch_size`` patches over all
  channels (default 4 for images up to 32 px, 8 above); zero padding at the bottom/right when
  the size is not divisible, never counted in losses, scores or maps.
* ``"window"`` ``(T, d)``: patches of ``patch_size`` time steps (default 1) x ``feature_group``
  features (default all ``d``), so by default each time step is a token.
* ``"vector"`` ``(d,)``: each feature is a token, embedded by its own linear map
  ``x_j * w_j + b_j`` (the per-feature weights also say which feature it is), and decoded by
  its own linear head, so masking features is meaningful.

Scoring is deterministic: a fixed family of ``K`` masks (from ``seed``) is built so that every
token is hidden by at least one of them and each hides ``round(mask_ratio * N)`` of the ``N``
tokens: hidden windows of that length slide, evenly spaced, around a fixed random permutation
of the tokens. The score of a sample is its squared error averaged over all values hidden by
any of the ``K`` masks (a value hidden ``m`` times counts ``m`` times).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from math import prod

import torch
from torch import nn

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.nn.losses import masked_mse


def _n_heads(dim: int) -> int:
    for h in (8, 4, 2):
        if dim % h == 0 and dim // h >= 8:
            return h
    return 1


def _transformer(dim: int, depth: int, n_heads: int | None) -> nn.TransformerEncoder:
    layer = nn.TransformerEncoderLayer(
        dim,
        n_heads or _n_heads(dim),
        dim_feedforward=2 * dim,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=True,
    )
    return nn.TransformerEncoder(layer, depth, norm=nn.LayerNorm(dim), enable_nested_tensor=False)


def score_masks(n_tokens: int, mask_ratio: float, n_masks: int | None = None, seed: int = 0) -> torch.Tensor:
    """Fixed boolean masks ``(K, n_tokens)`` (True = hidden) that together hide every token.

    Each mask hides ``m = round(mask_ratio * n_tokens)`` tokens (clipped to ``[1, N - 1]``):
    a window of ``m`` consecutive entries of a seeded random permutation, the ``K`` windows
    starting at ``floor(k * N / K)``. ``K = max(2, ceil(N / m), ceil(N / (N - m)))`` by
    default, which makes the windows cover all tokens and, for ``mask_ratio >= 0.5``, makes
    the visible sets a partition when ``N - m`` divides ``N``. A given ``n_masks`` is raised
    to ``ceil(N / m)`` if needed to keep the coverage.
    """
    if n_tokens < 2:
        raise ValueError(f"masking needs at least 2 tokens, got {n_tokens}")
    m = min(max(int(round(mask_ratio * n_tokens)), 1), n_tokens - 1)
    need = math.ceil(n_tokens / m)
    if n_masks is None:
        k = max(2, need, math.ceil(n_tokens / (n_tokens - m)))
    else:
        k = max(int(n_masks), need)
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(n_tokens, generator=gen)
    masks = torch.zeros(k, n_tokens, dtype=torch.bool)
    for i in range(k):
        start = (i * n_tokens) // k
        masks[i, perm[(start + torch.arange(m)) % n_tokens]] = True
    return masks


class MaskedAutoEncoderNet(AnomalyModule):
    """Masked autoencoder with a transformer encoder over visible tokens and a light decoder.

    Parameters
    ----------
    input_shape : sequence of int
        Per-sample shape: ``(d,)``, ``(T, d)`` or ``(C, H, W)``.
    kind : {"vector", "window", "image"}
        How the input is cut into tokens (see the module docstring).
    hidden_dims : sequence of int
        ``hidden_dims[0]`` is the encoder width, ``len(hidden_dims)`` its number of layers and
        ``hidden_dims[-1]`` the decoder width.
    latent_dim : int
        Per-token bottleneck between encoder and decoder.
    mask_ratio : float
        Fraction of tokens hidden in training and in each scoring mask.
    patch_size : int, optional
        Image patch side (default 4 up to 32 px, 8 above); time steps per window token
        (default 1). Ignored for vectors.
    feature_group : int, optional
        Features per window token (default all). Ignored otherwise.
    decoder_depth : int
        Number of decoder transformer layers.
    n_heads : int, optional
        Attention heads for encoder and decoder (default: chosen from the widths).
    n_score_masks : int, optional
        Number ``K`` of scoring masks (default from ``mask_ratio``, see :func:`score_masks`).
    seed : int
        Seed of the fixed scoring masks.
    """

    def __init__(
        self,
        input_shape: Sequence[int],
        kind: str,
        hidden_dims: Sequence[int],
        latent_dim: int,
        mask_ratio: float = 0.75,
        patch_size: int | None = None,
        feature_group: int | None = None,
        decoder_depth: int = 1,
        n_heads: int | None = None,
        n_score_masks: int | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden_dims]
        if not hidden:
            raise ValueError("MaskedAutoEncoder needs hidden_dims (encoder and decoder widths)")
        self.input_shape = tuple(int(v) for v in input_shape)
        self.kind = kind
        self.mask_ratio = float(mask_ratio)
        enc_dim, dec_dim = hidden[0], hidden[-1]
        if kind == "vector":
            d = prod(self.input_shape)
            self.grid = (1, 1, d)
            self.patch = (1, 1)
            self.n_tokens = d
            self.token_dim = 1
            self.feat_weight = nn.Parameter(torch.empty(d, enc_dim).uniform_(-1.0, 1.0))
            self.feat_bias = nn.Parameter(torch.empty(d, enc_dim).uniform_(-1.0, 1.0))
            self.head_weight = nn.Parameter(torch.empty(d, dec_dim).uniform_(-1.0, 1.0) / math.sqrt(dec_dim))
            self.head_bias = nn.Parameter(torch.zeros(d))
        else:
            if kind == "window":
                t, d = self.input_shape
                self.grid = (1, t, d)
                self.patch = (int(patch_size or 1), int(feature_group or d))
            else:
                c, h, w = self.input_shape
                self.grid = (c, h, w)
                p = int(patch_size or (4 if max(h, w) <= 32 else 8))
                self.patch = (p, p)
            c, h, w = self.grid
            ph, pw = self.patch
            self.grid_tokens = (-(-h // ph), -(-w // pw))
            self.n_tokens = self.grid_tokens[0] * self.grid_tokens[1]
            self.token_dim = c * ph * pw
            self.embed = nn.Linear(self.token_dim, enc_dim)
            self.enc_pos = nn.Parameter(torch.randn(1, self.n_tokens, enc_dim) * 0.02)
            self.head = nn.Linear(dec_dim, self.token_dim)
        self.encoder = _transformer(enc_dim, len(hidden), n_heads)
        self.to_latent = nn.Linear(enc_dim, int(latent_dim))
        self.from_latent = nn.Linear(int(latent_dim), dec_dim)
        self.mask_token = nn.Parameter(torch.randn(1, 1, dec_dim) * 0.02)
        self.dec_pos = nn.Parameter(torch.randn(1, self.n_tokens, dec_dim) * 0.02)
        self.decoder = _transformer(dec_dim, int(decoder_depth), n_heads)
        self.register_buffer(
            "score_masks", score_masks(self.n_tokens, self.mask_ratio, n_score_masks, seed), persistent=False
        )

    # -- tokens <-> values ----------------------------------------------------------------
    def to_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, *input_shape)`` -> ``(n, N, token_dim)`` (images/windows zero-padded)."""
        n = x.shape[0]
        if self.kind == "vector":
            return x.reshape(n, self.n_tokens, 1)
        c, h, w = self.grid
        ph, pw = self.patch
        gh, gw = self.grid_tokens
        g = x.reshape(n, c, h, w)
        if gh * ph != h or gw * pw != w:
            g = nn.functional.pad(g, (0, gw * pw - w, 0, gh * ph - h))
        g = g.reshape(n, c, gh, ph, gw, pw).permute(0, 2, 4, 1, 3, 5)
        return g.reshape(n, self.n_tokens, self.token_dim)

    def from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`to_tokens`, padding cropped: ``(n, *input_shape)``."""
        n = tokens.shape[0]
        if self.kind == "vector":
            return tokens.reshape(n, *self.input_shape)
        c, h, w = self.grid
        ph, pw = self.patch
        gh, gw = self.grid_tokens
        g = tokens.reshape(n, gh, gw, c, ph, pw).permute(0, 3, 1, 4, 2, 5).reshape(n, c, gh * ph, gw * pw)
        return g[..., :h, :w].reshape(n, *self.input_shape)

    def value_mask(self, token_mask: torch.Tensor) -> torch.Tensor:
        """Token mask ``(n, N)`` -> boolean mask over input values ``(n, *input_shape)``."""
        t = token_mask[..., None].expand(*token_mask.shape, self.token_dim).to(torch.float32)
        return self.from_tokens(t) > 0.5

    # -- network --------------------------------------------------------------------------
    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.kind == "vector":
            return tokens * self.feat_weight + self.feat_bias
        return self.embed(tokens) + self.enc_pos

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        if self.kind == "vector":
            return ((h * self.head_weight).sum(dim=-1) + self.head_bias)[..., None]
        return self.head(h)

    def reconstruct(self, x: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Reconstruct ``x`` with the tokens where ``token_mask`` (n, N) is True hidden.

        Every row must hide the same number of tokens. Returns ``(n, *input_shape)``; visible
        positions hold the decoder's output too (they are not used by the loss or score).
        """
        n = x.shape[0]
        emb = self._embed(self.to_tokens(x))
        n_keep = int((~token_mask[0]).sum())
        order = torch.argsort(token_mask.to(torch.int8), dim=1, stable=True)
        keep = order[:, :n_keep]
        visible = torch.gather(emb, 1, keep[..., None].expand(-1, -1, emb.shape[-1]))
        code = self.to_latent(self.encoder(visible))
        dec_vis = self.from_latent(code)
        dim = dec_vis.shape[-1]
        full = self.mask_token.expand(n, self.n_tokens, dim).to(dec_vis.dtype)
        full = full.scatter(1, keep[..., None].expand(-1, -1, dim), dec_vis)
        out = self._head(self.decoder(full + self.dec_pos))
        return self.from_tokens(out)

    def random_mask(self, n: int, device: torch.device | str | None = None) -> torch.Tensor:
        """Random token masks ``(n, N)`` hiding ``round(mask_ratio * N)`` tokens per row."""
        m = int(self.score_masks[0].sum())
        ids = torch.argsort(torch.rand(n, self.n_tokens, device=device), dim=1)
        mask = torch.zeros(n, self.n_tokens, dtype=torch.bool, device=device)
        return mask.scatter(1, ids[:, :m], True)

    def loss(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        mask = self.random_mask(x.shape[0], x.device)
        return masked_mse(x, self.reconstruct(x, mask), self.value_mask(mask))

    def _masked_errors(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Squared errors summed over the scoring masks and how often each value was hidden."""
        se_sum = torch.zeros_like(x)
        count = torch.zeros_like(x)
        for token_mask in self.score_masks:
            tm = token_mask.expand(x.shape[0], -1)
            vm = self.value_mask(tm).to(x.dtype)
            se_sum = se_sum + (self.reconstruct(x, tm) - x).pow(2) * vm
            count = count + vm
        return se_sum, count

    def score(self, x: torch.Tensor) -> torch.Tensor:
        se_sum, count = self._masked_errors(x)
        return se_sum.flatten(1).sum(dim=1) / count.flatten(1).sum(dim=1).clamp_min(1.0)

    def error_map(self, x: torch.Tensor) -> torch.Tensor:
        """Mean squared error of each value over the scoring masks that hide it, ``x``'s shape.

        A patch hides all channels of its pixels, so averaging the channels of an image's map
        gives the same pixel map as the autoencoder's (``error_map(x).mean(dim=1)``).
        """
        se_sum, count = self._masked_errors(x)
        return se_sum / count.clamp_min(1.0)



def build_mae(
    input_shape: Sequence[int], kind: str, hidden_dims: Sequence[int], latent_dim: int, **kw: object
) -> MaskedAutoEncoderNet:
    """Build a :class:`MaskedAutoEncoderNet`; ``kw``: ``mask_ratio``, ``patch_size``, ``feature_group``,
    ``decoder_depth``, ``n_heads``, ``n_score_masks``, ``seed``."""
    return MaskedAutoEncoderNet(input_shape, kind, hidden_dims, latent_dim, **kw)
