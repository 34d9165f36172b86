"""Column roles and their inference."""
from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    """What a column is to the feature space."""

    ID = "id"
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    TEXT = "text"
    IGNORE = "ignore"
