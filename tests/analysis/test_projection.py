"""Projections: finite, right shape, exact kNN fed to UMAP, graceful on tiny inputs.

All UMAP tests live in this module so umap-learn's numba compilation (~25 s) is paid once.
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest

from product_repr.analysis import evaluation, neighbours, projection
from product_repr.errors import ConfigError


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 16)) * 4
    y = rng.integers(0, 4, size=300)
    return (centres[y] + rng.normal(size=(300, 16))).astype(np.float32), y


@pytest.mark.parametrize("dims", [2, 3])
def test_umap_is_finite_and_shaped(blobs, dims):
    Z, y = blobs
    proj = projection.project(Z, method="umap", dims=dims, seed=0, n_epochs=50)
    assert proj.coords.shape == (300, dims) and proj.coords.dtype == np.float32, proj.coords.shape
    assert np.isfinite(proj.coords).all(), "UMAP produced non-finite coordinates"
    assert proj.method == "umap" and proj.params["knn"] == "exact (faiss)", proj.params
    json.dumps(proj.params)
    # the map keeps the clusters: its kNN label precision is high
    assert evaluation.knn_precision(proj.coords, y.astype(str), k=10) > 0.9


def test_umap_seed_is_reproducible(blobs):
    Z, _ = blobs
    a = projection.project(Z, seed=3, n_epochs=30).coords
    b = projection.project(Z, seed=3, n_epochs=30).coords
    np.testing.assert_array_equal(a, b, err_msg="same seed gave a different map")


def test_umap_warns_about_nothing_and_leaves_the_warning_filters_alone(blobs):
    """umap-learn's warning that a precomputed kNN gives no transform() is ignored inside project only (and
    nothing in the package filters warnings at import: tests/test_compute.py checks the source)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inner = list(warnings.filters)
        projection.project(blobs[0], seed=0, n_epochs=20)
        assert warnings.filters == inner, "project must restore the warning filters"
    umap_warnings = [str(w.message) for w in caught if "umap" in w.filename or "precomputed" in str(w.message)]
    assert not umap_warnings, f"umap-learn warnings reached the caller: {umap_warnings}"


def test_umap_accepts_given_knn_and_checks_it(blobs):
    Z, _ = blobs
    knn = neighbours.umap_knn(Z, 20)
    assert (knn[0][:, 0] == np.arange(300)).all() and (knn[1][:, 0] == 0).all(), "self must be column 0"
    proj = projection.project(Z, seed=0, knn=knn, n_epochs=30)
    assert proj.params["knn"] == "given" and np.isfinite(proj.coords).all()
    with pytest.raises(ConfigError, match="has 5 neighbours per row but n_neighbors=15"):
        projection.project(Z, knn=(knn[0][:, :5], knn[1][:, :5]))
    with pytest.raises(ConfigError, match="itself in column 0"):
        projection.project(Z, knn=(knn[0][:, ::-1].copy(), knn[1]))


def test_euclidean_metric_and_fast_mode(blobs):
    Z, _ = blobs
    proj = projection.project(Z, metric="euclidean", seed=None, n_epochs=30)
    assert proj.coords.shape == (300, 2) and np.isfinite(proj.coords).all()
    assert "not reproducible" in proj.note or "differs" in proj.note, proj.note


def test_sample_path_places_the_rest(blobs):
    Z, y = blobs
    proj = projection.project(Z, seed=0, sample_limit=150, n_epochs=200)  # 50 epochs left blobs merged on one CPU and not another
    assert proj.coords.shape == (300, 2) and np.isfinite(proj.coords).all()
    assert "150-row sample" in proj.note, proj.note
    assert evaluation.knn_precision(proj.coords, y.astype(str), k=10) > 0.85, "placed points lost their cluster"


def test_warm_up_is_idempotent_and_runs_in_a_thread():
    thread = projection.start_warm_up()
    thread.join(timeout=600)
    assert not thread.is_alive() and projection.is_warm(), "background warm-up did not finish"
    t0 = time.perf_counter()
    projection.warm_up()  # returns at once
    assert time.perf_counter() - t0 < 0.1, "a second warm_up() should not fit UMAP again"


def test_umap_knn_euclidean_matches_brute_force(blobs):
    Z, _ = blobs
    ids, dists = neighbours.umap_knn(Z, 6, metric="euclidean")
    D = np.linalg.norm(Z[:, None] - Z[None], axis=2)
    np.testing.assert_allclose(dists, np.sort(D, axis=1)[:, :6], atol=1e-3)


def test_pca_and_none_shapes(blobs):
    Z, _ = blobs
    for dims in (2, 3):
        proj = projection.project(Z, method="pca", dims=dims)
        assert proj.coords.shape == (300, dims) and np.isfinite(proj.coords).all()
    none = projection.project(Z[:, :3], method="none", dims=3)
    np.testing.assert_array_equal(none.coords, Z[:, :3])
    padded = projection.project(Z[:, :2], method="none", dims=3)
    assert padded.coords.shape == (300, 3) and (padded.coords[:, 2] == 0).all() and "other axes are 0" in padded.note
    with pytest.raises(ConfigError, match="at most 3 dimensions; it has 16. Use 'umap' or 'pca'"):
        projection.project(Z, method="none")


@pytest.mark.parametrize("n", [1, 2, 5, 16])
def test_tiny_inputs_degrade_gracefully(n):
    Z = np.random.default_rng(n).normal(size=(n, 8)).astype(np.float32)
    proj = projection.project(Z, method="umap", dims=2)
    assert proj.coords.shape == (n, 2) and np.isfinite(proj.coords).all()
    assert proj.method == "pca" and proj.note, proj


def test_identical_rows_do_not_crash():
    Z = np.ones((100, 8), dtype=np.float32)
    proj = projection.project(Z)
    assert proj.coords.shape == (100, 2) and np.isfinite(proj.coords).all()
    assert "distinct" in proj.note, proj.note


def test_bad_settings_are_explained():
    Z = np.zeros((50, 4), dtype=np.float32)
    with pytest.raises(ConfigError, match="method 'tsne' is unknown"):
        projection.project(Z, method="tsne")
    with pytest.raises(ConfigError, match="2 or 3 dimensions, got dims=4"):
        projection.project(Z, dims=4)
    with pytest.raises(ConfigError, match="n_neighbors=1 is out of range"):
        projection.project(Z, n_neighbors=1)
    with pytest.raises(ConfigError, match="metric 'manhattan' is unknown"):
        projection.project(Z, metric="manhattan")


def test_placing_the_rest_reports_its_progress_and_places_the_same(blobs, monkeypatch):
    monkeypatch.setattr(neighbours, "QUERY_CHUNK", 60)
    Z, _ = blobs
    done: list[int] = []
    followed = projection.project(Z, seed=0, sample_limit=150, n_epochs=30, progress=done.append)
    assert done == [60, 120, 150], "the 150 products outside the sample, 60 at a time"
    plain = projection.project(Z, seed=0, sample_limit=150, n_epochs=30)
    np.testing.assert_allclose(followed.coords, plain.coords, atol=1e-5)
    projection.project(Z, seed=0, n_epochs=30, progress=done.append)
    assert done == [60, 120, 150], "nothing to place below the sample limit"


def test_many_products_are_placed_through_an_approximate_index_that_says_its_recall(monkeypatch):
    monkeypatch.setattr(neighbours, "EXACT_ROWS", 100)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(6, 16)) * 4
    y = rng.integers(0, 6, size=3_000)
    Z = (centres[y] + rng.normal(size=(3_000, 16))).astype(np.float32)
    proj = projection.project(Z, seed=0, sample_limit=1_000, n_epochs=100)
    placing = proj.params["placing"]
    assert placing["method"] == "approximate (faiss IVF)" and placing["recall"] >= neighbours.TARGET_RECALL
    assert f"recall@15 {placing['recall']:.2f}" in proj.note, proj.note
    assert evaluation.knn_precision(proj.coords, y.astype(str), k=10) > 0.85, "placed points lost their cluster"
    json.dumps(proj.params)  # what run.json stores
