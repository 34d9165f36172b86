"""FeatureSpace: a table in, a float32 feature matrix out, one span per source column."""
from __future__ import annotations

from dataclasses import dataclass

from product_repr.schema import Role


@dataclass(frozen=True)
class Span:
    """Where one source column lives in X, and how its reconstruction is scored.

    ``loss`` is ``"mse"`` for numeric and text spans, ``"ce"`` for categorical (one-hot) spans.
    """

    name: str
    role: Role
    start: int
    stop: int
    loss: str

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)

    @property
    def width(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict:
        return {"name": self.name, "role": self.role.value, "start": self.start, "stop": self.stop, "loss": self.loss}

    @classmethod
    def from_dict(cls, d: dict) -> "Span":
        return cls(d["name"], Role(d["role"]), int(d["start"]), int(d["stop"]), d["loss"])
