"""Catalog-wide duplicate pairs from X: candidates from the k nearest neighbours, a threshold, groups."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr.analysis import duplicates
from product_repr.errors import ConfigError
from product_repr.features.space import Span


def _spans(widths):
    out, start = [], 0
    for j, w in enumerate(widths):
        out.append(Span(f"c{j}", "text", start, start + w, "mse"))
        start += w
    return out


def test_near_copies_are_listed_most_similar_first_and_joined_into_groups():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 16)).astype(np.float32)
    X[10] = X[3] + 0.01 * rng.normal(size=16)  # a near copy of 3
    X[11] = X[3] + 0.02 * rng.normal(size=16)  # and another: 3, 10, 11 are one group
    X[50] = X[40] + 0.01 * rng.normal(size=16)
    ids = [f"P{i:03d}" for i in range(200)]
    pairs = duplicates.duplicate_pairs(X, _spans([4, 4, 4, 4]), ids, Z=X[:, :4], threshold=0.9)
    listed = {frozenset(p) for p in zip(pairs["product_a"], pairs["product_b"])}
    assert {frozenset({"P003", "P010"}), frozenset({"P003", "P011"}), frozenset({"P040", "P050"})} <= listed
    assert len(listed) <= 4, f"random products listed as duplicates: {pairs}"
    assert pairs["similarity"].is_monotonic_decreasing
    groups = pairs.groupby("group")["product_a"].apply(set).tolist()
    assert any({"P003"} <= g for g in groups) and pairs["group"].nunique() == 2, pairs
    assert pairs["embedding_similarity"].notna().all()


def test_every_column_counts_the_same_whatever_its_width():
    """A sibling equal in one wide column (a shared description) but different in three narrow ones is
    less of a duplicate than a copy that differs a little in the wide column only."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 64 + 3)).astype(np.float32)
    spans = [Span("description", "text", 0, 64, "mse"),
             *(Span(f"n{j}", "numeric", 64 + j, 65 + j, "mse") for j in range(3))]
    X[1] = X[0]
    X[1, 64:] = X[0, 64:] + 2.0  # sibling: same description, other numbers
    X[2] = X[0]
    X[2, :64] += 0.05 * rng.normal(size=64)  # copy: description barely varied, numbers equal
    a, b, s = duplicates.candidate_pairs(X, spans, k=5)
    sim = {(int(i), int(j)): float(v) for i, j, v in zip(a, b, s)}
    assert sim[(0, 2)] > 0.95 > sim[(0, 1)], sim
    X_cosine = (X[0] @ X[1]) / np.linalg.norm(X[0]) / np.linalg.norm(X[1])
    assert X_cosine > 0.85  # a plain cosine over X would have called the sibling a near-copy


def test_each_pair_once_thresholds_reuse_the_stored_candidates_and_a_bad_threshold_is_refused():
    X = np.eye(6, dtype=np.float32)
    X[4] = X[0]
    spans = _spans([3, 3])
    a, b, s = duplicates.candidate_pairs(X, spans, k=3)
    assert all(i < j for i, j in zip(a, b)) and len(set(zip(a, b))) == len(a)
    assert (a[0], b[0], round(float(s[0]), 4)) == (0, 4, 1.0)
    stored = duplicates.pairs(X, spans, list("abcdef"), floor=0.0)
    assert duplicates.at_threshold(stored, 0.99)[["product_a", "product_b"]].values.tolist() == [["a", "e"]]
    assert len(duplicates.at_threshold(stored, 0.0)) == len(stored) > 1
    with pytest.raises(ConfigError, match="not a cosine similarity"):
        duplicates.duplicate_pairs(X, spans, list("abcdef"), threshold=1.5)


def test_differences_put_the_columns_that_differ_first():
    df = pd.DataFrame({"title": ["Red kettle 1.7 l", "Red kettle 1.7l"], "brand": ["Acme", "Acme"],
                       "price": [30.0, 29.0], "note": [None, ""]})
    frame = duplicates.differences(df, 0, 1)
    assert frame["same"].tolist() == [False, False, True, True]
    assert set(frame.loc[~frame["same"], "column"]) == {"title", "price"}


def test_column_distances_chunk_by_chunk_of_pairs_are_the_same(monkeypatch):
    from product_repr.features.space import Span
    from product_repr.data.schema import Role

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    spans = [Span("a", Role.NUMERIC, 0, 2, "mse"), Span("t", Role.TEXT, 2, 6, "mse")]
    a, b = rng.integers(0, 300, size=(2, 1_000))
    whole = duplicates.column_distances(X, spans, a, b)
    monkeypatch.setattr(duplicates, "PAIR_CHUNK", 97)
    np.testing.assert_array_equal(duplicates.column_distances(X, spans, a, b), whole)


def test_the_search_and_the_scoring_report_their_progress_and_change_nothing(monkeypatch):
    from product_repr.analysis import neighbours

    monkeypatch.setattr(neighbours, "QUERY_CHUNK", 64)
    monkeypatch.setattr(duplicates, "PAIR_CHUNK", 500)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 16)).astype(np.float32)
    ids = [f"P{i:03d}" for i in range(200)]
    seen: list[tuple[str, int, int]] = []
    followed = duplicates.pairs(X, _spans([4, 4, 4, 4]), ids, floor=-1.0,
                                progress=lambda *step: seen.append(step))
    searched = [s for s in seen if s[0] == "search"]
    scored = [s for s in seen if s[0] == "score"]
    assert searched == [("search", d, 200) for d in (64, 128, 192, 200)]
    assert len(followed) == scored[-1][1] == scored[-1][2] and [s[1] for s in scored][:2] == [500, 1000]
    assert seen.index(searched[-1]) < seen.index(scored[0]), "the search comes before the scoring"
    pd.testing.assert_frame_equal(followed, duplicates.pairs(X, _spans([4, 4, 4, 4]), ids, floor=-1.0))
