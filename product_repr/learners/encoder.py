"""The torch modules the learners share: an MLP encoder f, a decoder g and small heads.

Their random numbers never come from torch's global generator, so two models built or trained at once in
one process (two dashboard sessions) cannot disturb each other: :func:`build_seeded` builds modules on the
meta device (nothing is drawn) and initialises them from a generator, and :class:`Dropout` draws its masks
from the generator the training loop binds to it (:func:`bind_generator`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


class Dropout(nn.Module):
    """``nn.Dropout`` whose mask comes from a bound ``torch.Generator`` instead of torch's global one.

    In training mode each unit is kept with probability 1 - p and scaled by 1 / (1 - p), as in
    ``nn.Dropout``; in eval mode it is the identity. It has no parameters or buffers, so saved weights are
    the same as with ``nn.Dropout``. Training without a bound generator raises ``RuntimeError``.
    """

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p!r}")
        self.p = float(p)
        self.generator: torch.Generator | None = None  # set by bind_generator for the length of a training

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        if self.generator is None:
            raise RuntimeError("Dropout in training mode needs a generator; train inside bind_generator(model, gen)")
        # drawn on the generator's device, then moved (as the corruptions do)
        keep = torch.rand(x.shape, generator=self.generator, device=self.generator.device) >= self.p
        return x * keep.to(x.device, x.dtype) * (1.0 / (1.0 - self.p))

    def extra_repr(self) -> str:
        return f"p={self.p}"


@contextmanager
def bind_generator(model: nn.Module, generator: torch.Generator) -> Iterator[nn.Module]:
    """Within the block every :class:`Dropout` of ``model`` draws from ``generator``.

    Raises TypeError when ``model`` holds one of torch's own dropout modules, which would draw from the
    global generator.
    """
    global_rng = [type(m).__name__ for m in model.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
    if global_rng:
        raise TypeError(f"{global_rng[0]} draws from torch's global generator; use "
                        "product_repr.learners.encoder.Dropout")
    drops = [m for m in model.modules() if isinstance(m, Dropout)]
    for m in drops:
        m.generator = generator
    try:
        yield model
    finally:
        for m in drops:
            m.generator = None


def init_parameters(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Initialise ``model``'s parameters in place from ``generator``, layer by layer in ``model.modules()``
    order, with PyTorch's default distributions (so the same seed gives the same weights as torch's own
    init after ``torch.manual_seed(seed)``): Linear weights Kaiming-uniform with a = √5, i.e.
    U(±1/√fan_in), biases U(±1/√fan_in); LayerNorm ones and zeros. Returns ``model``.

    Raises TypeError for a module with parameters or buffers it does not know how to initialise.
    """
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
            if m.bias is not None:
                fan_in = m.weight.shape[1]
                bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
                nn.init.uniform_(m.bias, -bound, bound, generator=generator)
        elif isinstance(m, nn.LayerNorm):
            m.reset_parameters()  # ones and zeros: nothing random
        elif next(m.parameters(recurse=False), None) is not None or next(m.buffers(recurse=False), None) is not None:
            raise TypeError(f"init_parameters does not know how to initialise a {type(m).__name__}; add it there")
    return model


def build_seeded(build: Callable[[], nn.Module], generator: torch.Generator) -> nn.Module:
    """``build()``'s modules on the CPU with weights drawn from ``generator`` (see :func:`init_parameters`).

    ``build`` runs on the meta device, so torch's own initialisers draw nothing from the global generator
    (and cost nothing); the modules are then given CPU memory and initialised from ``generator``.
    """
    with torch.device("meta"):  # thread-local: other threads keep building on the CPU
        model = build()
    return init_parameters(model.to_empty(device="cpu"), generator)


def mlp(in_dim: int, width: int, depth: int, out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    """``depth`` hidden layers of ``Linear -> LayerNorm -> GELU -> Dropout`` (:class:`Dropout`, seeded), then a
    linear output layer.

    LayerNorm keeps the hidden scale steady whatever the mix of span widths in the input, and, unlike
    BatchNorm, behaves the same in training and inference and for any batch size.
    """
    layers: list[nn.Module] = []
    d = in_dim
    for _ in range(depth):
        layers += [nn.Linear(d, width), nn.LayerNorm(width), nn.GELU()]
        if dropout > 0:
            layers.append(Dropout(dropout))
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
