"""Self-supervised learners: one contract (``base.Learner``), a registry, one file per learner."""
from __future__ import annotations

from product_repr.errors import ConfigError
from product_repr.learners.autoencoder import Autoencoder, AutoencoderConfig
from product_repr.learners.base import Learner
from product_repr.learners.config import NONZERO, LearnerConfig, ParamSpec, config_fields, param, visible_fields
from product_repr.learners.contrastive import Contrastive, ContrastiveConfig
from product_repr.learners.denoising import Denoising, DenoisingConfig
from product_repr.learners.multitask import Multitask, MultitaskConfig

REGISTRY: dict[str, type[Learner]] = {
    Autoencoder.name: Autoencoder,
    Denoising.name: Denoising,
    Contrastive.name: Contrastive,
    Multitask.name: Multitask,
}

#: the learner to start with (chosen by measurement; see docs/LEARNERS.md)
DEFAULT = "multitask"


def get(name: str) -> type[Learner]:
    """The learner class registered under ``name``; ``ConfigError`` naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown learner {name!r}; choose one of {sorted(REGISTRY)}") from None


__all__ = [
    "REGISTRY", "DEFAULT", "get", "Learner", "LearnerConfig", "ParamSpec", "config_fields", "visible_fields",
    "param", "NONZERO",
    "Autoencoder", "AutoencoderConfig", "Denoising", "DenoisingConfig",
    "Contrastive", "ContrastiveConfig", "Multitask", "MultitaskConfig",
]
