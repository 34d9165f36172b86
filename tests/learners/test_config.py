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


def _visible(name: str, **values) -> set[str]:
    return {s.name for s in learners.visible_fields(learners.get(name).Config, values)}


def test_contrastive_shows_only_the_settings_its_choices_use():
    default = _visible("contrastive")
    assert {"temperature", "neighbours"} <= default, "NT-Xent with neighbour positives by default"
    assert not {"margin", "corruption_rate", "column_weighting"} & default, \
        "margin is for the margin loss, corruption_rate for corrupted positives; no reconstruction"
    margin = _visible("contrastive", loss="margin", positives="corruption")
    assert {"margin", "corruption_rate"} <= margin and not {"temperature", "neighbours"} & margin
    assert {"loss", "positives", "head_dim", "embedding_dim", "seed"} <= margin, "unconditional fields stay"


def test_multitask_hides_the_contrastive_settings_without_the_contrastive_task():
    assert "column_weight" not in _visible("multitask"), "no predicted columns, no column weight"
    assert "column_weight" in _visible("multitask", predict_columns=("brand",))
    off = _visible("multitask", contrastive_weight=0.0)
    assert not {"temperature", "positives", "neighbours", "head_dim"} & off
    assert "neighbours" not in _visible("multitask", positives="corruption")
    # the corrupted view feeds every task except contrastive with neighbour positives
    assert "corruption_rate" not in _visible("multitask", reconstruction_weight=0.0, mask_weight=0.0)
    assert "corruption_rate" in _visible("multitask", reconstruction_weight=0.0, mask_weight=0.0,
                                         positives="corruption")
    assert "column_weighting" not in _visible("multitask", reconstruction_weight=0.0), "span weights unused"


@pytest.mark.parametrize("name", sorted(learners.REGISTRY))
def test_visible_fields_is_pure_and_agrees_with_a_config(name):
    cls = learners.get(name).Config
    specs = config_fields(cls)
    names = [s.name for s in specs]
    for s in specs:  # every condition names fields of the same config (checked when drawn, too)
        assert {n for clause in s.shown_when or () for n, _ in clause} <= set(names), s.name
    visible = learners.visible_fields(cls)
    assert [s.name for s in visible] == [n for n in names if n in {v.name for v in visible}], "declaration order"
    assert visible == learners.visible_fields(cls, cls()), "a config and its defaults say the same"
    assert learners.visible_fields(cls, {}) == visible
    hash(tuple(visible))  # specs stay hashable (conditions are stored as tuples)


def test_visible_fields_rejects_unknown_names():
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['temprature'\] for ContrastiveConfig"):
        learners.visible_fields(learners.get("contrastive").Config, {"temprature": 0.3})

    with pytest.raises(TypeError, match=r"shown_when\['loss'\] must be a tuple of values or NONZERO, got 'margin'"):
        learners.param(0.5, shown_when={"loss": "margin"})

    @dataclasses.dataclass(frozen=True)
    class Broken(LearnerConfig):
        knob: float = learners.param(0.5, low=0.0, high=1.0, help="a knob", shown_when={"lose": ("margin",)})

    with pytest.raises(TypeError, match=r"Broken.knob: shown_when names \['lose'\], which are not fields"):
        learners.visible_fields(Broken)

    @dataclasses.dataclass(frozen=True)
    class BrokenOverride(LearnerConfig):
        shown_when = {"widht": []}

    with pytest.raises(TypeError, match=r"BrokenOverride.shown_when names \['widht'\], which are not fields"):
        learners.config_fields(BrokenOverride)
