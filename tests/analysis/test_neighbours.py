"""Neighbours are exact: checked against a brute-force numpy search."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from product_repr.analysis import neighbours
from product_repr.errors import ConfigError


def brute_force(Z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cosine top-k by a full similarity matrix, self masked out."""
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    Zn = np.divide(Z, norms, out=np.zeros_like(Z, dtype=np.float64), where=norms > 0)
    S = Zn @ Zn.T
    np.fill_diagonal(S, -np.inf)
    order = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return order, np.take_along_axis(S, order, axis=1)


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 16))
    Z[10] = Z[11]  # exact duplicates
    Z[20] = Z[21] = Z[22]
    Z[30] = 0.0  # a zero vector
    return Z


def test_all_neighbours_match_brute_force(data):
    ids, sims = neighbours.all_neighbours(data, k=7)
    ref_ids, ref_sims = brute_force(data, 7)
    assert ids.dtype == np.int64 and sims.dtype == np.float32, (ids.dtype, sims.dtype)
    assert ids.shape == sims.shape == (300, 7)
    np.testing.assert_allclose(sims, ref_sims, atol=1e-5, err_msg="similarities differ from brute force")
    assert np.all(np.diff(sims, axis=1) <= 1e-6), "similarities not sorted descending"
    assert not np.isnan(sims).any(), "zero vector produced NaN similarities"
    assert not (ids == np.arange(300)[:, None]).any(), "a product lists itself although exclude_self=True"
    # ids may differ from brute force only between exact ties: the true similarity of every returned id
    # must equal the reference similarity at that rank, and no id may repeat within a row
    norms = np.linalg.norm(data, axis=1, keepdims=True)
    Zn = np.divide(data, norms, out=np.zeros_like(data), where=norms > 0)
    true_sims = np.einsum("id,ikd->ik", Zn, Zn[ids])
    np.testing.assert_allclose(true_sims, ref_sims, atol=1e-5, err_msg="returned ids are not the nearest")
    assert all(len(set(row)) == 7 for row in ids), "an id repeats within a row"
    agree = (ids == ref_ids).mean()
    assert agree > 0.95, f"only {agree:.1%} of ids agree with brute force"


def test_duplicates_find_each_other_first(data):
    ids, sims = neighbours.all_neighbours(data, k=2)
    assert ids[10, 0] == 11 and ids[11, 0] == 10, f"duplicate pair 10/11 not top-1: {ids[10]}, {ids[11]}"
    assert set(ids[20]) == {21, 22}, f"triplet 20/21/22 not each other's top-2: {ids[20]}"
    assert sims[20, 0] == pytest.approx(1.0, abs=1e-5)


def test_without_self_exclusion_self_is_first_at_similarity_one(data):
    ids, sims = neighbours.all_neighbours(data, k=3, exclude_self=False)
    nonzero = np.linalg.norm(data, axis=1) > 0
    np.testing.assert_array_equal(ids[:, 0], np.arange(300), err_msg="self is not the nearest neighbour")
    np.testing.assert_allclose(sims[nonzero, 0], 1.0, atol=1e-5, err_msg="self-similarity is not 1")
    assert sims[30, 0] == 0.0, "a zero vector's self-similarity should be 0, not NaN"


def test_query_equals_all_pairs_row(data):
    ids, sims = neighbours.all_neighbours(data, k=5)
    index = neighbours.NeighbourIndex(data)
    for i in (0, 10, 20, 30, 299):
        q_ids, q_sims = neighbours.query(index, i, k=5)
        np.testing.assert_allclose(q_sims, sims[i], atol=1e-5, err_msg=f"query({i}) similarities differ")
        assert i not in q_ids
        if len(np.unique(np.round(sims[i], 5))) == 5 and i != 30:
            np.testing.assert_array_equal(q_ids, ids[i], err_msg=f"query({i}) ids differ from all_neighbours")
    q_ids, q_sims = neighbours.query(data, 5, k=3, exclude_self=False)
    assert q_ids[0] == 5 and q_sims[0] == pytest.approx(1.0, abs=1e-5)
    a_ids, _ = index.all(5)
    np.testing.assert_array_equal(a_ids[~np.isin(np.arange(300), [30])][:, :1], ids[~np.isin(np.arange(300), [30])][:, :1])


def test_numpy_fallback_matches_faiss(data, monkeypatch):
    ids, sims = neighbours.all_neighbours(data, k=4)
    monkeypatch.setattr(neighbours, "faiss", None)
    fb_ids, fb_sims = neighbours.all_neighbours(data, k=4)
    np.testing.assert_allclose(fb_sims, sims, atol=1e-5, err_msg="numpy fallback differs from faiss")


def test_bad_k_and_index_are_explained(data):
    with pytest.raises(ConfigError, match="k=300 neighbours asked for 300 products"):
        neighbours.all_neighbours(data, k=300)
    with pytest.raises(ConfigError, match="product index 300 is out of range"):
        neighbours.query(data, 300, k=3)
    with pytest.raises(ConfigError, match="2-D array"):
        neighbours.all_neighbours(np.zeros(5), k=1)


def test_overlap_counts_common_neighbours():
    a = np.array([[1, 2, 3], [4, 5, 6]])
    b = np.array([[3, 2, 9], [7, 8, 0]])
    np.testing.assert_allclose(neighbours.overlap(a, b), [2 / 3, 0.0])
    np.testing.assert_allclose(neighbours.overlap(a, a), [1.0, 1.0])
    with pytest.raises(ConfigError, match="same n"):
        neighbours.overlap(a, b[:1])


def test_neighbours_frame_is_long_and_ranked():
    ids = np.array([[1, 2], [0, 2], [1, 0]])
    sims = np.array([[0.9, 0.5], [0.9, 0.4], [0.5, 0.4]], dtype=np.float32)
    frame = neighbours.neighbours_frame(np.array(["a", "b", "c"], dtype=object), ids, sims)
    assert list(frame.columns) == ["product_id", "rank", "neighbour_id", "similarity"]
    assert frame["rank"].tolist() == [1, 2, 1, 2, 1, 2]
    assert frame.loc[frame.product_id == "c", "neighbour_id"].tolist() == ["b", "a"]
    assert isinstance(frame, pd.DataFrame) and len(frame) == 6


@settings(max_examples=40, deadline=None)
@given(
    st.integers(min_value=3, max_value=40).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.integers(min_value=1, max_value=n - 1),
            st.lists(st.integers(-2, 2), min_size=n * 3, max_size=n * 3),
        )
    )
)
def test_property_exact_on_tie_heavy_data(case):
    """Small integer vectors: many exact duplicates, ties and zero rows."""
    n, k, values = case
    Z = np.array(values, dtype=np.float64).reshape(n, 3)
    ids, sims = neighbours.all_neighbours(Z, k)
    _, ref_sims = brute_force(Z, k)
    norms = np.linalg.norm(Z, axis=1, keepdims=True)
    Zn = np.divide(Z, norms, out=np.zeros_like(Z), where=norms > 0)
    true_sims = np.einsum("id,ikd->ik", Zn, Zn[ids])
    assert not (ids == np.arange(n)[:, None]).any(), "a product lists itself"
    assert all(len(set(row)) == k for row in ids), "an id repeats within a row"
    np.testing.assert_allclose(true_sims, ref_sims, atol=1e-5, err_msg="not the exact top-k")
    np.testing.assert_allclose(sims, ref_sims, atol=1e-5)


def test_neighbour_graph_is_exact_below_max_dim_and_excludes_self(data):
    ids = neighbours.neighbour_graph(data, 5)
    assert ids.shape == (300, 5) and ids.dtype == np.int64
    assert not (ids == np.arange(300)[:, None]).any(), "a row is never its own partner"
    want, _ = brute_force(data, 5)
    agree = np.mean([len(set(a) & set(b)) / 5 for a, b in zip(ids, want)])
    assert agree > 0.99, f"graph differs from the exact search: overlap {agree:.3f}"


def test_neighbour_graph_projection_keeps_low_rank_neighbourhoods():
    """Wide input of rank 8: projecting on 16 principal directions loses nothing."""
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(400, 8)) @ rng.normal(size=(8, 600))).astype(np.float32)
    projected = neighbours.neighbour_graph(X, 10, max_dim=16)
    exact = neighbours.neighbour_graph(X, 10, max_dim=600)
    agree = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(projected, exact)])
    assert agree > 0.95, f"projection changed the neighbourhoods: overlap {agree:.3f}"


def test_neighbour_graph_of_a_big_table_finds_its_directions_on_a_sample(monkeypatch):
    """Above GRAPH_SVD_ROWS the principal directions come from a sample and every row is projected chunk by
    chunk: on data of rank 8 the neighbourhoods are those of the whole matrix."""
    rng = np.random.default_rng(2)
    X = (rng.normal(size=(3_000, 8)) @ rng.normal(size=(8, 300))).astype(np.float32)
    whole = neighbours.neighbour_graph(X, 10, max_dim=16)
    monkeypatch.setattr(neighbours, "GRAPH_SVD_ROWS", 500)
    monkeypatch.setattr(neighbours, "_GRAPH_CHUNK", 700)
    sampled = neighbours.neighbour_graph(X, 10, max_dim=16)
    agree = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(sampled, whole)])
    assert agree > 0.95, f"sampled directions changed the neighbourhoods: overlap {agree:.3f}"


def test_neighbour_graph_clips_k_and_needs_two_rows():
    assert neighbours.neighbour_graph(np.eye(3, dtype=np.float32), 10).shape == (3, 2)
    with pytest.raises(ConfigError, match="at least 2 rows, got 1"):
        neighbours.neighbour_graph(np.ones((1, 4), np.float32), 3)


def test_stored_neighbours_come_back_as_the_arrays_that_made_them():
    Z = np.random.default_rng(5).normal(size=(30, 4)).astype(np.float32)
    ids, sims = neighbours.all_neighbours(Z, 10)
    pid = np.array([f"p{i}" for i in range(30)], dtype=object)
    frame = neighbours.neighbours_frame(pid, ids, sims).sample(frac=1.0, random_state=0)  # order does not matter
    back_ids, back_sims = neighbours.from_frame(frame, pid, 4)
    np.testing.assert_array_equal(back_ids, ids[:, :4])
    np.testing.assert_allclose(back_sims, sims[:, :4])
    assert neighbours.from_frame(frame, pid, 11) is None, "more neighbours than stored: compute them"
    assert neighbours.from_frame(frame, pid[::-1], 3)[0][0, 0] == 29 - ids[29, 0], "rows follow product_ids"
    assert neighbours.from_frame(None, pid, 3) is None
    assert neighbours.from_frame(frame, np.array(["zz", *pid[1:]], dtype=object), 3) is None, "unknown product"


def test_isolation_is_one_minus_the_mean_similarity():
    sims = np.array([[0.9, 0.8], [0.1, -0.1], [0.5, 0.5]])
    assert np.allclose(neighbours.isolation(sims), [0.15, 1.0, 0.5])
    assert neighbours.isolation(np.zeros((0, 3))).shape == (0,)


def _clustered(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(2, n // 100), d)).astype(np.float32)
    return (centres[rng.integers(0, len(centres), size=n)] + 0.5 * rng.normal(size=(n, d))).astype(np.float32)


def test_the_approximate_search_reports_the_recall_it_has(monkeypatch):
    """Above EXACT_ROWS the search is approximate: its measured recall@10 (on a sample) reaches the target,
    and is the recall it really has over every row, within sampling error."""
    monkeypatch.setattr(neighbours, "EXACT_ROWS", 5_000)
    Z = _clustered(40_000)
    ids, sims, info = neighbours.search_all(Z, 10)
    assert info["method"] == "approximate (faiss IVF)" and info["k"] == 10 and info["sample"] == 1_000
    assert info["recall"] >= neighbours.TARGET_RECALL >= 0.95
    exact_ids, exact_sims, exact = neighbours.search_all(Z, 10, exact=True)
    assert exact == {"method": "exact"}
    true = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(ids, exact_ids)])
    assert true >= 0.95 and abs(true - info["recall"]) < 0.02
    rows = np.arange(len(Z))
    assert not (ids == rows[:, None]).any(), "a row never lists itself"
    assert (ids >= 0).all() and (np.diff(sims, axis=1) <= 1e-6).all(), "sorted, no missing neighbour"
    assert (sims[:, 0] <= exact_sims[:, 0] + 1e-5).all(), "never more similar than the exact nearest"


def test_the_approximate_search_raises_its_probes_until_the_recall_is_enough(monkeypatch):
    monkeypatch.setattr(neighbours, "TARGET_RECALL", 0.999)
    Z = np.random.default_rng(1).normal(size=(20_000, 24)).astype(np.float32)  # no clusters: hard for IVF
    ids, _, info = neighbours.search_all(Z, 10, exact=False)
    assert info["nprobe"] > 8, "8 lists are not enough on structureless data"
    assert info["recall"] >= 0.999 or info["nprobe"] == info["nlist"]


def test_small_tables_keep_the_exact_search():
    ids, _, info = neighbours.search_all(_clustered(3_000), 5)
    assert info == {"method": "exact"}


@pytest.mark.parametrize("exact", [True, False])
def test_a_followed_search_reports_its_rows_and_finds_the_same_neighbours(monkeypatch, exact):
    """With ``progress`` the search runs QUERY_CHUNK queries at a time, reports the rows done after each,
    and returns what one search returns."""
    monkeypatch.setattr(neighbours, "QUERY_CHUNK", 700)
    Z = _clustered(3_000)
    done: list[int] = []
    ids, sims, info = neighbours.search_all(Z, 10, exact=exact, progress=done.append)
    assert done == [700, 1400, 2100, 2800, 3000]
    plain_ids, plain_sims, plain_info = neighbours.search_all(Z, 10, exact=exact)
    np.testing.assert_array_equal(ids, plain_ids)
    np.testing.assert_allclose(sims, plain_sims, atol=1e-6)
    assert info == plain_info


def test_rows_of_another_set_are_found_exactly_then_approximately_with_their_recall(monkeypatch):
    """search_rows: the nearest base rows of other queries; exact for small sets, and above EXACT_ROWS² pairs
    an IVF index whose measured recall is the recall it has, within sampling error."""
    Z = _clustered(24_000)
    base, queries = Z[:12_000], Z[12_000:]
    ids, sims, info = neighbours.search_rows(base, queries, 15)
    assert info == {"method": "exact"}
    np.testing.assert_array_equal(ids, neighbours.nearest_rows(base, queries, 15)[0])
    monkeypatch.setattr(neighbours, "EXACT_ROWS", 5_000)
    found, found_sims, approx = neighbours.search_rows(base, queries, 15)
    assert approx["method"] == "approximate (faiss IVF)" and approx["k"] == 15
    assert approx["recall"] >= neighbours.TARGET_RECALL
    true = np.mean([len(np.intersect1d(a, b)) / 15 for a, b in zip(found, ids)])
    assert true >= 0.95 and abs(true - approx["recall"]) < 0.02
    assert (found >= 0).all() and (found_sims[:, 0] <= sims[:, 0] + 1e-5).all()
