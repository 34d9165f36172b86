"""Turning a product table into the matrix X the learners read: one span of columns per source column.

:class:`FeatureSpace` (``space.py``) encodes each role; text goes through TF-IDF n-grams (``text.py``,
``ngrams.py``) and a pretrained sentence encoder (``sentence.py``, models under ``models/``).
Imports only :mod:`product_repr.data` and :mod:`product_repr.errors`.
"""
from __future__ import annotations

import importlib

_LAZY = {"FeatureSpace": "space", "Span": "space"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
