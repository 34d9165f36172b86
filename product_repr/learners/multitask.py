"""Multi-task learner: one shared encoder, several heads, L = Σ_k λ_k L_k.

A corrupted view x̃ (VIME mask-and-replace, rate r) goes through the encoder, z̃ = f(x̃). Tasks:

- reconstruction: decoder g rebuilds the clean row, L_rec = Σ_s w_s ℓ_s(x_s, g(z̃)_s) (span-weighted);
- mask prediction (VIME): a linear head predicts which cells were replaced, L_mask = BCE;
- contrastive: NT-Xent between h(f(x)) and h(f(x⁺)), temperature τ, where x⁺ is one of x's ``neighbours``
  nearest rows in X (``positives="neighbours"``) or the corrupted view x̃ (``positives="corruption"``);
- column prediction: each column named in ``predict_columns`` is zeroed in every input (so the encoder
  never sees it) and predicted from z by its own head, L_col = mean over those columns of ℓ_s.

Columns predicted this way are left out of L_rec and of the corruption mask target.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from product_repr.errors import ConfigError
from product_repr.learners.base import Learner
from product_repr.learners.config import NONZERO, LearnerConfig, param
from product_repr.learners.corruption import vime_mask
from product_repr.learners.encoder import Decoder, Encoder, mlp, projection_head
from product_repr.learners.losses import mask_loss, nt_xent, reconstruction_loss, span_losses
from product_repr.analysis.neighbours import neighbour_graph


@dataclass(frozen=True)
class MultitaskConfig(LearnerConfig):
    # the span weights weigh the reconstruction and the column-prediction losses only
    shown_when: ClassVar[dict] = {"column_weighting": [{"reconstruction_weight": NONZERO},
                                                       {"column_weight": NONZERO, "predict_columns": NONZERO}]}
    # the corrupted view feeds every task but the contrastive one with neighbour positives
    corruption_rate: float = param(0.15, low=0.0, high=0.9, step=0.05,
                                   help="chance that each cell is replaced by another row's value (VIME mask)",
                                   shown_when=[{"reconstruction_weight": NONZERO}, {"mask_weight": NONZERO},
                                               {"contrastive_weight": NONZERO, "positives": ("corruption",)},
                                               {"column_weight": NONZERO, "predict_columns": NONZERO}])
    reconstruction_weight: float = param(1.0, low=0.0, high=10.0, step=0.1,
                                         help="λ of rebuilding the clean row from the corrupted one")
    mask_weight: float = param(0.1, low=0.0, high=10.0, step=0.1,
                               help="λ of predicting which cells were replaced")
    # 1.0 with neighbour positives measured best: demo subcategory kNN@10 0.806 vs 0.746 at 0 (docs/LEARNERS.md)
    contrastive_weight: float = param(1.0, low=0.0, high=10.0, step=0.1,
                                      help="λ of NT-Xent between a product and its partner (a near neighbour, "
                                           "or its corrupted copy)")
    column_weight: float = param(1.0, low=0.0, high=10.0, step=0.1,
                                 help="λ of predicting the chosen columns from the others",
                                 shown_when={"predict_columns": NONZERO})
    temperature: float = param(0.5, low=0.05, high=2.0, log=True, help="NT-Xent temperature τ",
                               shown_when={"contrastive_weight": NONZERO})
    positives: str = param("neighbours", choices=("neighbours", "corruption"),
                           help="contrastive task: a product's partner is one of its nearest neighbours in the "
                                "input, or its corrupted copy",
                           shown_when={"contrastive_weight": NONZERO})
    neighbours: int = param(10, low=1, high=100, step=1,
                            help="positives=neighbours: how many nearest rows the partner is drawn from",
                            shown_when={"contrastive_weight": NONZERO, "positives": ("neighbours",)})
    head_dim: int = param(128, low=8, high=1024, step=8, help="size of the contrastive projection head",
                          shown_when={"contrastive_weight": NONZERO})
    predict_columns: tuple = param((), kind="columns",
                                   help="columns hidden from the input and predicted by their own head "
                                        "(never the evaluation label)")

    def __post_init__(self) -> None:
        super().__post_init__()
        weights = {
            "reconstruction_weight": self.reconstruction_weight,
            "mask_weight": self.mask_weight,
            "contrastive_weight": self.contrastive_weight,
        }
        if self.predict_columns:
            weights["column_weight"] = self.column_weight
        if not any(w > 0 for w in weights.values()):
            raise ConfigError(f"all task weights are 0 ({weights}); give at least one task a weight above 0")


class Multitask(Learner):
    name = "multitask"
    title = "Multi-task"
    description = (
        "One encoder trained on several jobs at once: rebuild scrambled rows, spot which attributes were "
        "scrambled, pick out each product's closest look-alike among others, and optionally predict columns "
        "you pick. The sliders set how much each job counts. The learner to start with."
    )
    Config = MultitaskConfig
    has_decoder = True

    def _check_spans(self, spans) -> None:
        names = [s.name for s in spans]
        missing = [c for c in self.config.predict_columns if c not in names]
        if missing:
            raise ConfigError(
                f"predict_columns names {missing}, which are not among the input columns {names}; "
                "pick columns that the feature space encodes"
            )
        if len(set(self.config.predict_columns)) == len(spans):
            raise ConfigError("predict_columns hides every input column; leave at least one column as input")

    def _setup(self, spans) -> None:
        chosen = set(self.config.predict_columns)
        self._pred_idx = [k for k, s in enumerate(spans) if s.name in chosen]
        self._pred_spans = [spans[k] for k in self._pred_idx]
        self._rec_idx = [k for k, s in enumerate(spans) if s.name not in chosen]
        self._rec_spans = [spans[k] for k in self._rec_idx]
        keep = torch.ones(sum(s.width for s in spans))
        for s in self._pred_spans:
            keep[s.start:s.stop] = 0.0
        self._keep = keep  # (p,) 0 on the dims of predicted columns
        self._rec_cells = torch.tensor([s.name not in chosen for s in spans])

    def _build(self, input_dim, spans) -> nn.ModuleDict:
        cfg = self.config
        d = cfg.embedding_dim
        modules = {
            "encoder": Encoder(input_dim, d, cfg.width, cfg.depth, cfg.dropout),
            "decoder": Decoder(d, input_dim, cfg.width, cfg.depth, cfg.dropout),
            "mask_head": nn.Linear(d, len(spans)),
        }
        if cfg.contrastive_weight > 0:
            modules["head"] = projection_head(d, cfg.head_dim)
        if self._pred_spans:
            modules["column_heads"] = nn.ModuleList(mlp(d, cfg.width, 1, s.width) for s in self._pred_spans)
        return nn.ModuleDict(modules)

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        if not self._pred_spans:
            return x
        return x * self._keep.to(x.device)

    def _decode_block(self, model: nn.ModuleDict, z: torch.Tensor, span, body, last) -> torch.Tensor:
        for s, head in zip(self._pred_spans, model["column_heads"]) if self._pred_spans else ():
            if s.name == span.name:  # a predicted column comes from its own head, as in _decode
                return head(z)
        return super()._decode_block(model, z, span, body, last)

    def _decode(self, model: nn.ModuleDict, z: torch.Tensor) -> torch.Tensor:
        x_hat = model["decoder"](z)
        if self._pred_spans:
            x_hat = x_hat.clone()
            for s, head in zip(self._pred_spans, model["column_heads"]):
                x_hat[:, s.start:s.stop] = head(z)
        return x_hat

    def _partners(self, X: np.ndarray) -> np.ndarray | None:
        if self.config.contrastive_weight <= 0 or self.config.positives != "neighbours":
            return None
        return neighbour_graph(X, self.config.neighbours, seed=self.config.seed)

    def _loss(self, model: nn.ModuleDict, xb: torch.Tensor, generator: torch.Generator,
              positives: torch.Tensor | None = None):
        cfg = self.config
        x_in = self._input(xb)
        x_tilde, mask = vime_mask(x_in, self.spans_, cfg.corruption_rate, generator=generator)
        # one encoder pass over the corrupted rows, the clean rows and their partners (LayerNorm is per row,
        # so this equals three passes, and is ~1.5x faster on CPU than three smaller matrix products)
        views = [x_tilde]
        if cfg.contrastive_weight > 0:
            views.append(x_in)
            if positives is not None:
                views.append(self._input(positives))
        z_all = model["encoder"](torch.cat(views) if len(views) > 1 else x_tilde)
        z_views = z_all.split(len(xb))
        z_tilde = z_views[0]
        tasks: dict[str, torch.Tensor] = {}
        total = torch.zeros((), device=xb.device)
        if cfg.reconstruction_weight > 0 and self._rec_spans:
            tasks["reconstruction"] = reconstruction_loss(model["decoder"](z_tilde), xb, self._rec_spans,
                                                        self._weights(xb.device, self._rec_idx))
            total = total + cfg.reconstruction_weight * tasks["reconstruction"]
        if cfg.mask_weight > 0:
            keep = self._rec_cells.to(xb.device)
            logits = model["mask_head"](z_tilde)[:, keep]
            tasks["mask"] = mask_loss(logits, mask[:, keep])
            total = total + cfg.mask_weight * tasks["mask"]
        if cfg.contrastive_weight > 0:
            z_pos = z_tilde if positives is None else z_views[2]
            h = model["head"](torch.cat([z_views[1], z_pos]))
            u, v = h.split(len(xb))
            tasks["contrastive"] = nt_xent(u, v, temperature=cfg.temperature)
            total = total + cfg.contrastive_weight * tasks["contrastive"]
        if self._pred_spans and cfg.column_weight > 0:
            parts = []
            w = self._weights(xb.device, self._pred_idx) * len(self.spans_)  # 1 / b_s
            for s, head in zip(self._pred_spans, model["column_heads"]):
                local = type(s)(s.name, s.role, 0, s.width, s.loss)
                parts.append(span_losses(head(z_tilde), xb[:, s.start:s.stop], [local]).mean())
            tasks["columns"] = (torch.stack(parts) * w).mean()
            total = total + cfg.column_weight * tasks["columns"]
        return total, tasks
