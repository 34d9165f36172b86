"""Configs validate themselves and describe their sliders."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from product_repr import learners
from product_repr.errors import ConfigError
from product_repr.learners.config import LearnerConfig, ParamSpec, config_fields


@pytest.mark.parametrize("name", sorted(learners.REGISTRY))
def test_defaults_valid_frozen_and_json_round_trip(name):
    cls = learners.get(name).Config
    cfg = cls()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.epochs = 3
    again = cls.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


@pytest.mark.parametrize("name", sorted(learners.REGISTRY))
def test_every_field_has_ui_metadata(name):
    cls = learners.get(name).Config
    specs = config_fields(cls)
    assert [s.name for s in specs] == [f.name for f in dataclasses.fields(cls)]
    for s in specs:
        assert isinstance(s, ParamSpec)
        assert s.kind in {"int", "float", "choice", "bool", "columns"}
        assert s.help, f"{s.name} needs help text for the Train page"
        if s.kind in {"int", "float"}:
            assert s.low is not None and s.high is not None and s.low <= s.default <= s.high, s.name
        if s.kind == "choice":
            assert s.default in s.choices


def test_out_of_range_names_field_value_and_range():
    with pytest.raises(ConfigError, match=r"DenoisingConfig.swap_rate = 1.5 is out of range; choose a value in \[0.0, 0.9\]"):
        learners.get("denoising").Config(swap_rate=1.5)
    with pytest.raises(ConfigError, match=r"LearnerConfig.epochs = 0 is out of range"):
        LearnerConfig(epochs=0)


def test_types_checked_and_normalised():
    with pytest.raises(ConfigError, match="must be a whole number, got 2.5"):
        LearnerConfig(depth=2.5)
    with pytest.raises(ConfigError, match="must be a number, got 'ten'"):
        LearnerConfig(epochs="ten")
    assert LearnerConfig(epochs=10.0).epochs == 10 and isinstance(LearnerConfig(epochs=10.0).epochs, int)
    assert isinstance(LearnerConfig(weight_decay=0).weight_decay, float)
    assert LearnerConfig(epochs=np.int64(7)).epochs == 7
    with pytest.raises(ConfigError, match=r"must be one of \['ntxent', 'margin'\], got 'triplet'"):
        learners.get("contrastive").Config(loss="triplet")


def test_unknown_keys_rejected():
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['epocs'\]"):
        learners.get("autoencoder").Config.from_dict({"epocs": 5})
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['temperature'\]"):
        learners.get("denoising").Config().replace(temperature=0.5)


def test_columns_kind():
    cfg = learners.get("multitask").Config(predict_columns=["brand", "colour"])
    assert cfg.predict_columns == ("brand", "colour"), "column lists are stored as tuples (hashable)"
    spec = {s.name: s for s in config_fields(type(cfg))}["predict_columns"]
    assert spec.kind == "columns"
    with pytest.raises(ConfigError, match="must hold column names"):
        learners.get("multitask").Config(predict_columns=[3])


def test_multitask_needs_a_task():
    with pytest.raises(ConfigError, match="all task weights are 0"):
        learners.get("multitask").Config(reconstruction_weight=0.0, mask_weight=0.0, contrastive_weight=0.0)


def test_learner_accepts_dict_config():
    model = learners.get("contrastive")({"temperature": 0.3})
    assert model.config.temperature == 0.3
