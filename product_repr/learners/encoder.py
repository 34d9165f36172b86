"""The torch modules the learners share: an MLP encoder f, a decoder g and small heads."""
from __future__ import annotations

import torch
from torch import nn


def mlp(in_dim: int, width: int, depth: int, out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    """``depth`` hidden layers of ``Linear -> LayerNorm -> GELU -> Dropout``, then a linear output layer.

    LayerNorm keeps the hidden scale steady whatever the mix of span widths in the input, and, unlike
    BatchNorm, behaves the same in training and inference and for any batch size.
    """
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.LayerNorm(width), nn.GELU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        d = width
    layers.append(nn.Linear(d, out_dim))
    return nn.Sequential(*layers)


class Encoder(nn.Module):
    """f: x (n, p) -> z (n, d). The embedding is the linear output of the last layer."""

    def __init__(self, input_dim: int, embedding_dim: int, width: int, depth: int, dropout: float) -> None:
        super().__init__()
        self.net = mlp(input_dim, width, depth, embedding_dim, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """g: z (n, d) -> x̂ (n, p) as logits/values; categorical spans are logits (softmax applied outside)."""

    def __init__(self, embedding_dim: int, output_dim: int, width: int, depth: int, dropout: float) -> None:
        super().__init__()
        self.net = mlp(embedding_dim, width, depth, output_dim, dropout)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


def projection_head(embedding_dim: int, head_dim: int) -> nn.Sequential:
    """h: the contrastive projection head (SimCLR/SCARF style: one hidden layer, then linear)."""
    return nn.Sequential(nn.Linear(embedding_dim, head_dim), nn.GELU(), nn.Linear(head_dim, head_dim))
