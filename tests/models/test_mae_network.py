"""Masked autoencoder: tokens, masks, masked loss, deterministic covering score masks."""

from __future__ import annotations

import pytest
import torch

from anomalib_ae.nn.base import AnomalyModule
from anomalib_ae.models.mae.network import MaskedAutoEncoderNet, build_mae, score_masks

MODALITIES = [
    ((5,), "vector", (16,)),
    ((6, 3), "window", (16, 16)),
    ((1, 28, 28), "image", (16,)),
    ((3, 64, 64), "image", (16,)),
]


def _batch(shape, n=3, seed=0):
    return torch.randn(n, *shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
def test_mae_shapes_loss_gradients_and_determinism(shape, kind, hidden):
    torch.manual_seed(0)
    model = build_mae(shape, kind, hidden, 4)
    assert isinstance(model, AnomalyModule)
    x = _batch(shape)
    loss = model.loss(x)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    model.eval()
    with torch.no_grad():
        s1, s2 = model.score(x), model.score(x)
        emap = model.error_map(x)
    assert s1.shape == (3,) and torch.isfinite(s1).all() and torch.equal(s1, s2)
    assert emap.shape == (3, *shape) and torch.isfinite(emap).all()


def test_default_patch_sizes_and_token_counts():
    assert MaskedAutoEncoderNet((1, 28, 28), "image", (16,), 4).patch == (4, 4)
    assert MaskedAutoEncoderNet((1, 28, 28), "image", (16,), 4).n_tokens == 49
    big = MaskedAutoEncoderNet((3, 64, 64), "image", (16,), 4)
    assert big.patch == (8, 8) and big.n_tokens == 64 and big.token_dim == 192
    odd = MaskedAutoEncoderNet((3, 30, 30), "image", (16,), 4)  # padded to 32 x 32
    assert odd.n_tokens == 64
    win = MaskedAutoEncoderNet((6, 3), "window", (16,), 4)
    assert win.n_tokens == 6 and win.token_dim == 3
    grouped = MaskedAutoEncoderNet((6, 4), "window", (16,), 4, patch_size=2, feature_group=2)
    assert grouped.n_tokens == 6 and grouped.token_dim == 4
    vec = MaskedAutoEncoderNet((5,), "vector", (16,), 4)
    assert vec.n_tokens == 5 and vec.token_dim == 1


@pytest.mark.parametrize(
    ("shape", "kind", "kw"),
    [
        ((3, 30, 30), "image", {}),
        ((1, 28, 28), "image", {}),
        ((6, 4), "window", {"patch_size": 4, "feature_group": 3}),
        ((5,), "vector", {}),
    ],
)
def test_tokens_round_trip(shape, kind, kw):
    model = MaskedAutoEncoderNet(shape, kind, (16,), 4, **kw)
    x = _batch(shape)
    assert torch.equal(model.from_tokens(model.to_tokens(x)), x)


@pytest.mark.parametrize(("shape", "kind", "hidden"), MODALITIES)
@pytest.mark.parametrize("ratio", [0.3, 0.5, 0.75, 0.9])
def test_score_masks_cover_every_token(shape, kind, hidden, ratio):
    model = MaskedAutoEncoderNet(shape, kind, hidden, 4, mask_ratio=ratio)
    masks = model.score_masks
    n = model.n_tokens
    assert masks.any(dim=0).all()
    hidden_per_mask = masks.sum(dim=1)
    assert (hidden_per_mask == hidden_per_mask[0]).all()
    assert abs(int(hidden_per_mask[0]) - ratio * n) <= 1
    # and every input value is hidden at least once
    value_masks = torch.stack([model.value_mask(m[None])[0] for m in masks])
    assert value_masks.any(dim=0).all()


def test_score_masks_partition_visible_tokens_at_default_ratio():
    masks = score_masks(64, 0.75)
    assert masks.shape == (4, 64)
    visible = ~masks
    assert torch.equal(visible.sum(dim=0), torch.ones(64, dtype=torch.long))
    assert torch.equal(masks, score_masks(64, 0.75))
    assert not torch.equal(masks, score_masks(64, 0.75, seed=1))
    assert score_masks(64, 0.75, n_masks=1).shape[0] == 2  # raised to keep the coverage
    for n in range(2, 40):
        for ratio in (0.05, 0.2, 0.6, 0.99):
            assert score_masks(n, ratio).any(dim=0).all()


def test_encoder_never_sees_hidden_values():
    torch.manual_seed(0)
    model = MaskedAutoEncoderNet((1, 16, 16), "image", (16,), 4).eval()
    x = _batch((1, 16, 16), n=2)
    mask = model.score_masks[0].expand(2, -1)
    hidden = model.value_mask(mask)
    with torch.no_grad():
        r1 = model.reconstruct(x, mask)
        r2 = model.reconstruct(torch.where(hidden, x + 5.0, x), mask)
    torch.testing.assert_close(r1, r2)


def test_vector_encoder_never_sees_hidden_features():
    torch.manual_seed(0)
    model = MaskedAutoEncoderNet((6,), "vector", (16,), 4).eval()
    x = _batch((6,), n=2)
    mask = torch.tensor([[True, False, True, False, True, True]] * 2)
    with torch.no_grad():
        r1 = model.reconstruct(x, mask)
        r2 = model.reconstruct(torch.where(mask, -x, x), mask)
    torch.testing.assert_close(r1, r2)


def test_score_is_mean_error_over_hidden_values():
    torch.manual_seed(0)
    model = MaskedAutoEncoderNet((1, 12, 12), "image", (16,), 4).eval()
    x = _batch((1, 12, 12), n=2)
    with torch.no_grad():
        num = torch.zeros(2)
        den = torch.zeros(2)
        for m in model.score_masks:
            tm = m.expand(2, -1)
            vm = model.value_mask(tm).float()
            num += ((model.reconstruct(x, tm) - x).pow(2) * vm).flatten(1).sum(1)
            den += vm.flatten(1).sum(1)
        torch.testing.assert_close(model.score(x), num / den)


def test_score_does_not_depend_on_the_batch():
    torch.manual_seed(0)
    model = MaskedAutoEncoderNet((1, 16, 16), "image", (16,), 4).eval()
    x = _batch((1, 16, 16), n=5)
    with torch.no_grad():
        torch.testing.assert_close(model.score(x)[2:], model.score(x[2:]))


def test_too_few_tokens_raises():
    with pytest.raises(ValueError, match="2 tokens"):
        MaskedAutoEncoderNet((1,), "vector", (16,), 4)
