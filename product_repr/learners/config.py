"""Hyperparameters: one frozen dataclass per learner, each field carrying its slider metadata.

A field is declared with :func:`param`, which stores the range, step, scale, choices and help text in
``dataclasses.field(metadata=...)``. ``LearnerConfig.__post_init__`` validates every field against that
metadata, and :func:`config_fields` hands the same metadata to the Train page, so a new learner gets its
validation and its UI from one declaration.

A field the learner uses only at some values of other fields says so with ``shown_when``, e.g. the
contrastive margin ``shown_when={"loss": ("margin",)}``, and a config class can say the same of the shared
fields it inherits in its ``shown_when`` class attribute. :func:`visible_fields` returns the fields in use
at the current values, so the Train page can hide the others (their values are kept, and unused).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from product_repr.errors import ConfigError

_KINDS = ("int", "float", "choice", "bool", "columns")

#: a ``shown_when`` condition: the other field is not zero, False or an empty column list
NONZERO = "nonzero"

#: ``shown_when`` as stored: alternatives (any may hold), each a tuple of (field, condition) pairs that
#: must all hold; a condition is a tuple of allowed values or :data:`NONZERO`
Condition = tuple[tuple[tuple[str, Any], ...], ...]


@dataclass(frozen=True)
class ParamSpec:
    """What the UI needs to draw one setting: a slider, a select, a checkbox or a column picker."""

    name: str
    default: Any
    kind: str  # "int" | "float" | "choice" | "bool" | "columns"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    choices: tuple | None = None
    help: str = ""
    shown_when: Condition | None = None  # None: always in use; see param()

    def in_use(self, values: Mapping[str, Any]) -> bool:
        """Whether the learner uses this field when the config's fields have ``values`` (all of them)."""
        if self.shown_when is None:
            return True
        return any(all(_holds(values[name], cond) for name, cond in clause) for clause in self.shown_when)


def _holds(value: Any, condition: Any) -> bool:
    if condition == NONZERO:
        return bool(value)
    return value in condition


def _conditions(shown_when: Mapping | Sequence[Mapping] | None) -> Condition | None:
    """``shown_when`` as given to :func:`param` in its stored, hashable form."""
    if shown_when is None:
        return None
    clauses = [shown_when] if isinstance(shown_when, Mapping) else list(shown_when)
    out = []
    for clause in clauses:
        pairs = []
        for name, cond in clause.items():
            if cond != NONZERO:
                if isinstance(cond, (str, bytes)) or not isinstance(cond, Sequence):
                    raise TypeError(f"shown_when[{name!r}] must be a tuple of values or NONZERO, got {cond!r}")
                cond = tuple(cond)
            pairs.append((name, cond))
        out.append(tuple(pairs))
    return tuple(out)


def param(
    default: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    step: float | None = None,
    log: bool = False,
    choices: Sequence | None = None,
    kind: str | None = None,
    help: str = "",
    shown_when: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
) -> Any:
    """Declare a config field with its range and help text (a ``dataclasses.field``).

    ``kind`` is inferred from the default (bool, int, float; a ``choices`` list makes it "choice"; a tuple
    default makes it "columns") unless given. Tuples are used for column lists so configs stay hashable.

    ``shown_when`` says when the learner uses the field (default: always): a mapping of other field names
    to conditions that must all hold, or a list of such mappings of which any may hold. A condition is a
    tuple of values (``{"loss": ("margin",)}``) or :data:`NONZERO` (``{"contrastive_weight": NONZERO}``).
    """
    if kind is None:
        if choices is not None:
            kind = "choice"
        elif isinstance(default, bool):
            kind = "bool"
        elif isinstance(default, int):
            kind = "int"
        elif isinstance(default, float):
            kind = "float"
        elif isinstance(default, tuple):
            kind = "columns"
        else:
            raise TypeError(f"cannot infer the kind of a parameter with default {default!r}")
    if kind not in _KINDS:
        raise TypeError(f"unknown parameter kind {kind!r}; use one of {_KINDS}")
    meta = {
        "kind": kind,
        "low": low,
        "high": high,
        "step": step,
        "log": log,
        "choices": tuple(choices) if choices is not None else None,
        "help": help,
        "shown_when": _conditions(shown_when),
    }
    return dataclasses.field(default=default, metadata={"param": meta})


def _check(cls_name: str, name: str, value: Any, meta: dict) -> Any:
    """Validate one value against its metadata; return it normalised (ints for int fields, tuples for columns)."""
    kind = meta["kind"]
    where = f"{cls_name}.{name}"
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if kind == "choice":
        if value not in meta["choices"]:
            raise ConfigError(f"{where} must be one of {list(meta['choices'])}, got {value!r}")
        return value
    if kind == "columns":
        if isinstance(value, str):
            value = (value,)
        try:
            value = tuple(value)
        except TypeError:
            raise ConfigError(f"{where} must be a list of column names, got {value!r}") from None
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            raise ConfigError(f"{where} must hold column names (strings), got {bad[0]!r}")
        return value
    # numbers
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{where} must be a number, got {value!r}")
    if kind == "int":
        if not isinstance(value, numbers.Integral) and not float(value).is_integer():
            raise ConfigError(f"{where} must be a whole number, got {value!r}")
        value = int(value)
    else:
        value = float(value)
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be a finite number, got {value!r}")
    low, high = meta["low"], meta["high"]
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"{where} = {value!r} is out of range; choose a value in [{low}, {high}]")
    return value


@dataclass(frozen=True)
class LearnerConfig:
    """Settings every learner shares: the encoder's shape and the training loop's knobs."""

    embedding_dim: int = param(32, low=2, high=512, step=1, help="size d of each product's embedding vector")
    depth: int = param(2, low=1, high=6, step=1, help="hidden layers in the encoder (and the decoder)")
    width: int = param(256, low=16, high=2048, step=16, help="units per hidden layer")
    dropout: float = param(0.0, low=0.0, high=0.8, step=0.05, help="share of hidden units dropped while training")
    steps: int = param(1000, low=1, high=100_000, step=10,
                       help="optimiser steps the run takes: runs are sized by steps, not passes over the data "
                            "(a 50k catalog needs no more steps than a 10k one)")
    epochs: int = param(60, low=1, high=2000, step=1,
                        help="most passes over the data: a small table ends after this many even if steps remain")
    # 1,000 steps of 512 rows kept the 10-NN precision of 100 epochs of 256 on every real catalog in half the
    # time (docs/BENCHMARKS.md, quality against steps and seconds)
    batch_size: int = param(512, low=8, high=16384, step=8, log=True, help="rows per gradient step")
    learning_rate: float = param(3e-3, low=1e-5, high=1e-1, log=True,
                                 help="AdamW step size (the peak of the one-cycle schedule)")
    schedule: str = param("onecycle", choices=("onecycle", "constant"),
                          help="learning rate over the run: warm up over the first 5 % of the steps then decay "
                               "along a cosine to zero, or constant")
    max_seconds: float = param(0.0, low=0.0, high=86_400.0, step=1.0,
                               help="time budget of the training in seconds (0: none); the run takes fewer "
                                    "steps to end within it, and the schedule follows")
    precision: str = param("auto", choices=("auto", "float32"),
                           help="auto: bfloat16 matrix products where the CPU or GPU computes them natively "
                                "(about 2x faster training; weights stay float32), else float32")
    weight_decay: float = param(1e-5, low=0.0, high=0.1, help="AdamW decoupled weight decay")
    patience: int = param(20, low=1, high=500, step=1,
                          help="validation checks (20 per run) without a better loss before stopping early")
    val_fraction: float = param(0.1, low=0.0, high=0.5, step=0.05, help="share of rows held out to decide early stopping")
    # "scaled" measured better on real catalogs (hm 0.827 vs 0.750, bigbasket 0.718 vs 0.682 kNN@10)
    column_weighting: str = param("scaled", choices=("equal", "scaled"),
                                  help="reconstruction: every column counts the same, or as much as the "
                                       "feature space scaled it (e.g. text weight)")
    seed: int = param(0, low=0, high=2**31 - 1, step=1,
                      help="seed of every random draw: initialisation, shuffling, corruption and dropout")

    #: when the learner uses an inherited field, as ``param(shown_when=...)`` would say it; ``[]``: never
    shown_when: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            meta = f.metadata.get("param")
            if meta is None:
                continue
            value = _check(type(self).__name__, f.name, getattr(self, f.name), meta)
            object.__setattr__(self, f.name, value)  # frozen: normalise ints/tuples in place

    @classmethod
    def from_dict(cls, d: dict) -> "LearnerConfig":
        """Build a config from a plain dict (e.g. run.json); unknown keys raise ``ConfigError``."""
        if not isinstance(d, dict):
            raise ConfigError(f"{cls.__name__} settings must be a mapping, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(
                f"unknown setting(s) {unknown} for {cls.__name__}; known settings are {sorted(known)}"
            )
        return cls(**d)

    def to_dict(self) -> dict:
        """A JSON-safe dict of every field (column tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    def replace(self, **changes: Any) -> "LearnerConfig":
        """A copy with some fields changed (validated again); unknown names raise ``ConfigError``."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s) {unknown} for {type(self).__name__}; known settings are {sorted(known)}")
        return dataclasses.replace(self, **changes)


def config_fields(config_cls: type[LearnerConfig]) -> list[ParamSpec]:
    """The UI metadata of every field of ``config_cls``, in declaration order (with the class's own
    ``shown_when`` for inherited fields). Raises TypeError when that names a field the class lacks."""
    specs = []
    overrides = dict(getattr(config_cls, "shown_when", {}))
    fields = dataclasses.fields(config_cls)
    unknown = sorted(set(overrides) - {f.name for f in fields})
    if unknown:
        raise TypeError(f"{config_cls.__name__}.shown_when names {unknown}, which are not fields")
    for f in fields:
        meta = f.metadata.get("param")
        if meta is None:
            continue
        specs.append(
            ParamSpec(
                name=f.name,
                default=f.default,
                kind=meta["kind"],
                low=meta["low"],
                high=meta["high"],
                step=meta["step"],
                log=meta["log"],
                choices=meta["choices"],
                help=meta["help"],
                shown_when=_conditions(overrides[f.name]) if f.name in overrides else meta["shown_when"],
            )
        )
    return specs


def visible_fields(config_cls: type[LearnerConfig],
                   values: LearnerConfig | Mapping[str, Any] | None = None) -> list[ParamSpec]:
    """The fields of ``config_cls`` the learner uses at ``values`` (a config, or a mapping of some field
    names to values, the others at their defaults), in declaration order: :func:`config_fields` less
    those whose ``shown_when`` does not hold. E.g. the contrastive learner's ``margin`` only with
    ``loss="margin"``, its ``temperature`` only with ``"ntxent"``.

    Pure: nothing is validated or changed. Raises ConfigError for a name that is not a field, TypeError
    for a ``shown_when`` that names an unknown field (a mistake in the config's declaration).
    """
    specs = config_fields(config_cls)
    current = {s.name: s.default for s in specs}
    if isinstance(values, LearnerConfig):
        values = {name: getattr(values, name) for name in current}
    unknown = sorted(set(values or {}) - set(current))
    if unknown:
        raise ConfigError(f"unknown setting(s) {unknown} for {config_cls.__name__}; "
                          f"known settings are {sorted(current)}")
    current.update(values or {})
    for s in specs:
        named = {name for clause in s.shown_when or () for name, _ in clause}
        if named - set(current):
            raise TypeError(f"{config_cls.__name__}.{s.name}: shown_when names {sorted(named - set(current))}, "
                            "which are not fields")
    return [s for s in specs if s.in_use(current)]
