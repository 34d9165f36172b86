"""The learner contract: ``fit(X, *, spans) -> self``, ``encode(X) -> Z``, ``reconstruct(X)``.

A learner is a config plus a few torch modules (``model_``, a ``ModuleDict`` holding at least
``"encoder"``) and a loss. Subclasses implement ``_build`` (the modules) and ``_loss`` (one batch's loss);
the shared :func:`product_repr.learners.training.train` loop does the rest.
"""
from __future__ import annotations

from typing import Callable, ClassVar, Sequence

import numpy as np
import torch
from torch import nn

from product_repr.errors import ConfigError, FeatureError, NotFittedError
from product_repr.features.space import Span
from product_repr.learners.config import LearnerConfig
from product_repr.learners.corruption import span_of_dim
from product_repr.learners.encoder import Decoder, Encoder, build_seeded
from product_repr.learners.losses import span_weights

ENCODE_BATCH = 8192


def as_matrix(X, *, what: str = "X") -> np.ndarray:
    """X as a C-contiguous float32 (n, p) array; ``FeatureError`` if it is not 2-D or holds NaN/inf."""
    from product_repr.features.rowfile import RowFile

    if isinstance(X, RowFile):  # a big table's X on disk: encode and reconstruct read it a batch at a time
        return X
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float32))
    if X.ndim != 2:
        raise FeatureError(f"{what} must be a 2-D matrix (rows x features), got shape {X.shape}")
    return X


def _check_finite(X: np.ndarray, spans: Sequence[Span]) -> None:
    for lo in range(0, len(X), ENCODE_BATCH):  # a chunk at a time: no (n, p) mask beside X
        bad = ~np.isfinite(X[lo:lo + ENCODE_BATCH])
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            name = next((s.name for s in spans if s.start <= col < s.stop), f"feature {col}")
            total = int(sum((~np.isfinite(X[i:i + ENCODE_BATCH])).sum() for i in range(0, len(X), ENCODE_BATCH)))
            raise FeatureError(
                f"X holds {total} NaN/inf values (first at row {lo + row}, column {name!r}); "
                "encode the table with FeatureSpace, which imputes missing values"
            )


class Learner:
    """Base class of every learner. See the module docstring and docs/LEARNERS.md."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    Config: ClassVar[type[LearnerConfig]] = LearnerConfig
    has_decoder: ClassVar[bool] = True

    def __init__(self, config: LearnerConfig | dict | None = None) -> None:
        if config is None:
            config = self.Config()
        elif isinstance(config, dict):
            config = self.Config.from_dict(config)
        elif not isinstance(config, self.Config):
            raise ConfigError(
                f"the {self.name} learner takes a {self.Config.__name__}, got {type(config).__name__}"
            )
        self.config = config

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.config!r})"

    # ---- what subclasses provide -------------------------------------------------------------------------
    def _build(self, input_dim: int, spans: Sequence[Span]) -> nn.ModuleDict:
        """The modules; must hold "encoder" (and "decoder" when ``has_decoder``)."""
        cfg = self.config
        modules = {"encoder": Encoder(input_dim, cfg.embedding_dim, cfg.width, cfg.depth, cfg.dropout)}
        if self.has_decoder:
            modules["decoder"] = Decoder(cfg.embedding_dim, input_dim, cfg.width, cfg.depth, cfg.dropout)
        return nn.ModuleDict(modules)

    def _loss(self, model: nn.ModuleDict, xb: torch.Tensor, generator: torch.Generator):
        """(scalar loss, {task: scalar}) for one batch."""
        raise NotImplementedError

    def _setup(self, spans: Sequence[Span]) -> None:
        """Precompute what the loss needs from the spans (called by fit and when loading)."""

    def _partners(self, X: np.ndarray) -> np.ndarray | None:
        """Rows whose features become each row's ``positives`` in the loss ((n, k) indices), or None."""
        return None

    def _weights(self, device: torch.device, keep: Sequence[int] | None = None) -> torch.Tensor:
        """The span weights (learned from the training data) as a tensor, optionally for some spans only."""
        w = torch.from_numpy(self.span_weights_)
        if keep is not None:
            w = w[list(keep)]
        return w.to(device)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder sees; the multi-task learner masks the columns it predicts."""
        return x

    def _decode(self, model: nn.ModuleDict, z: torch.Tensor) -> torch.Tensor:
        """Decoder output (logits for categorical spans)."""
        return model["decoder"](z)

    # ---- the contract ------------------------------------------------------------------------------------
    def fit(
        self,
        X,
        *,
        spans: Sequence[Span],
        progress: Callable | None = None,
        device: str = "auto",
        snapshot: Callable[[int, np.ndarray], None] | None = None,
        snapshot_rows: np.ndarray | None = None,
    ) -> "Learner":
        """Learn from X (n, p) float32 whose columns are tiled by ``spans``; returns self.

        ``snapshot(step, Z)``, when given, receives the embeddings of X's ``snapshot_rows`` (default: all
        rows) before training (step 0) and at every check, computed with the weights of that moment in eval
        mode without gradients; it draws no random numbers, so the fit is the same with or without it.

        Raises FeatureError (bad X), ConfigError (spans/settings), TrainingError (loss became NaN).
        """
        from product_repr.learners.group import reduce, world
        from product_repr.learners.training import resolve_device, train

        X = as_matrix(X)
        spans = list(spans)
        if not spans:
            raise ConfigError("no spans given: fit needs the FeatureSpace spans that describe X's columns")
        span_of_dim(spans, X.shape[1])  # validates the tiling
        _check_finite(X, spans)
        self._check_spans(spans)
        resolve_device(device)  # a bad device fails before any work
        self.spans_ = spans
        self.input_dim_ = X.shape[1]
        weights = span_weights(X, spans, self.config.column_weighting)
        if world()[1] > 1:  # one set of weights in every process of a group: the row-weighted mean of its shards'
            rows, *sums = reduce([len(X)] + [float(w) * len(X) for w in weights])
            weights = (np.asarray(sums) / rows).astype(np.float32)
        self.span_weights_ = weights
        self._setup(spans)
        partners = self._partners(X)
        # every random number comes from generators seeded by config.seed, never torch's global one, so
        # fits running at once in threads give the same result as alone
        model = self._make(X.shape[1], spans)
        checked = progress
        if snapshot is not None:
            rows = np.arange(len(X)) if snapshot_rows is None else np.asarray(snapshot_rows, dtype=np.int64)
            sample = torch.from_numpy(np.ascontiguousarray(X[rows]))
            snapshot(0, self._snapshot(model, sample))

            def checked(report):
                snapshot(report.step, self._snapshot(model, sample))
                return progress(report) if progress is not None else None

        self.history_ = train(
            model, X, spans=spans, loss_fn=self._loss, config=self.config, progress=checked, device=device,
            partners=partners,
        )
        self.model_ = model
        return self

    def _snapshot(self, model: nn.ModuleDict, rows: torch.Tensor) -> np.ndarray:
        """The embeddings of ``rows`` under ``model``'s current weights (eval mode, no gradients), leaving the
        model in the mode it was in: float32 (m, d)."""
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            out = [model["encoder"](self._input(rows[i:i + ENCODE_BATCH].to(device))).float().cpu()
                   for i in range(0, len(rows), ENCODE_BATCH)]
        model.train(was_training)
        return torch.cat(out).numpy().astype(np.float32, copy=False) if out else np.zeros((0, 0), np.float32)

    def _make(self, input_dim: int, spans: Sequence[Span]) -> nn.ModuleDict:
        """:meth:`_build`'s modules on the CPU, initialised from a generator seeded by ``config.seed``
        (torch's default initialisation distributions; the global generator is not used)."""
        generator = torch.Generator().manual_seed(self.config.seed)
        return build_seeded(lambda: self._build(input_dim, spans), generator)

    def _check_spans(self, spans: Sequence[Span]) -> None:
        """Learner-specific checks of the spans against the config (e.g. predicted columns exist)."""

    def _require_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(f"this {self.name} learner is not fitted yet; call fit(X, spans=...) first")

    def _batches(self, X) -> tuple[np.ndarray, torch.device]:
        self._require_fitted()
        X = as_matrix(X)
        if X.shape[1] != self.input_dim_:
            raise FeatureError(
                f"X has {X.shape[1]} feature columns but the learner was fitted on {self.input_dim_}; "
                "transform the table with the same FeatureSpace"
            )
        return X, next(self.model_.parameters()).device

    def _eval_batches(self, X, fn, width: int) -> np.ndarray:
        """Apply ``fn(xb) -> tensor (b, width)`` to X in batches, in eval mode without gradients: float32 (n, width)."""
        X, dev = self._batches(X)
        self.model_.eval()
        out = []
        with torch.no_grad():
            for i in range(0, X.shape[0], ENCODE_BATCH):
                out.append(fn(torch.from_numpy(X[i:i + ENCODE_BATCH]).to(dev)).cpu())
        if not out:
            return np.zeros((0, width), dtype=np.float32)
        return torch.cat(out).numpy().astype(np.float32, copy=False)

    def encode(self, X) -> np.ndarray:
        """Embeddings Z: float32 (n, embedding_dim), computed in eval mode without gradients, in batches."""
        return self._eval_batches(X, lambda xb: self.model_["encoder"](self._input(xb)), self.config.embedding_dim)

    def reconstruct(self, X) -> np.ndarray:
        """X̂: float32 (n, p); categorical spans hold softmax probabilities, other spans feature values.

        Raises ConfigError for a learner without a decoder, NotFittedError before fit.
        """
        if not self.has_decoder:
            raise ConfigError(
                f"the {self.name} learner has no decoder, so it cannot reconstruct rows; "
                "use autoencoder, denoising or multitask for reconstruction errors"
            )
        self._require_fitted()  # before reading input_dim_

        def rebuild(xb: torch.Tensor) -> torch.Tensor:
            xh = self._decode(self.model_, self.model_["encoder"](self._input(xb)))
            for s in self.spans_:
                if s.loss == "ce":
                    xh[:, s.start:s.stop] = torch.softmax(xh[:, s.start:s.stop], dim=1)
            return xh

        return self._eval_batches(X, rebuild, self.input_dim_)

    def masked_reconstruct(self, X, spans: Sequence[Span], fill) -> np.ndarray:
        """X̂ (n, p) float32 where each span's block is this learner's prediction of it with that block of the
        input set to ``fill`` (p,) and the rest of the row as it is: ``reconstruct`` of one masked copy of X
        per span (``analysis.anomalies.masked_reconstruction``), computed without those copies.

        The encoder's first layer is linear, so the masked copy's first hidden layer is the row's own plus
        the first layer's columns of the block times (fill − value); and only the block's rows of the
        decoder's output layer are needed. For the default sizes (256 units, 2,095 inputs, 50 columns)
        that is about a sixth of the work of a reconstruction per span. Equal to the plain way up to float
        rounding (tested)."""
        if not self.has_decoder:
            return self.reconstruct(X)  # raises the reconstruct error
        X, dev = self._batches(X)
        model = self.model_
        first, rest = model["encoder"].net[0], model["encoder"].net[1:]
        body, last = model["decoder"].net[:-1], model["decoder"].net[-1]
        fill = torch.as_tensor(np.asarray(fill, dtype=np.float32)).to(dev)
        ones = torch.ones(1, self.input_dim_, device=dev)
        keep = self._input(ones)[0]  # _input scales each column (or leaves it)
        if not torch.equal(self._input(2 * ones)[0], 2 * keep):  # not a scaling: the plain way
            from product_repr.analysis.anomalies import masked_reconstruction

            # a plain callable, not the method: masked_reconstruction would hand a method back to us
            return masked_reconstruction(lambda x: self.reconstruct(x), X, spans, fill_values=fill)
        model.eval()
        out = np.empty((len(X), self.input_dim_), dtype=np.float32)
        with torch.no_grad():
            for i in range(0, len(X), ENCODE_BATCH):
                x = torch.from_numpy(np.ascontiguousarray(X[i:i + ENCODE_BATCH])).to(dev)
                h0 = first(self._input(x))
                for sp in spans:
                    block = slice(sp.start, sp.stop)
                    h = h0 + ((fill[block] - x[:, block]) * keep[block]) @ first.weight[:, block].T
                    z = rest(h)
                    y = self._decode_block(model, z, sp, body, last)
                    if sp.loss == "ce":
                        y = torch.softmax(y, dim=1)
                    out[i:i + len(x), block] = y.cpu().numpy()
        return out

    def _decode_block(self, model: nn.ModuleDict, z: torch.Tensor, span: Span, body, last) -> torch.Tensor:
        """The decoder's output for ``span``'s block alone (logits for a categorical span)."""
        return body(z) @ last.weight[span.start:span.stop].T + last.bias[span.start:span.stop]

    # ---- saving ------------------------------------------------------------------------------------------
    def to_state(self) -> tuple[dict, dict[str, torch.Tensor]]:
        """(JSON-safe metadata, CPU tensors) enough to rebuild the fitted learner with :meth:`from_state`."""
        self._require_fitted()
        meta = {
            "learner": self.name,
            "config": self.config.to_dict(),
            "input_dim": int(self.input_dim_),
            "spans": [s.to_dict() for s in self.spans_],
            "span_weights": [float(w) for w in self.span_weights_],
        }
        tensors = {k: v.detach().cpu().contiguous().clone() for k, v in self.model_.state_dict().items()}
        return meta, tensors

    @classmethod
    def from_state(cls, meta: dict, tensors: dict[str, torch.Tensor], history: list[dict] | None = None) -> "Learner":
        """Rebuild a fitted learner from :meth:`to_state` output. Raises ConfigError if they do not match."""
        learner = cls.from_saved(meta["config"], meta["input_dim"], [Span.from_dict(s) for s in meta["spans"]],
                                 tensors, history=history)
        if "span_weights" in meta:
            learner.span_weights_ = np.asarray(meta["span_weights"], dtype=np.float32)
        return learner

    @classmethod
    def from_saved(cls, config: dict, input_dim: int, spans: Sequence[Span], tensors: dict[str, torch.Tensor],
                   *, history: list[dict] | None = None) -> "Learner":
        """Rebuild a fitted learner from its config dict, input width, spans and weights."""
        learner = cls(dict(config))
        spans = list(spans)
        span_of_dim(spans, int(input_dim))
        learner.spans_ = spans
        learner.input_dim_ = int(input_dim)
        learner.span_weights_ = np.full(len(spans), 1.0 / len(spans), dtype=np.float32)  # training data unknown
        learner._setup(spans)
        model = learner._make(int(input_dim), spans)  # the saved weights replace the initial ones
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as err:
            raise ConfigError(f"saved weights do not fit a {cls.name} learner with these settings: {err}") from None
        model.eval()
        learner.model_ = model
        learner.history_ = list(history or [])
        return learner
