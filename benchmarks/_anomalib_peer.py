"""anomalib's from-scratch image models as peers, run in a Python that has anomalib (own venv).

    <venv>/bin/python benchmarks/_anomalib_peer.py {ganomaly,draem} split.npz out.npz [--epochs N] [--seed S]
    <venv>/bin/python benchmarks/_anomalib_peer.py {ganomaly,draem} split.npz out.npz --max-steps 5  # timing only

``split.npz`` holds ``x_train`` (n, 64, 64) and ``x_test`` (m, 64, 64) float32 in [0, 1], the
arrays ``benchmarks/industrial.py`` scores everything else on, and optionally a validation set
made of training tiles only (``x_val``, ``y_val``, ``m_val``: held-out defect-free training tiles,
half of them with a planted synthetic defect, and its pixel masks). The torch networks and losses
are anomalib's own (``anomalib.models.image.{ganomaly,draem}``) with the hyper-parameters, Adam
settings and training-step order of anomalib's Lightning modules; this script only feeds the
arrays (grey repeated to 3 channels for DRAEM, whose networks are RGB) and trains on the CPU for
``--epochs`` epochs (fewer if ``<out>.stop`` appears: see :func:`train`). With a validation set, the weights of the epoch with the best mean of
validation image and pixel AUROC are kept (no test label is read); without one, the last epoch.
The test tiles are scored once, after training.

Writes ``scores``, ``maps`` (m, 64, 64; GANomaly has no map: the absolute difference of input
and generated image is used), ``fit_s`` (wall), ``fit_cpu_s``, ``score_s``, ``chosen_epoch``
and per-epoch ``history`` (columns: epoch, mean training loss, validation image AUROC, pixel
AUROC, cumulative CPU s). Pretrained backbones cannot be downloaded here, so only from-scratch
models run; DRAEM's anomaly source is anomalib's Perlin noise without the DTD texture set (not
downloadable here). No import of anomalib_ae: this runs beside another torch.
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import numpy as np
import torch


def _batches(x: torch.Tensor, bs: int, gen: torch.Generator):
    order = torch.randperm(len(x), generator=gen)
    for s in range(0, len(x), bs):
        yield x[order[s:s + bs]]


def _auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s)) if 0 < y.sum() < y.size else float("nan")


class Ganomaly:
    """anomalib's GANomaly (``Ganomaly`` Lightning defaults: batch 32, 64 features, latent 100, wcon 50)."""

    batch_size = 32

    def __init__(self, size: tuple[int, int], seed: int):
        from anomalib.models.image.ganomaly.loss import DiscriminatorLoss, GeneratorLoss
        from anomalib.models.image.ganomaly.torch_model import GanomalyModel

        torch.manual_seed(seed)
        self.model = GanomalyModel(input_size=size, num_input_channels=1, n_features=64, latent_vec_size=100,
                                   extra_layers=0, add_final_conv_layer=True)
        self.g_loss, self.d_loss = GeneratorLoss(wadv=1, wcon=50, wenc=1), DiscriminatorLoss()
        self.opt_d = torch.optim.Adam(self.model.discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.opt_g = torch.optim.Adam(self.model.generator.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def step(self, xb: torch.Tensor) -> float:
        # Ganomaly.training_step: generator first (graph kept), then the discriminator on the detached fake
        padded, fake, latent_i, latent_o = self.model(xb)
        pred_real, _ = self.model.discriminator(padded)
        pred_fake, _ = self.model.discriminator(fake)
        g_loss = self.g_loss(latent_i, latent_o, padded, fake, pred_real, pred_fake)
        self.opt_g.zero_grad()
        g_loss.backward(retain_graph=True)
        self.opt_g.step()
        pred_fake, _ = self.model.discriminator(fake.detach())
        d_loss = self.d_loss(pred_real, pred_fake)
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        return float(g_loss.item())

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        self.model.eval()
        scores, maps = [], []
        for s in range(0, len(x), 64):
            xb = x[s:s + 64]
            scores.append(self.model(xb).pred_score.reshape(len(xb)))  # anomalib's score: |z - z_hat|^2 mean
            fake = self.model.generator(xb)[0]  # 64 px is a power of two: anomalib pads nothing
            h, w = xb.shape[-2:]
            maps.append((xb - fake[..., :h, :w]).abs().mean(1))
        self.model.train()
        return torch.cat(scores).numpy(), torch.cat(maps).numpy()


class Draem:
    """anomalib's DRAEM (``Draem`` defaults: no SSPCAB, blend (0.1, 1.0), Adam 1e-4); batch 8 as DRAEM's paper."""

    batch_size = 8

    def __init__(self, size: tuple[int, int], seed: int):
        from anomalib.data.utils.generators.perlin import PerlinAnomalyGenerator
        from anomalib.models.image.draem.loss import DraemLoss
        from anomalib.models.image.draem.torch_model import DraemModel

        torch.manual_seed(seed)
        self.augment = PerlinAnomalyGenerator(anomaly_source_path=None, blend_factor=(0.1, 1.0))  # no DTD here
        self.model = DraemModel(sspcab=False)
        self.loss = DraemLoss()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-4)
        # anomalib's MultiStepLR(milestones=[400, 600]) never fires within a CPU budget of a few epochs

    def step(self, xb: torch.Tensor) -> float:
        xb = xb.repeat(1, 3, 1, 1)
        aug, mask = self.augment(xb)
        recon, pred = self.model(aug)
        loss = self.loss(xb, recon, mask, pred)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return float(loss.item())

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        self.model.eval()
        scores, maps = [], []
        for s in range(0, len(x), 32):
            out = self.model(x[s:s + 32].repeat(1, 3, 1, 1))
            maps.append(out.anomaly_map.reshape(len(out.anomaly_map), *x.shape[-2:]))
            scores.append(out.pred_score.reshape(-1))
        self.model.train()
        return torch.cat(scores).numpy(), torch.cat(maps).numpy()


MODELS = {"ganomaly": Ganomaly, "draem": Draem}


def train(name: str, xtr: torch.Tensor, epochs: int, seed: int, val=None, max_steps: int = 0, log=print,
          stop_file: str = ""):
    """Train; return the runner holding the chosen weights, the chosen epoch, the history, wall and CPU s.

    If ``stop_file`` appears during training, the running epoch is abandoned (its weights are not
    used) and the best completed epoch is kept; ``history`` then has fewer rows than ``epochs``.
    """
    runner = MODELS[name](tuple(xtr.shape[-2:]), seed)
    runner.model.train()
    gen = torch.Generator().manual_seed(seed)
    t0, c0 = time.perf_counter(), time.process_time()
    history, best, chosen, steps = [], -np.inf, epochs, 0
    best_state = None
    for epoch in range(1, epochs + 1):
        losses = []
        for xb in _batches(xtr, runner.batch_size, gen):
            if stop_file and os.path.exists(stop_file):  # emergency brake: this epoch is dropped, not used
                log(f"{name}: {stop_file} exists: epoch {epoch} abandoned after {len(losses)} steps")
                break
            losses.append(runner.step(xb))
            steps += 1
            if max_steps and steps >= max_steps:
                cpu = time.process_time() - c0
                log(f"{name}: {steps} steps, {cpu:.1f} CPU s, {cpu / steps:.2f} CPU s a step, "
                    f"{-(-len(xtr) // runner.batch_size)} steps an epoch")
                return runner, 0, np.array([[0, np.mean(losses), np.nan, np.nan, cpu]]), \
                    time.perf_counter() - t0, cpu
        if stop_file and os.path.exists(stop_file):
            break
        img = pix = np.nan
        if val is not None:
            xv, yv, mv = val
            s, m = runner.predict(xv)
            img, pix = _auroc(yv, s), _auroc(mv.ravel(), m.ravel())
            if (img + pix) / 2 > best:
                best, chosen, best_state = (img + pix) / 2, epoch, copy.deepcopy(runner.model.state_dict())
        cpu = time.process_time() - c0
        history.append([epoch, float(np.mean(losses)), img, pix, cpu])
        log(f"{name} epoch {epoch}: loss {np.mean(losses):.4f}  validation image {img:.3f} pixel {pix:.3f}  "
            f"{cpu:.0f} CPU s")
    if best_state is not None:
        runner.model.load_state_dict(best_state)
    return runner, chosen, np.array(history), time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", choices=sorted(MODELS))
    ap.add_argument("split")
    ap.add_argument("out")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps and print their CPU time")
    a = ap.parse_args()
    torch.set_num_threads(1)
    z = np.load(a.split)
    t = lambda k: torch.from_numpy(z[k][:, None].astype(np.float32))  # noqa: E731
    xtr, xte = t("x_train"), t("x_test")
    val = (t("x_val"), z["y_val"].astype(int), z["m_val"].astype(bool)) if "x_val" in z.files else None
    runner, chosen, history, fit_s, fit_cpu = train(a.model, xtr, a.epochs, a.seed, val, a.max_steps,
                                                    log=lambda m: print(m, flush=True), stop_file=a.out + ".stop")
    if a.max_steps:
        return
    t0 = time.perf_counter()
    scores, maps = runner.predict(xte)
    score_s = time.perf_counter() - t0
    tmp = a.out + ".tmp.npz"
    np.savez(tmp, scores=np.asarray(scores, np.float64), maps=np.asarray(maps, np.float32), fit_s=fit_s,
             fit_cpu_s=fit_cpu, score_s=score_s, chosen_epoch=chosen, epochs=a.epochs, history=history,
             epochs_run=len(history), n_train=len(xtr), n_val=0 if val is None else len(val[0]))
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
