"""product_repr: learn vector representations of products from a catalog table.

Public names are imported lazily so that ``import product_repr`` stays cheap
(torch, umap and faiss load only when a learner, projection or search is used).
"""
from __future__ import annotations

import importlib

from product_repr.errors import (
    ConfigError,
    FeatureError,
    NotFittedError,
    ProductReprError,
    RunError,
    SchemaError,
    TableError,
    TrainingError,
)

__version__ = "0.1.0"

_LAZY = {
    "read_table": "product_repr.data.tables",
    "infer_schema": "product_repr.data.schema",
    "Schema": "product_repr.data.schema",
    "Role": "product_repr.data.schema",
    "ColumnInfo": "product_repr.data.schema",
    "as_numbers": "product_repr.data.schema",
    "FeatureSpace": "product_repr.features.space",
    "Span": "product_repr.features.space",
    "load_run": "product_repr.runs",
    "save_run": "product_repr.runs",
    "Run": "product_repr.runs",
}

__all__ = [
    "ConfigError",
    "FeatureError",
    "NotFittedError",
    "ProductReprError",
    "RunError",
    "SchemaError",
    "TableError",
    "TrainingError",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "demo":
        return importlib.import_module("product_repr.data.demo")
    raise AttributeError(f"module 'product_repr' has no attribute {name!r}")
