"""Shared machinery of the deep detectors: input layout, standardisation, split, training.

A deep detector subclass supplies ``_build_module()`` (an :class:`~anomalib_ae.nn.AnomalyModule`
for ``self.model_shape_`` and ``self.input_kind_``); training, early stopping, calibration on
the held-out split, scoring and persistence come from here.
"""

from __future__ import annotations

from math import prod
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, check_random_state

from anomalib_ae.detectors.base import BaseDetector
from anomalib_ae.detectors.layout import INPUT_KINDS, infer_input_kind, to_model_layout
from anomalib_ae.preprocessing import fit_standardizer, standardize
from anomalib_ae.training import batched_apply, fit_module, score_device, seeded
from anomalib_ae.training.datamodule import StandardizedRows
from anomalib_ae.validation import Interval, StrOptions

class BaseDeepDetector(BaseDetector):
    """Base of the torch detectors (the parameters below are shared by all of them).

    Parameters
    ----------
    hidden_dims : sequence of int, optional
        Hidden layer widths of dense networks, or channels of the strided conv stages for
        images. Default (64, 32) for vectors and windows, (32, 64) for images.
    latent_dim : int, optional
        Bottleneck size. Default ``max(2, min(32, d // 4))`` for vectors/windows, 32 for images.
    epochs, batch_size, lr, weight_decay
        Adam training schedule. ``batch_size`` is an upper bound: small training sets use
        smaller mini-batches (never below 32) so that an epoch has at least 32 optimizer steps.
    validation_fraction : float, default 0.1
        Share of the normal training data held out for early stopping and to calibrate
        ``predict_proba`` / ``p_value`` (not used when fewer than 20 samples are given).
    patience : int or None, default 5
        Early-stopping patience in epochs on the validation loss; None trains all ``epochs``.
    input_kind : {"auto", "vector", "window", "image", "flat"}
        How to read the input; see :func:`infer_input_kind` ("flat": every sample flattened to
        one vector, e.g. small grayscale images for dense networks).
    random_state : int, RandomState or None
        Seeds weights, split and batch order: the same seed gives identical scores on CPU.
    accelerator : str, default "auto"
        Lightning accelerator ("auto" uses a GPU when present, "cpu" forces the CPU).
    strategy, devices, num_nodes : default "auto", 1, 1
        Passed to Lightning's ``Trainer``: ``strategy="ddp_spawn", devices=2`` trains in two
        processes on one machine (gloo on the CPU), ``strategy="ddp", num_nodes=2`` under
        ``torchrun`` or SLURM trains on several machines. Each process takes its share of
        every mini-batch, so the optimizer takes the same steps as in one process.
    precision : str or None, default None
        Lightning precision (``"16-mixed"``, ``"bf16-mixed"`` on a GPU); None is float32.
    verbose : bool, int >= 0 or "auto", default "auto"
        Progress bar (scikit-learn's and PyOD's habit: ``0``/``False`` quiet, ``1``, ``2`` or
        ``True`` show it); "auto" shows it when stderr is an interactive terminal.
    contamination : float in (0, 0.5], default 0.1
        Fraction of training samples above ``threshold_`` (when ``threshold`` is None).
    threshold : None, str or float, default None
        Threshold strategy instead of the contamination rule: ``"fpr:0.01"`` (false-alarm rate
        on fresh normal data, from the held-out calibration scores), a fixed score, or
        ``"pythresh:<method>"``; see :mod:`anomalib_ae.scoring.threshold`.
    """

    _constraints: dict = {
        **BaseDetector._constraints,
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "input_kind": [StrOptions(set(INPUT_KINDS))],
        "latent_dim": [Interval(Integral, 1, None, closed="left"), None],
        "hidden_dims": ["array-like", None],
        "accelerator": [str],
        "strategy": [str],
        "devices": [Interval(Integral, 1, None, closed="left"), str],
        "num_nodes": [Interval(Integral, 1, None, closed="left")],
        "precision": [str, None],
        "verbose": ["verbose", StrOptions({"auto"})],
        "random_state": ["random_state"],
    }

    #: Minimum number of samples before a validation split is held out.
    _min_samples_for_validation = 20

    #: Small training sets get smaller mini-batches (not below 32) so an epoch has this many steps.
    _min_steps_per_epoch = 32

    def _effective_batch_size(self) -> int:
        n_train = getattr(self, "_n_train_rows", None)
        if not n_train:
            return int(self.batch_size)
        return int(min(self.batch_size, max(32, -(-n_train // self._min_steps_per_epoch))))

    # ------------------------------------------------------------------ sizes
    def _hidden_dims(self) -> tuple[int, ...]:
        if self.hidden_dims is not None:
            dims = tuple(int(h) for h in self.hidden_dims)
            if not dims or min(dims) < 1:
                raise ValueError(f"hidden_dims must be positive integers, got {self.hidden_dims!r}")
            return dims
        return (32, 64) if self.input_kind_ == "image" else (64, 32)

    def _latent_dim(self) -> int:
        if self.latent_dim is not None:
            return int(self.latent_dim)
        if self.input_kind_ == "image":
            return 32
        return max(2, min(32, prod(self.model_shape_) // 4))

    # ------------------------------------------------------------------ hooks
    def _build_module(self) -> torch.nn.Module:
        raise NotImplementedError

    def _rebuild_module(self, name: str) -> torch.nn.Module:
        with seeded(0):
            return self._build_module()

    def _train(self, X_train, y_train, X_val, y_val, seed: int) -> None:
        """Build ``module_`` and train it; detectors with extra stages extend this."""
        with seeded(seed):
            self.module_ = self._build_module()
        result = fit_module(
            self.module_,
            X_train,
            y_train,
            X_val,
            y_val,
            **self._fit_kwargs(seed),
        )
        self.n_epochs_ = result.epochs_run

    def fitted_schedule(self) -> dict:
        """Parameters that train a fresh copy as long as this fit ran, without early stopping.

        Cross-fitted calibration trains its fold models with them, so that the out-of-fold
        scores come from models trained like this one (on a small training set, early
        stopping on a handful of validation samples stops the fold models far earlier).
        Empty before fitting.
        """
        n = getattr(self, "n_epochs_", None)
        return {} if n is None else {"epochs": int(n), "patience": None}

    def _fit_kwargs(self, seed: int) -> dict:
        return dict(
            epochs=self.epochs,
            batch_size=self._effective_batch_size(),
            lr=self.lr,
            weight_decay=self.weight_decay,
            patience=self.patience,
            accelerator=self.accelerator,
            strategy=self.strategy,
            devices=self.devices,
            num_nodes=self.num_nodes,
            precision=self.precision,
            verbose=self.verbose,
            seed=seed,
        )

    def _module_score(self, x: torch.Tensor) -> torch.Tensor:
        return self.module_.score(x)

    # ------------------------------------------------------------------ contract
    def _prepare(self, X: np.ndarray) -> np.ndarray:
        """Validated input -> standardised float32 in model layout."""
        return standardize(to_model_layout(X, self.input_kind_), self.mean_, self.scale_)

    def prepare_input(self, X) -> np.ndarray:
        """``X`` as the network sees it: standardised float32 in model layout."""
        check_is_fitted(self)
        return self._prepare(np.asarray(X))

    def error_map(self, X) -> np.ndarray | None:
        """Per-value error of the network's reconstruction of ``X`` (float64, model layout).

        ``None`` when the network has no per-value error (e.g. Deep SVDD scores distances in
        feature space); see ``AnomalyModule.error_map``.
        """
        Xs = self.prepare_input(X)
        module = self.module_.eval()
        device = next(iter(module.parameters()), torch.empty(0)).device
        outs = []
        with torch.no_grad():
            for start in range(0, len(Xs), 256):
                e = module.error_map(torch.from_numpy(np.ascontiguousarray(Xs[start : start + 256])).to(device))
                if e is None:
                    return None
                outs.append(e.double().cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0, *Xs.shape[1:]))

    def _split_standardize(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Resolve the input layout, hold out the validation rows, fit the standardiser on the rest.

        Returns ``(Xs, train_idx, val_idx, seed)``: all rows standardised in model layout, the
        sorted row indices of both splits, and the training seed drawn from ``random_state``.
        """
        train_idx, val_idx, seed = self._split(X)
        Xm = to_model_layout(X, self.input_kind_)
        self.mean_, self.scale_ = fit_standardizer(Xm[train_idx], self.input_kind_)
        Xs = standardize(Xm, self.mean_, self.scale_)
        self._standardizer_fitted(Xs, train_idx)
        return Xs, train_idx, val_idx, seed

    def _standardizer_fitted(self, Xs, train_idx: np.ndarray) -> None:
        """Hook after the standardiser is fitted: ``Xs`` are all rows standardised (an array, or
        out of core :class:`~anomalib_ae.training.datamodule.StandardizedRows`)."""

    def _split(self, X) -> tuple[np.ndarray, np.ndarray, int]:
        """Resolve ``input_kind_`` / ``model_shape_`` and draw the seeded split (reads only the shape).

        Returns ``(train_idx, val_idx, seed)``; in-memory and out-of-core fits share it.
        """
        self.input_kind_ = infer_input_kind(tuple(X.shape[1:]), self.input_kind)
        shape = tuple(int(v) for v in X.shape[1:])
        if self.input_kind_ == "vector":
            shape = (prod(shape),)
        elif self.input_kind_ == "image":
            shape = to_model_layout(X[:1], "image").shape[1:]
        self.model_shape_ = tuple(int(v) for v in shape)
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(np.iinfo(np.int32).max))
        n = int(X.shape[0])
        n_val = int(round(n * self.validation_fraction)) if n >= self._min_samples_for_validation else 0
        order = rng.permutation(n)
        val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
        self._n_train_rows = int(train_idx.size)
        return train_idx, val_idx, seed

    #: Methods of the training path a subclass may override and still train out of core, if the
    #: overriding class lists them in its own ``_streaming_overrides``: they take standardised
    #: rows that may be :class:`~anomalib_ae.training.datamodule.StandardizedRows` (select rows
    #: with numpy indices, read them with :func:`~anomalib_ae.training.datamodule.row_blocks`,
    #: :meth:`_apply_fixed` or ``fit_module``), never ``np.asarray`` of them all.
    STREAMABLE_METHODS = ("_fit_standardized", "_train", "_score_prepared", "_standardizer_fitted")
    #: Methods that see the whole in-memory input: overriding them keeps a detector in memory.
    IN_MEMORY_METHODS = ("_fit", "_split_standardize", "_training_scores")
    _streaming_overrides: tuple[str, ...] = ()

    def _own_training_methods(self) -> list[str]:
        """Training-path methods overridden without streaming them (then it trains in memory only)."""
        own = []
        for name in self.IN_MEMORY_METHODS + self.STREAMABLE_METHODS:
            if getattr(type(self), name) is getattr(BaseDeepDetector, name):
                continue
            owner = next(c for c in type(self).__mro__ if name in vars(c))
            if name in self.IN_MEMORY_METHODS or name not in vars(owner).get("_streaming_overrides", ()):
                own.append(name)
        return own

    def fit(self, X, y=None):
        """Fit on normal data ``X`` (see :meth:`BaseDetector.fit`).

        ``X`` may also be out of core: a ``.npy`` path or :class:`numpy.memmap`, a Parquet file or
        folder, or an :func:`~anomalib_ae.data.outofcore.open_training_data` result. Mini-batches
        are then streamed from a memory map (:mod:`anomalib_ae.detectors._deep_stream`) and the
        result equals in-memory training on the same data and seed.
        """
        from anomalib_ae.data.outofcore import is_out_of_core

        if is_out_of_core(X):
            from anomalib_ae.detectors._deep_stream import fit_out_of_core, streamable

            if not isinstance(X, np.memmap) or streamable(self, X, y):
                return fit_out_of_core(self, X, y)
        return super().fit(X, y)

    def _fit_labels(self, n: int, y) -> np.ndarray | None:
        """Fit-time labels of ``n`` rows as training takes them (float32, or None). Detectors check
        ``n`` or encode task labels here; in-memory and out-of-core fits both call it."""
        return None if y is None else np.asarray(y).astype(np.float32)

    def _fit(self, X: np.ndarray, y: np.ndarray | None) -> None:
        y_arr = self._fit_labels(X.shape[0], y)
        Xs, train_idx, val_idx, seed = self._split_standardize(X)
        self._fit_standardized(Xs, y_arr, train_idx, val_idx, seed)

    def _fit_standardized(self, Xs, y_arr: np.ndarray | None, train_idx: np.ndarray, val_idx: np.ndarray,
                          seed: int) -> None:
        """Train on standardised rows ``Xs`` (an array, or out of core
        :class:`~anomalib_ae.training.datamodule.StandardizedRows`) and score the held-out rows."""
        n_val = val_idx.size
        self._train(
            Xs[train_idx],
            None if y_arr is None else y_arr[train_idx],
            Xs[val_idx] if n_val else None,
            None if (y_arr is None or not n_val) else y_arr[val_idx],
            seed,
        )
        self.calibration_scores_ = None
        if n_val:
            val_scores = self._score_prepared(Xs[val_idx])
            if y_arr is not None:  # calibrate on held-out samples not labelled anomalous
                val_scores = val_scores[y_arr[val_idx] <= 0]
            self.calibration_scores_ = val_scores if val_scores.size else None

    def _score_chunk_rows(self) -> int:
        """Fixed rows per scoring pass: 64 images, up to 4096 vectors/windows (about 2**21 values)."""
        cap = 64 if self.input_kind_ == "image" else 4096
        return max(1, min(cap, 2**21 // max(1, prod(self.model_shape_))))

    def _apply_fixed(self, fn, Xs: np.ndarray, modules=(), raw: bool = False) -> np.ndarray:
        """``fn`` over standardised ``Xs`` in fixed-size chunks (batch-invariant scores);
        ``raw``: ``Xs`` is in model layout but not standardised: each chunk is standardised on the way."""
        device = score_device(self.accelerator)
        for m in (self.module_, *modules):
            m.to(device).eval()
        rows = self._score_chunk_rows()
        prepare = self._standardize_chunk if raw else None
        if isinstance(Xs, StandardizedRows):  # out of core: whole chunks a block at a time, same values
            blocks, prepare = Xs.blocks(rows * 16), None
        elif len(Xs) <= rows * 16:
            return batched_apply(fn, Xs, batch_size=rows, device=device, prepare=prepare)
        else:  # whole chunks a block at a time into one array: no per-chunk results held (heap)
            blocks = ((s, Xs[s : s + rows * 16]) for s in range(0, len(Xs), rows * 16))
        out = np.zeros(0)
        for start, block in blocks:
            part = batched_apply(fn, block, batch_size=rows, device=device, prepare=prepare)
            if start == 0:
                out = np.empty((len(Xs), *part.shape[1:]))
            out[start : start + len(part)] = part
        return out

    def _standardize_chunk(self, x: torch.Tensor) -> torch.Tensor:
        """:func:`~anomalib_ae.preprocessing.standardize` of one chunk, in torch and bit for bit:
        the input cast to float32, minus the float32 mean, divided in the scale's precision, float32."""
        mean = torch.from_numpy(np.asarray(self.mean_, dtype=np.float32))
        scale = torch.from_numpy(np.asarray(self.scale_))
        out = x.to(torch.float32) - mean
        work = torch.promote_types(torch.float32, scale.dtype)
        return (out.to(work) / scale).to(torch.float32)

    def _score_prepared(self, Xs: np.ndarray) -> np.ndarray:
        return self._apply_fixed(self._module_score, Xs)

    def _score(self, X: np.ndarray) -> np.ndarray:
        if type(self)._score_prepared is not BaseDeepDetector._score_prepared:  # a scoring pass of its own
            return self._score_prepared(self._prepare(X))
        return self._apply_fixed(self._module_score, to_model_layout(X, self.input_kind_), raw=True)
