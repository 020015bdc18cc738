"""``benchmarks/tabular.py`` with four more ``cand:*`` settings of ``vae`` and ``deepsvdd`` (issue 17).

The settings are chosen by ``benchmarks/tabular_nested.py --choose-setting`` on one half of the 25 sets and
reported on the other half (docs/calibration_ensembles.md); the default rows come from an earlier run of the
same benchmark (deterministic on the CPU).

    python benchmarks/tabular_deep_variants.py --seeds 0 --jobs 1 \\
        --detectors cand:deepsvdd-h128,cand:deepsvdd-l64,cand:vae-recon,cand:vae-h128-l16 --out /tmp/variants
    python benchmarks/tabular_nested.py --choose-setting deepsvdd /tmp/choice.json \\
        benchmarks/results/tabular_seed0.json /tmp/variants.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tabular  # noqa: E402

VARIANTS = {
    "cand:vae-recon": ("vae", {"score_type": "recon"}),
    "cand:vae-h128-l16": ("vae", {"hidden_dims": (128, 64), "latent_dim": 16}),
    "cand:deepsvdd-h128": ("deepsvdd", {"hidden_dims": (128, 64)}),
    "cand:deepsvdd-l64": ("deepsvdd", {"latent_dim": 64}),
    # session 9: a lighter KL term, fewer epochs, other scores; wider / longer Deep SVDD nets
    "cand:vae-b0.3": ("vae", {"beta": 0.3}),
    "cand:vae-b0.1": ("vae", {"beta": 0.1}),
    "cand:vae-b0.01": ("vae", {"beta": 0.01}),
    "cand:vae-b0.1-recon": ("vae", {"beta": 0.1, "score_type": "recon"}),
    "cand:vae-b0.1-iwae": ("vae", {"beta": 0.1, "score_type": "iwae"}),
    "cand:vae-b0.1-h128": ("vae", {"beta": 0.1, "hidden_dims": (128, 64)}),
    "cand:vae-e10": ("vae", {"epochs": 10}),
    "cand:vae-b0.1-belbo": ("vae", {"beta": 0.1, "score_type": "beta-elbo"}),
    "cand:vae-b0.3-belbo": ("vae", {"beta": 0.3, "score_type": "beta-elbo"}),
    "cand:vae-b0.03-belbo": ("vae", {"beta": 0.03, "score_type": "beta-elbo"}),
    "cand:vae-sigma-belbo": ("vae", {"decoder_variance": "optimal", "score_type": "beta-elbo"}),
    "cand:deepsvdd-h256": ("deepsvdd", {"hidden_dims": (256, 128)}),
    "cand:deepsvdd-h128-e20": ("deepsvdd", {"hidden_dims": (128, 64), "epochs": 20}),
}

if __name__ == "__main__":
    if "--jobs" not in sys.argv or sys.argv[sys.argv.index("--jobs") + 1] != "1":
        sys.exit("run with --jobs 1: the variants are registered in this process only")
    tabular.CANDIDATES.update(VARIANTS)
    tabular.main(sys.argv[1:])
