"""Anomaly scores: each column predicted from the others, surprises on one scale, rare levels not odd by themselves."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from product_repr import infer_schema, pipeline
from product_repr.analysis import anomalies
from product_repr.errors import ConfigError


def span(name, start, stop, loss, role):
    return SimpleNamespace(name=name, start=start, stop=stop, loss=loss, role=role)


def test_masked_reconstruction_never_shows_a_column_its_own_value():
    """With a model that copies its input, the prediction of a block is other rows' values, not the row's."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 3)).astype(np.float32)
    spans = [span("a", 0, 1, "mse", "text"), span("b", 1, 3, "mse", "text")]
    X_hat = anomalies.masked_reconstruction(lambda x: x.copy(), X, spans, draws=3, seed=1)
    assert X_hat.shape == X.shape
    for s in spans:
        own = np.abs(X_hat[:, s.start:s.stop] - X[:, s.start:s.stop]).mean()
        assert own > 0.5, f"span {s.name} was predicted from its own values (mean abs diff {own:.3f})"
    with pytest.raises(ConfigError, match="draws must be at least 1"):
        anomalies.masked_reconstruction(lambda x: x, X, spans, draws=0)


def test_level_surprise_is_zero_at_the_base_rate_and_grows_as_the_model_disagrees():
    # a two-level category: 90 % "a", 10 % "b"; the model predicts the base rate for everyone but row 95,
    # which it is sure should be "b" although it is "a"
    n = 300
    X = np.zeros((n, 2), dtype=np.float32)
    X[:270, 0] = 1
    X[270:, 1] = 1
    X_hat = np.tile([0.9, 0.1], (n, 1)).astype(np.float32)
    X_hat[95] = [0.001, 0.999]
    raw = anomalies.surprises(X, X_hat, [span("colour", 0, 2, "ce", "categorical")])
    assert np.allclose(raw["colour"].drop(index=95), 0.0, atol=1e-6), "a rare level at its base rate is not odd"
    assert raw.loc[95, "colour"] == pytest.approx(np.log(0.9) - np.log(0.001), rel=1e-4)
    assert raw.attrs["levels"] == ["colour"]


def test_missing_numbers_are_their_own_case_not_extreme_values():
    """A missing value (imputed, flag 1) is scored by how surprising the missingness is, never by the
    distance of the imputed number; a present value by its squared error."""
    X = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]] * 25, dtype=np.float32)
    X_hat = X.copy()
    X_hat[:, 0] = 5.0  # far from every value
    X_hat[:, 1] = 0.25  # the base rate of missing
    raw = anomalies.surprises(X, X_hat, [span("price", 0, 2, "mse", "numeric")])["price"].to_numpy()
    missing = X[:, 1] == 1
    assert np.allclose(raw[missing], 0.0, atol=1e-9), "the imputed value of a missing number was scored"
    assert np.allclose(raw[~missing], np.square(5.0 - X[~missing, 0]) + 0.0, atol=1e-6)


def test_one_extreme_column_puts_a_product_on_top_and_a_heavy_tail_does_not_drown_a_tight_column():
    rng = np.random.default_rng(0)
    n = 1000
    raw = pd.DataFrame({"price": rng.lognormal(0, 2.5, size=n),  # heavy tail: many natural huge surprises
                        "weight": np.square(rng.normal(size=n))})  # a squared error of a tight column
    raw.loc[10, "weight"] = 64.0  # 8 standard deviations off: the rarest weight by far
    scored = anomalies.scores(raw)
    z = anomalies.spreads(raw)
    assert (z["price"] > z.loc[10, "weight"]).sum() >= 3, "the heavy tail has bigger natural surprises"
    order = scored["score"].sort_values(ascending=False).index.tolist()
    assert 10 in order[:2], f"the odd weight ranks #{order.index(10) + 1}"
    assert scored.loc[10, "weight"] == pytest.approx(np.log10(n))  # the single rarest: 1 in 1,000
    assert (scored.drop(columns=["score", "spreads"]) >= 0).all().all()
    assert scored["spreads"].equals(z.sum(axis=1))


@pytest.fixture(scope="module")
def shop():
    """600 products: price follows the product's kind; 10 % are out of stock (a valid, rare level);
    one product is priced 40x its kind."""
    rng = np.random.default_rng(3)
    n = 600
    kinds = rng.choice(["kettle", "toaster", "blender", "mixer"], size=n)
    base = {"kettle": 30.0, "toaster": 45.0, "blender": 80.0, "mixer": 150.0}
    price = np.array([base[k] for k in kinds]) * rng.lognormal(0, 0.1, size=n)
    in_stock = np.where(rng.random(n) < 0.10, "no", "yes")
    df = pd.DataFrame({"product_id": [f"P{i:04d}" for i in range(n)], "kind": kinds, "price": price.round(2),
                       "brand": rng.choice(["Acme", "Bolt", "Crest"], size=n), "in_stock": in_stock})
    df.loc[7, "price"] = round(base[df.loc[7, "kind"]] * 40, 2)
    return df


def test_a_rare_boolean_level_ranks_below_a_40x_price(shop):
    from product_repr import learners

    schema = infer_schema(shop)
    assert schema.role("in_stock").value == "numeric" and schema.parse("in_stock") == "bool"
    config = learners.get(learners.DEFAULT).Config(steps=300, seed=0)
    run = pipeline.build_run(shop, schema, config=config, analysis=False)
    X = run.feature_space.transform(shop)
    frame = anomalies.anomaly_scores(run.learner.reconstruct, X, run.feature_space.spans)
    order = frame["score"].sort_values(ascending=False).index.tolist()
    out_of_stock = set(np.flatnonzero(shop["in_stock"].eq("no").to_numpy()))
    assert order[0] == 7, f"the 40x price ranks #{order.index(7) + 1}; top: {shop.loc[order[:5]].to_dict('records')}"
    top_2pct = order[: int(np.ceil(0.02 * len(shop)))]
    # 10 % of all products are out of stock; by chance ~1 of the top 12 would be, and the old score put 11 there
    assert len(out_of_stock & set(top_2pct)) <= len(top_2pct) // 4, "out-of-stock products fill the top of the list"


def test_masked_reconstruction_and_errors_chunk_by_chunk_equal_one_pass(monkeypatch):
    """A big table's predictions are made chunk by chunk of rows (one chunk's copy in memory at a time): the
    same numbers as in one pass, for the masked predictions and for the reconstruction errors."""
    from product_repr.analysis import reconstruction
    from product_repr.features.space import Span
    from product_repr.data.schema import Role

    rng = np.random.default_rng(0)
    X = rng.normal(size=(1_000, 7)).astype(np.float32)
    X[:, 4:7] = np.eye(3, dtype=np.float32)[rng.integers(0, 3, size=1_000)]
    spans = [Span("price", Role.NUMERIC, 0, 2, "mse"), Span("title", Role.TEXT, 2, 4, "mse"),
             Span("colour", Role.CATEGORICAL, 4, 7, "ce")]
    W = rng.normal(size=(7, 7)).astype(np.float32)

    def reconstruct(x):
        out = np.tanh(x @ W)
        out[:, 4:7] = np.exp(out[:, 4:7]) / np.exp(out[:, 4:7]).sum(axis=1, keepdims=True)
        return out

    whole = anomalies.masked_reconstruction(reconstruct, X, spans)
    monkeypatch.setattr(anomalies, "CHUNK_ROWS", 128)
    np.testing.assert_array_equal(anomalies.masked_reconstruction(reconstruct, X, spans), whole)
    one = reconstruction.errors(X, reconstruct(X), spans)
    pd.testing.assert_frame_equal(reconstruction.model_errors(X, reconstruct, spans, chunk_rows=128), one)


@pytest.mark.parametrize("learner, config", [
    ("autoencoder", {}), ("denoising", {}), ("multitask", {}), ("multitask", {"predict_columns": ["price"]})])
def test_a_learners_own_masked_predictions_equal_one_reconstruction_per_masked_copy(learner, config):
    """``Learner.masked_reconstruct`` (the first layer's share of the hidden block added, only the block's
    outputs decoded) gives what reconstructing a masked copy of X per column gives."""
    from product_repr import learners
    from product_repr.data import demo
    from product_repr.features.space import FeatureSpace

    df = demo.make_catalog(rows=300, seed=2).table
    space = FeatureSpace(infer_schema(df), exclude=["category"], text_encoder="tfidf")
    X = space.fit_transform(df)
    model = learners.get(learner)(pipeline.make_config(learner, {"steps": 20, **config})).fit(X, spans=space.spans)
    plain = anomalies.masked_reconstruction(lambda x: model.reconstruct(x), X, space.spans)  # not the method
    fast = anomalies.masked_reconstruction(model.reconstruct, X, space.spans)
    assert not np.array_equal(plain, model.reconstruct(X))  # the masking changes the predictions
    np.testing.assert_allclose(fast, plain, atol=2e-5)
    ce = [s for s in space.spans if s.loss == "ce"]
    np.testing.assert_allclose(fast[:, ce[0].start:ce[0].stop].sum(axis=1), 1.0, atol=1e-5)  # probabilities


def test_a_learner_whose_input_is_not_a_column_scaling_gets_the_plain_masked_copies():
    """The shortcut needs ``_input`` to scale columns; any other input transform falls back to one
    reconstruction per masked copy (and does not loop back into the shortcut)."""
    from product_repr import learners
    from product_repr.data import demo
    from product_repr.features.space import FeatureSpace

    df = demo.make_catalog(rows=200, seed=5).table
    space = FeatureSpace(infer_schema(df), exclude=["category"], text_encoder="tfidf")
    X = space.fit_transform(df)
    model = learners.get("autoencoder")(pipeline.make_config("autoencoder", {"steps": 10})).fit(X, spans=space.spans)
    model._input = lambda x: x * x  # not a scaling of each column
    plain = anomalies.masked_reconstruction(lambda x: model.reconstruct(x), X, space.spans)
    np.testing.assert_allclose(anomalies.masked_reconstruction(model.reconstruct, X, space.spans), plain, atol=1e-6)
