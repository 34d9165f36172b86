"""Quality bar on the demo catalog (category columns excluded from the input).

With TF-IDF text features every learner must beat PCA of the same features (same size) on kNN@10
precision of the subcategory (the category alone is too easy on the demo: PCA already reaches 0.99).
With the pretrained sentence encoder (the default when installed) the input is much stronger and PCA
keeps most of it; there the learners with neighbour positives (contrastive, multi-task) must still beat
PCA. The denoising autoencoder must rank the planted price and weight anomalies near the top of its
reconstruction error.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from product_repr import learners

from product_repr.data import demo

from product_repr.features import sentence
from product_repr.features.space import FeatureSpace
from product_repr.learners.losses import span_baselines, span_losses
from product_repr.data.schema import infer_schema

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ROWS, DIM = 1500, 16  # default steps and epochs: the product's own settings


@pytest.fixture(scope="module")
def catalog():
    cat = demo.make_catalog(ROWS, seed=0)
    df = cat.table
    schema = infer_schema(df)
    fs = FeatureSpace(schema, exclude=["category", "subcategory"], text_encoder="tfidf").fit(df)
    X = fs.transform(df)
    return cat, df, fs, X


@pytest.fixture(scope="module")
def sentence_catalog():
    if sentence.DEFAULT_MODEL not in sentence.available():
        if os.environ.get("CI"):
            pytest.fail(f"{sentence.DEFAULT_MODEL} must be installed under CI (requirements.txt)")
        pytest.skip(f"{sentence.DEFAULT_MODEL} is not installed")
    df = demo.make_catalog(ROWS, seed=0).table
    fs = FeatureSpace(infer_schema(df), exclude=["category", "subcategory"])
    X = fs.fit_transform(df)
    assert fs.text_encoder_ == sentence.DEFAULT_MODEL
    return df, fs, X


def knn_precision(Z: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out cosine kNN@k precision."""
    U = Z / (np.linalg.norm(Z, axis=1, keepdims=True) + 1e-12)
    sims = U @ U.T
    np.fill_diagonal(sims, -np.inf)
    idx = np.argpartition(-sims, k, axis=1)[:, :k]
    return float((labels[idx] == labels[:, None]).mean())


def pca(X: np.ndarray, d: int) -> np.ndarray:
    Xc = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(Xc, full_matrices=False)
    return Xc @ vt[:d].T


@pytest.mark.parametrize("name", sorted(learners.REGISTRY))
def test_learner_beats_pca(catalog, name):
    _, df, fs, X = catalog
    labels = df["subcategory"].astype(str).to_numpy()
    base = knn_precision(pca(X, DIM), labels)
    model = learners.get(name)({"embedding_dim": DIM}).fit(X, spans=fs.spans, device="cpu")
    acc = knn_precision(model.encode(X), labels)
    # measured at 1,500 rows: PCA-16 0.52, learners 0.66-0.71 (35 subcategories, chance ≈ 0.03)
    assert acc >= base + 0.03, f"{name} embedding no better than PCA-{DIM}: kNN@10 {acc:.3f} vs {base:.3f}"


@pytest.mark.parametrize("name", ["contrastive", "multitask"])
def test_neighbour_learners_beat_pca_on_sentence_features(sentence_catalog, name):
    df, fs, X = sentence_catalog
    labels = df["subcategory"].astype(str).to_numpy()
    base = knn_precision(pca(X, DIM), labels)
    model = learners.get(name)({"embedding_dim": DIM}).fit(X, spans=fs.spans, device="cpu")
    acc = knn_precision(model.encode(X), labels)
    # measured at 1,500 rows: PCA-16 0.77, contrastive 0.80, multi-task 0.81; without neighbour positives
    # the reconstruction learners reach only 0.75-0.76 here
    assert acc >= base + 0.02, f"{name} embedding no better than PCA-{DIM}: kNN@10 {acc:.3f} vs {base:.3f}"


def test_denoising_ranks_anomalies_high(catalog):
    cat, df, fs, X = catalog
    model = learners.get("denoising")({"embedding_dim": DIM}).fit(X, spans=fs.spans, device="cpu")
    X_hat = model.reconstruct(X)
    # error per product = Σ_s ℓ_s / b_s (X̂ holds probabilities; span_losses wants logits, and log p is a valid logit)
    logits = X_hat.copy()
    for s in fs.spans:
        if s.loss == "ce":
            logits[:, s.slice] = np.log(np.clip(X_hat[:, s.slice], 1e-9, None))
    # each column's error relative to its trivial-predictor loss, so every column counts equally
    per = span_losses(torch.from_numpy(logits), torch.from_numpy(X), fs.spans).numpy()
    err = (per / np.maximum(span_baselines(X, fs.spans), 1e-8)).sum(1)
    # price and weight anomalies are visible in the input; "category" anomalies (a product filed under the
    # wrong category) are only visible through the category columns, which this test excludes from the input
    kinds = cat.truth["anomaly_kinds"]
    planted = [i for i, k in kinds.items() if k in ("price", "weight")]
    is_anomaly = df["product_id"].astype(str).isin(planted).to_numpy()
    assert is_anomaly.sum() >= 3
    # rank-based AUC: the chance that a planted anomaly has a larger error than a normal product
    ranks = err.argsort().argsort()
    pos = ranks[is_anomaly]
    auc = (pos.sum() - len(pos) * (len(pos) - 1) / 2) / (len(pos) * (len(err) - len(pos)))
    top = np.argsort(-err)[: int(0.05 * len(err))]
    found = int(is_anomaly[top].sum())
    assert auc > 0.92, f"planted price/weight anomalies not ranked high by reconstruction error: AUC {auc:.3f}"
    assert found >= 0.75 * is_anomaly.sum(), f"only {found} of {is_anomaly.sum()} anomalies in the top 5% of errors"
