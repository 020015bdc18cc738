"""anomalib's from-scratch image models as peers, run in a Python that has anomalib (own venv).

    <venv>/bin/python benchmarks/_anomalib_peer.py {ganomaly,draem} split.npz out.npz [--epochs N] [--seed S]

``split.npz`` holds ``x_train`` (n, 64, 64) and ``x_test`` (m, 64, 64) float32 in [0, 1], the
arrays ``benchmarks/industrial.py`` scores everything else on. The torch networks and losses
are anomalib's own (``anomalib.models.image.{ganomaly,draem}``); this script only feeds the
arrays (grey repeated to 3 channels where the network wants RGB) with anomalib's default
hyper-parameters and Adam settings, trains on the CPU and writes ``scores``, ``maps`` (m, 64, 64;
GANomaly has no map: the absolute difference of input and generated image is used), ``fit_s``
and ``score_s``. Pretrained backbones cannot be downloaded here, so only from-scratch models run.
No import of anomalib_ae: this runs beside another torch.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _batches(x: torch.Tensor, bs: int, gen: torch.Generator):
    order = torch.randperm(len(x), generator=gen)
    for s in range(0, len(x), bs):
        yield x[order[s:s + bs]]


def ganomaly(xtr: torch.Tensor, xte: torch.Tensor, epochs: int, seed: int):
    from anomalib.models.image.ganomaly.loss import DiscriminatorLoss, GeneratorLoss
    from anomalib.models.image.ganomaly.torch_model import GanomalyModel

    torch.manual_seed(seed)
    model = GanomalyModel(input_size=tuple(xtr.shape[-2:]), num_input_channels=1, n_features=64,
                          latent_vec_size=100, extra_layers=0, add_final_conv_layer=True)
    g_loss, d_loss = GeneratorLoss(wadv=1, wcon=50, wenc=1), DiscriminatorLoss()
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for xb in _batches(xtr, 32, gen):
            padded, fake, latent_i, latent_o = model(xb)
            pred_real, _ = model.discriminator(padded)
            pred_fake, _ = model.discriminator(fake.detach())
            opt_d.zero_grad()
            d_loss(pred_real, pred_fake).backward()
            opt_d.step()
            padded, fake, latent_i, latent_o = model(xb)
            pred_fake, _ = model.discriminator(fake)
            opt_g.zero_grad()
            g_loss(latent_i, latent_o, padded, fake, pred_real.detach(), pred_fake).backward()
            opt_g.step()
    fit_s = time.perf_counter() - t0
    model.eval()
    t0 = time.perf_counter()
    scores, maps = [], []
    with torch.no_grad():
        for s in range(0, len(xte), 64):
            xb = xte[s:s + 64]
            out = model(xb)
            scores.append(getattr(out, "pred_score", out).reshape(len(xb)))
            fake = model.generator(xb)[0]  # 64 px is a power of two: anomalib pads nothing
            h, w = xb.shape[-2:]
            maps.append((xb - fake[..., :h, :w]).abs().mean(1))
    return torch.cat(scores).numpy(), torch.cat(maps).numpy(), fit_s, time.perf_counter() - t0


def draem(xtr: torch.Tensor, xte: torch.Tensor, epochs: int, seed: int):
    from anomalib.models.image.draem.loss import DraemLoss
    from anomalib.models.image.draem.torch_model import DraemModel

    from anomalib.data.utils.generators.perlin import PerlinAnomalyGenerator  # anomalib 2.x

    augment = PerlinAnomalyGenerator(anomaly_source_path=None, blend_factor=(0.1, 1.0))  # no DTD download here

    torch.manual_seed(seed)
    model = DraemModel(sspcab=False)
    loss_fn = DraemLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(seed)
    rgb_tr, rgb_te = xtr.repeat(1, 3, 1, 1), xte.repeat(1, 3, 1, 1)
    t0 = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for xb in _batches(rgb_tr, 8, gen):
            aug, mask = augment(xb)
            recon, pred = model(aug)
            opt.zero_grad()
            loss_fn(xb, recon, mask, pred).backward()
            opt.step()
    fit_s = time.perf_counter() - t0
    model.eval()
    t0 = time.perf_counter()
    maps, scores = [], []
    with torch.no_grad():
        for s in range(0, len(rgb_te), 32):
            out = model(rgb_te[s:s + 32])
            maps.append(out.anomaly_map.reshape(len(out.anomaly_map), *xte.shape[-2:]))
            scores.append(out.pred_score.reshape(-1))
    return torch.cat(scores).numpy(), torch.cat(maps).numpy(), fit_s, time.perf_counter() - t0


def step_seconds(name: str) -> None:
    """Print the parameter count and the CPU seconds of one training step (batch 32 / 8), to size a run."""
    x = torch.rand(32, 1, 64, 64)
    if name == "ganomaly":
        from anomalib.models.image.ganomaly.torch_model import GanomalyModel

        m = GanomalyModel((64, 64), 1, 64, 100)
        t0 = time.process_time()
        m.train()
        out = m(x)
        out[1].mean().backward()
    else:
        from anomalib.models.image.draem.torch_model import DraemModel

        m = DraemModel()
        x = x[:8].repeat(1, 3, 1, 1)
        t0 = time.process_time()
        m.train()
        recon, pred = m(x)
        (recon.mean() + pred.mean()).backward()
    n = sum(p.numel() for p in m.parameters())
    print(f"{name}: {n / 1e6:.1f} M parameters, one forward+backward step {time.process_time() - t0:.2f} CPU s")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=["ganomaly", "draem"])
    ap.add_argument("split")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--step-seconds", action="store_true", help="only time one training step")
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.step_seconds:
        return step_seconds(a.model)
    z = np.load(a.split)
    xtr = torch.from_numpy(z["x_train"][:, None].astype(np.float32))
    xte = torch.from_numpy(z["x_test"][:, None].astype(np.float32))
    scores, maps, fit_s, score_s = globals()[a.model](xtr, xte, a.epochs, a.seed)
    np.savez(a.out, scores=np.asarray(scores, np.float64), maps=np.asarray(maps, np.float64), fit_s=fit_s,
             score_s=score_s)


if __name__ == "__main__":
    main()
