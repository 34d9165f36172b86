"""Contrastive learner: two views of a product should map close, other products far.

The positive pair (x, x⁺) is either

- ``positives="neighbours"`` (default): x and one of its ``neighbours`` nearest rows in the input X
  (cosine, :func:`product_repr.analysis.neighbours.neighbour_graph`), drawn anew each epoch. The encoder learns a
  smooth map that keeps and sharpens X's neighbourhoods: on the real catalogs it beat the input itself
  by 0.004-0.011 kNN@10 and every baseline by 0.03 or more (docs/QUALITY.md); or
- ``positives="corruption"`` (SCARF): x̃ replaces a fraction c of x's columns by draws from each column's
  empirical marginal (``scarf_marginal``).

With a projection head h, u = h(f(x)) and ũ = h(f(x⁺)), the loss is NT-Xent

    ℓ_i = -log( exp(cos(u_i, ũ_i)/τ) / Σ_{k≠i} exp(cos(a_i, a_k)/τ) )

over the 2N projections a of the batch (the other rows are the negatives), or, with loss "margin", a hinge
on cosine: (1 - cos(u_i, ũ_i)) + mean_{j≠i} max(0, cos(u_i, ũ_j) - m). The embedding is f(x); h is
used only for training. There is no decoder, so no reconstruction error.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from product_repr.learners.base import Learner
from product_repr.learners.config import LearnerConfig, param
from product_repr.learners.corruption import scarf_marginal
from product_repr.learners.encoder import Encoder, projection_head
from product_repr.learners.losses import margin_contrastive, nt_xent
from product_repr.analysis.neighbours import neighbour_graph


@dataclass(frozen=True)
class ContrastiveConfig(LearnerConfig):
    shown_when: ClassVar[dict] = {"column_weighting": []}  # no reconstruction, so no span weights
    # SCARF's published defaults are 0.6 and 1.0; on product catalogs (few, strong columns) 0.3 and 0.5
    # measured better: bigbasket kNN@10 0.639 vs 0.564 (docs/LEARNERS.md)
    corruption_rate: float = param(0.3, low=0.05, high=0.95, step=0.05,
                                   help="positives=corruption: share of columns replaced in the second view "
                                        "(SCARF paper: 0.6)",
                                   shown_when={"positives": ("corruption",)})
    temperature: float = param(0.5, low=0.05, high=2.0, log=True,
                               help="softmax temperature τ of NT-Xent (SCARF paper: 1.0)",
                               shown_when={"loss": ("ntxent",)})
    head_dim: int = param(128, low=8, high=1024, step=8, help="size of the projection head used during training")
    positives: str = param("neighbours", choices=("neighbours", "corruption"),
                           help="what counts as two views of one product: a product and one of its nearest "
                                "neighbours in the input (default), or a product and a scrambled copy (SCARF)")
    neighbours: int = param(10, low=1, high=100, step=1,
                            help="positives=neighbours: how many nearest rows each product's partner is drawn from",
                            shown_when={"positives": ("neighbours",)})
    loss: str = param("ntxent", choices=("ntxent", "margin"),
                      help="NT-Xent (other rows in the batch are negatives) or a hinge on cosine with a margin")
    margin: float = param(0.5, low=-1.0, high=1.0, step=0.05,
                          help="margin loss only: negatives are pushed below this cosine similarity",
                          shown_when={"loss": ("margin",)})


class Contrastive(Learner):
    name = "contrastive"
    title = "Contrastive"
    description = (
        "Learns to tell which products belong together: each product and one of its closest look-alikes in "
        "the columns (or, SCARF-style, a scrambled copy of it) should land close, all others far. "
        "Gives the sharpest similarity map; it does not rebuild rows, so it has no reconstruction errors."
    )
    Config = ContrastiveConfig
    has_decoder = False

    def _build(self, input_dim, spans) -> nn.ModuleDict:
        cfg = self.config
        return nn.ModuleDict({
            "encoder": Encoder(input_dim, cfg.embedding_dim, cfg.width, cfg.depth, cfg.dropout),
            "head": projection_head(cfg.embedding_dim, cfg.head_dim),
        })

    def _partners(self, X: np.ndarray) -> np.ndarray | None:
        if self.config.positives != "neighbours":
            return None
        return neighbour_graph(X, self.config.neighbours, seed=self.config.seed)

    def _loss(self, model: nn.ModuleDict, xb: torch.Tensor, generator: torch.Generator,
              positives: torch.Tensor | None = None):
        cfg = self.config
        if positives is not None:
            x_tilde = positives
        else:
            x_tilde, _ = scarf_marginal(xb, self.spans_, cfg.corruption_rate, generator=generator)
        u, v = model["head"](model["encoder"](torch.cat([xb, x_tilde]))).split(len(xb))  # one pass for both views
        if cfg.loss == "margin":
            return margin_contrastive(u, v, margin=cfg.margin), {}
        return nt_xent(u, v, temperature=cfg.temperature), {}
