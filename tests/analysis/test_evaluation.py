"""Quality metrics checked against independent computations."""
from __future__ import annotations

import json

import numpy as np
import pytest

from product_repr.analysis import evaluation
from product_repr.errors import ConfigError


def brute_knn_precision(Z: np.ndarray, labels: list, k: int) -> float:
    keep = np.array([lab is not None for lab in labels])
    Zk = Z[keep]
    lab = np.array([lab for lab in labels if lab is not None])
    Zn = Zk / np.linalg.norm(Zk, axis=1, keepdims=True)
    S = Zn @ Zn.T
    np.fill_diagonal(S, -np.inf)
    nn = np.argsort(-S, axis=1, kind="stable")[:, :k]
    return float(np.mean(lab[nn] == lab[:, None]))


@pytest.fixture
def clusters():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(4, 8)) * 3
    y = rng.integers(0, 4, size=400)
    Z = centres[y] + rng.normal(size=(400, 8))
    labels = [f"c{v}" for v in y]
    for i in range(0, 400, 37):
        labels[i] = None  # missing labels are dropped
    return Z.astype(np.float32), labels


def test_knn_precision_equals_brute_force(clusters):
    Z, labels = clusters
    got = evaluation.knn_precision(Z, labels, k=10)
    want = brute_knn_precision(Z, labels, 10)
    assert got == pytest.approx(want, abs=1e-9), f"knn precision {got} != brute force {want}"
    assert 0.5 < got <= 1.0, f"clustered data should give high precision, got {got}"


def test_knn_precision_needs_enough_labelled_rows():
    with pytest.raises(ConfigError, match="needs at least 11 labelled products, found 3"):
        evaluation.knn_precision(np.eye(5), ["a", "b", "a", None, None], k=10)


def test_linear_probe_beats_chance_and_handles_rare_classes(clusters):
    Z, labels = clusters
    labels = list(labels)
    labels[1] = "rare"  # one member: cannot be stratified, left out
    acc = evaluation.linear_probe_accuracy(Z, labels, folds=3, seed=0)
    chance = evaluation.chance_level(labels)
    assert acc > chance + 0.3, f"linear probe {acc:.2f} not far above chance {chance:.2f}"
    assert np.isnan(evaluation.linear_probe_accuracy(Z, ["a"] * 400)), "one class should give NaN"


def test_trustworthiness_of_a_perfect_map_is_one():
    rng = np.random.default_rng(2)
    Z = rng.normal(size=(200, 3))
    Z /= np.linalg.norm(Z, axis=1, keepdims=True)  # on the unit sphere cosine and Euclidean ranks agree
    assert evaluation.trustworthiness(Z, Z, k=10) == pytest.approx(1.0, abs=1e-12)
    noise = rng.normal(size=(200, 2))
    assert evaluation.trustworthiness(Z, noise, k=10) < 0.8, "a random map should not be trustworthy"


def test_pca_baseline_shape():
    X = np.random.default_rng(3).normal(size=(50, 12))
    assert evaluation.pca_baseline(X, 4).shape == (50, 4)
    assert evaluation.pca_baseline(X, 40).shape == (50, 12), "cannot have more components than columns"


def test_evaluate_reports_model_raw_and_pca_on_same_rows(clusters):
    Z, labels = clusters
    X = np.concatenate([Z, np.random.default_rng(4).normal(size=(400, 20))], axis=1)
    coords = Z[:, :2]
    metrics = evaluation.evaluate(Z, X, labels, coords=coords, k=10)
    json.dumps(metrics)  # JSON-safe
    for key in ("knn_precision@10", "linear_probe_accuracy"):
        assert set(metrics[key]) == {"model", "raw", "pca"}, metrics[key]
    assert metrics["knn_precision@10"]["model"] == pytest.approx(brute_knn_precision(Z, labels, 10), abs=1e-6)
    assert metrics["knn_precision@10"]["raw"] == pytest.approx(brute_knn_precision(X, labels, 10), abs=1e-6)
    assert set(metrics["trustworthiness"]) == {"model"}
    assert metrics["n_rows"] == 400 - len(range(0, 400, 37))
    assert metrics["n_classes"] == 4
    assert 0.2 < metrics["chance"] < 0.35, metrics["chance"]


def test_evaluate_tiny_input_gives_none_with_a_note():
    Z = np.eye(3, dtype=np.float32)
    metrics = evaluation.evaluate(Z, Z, ["a", None, None])
    assert metrics["knn_precision@10"] == {"model": None, "raw": None, "pca": None}
    assert metrics["linear_probe_accuracy"]["model"] is None
    assert any("labelled" in note for note in metrics["notes"]), metrics["notes"]


def test_planted_recall_counts_anomalies_and_duplicates():
    ids = np.array([f"p{i}" for i in range(100)], dtype=object)
    errors = np.zeros(100)
    errors[[5, 50]] = [10.0, 9.0]
    nb = np.tile(np.array([98, 99]), (100, 1))
    nb[7, 0], nb[8, 0] = 8, 3  # pair (7, 8): 7 finds 8
    nb[20, 0], nb[21, 0] = 21, 20  # pair (20, 21): both find each other
    truth = {"anomalies": ["p5", "p50", "p99", "missing"], "near_duplicates": [["p7", "p8"], ["p20", "p21"], ["p1", "p60"]]}
    out = evaluation.planted_recall(errors, nb, ids, truth, top_fraction=0.02)
    assert out["anomaly_recall"] == pytest.approx(2 / 3), out
    assert out["duplicate_top1"] == pytest.approx(2 / 3), out
    assert out["duplicate_top1_both"] == pytest.approx(1 / 3), out
    assert out["n_anomalies"] == 3 and out["n_duplicate_pairs"] == 3


def test_baselines_are_computed_once_per_cache(monkeypatch):
    """Counted: with the same baselines dict, the second evaluation scores only the model's embedding."""
    from product_repr.analysis import evaluation as ev

    rng = np.random.default_rng(0)
    labels = np.repeat(np.array(["a", "b", "c"]), 40)
    X = rng.normal(size=(120, 12)).astype(np.float32) + (labels == "a")[:, None]
    Z = X[:, :4].copy()
    calls = {"knn": 0, "probe": 0}
    knn, probe = ev.knn_precision, ev.linear_probe_accuracy
    monkeypatch.setattr(ev, "knn_precision", lambda *a, **kw: calls.__setitem__("knn", calls["knn"] + 1) or knn(*a, **kw))
    monkeypatch.setattr(ev, "linear_probe_accuracy",
                        lambda *a, **kw: calls.__setitem__("probe", calls["probe"] + 1) or probe(*a, **kw))
    cache: dict = {}
    first = ev.evaluate(Z, X, labels, baselines=cache)
    assert calls == {"knn": 3, "probe": 3}
    second = ev.evaluate(Z, X, labels, baselines=cache)
    assert calls == {"knn": 4, "probe": 4}, "the raw and PCA figures came from the cache"
    assert first == second
    assert ev.evaluate(Z, X, labels) == first, "without a cache the figures are the same"
