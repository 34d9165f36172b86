"""Search by meaning: the products nearest to a free-text query.

The query is encoded by the run's own feature space, as a product whose every text column says the query
and whose other columns are the catalog's average (their mean rows of X), so nothing but the words moves it.
Two ways to compare it with the products, measured on the real catalogs' labels in docs/BENCHMARKS.md
(``bench/search.py``):

- ``learned``: the query row through the learner's encoder, cosine against the embeddings — the products
  the model would place beside such a product;
- ``text``: cosine between the query's text blocks and the products' text blocks of X (the sentence and
  TF-IDF vectors alone).
"""
from __future__ import annotations

import numpy as np

from product_repr.analysis import neighbours
from product_repr.errors import ConfigError

SPACES = ("learned", "text")


def text_spans(feature_space) -> list:
    return [s for s in feature_space.spans if getattr(s.role, "value", s.role) == "text"]


def query_row(feature_space, text: str, fill: np.ndarray) -> np.ndarray:
    """X of a product that is ``text`` in every text column and ``fill`` (p,) elsewhere: float32 (1, p).
    Raises ConfigError for an empty query or a run without text columns."""
    words = " ".join(str(text or "").split())
    if not words:
        raise ConfigError("type a few words to search for (a product kind, a brand, a use)")
    spans = text_spans(feature_space)
    if not spans:
        raise ConfigError("this run has no text column to search in; search needs a title or description column")
    row = np.asarray(fill, dtype=np.float32).reshape(1, -1).copy()
    for span in spans:
        row[:, span.start:span.stop] = feature_space.text_encoder(span.name).transform([words])
    return row


def search(run, text: str, X: np.ndarray, *, k: int = 10, space: str = "learned") -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` products nearest to ``text``: (row positions int64 (k,), cosine similarities float32 (k,)).
    ``X``: the run's encoded products (n, p). ``space``: "learned" (the embedding) or "text" (X's text
    blocks). Raises ConfigError for an unknown space, an empty query or no text column."""
    if space not in SPACES:
        raise ConfigError(f"search space {space!r} is not one of {', '.join(SPACES)}")
    X = np.asarray(X, dtype=np.float32)
    k = max(1, min(int(k), len(X)))
    row = query_row(run.feature_space, text, X.mean(axis=0))
    if space == "learned":
        base, query = np.asarray(run.embeddings, dtype=np.float32), run.learner.encode(row)
    else:
        cols = np.concatenate([np.arange(s.start, s.stop) for s in text_spans(run.feature_space)])
        base, query = X[:, cols], row[:, cols]
    ids, sims = neighbours.nearest_rows(base, np.asarray(query, dtype=np.float32), k)
    return ids[0], sims[0]
