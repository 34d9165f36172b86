"""Autoencoder: z = f(x), x̂ = g(z), minimise the span-weighted reconstruction loss Σ_s w_s ℓ_s(x_s, x̂_s)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from product_repr.learners.base import Learner
from product_repr.learners.config import LearnerConfig
from product_repr.learners.losses import reconstruction_loss


@dataclass(frozen=True)
class AutoencoderConfig(LearnerConfig):
    """The shared settings only: a plain autoencoder has nothing else to tune."""


class Autoencoder(Learner):
    name = "autoencoder"
    title = "Autoencoder"
    description = (
        "Squeezes each product into a short vector and learns to rebuild the whole row from it. "
        "The simplest objective, and a good anomaly ranker: products that rebuild badly are unusual."
    )
    Config = AutoencoderConfig
    has_decoder = True

    def _loss(self, model: nn.ModuleDict, xb: torch.Tensor, generator: torch.Generator):
        x_hat = model["decoder"](model["encoder"](xb))
        return reconstruction_loss(x_hat, xb, self.spans_, self._weights(xb.device)), {}
