"""Anomaly scores: each column predicted from the others, surprises on one scale, rare levels not odd by themselves."""
from __future__ import annotations

import re
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


def test_level_surprise_is_zero_for_the_level_the_model_expects_and_grows_as_it_prefers_another():
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
    assert raw.loc[95, "colour"] == pytest.approx(np.log(0.999) - np.log(0.001), rel=1e-4)
    assert raw.attrs["levels"] == ["colour"]


def test_levels_the_model_cannot_place_are_not_odd_together_and_one_it_is_sure_is_wrong_is():
    """Twelve levels of 5 products each (too few to be centred one by one) that the model never predicts
    are centred together; a product of a big level the model is sure belongs to another stands out."""
    rng = np.random.default_rng(0)
    n, k = 300, 13
    level = np.r_[np.zeros(240, dtype=int), np.repeat(np.arange(1, k), 5)]
    X = np.eye(k, dtype=np.float32)[level]
    X_hat = np.tile(np.r_[0.8, np.full(k - 1, 0.2 / (k - 1))], (n, 1)).astype(np.float32)
    X_hat[:240] += rng.uniform(0, 0.01, size=(240, k)).astype(np.float32)
    X_hat[7] = np.r_[0.001, 0.999, np.zeros(k - 2)]
    raw = anomalies.surprises(X, X_hat, [span("shade", 0, k, "ce", "categorical")])["shade"]
    assert raw.drop(index=7).max() < 0.1, raw.drop(index=7).nlargest(3)
    assert raw[7] > 6


def test_a_level_that_disagrees_with_a_column_that_fixes_it_is_surprising_and_explained():
    """colour_code and colour_name name the same thing; one product's code was changed to another
    colour's. The model is no help (it predicts the base rates), the pair of levels is: no other product
    has it, and the sentence says what the others with that name have."""
    rng = np.random.default_rng(1)
    n = 400
    names = np.array(["black", "white", "red", "green"])
    colour = rng.choice(4, size=n, p=[0.4, 0.3, 0.2, 0.1])
    shape = rng.choice(3, size=n)  # unrelated to colour: no dependency either way
    code = colour.copy()
    code[11] = 3 if colour[11] != 3 else 0
    levels = {"colour_name": colour, "colour_code": code, "shape": shape}
    pairs = anomalies.dependency_surprises(levels)
    assert pairs["shape"].max() == 0.0, "a column no other column fixes is never scored by pairs"
    assert np.argmax(pairs["colour_code"]) == 11
    assert np.delete(pairs["colour_code"], 11).max() == 0.0
    group = int((colour == colour[11]).sum()) - 1
    assert pairs["colour_code"][11] == pytest.approx(np.log((code == code[11]).mean()) - np.log(
        (code == code[11]).mean() / (group + 1)))

    X = np.concatenate([np.eye(4)[colour], np.eye(4)[code], np.eye(3)[shape]], axis=1).astype(np.float32)
    spans = [span("colour_name", 0, 4, "ce", "categorical"), span("colour_code", 4, 8, "ce", "categorical"),
             span("shape", 8, 11, "ce", "categorical")]
    base = X.mean(axis=0)
    raw = anomalies.surprises(X, np.tile(base, (n, 1)), spans)
    assert raw["colour_code"].idxmax() == 11 and raw.loc[11, "colour_code"] > 4

    text = anomalies.dependency_reason(levels, {"colour_name": list(names), "colour_code": list(names),
                                                "shape": ["a", "b", "c"]}, 11, "colour_code")
    assert text == (f"colour_code {names[code[11]]!r} with colour_name {names[colour[11]]!r}: none of the "
                    f"{group} other products with that colour_name has it; 100% have {names[colour[11]]!r}")
    assert anomalies.dependency_reason(levels, {}, 11, "shape") is None


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


def test_a_title_unlike_the_other_titles_of_its_brand_is_surprising():
    """A written-out brand repeats, so it groups the products; titles are all different, so they group
    nothing. One product carries a title like another brand's: it is the most surprising title, and the
    surprise is on the scale of the title's own squared errors."""
    rng = np.random.default_rng(2)
    n, width = 120, 8
    brand = np.repeat(np.arange(4), 30)
    centres = np.eye(4, width) * 3  # four kinds of title, one per brand
    titles = centres[brand] + 0.3 * rng.normal(size=(n, width))
    titles[17] = centres[2] + 0.3 * rng.normal(size=width)  # brand 0, a title like brand 2's
    X = np.concatenate([np.eye(4)[brand] @ rng.normal(size=(4, 4)), titles], axis=1).astype(np.float32)
    spans = [span("brand", 0, 4, "mse", "text"), span("title", 4, 4 + width, "mse", "text")]
    groups = anomalies.text_groups(X, spans)
    assert list(groups) == ["brand"] and (groups["brand"] >= 0).all()
    grouped = anomalies.group_surprises(X, spans, groups)
    assert list(grouped) == ["title"] and int(np.argmax(grouped["title"])) == 17
    X_hat = X + 0.1 * rng.normal(size=X.shape).astype(np.float32)  # the model: no idea about row 17
    square = np.square(X_hat[:, 4:] - X[:, 4:]).sum(axis=1)
    raw = anomalies.surprises(X, X_hat, spans)
    assert raw.loc[17, "title"] == pytest.approx(square.max())  # the rarest group surprise: the largest error
    assert np.all(raw["title"].to_numpy() >= square - 1e-6)  # never below its own error


def test_the_why_of_a_title_unlike_its_brand_names_the_brand_and_the_figures():
    """group_reason says which group the title does not fit, with its similarity beside a typical member's;
    a title that fits its brand gets no such sentence."""
    rng = np.random.default_rng(2)
    n, width = 120, 8
    brand = np.repeat(np.arange(4), 30)
    centres = np.eye(4, width) * 3
    titles = centres[brand] + 0.3 * rng.normal(size=(n, width))
    titles[17] = centres[2] + 0.3 * rng.normal(size=width)  # brand 0, a title like brand 2's
    X = np.concatenate([np.eye(4)[brand] @ rng.normal(size=(4, 4)), titles], axis=1).astype(np.float32)
    spans = [span("brand", 0, 4, "mse", "text"), span("title", 4, 4 + width, "mse", "text")]
    groups = anomalies.text_groups(X, spans)
    df = pd.DataFrame({"brand": np.array(["Acme", "Bolt", "Crest", "Dune"])[brand]})
    said = anomalies.group_reason(X, spans[1], spans, groups, 17, df)
    assert said is not None and said.startswith("unlike the title of the 29 other products with brand 'Acme'")
    own, typical = (float(x) for x in re.findall(r"\d\.\d\d", said))
    assert own < anomalies.GROUP_UNLIKE * typical and typical > 0.9
    assert anomalies.group_reason(X, spans[1], spans, groups, 18, df) is None, "row 18's title fits brand 0"
    assert anomalies.group_reason(X, spans[0], spans, groups, 17, df) is None, "the key itself is not judged"


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


def test_a_code_that_disagrees_with_its_name_is_on_top_and_the_why_names_the_column_that_fixes_it(shop):
    """Through the default learner: each kind has its code; one product's code is another kind's. The why
    of that product says which column its code disagrees with and what the others have."""
    from product_repr import learners

    df = shop.copy()
    codes = {"kettle": "K-10", "toaster": "T-20", "blender": "B-30", "mixer": "M-40"}
    df["kind_code"] = df["kind"].map(codes)
    other = next(k for k in codes if k != df.loc[21, "kind"])
    df.loc[21, "kind_code"] = codes[other]
    schema = infer_schema(df)
    assert schema.role("kind_code").value == "categorical"
    config = learners.get(learners.DEFAULT).Config(steps=300, seed=0)
    run = pipeline.build_run(df, schema, config=config, analysis=False)
    X = run.feature_space.transform(df)
    frame = anomalies.anomaly_scores(run.learner.reconstruct, X, run.feature_space.spans)
    order = frame["score"].sort_values(ascending=False).index.tolist()
    assert 21 in order[:3], f"the foreign code ranks #{order.index(21) + 1}"
    why = {e.row: e for e in anomalies.explain(frame, df, run.feature_space, run.learner.reconstruct, X, top=3)}
    group = int(df["kind"].eq(df.loc[21, "kind"]).sum()) - 1
    assert any(r.text.startswith(f"kind_code '{codes[other]}' with kind '{df.loc[21, 'kind']}': none of the "
                                 f"{group} other products with that kind has it") for r in why[21].reasons), why[21].text


def test_the_why_of_a_title_from_another_kind_of_product_names_its_brand():
    """Through the default learner and explain: each brand sells one kind of product; one product carries
    another kind's title. Its why says which brand's products its title is unlike."""
    rng = np.random.default_rng(4)
    kinds = [["green tea leaves", "masala chai tea bags", "black tea dust"],
             ["neem bathing soap bar", "glycerin soap bar", "sandal soap bar"],
             ["basmati rice long grain", "sona masoori rice", "brown rice organic"],
             ["sunflower cooking oil", "mustard oil cold pressed", "groundnut oil"]]
    rows = [{"brand": f"Brand{b:02d} Foods", "product": f"{rng.choice(kinds[b % 4])} {rng.choice(['100 g', '1 kg'])}",
             "price": float(rng.lognormal(4, 0.3))} for b in range(64) for _ in range(rng.integers(3, 6))]
    df = pd.DataFrame(rows)
    df.insert(0, "product_id", [f"P{i}" for i in range(len(df))])
    df.loc[5, "product"] = "sunflower cooking oil 1 kg"  # Brand01 sells soap
    schema = infer_schema(df).with_roles({"brand": "text", "product": "text"})
    run = pipeline.build_run(df, schema, config={"steps": 200, "seed": 0}, analysis=False,
                             features={"text_encoder": "tfidf"})
    X = run.feature_space.transform(df)
    frame = anomalies.anomaly_scores(run.learner.reconstruct, X, run.feature_space.spans)
    why = {e.row: e for e in anomalies.explain(frame, df, run.feature_space, run.learner.reconstruct, X, top=10)}
    assert 5 in why, f"the oil under a soap brand is not among the 10 most unusual: {sorted(why)}"
    assert any(r.text.startswith("product 'sunflower cooking oil 1 kg' unlike the product of the "
                                 f"{int(df['brand'].eq('Brand01 Foods').sum()) - 1} other products with brand "
                                 "'Brand01 Foods' (similarity ") for r in why[5].reasons), why[5].text


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
