"""Reconstruction errors per column sum to the total; explanations name the odd attribute."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr.analysis import reconstruction
from product_repr.errors import ConfigError
from product_repr.features.space import Span
from product_repr.data.schema import Role

SPANS = [
    Span("price", Role.NUMERIC, 0, 2, "mse"),
    Span("category", Role.CATEGORICAL, 2, 5, "ce"),
    Span("title", Role.TEXT, 5, 9, "mse"),
]
LEVELS = ["kitchen", "t-shirts", "(other)"]


def make_data(n: int = 60, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.zeros((n, 9), dtype=np.float32)
    X[:, 0] = rng.normal(size=n)
    X[:, 1] = (rng.random(n) < 0.1).astype(np.float32)
    cat = rng.integers(0, 3, size=n)
    X[np.arange(n), 2 + cat] = 1.0
    X[:, 5:] = rng.normal(size=(n, 4)) * 0.5
    X_hat = X + rng.normal(size=X.shape).astype(np.float32) * 0.1
    probs = np.full((n, 3), 0.05, dtype=np.float32)
    probs[np.arange(n), cat] = 0.9
    X_hat[:, 2:5] = probs
    return X, X_hat, cat


def test_column_errors_sum_to_total():
    X, X_hat, _ = make_data()
    err = reconstruction.errors(X, X_hat, SPANS)
    assert list(err.columns) == ["price", "category", "title", "error"]
    np.testing.assert_allclose(
        err[["price", "category", "title"]].sum(axis=1), err["error"], rtol=1e-12, err_msg="columns do not sum to total"
    )
    assert (err.to_numpy() >= 0).all() and np.isfinite(err.to_numpy()).all()


def test_errors_match_definitions():
    X, X_hat, cat = make_data()
    err = reconstruction.errors(X, X_hat, SPANS)
    var_price = X[:, 0:2].astype(np.float64).var(axis=0).sum()
    want_price = ((X_hat[:, 0:2].astype(np.float64) - X[:, 0:2]) ** 2).sum(axis=1) / var_price
    np.testing.assert_allclose(err["price"], want_price, rtol=1e-6)
    freq = np.bincount(cat, minlength=3) / len(cat)
    entropy = -(freq * np.log(freq)).sum()
    np.testing.assert_allclose(err["category"], -np.log(0.9 / 1.0) / entropy, rtol=1e-5)


def test_a_perfect_guess_by_the_mean_scores_one():
    X, _, _ = make_data(200)
    X_hat = X.copy()
    X_hat[:, 5:9] = X[:, 5:9].mean(axis=0)  # text span predicted by its mean
    err = reconstruction.errors(X, X_hat, SPANS)
    assert err["title"].mean() == pytest.approx(1.0, rel=1e-5), "mean guess should score 1 on average"


def test_probabilities_are_clipped():
    X, X_hat, cat = make_data()
    X_hat[:, 2:5] = 0.0
    X_hat[np.arange(len(cat)), 2 + (cat + 1) % 3] = 1.0  # certain and wrong
    err = reconstruction.errors(X, X_hat, SPANS)
    assert np.isfinite(err["category"]).all() and err["category"].max() < 14 / np.log(2)


def test_shape_mismatch_is_explained():
    X, X_hat, _ = make_data()
    with pytest.raises(ConfigError, match=r"must be the same \(n, p\) shape"):
        reconstruction.errors(X, X_hat[:, :5], SPANS)


class ContractFeatureSpace:
    """The FeatureSpace contract explain() relies on, with known statistics."""

    spans = SPANS

    def numeric_stats(self, col):
        return {"median": 40.0, "q05": 20.0, "q95": 60.0, "min": 5.0, "max": 90.0, "mean": 40.0, "std": 10.0}

    def category_levels(self, col):
        return LEVELS

    def decode_numeric(self, col, values):
        return np.asarray(values, dtype=np.float64) * 10 + 40


def test_explain_names_the_worst_columns():
    X, X_hat, cat = make_data()
    df = pd.DataFrame(
        {
            "price": 40 + 10 * X[:, 0].astype(np.float64),
            "category": [LEVELS[c] for c in cat],
            "title": [f"product {i}" for i in range(len(X))],
        }
    )
    df.loc[7, "price"] = 40_000.0
    X[7, 0] = 9.0  # far off in feature space
    df.loc[3, "category"] = "t-shirts"
    X[3, 2:5] = [0, 1, 0]
    X_hat[3, 2:5] = [0.97, 0.02, 0.01]
    err = reconstruction.errors(X, X_hat, SPANS)
    out = reconstruction.explain(err, df, ContractFeatureSpace(), X_hat, top=2)
    by_row = {e.row: e for e in out}
    assert set(by_row) == {3, 7}, [e.row for e in out]
    assert by_row[7].reasons[0].text.startswith("price 40,000 where most products have 20–60"), by_row[7].text
    assert by_row[3].reasons[0].text == "category 't-shirts' where the model expected 'kitchen' (p=0.02)", by_row[3].text
    nb = np.tile(np.array([[0, 1, 2]]), (len(X), 1))
    out = reconstruction.explain(err, df, ContractFeatureSpace(), X_hat, top=1, neighbours=nb)
    lo, hi = df.price[:3].min(), df.price[:3].max()
    assert f"similar products have {reconstruction.fmt_number(lo)}–{reconstruction.fmt_number(hi)}" in out[0].text
    frame = reconstruction.explanations_frame(out)
    assert list(frame.columns) == ["product_id", "row", "error", "worst_column", "reason"]


def test_explain_with_the_real_feature_space():
    from product_repr.features.space import FeatureSpace
    from product_repr.data.schema import infer_schema

    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame(
        {
            "price": rng.uniform(20, 60, size=n).round(2),
            "category": rng.choice(["kitchen", "t-shirts", "garden"], size=n),
            "title": [f"{w} item {i}" for i, w in enumerate(rng.choice(["red", "blue", "green"], size=n))],
        }
    )
    df.loc[5, "price"] = 40_000.0
    fs = FeatureSpace(infer_schema(df)).fit(df)
    X = fs.transform(df)
    X_hat = X.copy()
    for span in fs.spans:
        if span.loss == "mse":
            X_hat[:, span.slice] = X[:, span.slice].mean(axis=0)
    err = reconstruction.errors(X, X_hat, fs.spans)
    top = reconstruction.explain(err, df, fs, X_hat, top=1)
    assert top[0].row == 5 and top[0].text.startswith("price 40,000 where most products have"), top[0].text
