"""FeatureSpace: roles to spans, per-role encodings, robustness, and exact state round trips."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from product_repr.errors import FeatureError, NotFittedError
from product_repr.features.space import CLIP, MISSING, OTHER, FeatureSpace, Span, heavy_tailed
from product_repr.data.schema import ColumnInfo, Role, Schema


def schema_of(**roles: str) -> Schema:
    """A Schema built by hand, as the contract describes (no inference involved)."""
    return Schema(tuple(ColumnInfo(name, Role(role), "set by test",
                                   parse=("bool" if role == "numeric" and name.startswith("is_") else None))
                        for name, role in roles.items()))


def table(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    kinds = np.array(["kettle", "t-shirt", "sneakers", "almonds"])[rng.integers(0, 4, n)]
    price = np.exp(rng.normal(6, 1.0, n)).round(2)
    price[3] = np.nan
    return pd.DataFrame({
        "sku": [f"P{i:03d}" for i in range(n)],
        "title": [f"{k} model {i % 7}" for i, k in enumerate(kinds)],
        "brand": rng.choice(["Acme ", "Acme", "Zeta", None, "Nova"], n),
        "price": price,
        "rating": rng.normal(4, 0.4, n).round(1),
        "notes": ["x"] * n,
        "label": kinds,
    })


SCHEMA = schema_of(sku="id", title="text", brand="categorical", price="numeric", rating="numeric",
                   notes="ignore", label="categorical")


def fitted(**kw) -> tuple[FeatureSpace, pd.DataFrame, np.ndarray]:
    df = table()
    fs = FeatureSpace(SCHEMA, exclude=["label"], text_dim=8, **kw)
    return fs, df, fs.fit_transform(df)


def test_spans_are_contiguous_cover_x_and_follow_schema_order():
    fs, df, X = fitted()
    assert X.dtype == np.float32 and X.shape[0] == len(df) and np.isfinite(X).all()
    assert [s.name for s in fs.spans] == ["title", "brand", "price", "rating"], "id, ignore, excluded never encoded"
    assert fs.columns == ["title", "brand", "price", "rating"]
    assert fs.spans[0].start == 0 and fs.spans[-1].stop == X.shape[1] == len(fs.feature_names)
    for a, b in zip(fs.spans, fs.spans[1:]):
        assert a.stop == b.start, f"gap between {a.name} and {b.name}"
    assert {s.name: s.loss for s in fs.spans} == {"title": "mse", "brand": "ce", "price": "mse", "rating": "mse"}
    assert fs.spans[2].width == 2, "numeric span = [value, missing flag]"


def test_span_dict_round_trip():
    span = Span("price", Role.NUMERIC, 3, 5, "mse")
    assert Span.from_dict(json.loads(json.dumps(span.to_dict()))) == span and span.slice == slice(3, 5)


def test_numeric_median_impute_flag_and_standardisation():
    fs, df, X = fitted()
    block = X[:, fs.span("rating").slice]
    assert abs(block[:, 0].mean()) < 0.1 and abs(block[:, 0].std() - 1) < 0.15, "rating is standardised"
    price = X[:, fs.span("price").slice]
    assert price[3, 1] == 1 and price[:, 1].sum() == 1, "one missing price, flagged"
    stats = fs.numeric_stats("price")
    assert stats["log"] is True, "log-normal prices get a log"
    assert fs.numeric_stats("rating")["log"] is False, "ratings do not"
    assert fs.decode_numeric("price", price[3:4, 0])[0] == pytest.approx(stats["median"], rel=1e-4), \
        "a missing price is imputed with the median"
    assert set(stats) >= {"median", "q05", "q95", "min", "max", "mean", "std", "log"}


def test_decode_numeric_inverts_the_value_dimension():
    fs, df, X = fitted()
    for col in ("price", "rating"):
        got = fs.decode_numeric(col, X[:, fs.span(col).start])
        want = df[col].to_numpy()
        ok = np.isfinite(want)
        assert np.allclose(got[ok], want[ok], rtol=1e-4), f"{col} does not decode back to its values"


def test_heavy_tail_rule():
    rng = np.random.default_rng(0)
    assert heavy_tailed(np.exp(rng.normal(0, 1, 1000)))
    assert not heavy_tailed(rng.normal(10, 1, 1000))
    assert not heavy_tailed(rng.uniform(1, 5, 1000))
    assert not heavy_tailed((rng.random(1000) < 0.9).astype(float)), "a 0/1 flag is never logged"


def test_huge_and_infinite_numbers_stay_finite_and_clipped():
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0, 1e308, -1e308, np.inf, np.nan, 2.5] * 3})
    fs = FeatureSpace(schema_of(x="numeric"))
    X = fs.fit_transform(df)
    assert np.isfinite(X).all() and np.abs(X).max() <= CLIP
    assert X[5, 1] == 1, "inf counts as missing"


def test_constant_numeric_column_encodes_to_zero():
    fs = FeatureSpace(schema_of(x="numeric"))
    X = fs.fit_transform(pd.DataFrame({"x": [7.0] * 10}))
    assert np.all(X == 0)


def test_categorical_strips_keeps_top_levels_and_maps_unseen_to_other():
    df = pd.DataFrame({"brand": ["Sri Sri Ayurveda ", "Sri Sri Ayurveda", "b", "b", "c", None, "d"]})
    fs = FeatureSpace(schema_of(brand="categorical"), max_levels=2).fit(df)
    assert fs.category_levels("brand") == ["Sri Sri Ayurveda", "b", OTHER, MISSING]
    X = fs.transform(pd.DataFrame({"brand": [" Sri Sri Ayurveda", "zzz", None, "c"]}))
    assert X.argmax(axis=1).tolist() == [0, 2, 3, 2], "stripped level, unseen -> other, missing, dropped level -> other"
    assert np.all(X.sum(axis=1) == 1), "one-hot"


def test_missing_level_absent_when_never_missing_at_fit():
    fs = FeatureSpace(schema_of(c="categorical")).fit(pd.DataFrame({"c": ["a", "b"]}))
    assert fs.category_levels("c") == ["a", "b", OTHER]
    assert fs.transform(pd.DataFrame({"c": [None]})).argmax() == 2, "missing later -> other"


def test_text_encoder_of_a_column():
    fs, df, X = fitted()
    assert fs.text_encoder("title").transform(df["title"]).shape == (len(df), fs.span("title").width)
    with pytest.raises(FeatureError, match="is numeric, not text"):
        fs.text_encoder("price")


def test_several_text_columns_get_a_span_each():
    df = table()
    df["description"] = df["title"] + " great value"
    schema = schema_of(title="text", description="text")
    fs = FeatureSpace(schema, text_dim=4).fit(df)
    assert [s.role for s in fs.spans] == [Role.TEXT, Role.TEXT] and fs.spans[1].start == fs.spans[0].stop


def test_transform_with_missing_columns_imputes_and_reports():
    fs, df, X = fitted()
    part = df.drop(columns=["price", "title"])
    Y = fs.transform(part)
    assert fs.last_missing_columns == ["title", "price"]
    assert np.isfinite(Y).all() and Y.shape == X.shape
    assert np.all(Y[:, fs.span("price").start + 1] == 1), "absent numeric column -> missing flag 1"
    assert np.all(Y[:, fs.span("title").slice] == 0), "absent text -> empty text"
    assert np.array_equal(Y[:, fs.span("rating").slice], X[:, fs.span("rating").slice])


def test_transform_with_no_encoded_column_raises():
    fs, df, X = fitted()
    with pytest.raises(FeatureError, match="none of the encoded columns"):
        fs.transform(pd.DataFrame({"other": [1, 2]}))


def test_nothing_to_encode_names_roles_and_way_out():
    schema = schema_of(sku="id", notes="ignore", label="categorical")
    with pytest.raises(FeatureError, match=r"id: 'sku'.*ignore: 'notes'.*excluded: 'label'.*mark a column numeric"):
        FeatureSpace(schema, exclude=["label"]).fit(table())


def test_bad_arguments_and_inputs():
    with pytest.raises(FeatureError, match="cannot exclude 'nope'"):
        FeatureSpace(SCHEMA, exclude=["nope"]).fit(table())
    with pytest.raises(FeatureError, match="not in the table"):
        FeatureSpace(SCHEMA).fit(table().drop(columns=["price"]))
    with pytest.raises(FeatureError, match="no rows"):
        FeatureSpace(SCHEMA).fit(table().iloc[:0])
    with pytest.raises(FeatureError, match="max_levels"):
        FeatureSpace(SCHEMA, max_levels=0)
    with pytest.raises(NotFittedError, match="not fitted"):
        FeatureSpace(SCHEMA).transform(table())
    fs, _, _ = fitted()
    with pytest.raises(FeatureError, match="is numeric, not categorical"):
        fs.category_levels("price")
    with pytest.raises(FeatureError, match="'label' is not encoded"):
        fs.numeric_stats("label")


def test_one_row_table_is_finite():
    fs = FeatureSpace(SCHEMA, exclude=["label"], text_dim=8)
    X = fs.fit_transform(table().iloc[:1])
    assert X.shape[0] == 1 and np.isfinite(X).all()


def test_state_round_trip_through_json_is_exact():
    fs, df, X = fitted()
    state, arrays = fs.to_dict()
    text = json.dumps(state, allow_nan=False)
    again = FeatureSpace.from_dict(json.loads(text), {k: v.copy() for k, v in arrays.items()})
    new = table(40, seed=5)
    assert np.array_equal(again.transform(new), fs.transform(new)), "transform differs after from_dict"
    assert again.spans == fs.spans and again.feature_names == fs.feature_names
    assert again.numeric_stats("price") == fs.numeric_stats("price")


def test_save_and_load(tmp_path):
    fs, df, X = fitted()
    fs.save(tmp_path / "run")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["features.json", "features.npz"]
    assert np.array_equal(FeatureSpace.load(tmp_path / "run").transform(df), X)
    with pytest.raises(FeatureError, match="not found"):
        FeatureSpace.load(tmp_path / "elsewhere")
    (tmp_path / "run" / "features.json").write_text("{\"version\": 1}")
    with pytest.raises(FeatureError, match="incomplete or corrupt"):
        FeatureSpace.load(tmp_path / "run")


def test_text_span_total_variance_matches_weight():
    fs, df, X = fitted(text_weight=2.0)
    var = float(X[:, fs.span("title").slice].astype(np.float64).var(axis=0).sum())
    assert var == pytest.approx(4.0, rel=1e-3), f"text span total variance {var} != text_weight**2"


def test_fit_transform_equals_fit_then_transform():
    df = table()
    a = FeatureSpace(SCHEMA, exclude=["label"], text_dim=8).fit_transform(df)
    b = FeatureSpace(SCHEMA, exclude=["label"], text_dim=8).fit(df).transform(df)
    assert np.allclose(a, b, atol=1e-6), "fit_transform must give what fit then transform gives"


def test_automatic_text_dim_grows_with_rows():
    from product_repr.features.space import auto_text_dim

    assert [auto_text_dim(n) for n in (10, 2000, 4000, 100_000)] == [64, 64, 125, 256]
    assert auto_text_dim(100_000, text_columns=8) == 128 and auto_text_dim(100, text_columns=1000) == 8, \
        "many text columns share a budget of components"
    fs = FeatureSpace(schema_of(title="text"), text_encoder="tfidf").fit(table(60))
    assert fs.span("title").width <= 60, "never more components than rows"


def test_zero_row_table_transforms_to_an_empty_matrix():
    fs, df, X = fitted()
    assert fs.transform(df.iloc[:0]).shape == (0, X.shape[1])


@pytest.mark.parametrize("name, label", [("bigbasket_products/bigbasket_products.csv", "category"),
                                         ("amazon_sales_india/amazon_products_parsed.csv", "category_l2")])
def test_real_catalogs_encode_with_text_spans(shared_dataset, name, label):
    from product_repr.data.schema import infer_schema
    from product_repr.data.tables import read_table

    df = read_table(shared_dataset(name), max_rows=1500)
    fs = FeatureSpace(infer_schema(df), exclude=[label])
    X = fs.fit_transform(df)
    assert np.isfinite(X).all() and X.shape == (len(df), fs.spans[-1].stop)
    assert any(s.role is Role.TEXT for s in fs.spans), "product names must become a text span"
    assert label not in fs.columns


def test_a_long_table_is_encoded_chunk_by_chunk_into_the_same_matrix():
    """transform encodes a long table in chunks (its working memory is one chunk's); each row's encoding is
    its own, so the matrix equals the one-pass encoding, texts (TF-IDF + SVD) included."""
    from product_repr.data import demo
    from product_repr.data.schema import infer_schema

    df = demo.make_catalog(rows=1_000, seed=5).table
    space = FeatureSpace(infer_schema(df), text_encoder="tfidf").fit(df)
    whole = space.transform(df, chunk_rows=len(df))
    chunked = space.transform(df, chunk_rows=128)  # 8 chunks, the last one short
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-6)
    assert chunked.dtype == np.float32 and chunked.shape == whole.shape
    assert space.last_missing_columns == []
