"""infer_schema, Schema and as_numbers."""
from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from product_repr.errors import ProductReprError, SchemaError
from product_repr.data.schema import SET_BY_YOU, ColumnInfo, Role, Schema, as_numbers, infer_schema
from product_repr.data.tables import read_table

N = 200


@pytest.fixture
def catalog() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    words = ["red", "blue", "cotton", "steel", "kettle", "shirt", "mug", "lamp", "soft", "large", "travel"]
    return pd.DataFrame(
        {
            "product_id": [f"P{i:05d}" for i in range(N)],
            "title": [" ".join(rng.choice(words, 4)) + f" {i}" for i in range(N)],
            "description": [" ".join(rng.choice(words, 25)) for _ in range(N)],
            "brand": rng.choice([f"brand{i}" for i in range(12)], N),
            "price": rng.gamma(2.0, 30.0, N).round(2),
            "price_text": [f"₹{int(v):,}" for v in rng.integers(100, 90000, N)],
            "discount": [f"{v}%" for v in rng.integers(0, 90, N)],
            "in_stock": rng.choice(["yes", "no"], N),
            "added": pd.date_range("2021-01-01", periods=N, freq="D").strftime("%Y-%m-%d"),
            "department_id": rng.integers(1, 22, N),
            "source": ["scraper"] * N,
            "notes": [None] * N,
        }
    )


def test_roles_and_reasons(catalog):
    schema = infer_schema(catalog)
    roles = {c.name: c.role for c in schema}
    assert roles == {
        "product_id": Role.ID, "title": Role.TEXT, "description": Role.TEXT, "brand": Role.CATEGORICAL,
        "price": Role.NUMERIC, "price_text": Role.NUMERIC, "discount": Role.NUMERIC, "in_stock": Role.NUMERIC,
        "added": Role.NUMERIC, "department_id": Role.CATEGORICAL, "source": Role.IGNORE, "notes": Role.IGNORE,
    }, roles
    assert schema.reason("product_id") == "all 200 values unique → id"
    assert schema.reason("source") == "constant (every value 'scraper') → ignore"
    assert schema.reason("notes") == "all empty → ignore"
    assert "12 levels" in schema.reason("brand")
    assert "₹" in schema.reason("price_text"), schema.reason("price_text")
    assert "days since 1970-01-01" in schema.reason("added")
    assert "codes" in schema.reason("department_id")
    assert [schema.parse(c) for c in ("price", "price_text", "in_stock", "added", "brand")] == [
        None, "number_text", "bool", "datetime", None
    ]
    assert schema.id_column == "product_id"
    assert schema.names(Role.TEXT) == ["title", "description"]
    assert len(schema) == catalog.shape[1] and schema.names() == list(catalog.columns)


def test_as_numbers_reads_what_schema_inferred(catalog):
    schema = infer_schema(catalog)
    for col in schema.names(Role.NUMERIC):
        x = as_numbers(catalog[col], schema.parse(col))
        assert x.dtype == np.float64 and x.shape == (N,)
        assert np.isfinite(x).all(), f"{col}: {np.isnan(x).sum()} values did not parse"
    assert as_numbers(pd.Series(["₹1,099", "64%", "24,269", "1.2k", "n/a"]), "number_text").tolist()[:4] == [
        1099.0, 64.0, 24269.0, 1200.0
    ]
    x = as_numbers(pd.Series([1.0, np.inf, -np.inf, None, 1e308]), None)
    assert np.isnan(x[1:4]).all() and x[4] == 1e308, x
    assert as_numbers(pd.Series(["Yes", "no", None]), "bool")[:2].tolist() == [1.0, 0.0]
    assert as_numbers(pd.Series(["1970-01-02"]), "datetime").tolist() == [1.0]
    with pytest.raises(SchemaError, match="unknown parse 'roman'"):
        as_numbers(pd.Series([1]), "roman")


def test_with_roles_overrides_and_validates(catalog):
    schema = infer_schema(catalog)
    new = schema.with_roles({"department_id": "numeric", "brand": Role.TEXT, "price": "ignore"})
    assert new.role("department_id") is Role.NUMERIC and new.reason("department_id") == SET_BY_YOU
    assert new.role("brand") is Role.TEXT and new.role("price") is Role.IGNORE
    assert schema.role("price") is Role.NUMERIC, "with_roles must not change the original"
    with pytest.raises(SchemaError, match=r"unknown column 'nope'; the columns are 'product_id'"):
        schema.with_roles({"nope": "numeric"})
    with pytest.raises(SchemaError, match=r"unknown role 'number' for column 'price'; choose one of id, numeric"):
        schema.with_roles({"price": "number"})
    with pytest.raises(SchemaError, match=r"column 'brand' has 200 non-numeric values of 200 \(e.g. 'brand"):
        schema.with_roles({"brand": "numeric"})


def test_round_trips_through_json(catalog):
    schema = infer_schema(catalog).with_roles({"brand": "text"})
    again = Schema.from_dict(json.loads(json.dumps(schema.to_dict())))
    assert again == schema
    with pytest.raises(SchemaError, match="malformed"):
        Schema.from_dict({"cols": []})
    with pytest.raises(SchemaError, match="unknown role 'big'"):
        ColumnInfo("a", "big", "")


def test_check_usable_names_reasons():
    schema = infer_schema(pd.DataFrame({"a": ["x"] * 5, "b": [None] * 5}))
    with pytest.raises(SchemaError, match=r"no column can be used as a feature — 'a': constant"):
        schema.check_usable()


def test_bad_input_is_schema_error():
    with pytest.raises(SchemaError, match="column names must be strings"):
        infer_schema(pd.DataFrame(np.zeros((3, 2))))
    with pytest.raises(SchemaError, match="needs a pandas DataFrame"):
        infer_schema([[1, 2]])


def test_dates_day_first_and_native_types():
    days = pd.date_range("2021-01-01", periods=40, freq="D")
    df = pd.DataFrame({
        "uk": days.strftime("%d/%m/%Y"), "us": days.strftime("%m/%d/%Y"), "stamp": days,
        "flag": [True, False] * 20, "ok": ["Y", "N"] * 20,
    })
    schema = infer_schema(df)
    for col in ("uk", "us", "stamp"):
        assert schema.parse(col) == "datetime", (col, schema.reason(col))
        assert "dates from 2021-01-01 to 2021-02-09" in schema.reason(col), schema.reason(col)
        assert as_numbers(df[col], "datetime")[0] == 18628.0, col  # 2021-01-01 is day 18,628 since 1970
    assert schema.parse("flag") == "bool" and schema.parse("ok") == "bool", schema.to_dict()
    assert as_numbers(df["ok"], "bool")[:2].tolist() == [1.0, 0.0]


def test_one_id_other_unique_columns_ignored():
    n = 60
    df = pd.DataFrame({
        "row": range(n), "sku": [f"S-{i}" for i in range(n)], "url": [f"https://shop.example/p/{i}" for i in range(n)],
        "title": [f"cotton shirt size {i}" for i in range(n)], "price": np.linspace(1, 60, n),
    })
    schema = infer_schema(df)
    assert schema.names(Role.ID) == ["sku"], schema.to_dict()
    assert schema.reason("url") == "all 60 values unique, like an id ('sku' is the id) → ignore"
    assert schema.role("row") is Role.IGNORE and schema.role("title") is Role.TEXT
    assert schema.role("price") is Role.NUMERIC, "unique floats are a quantity, not an id"


def test_small_table_has_no_accidental_id():
    df = pd.DataFrame({"colour": ["red", "blue", "green"], "size": [1, 2, 3]})
    schema = infer_schema(df)
    assert schema.id_column is None, schema.to_dict()
    assert schema.role("colour") is Role.CATEGORICAL and schema.role("size") is Role.NUMERIC


def test_mostly_numbers_text_is_numeric_else_override_refused():
    good = pd.Series([f"₹{1000 + i:,}" for i in range(97)] + ["call"] * 3)
    bad = pd.Series(["₹1,099"] * 60 + ["call", "ask", "see shop", "n.a."] * 10)
    schema = infer_schema(pd.DataFrame({"good": good, "bad": bad}))
    assert schema.role("good") is Role.NUMERIC and schema.parse("good") == "number_text", schema.reason("good")
    assert "97% of 100 values are numbers written as text (e.g. '₹1,000')" in schema.reason("good")
    assert schema.role("bad") is Role.CATEGORICAL
    with pytest.raises(SchemaError, match=r"column 'bad' has 40 non-numeric values of 100 \(e.g. 'call', 'ask', 'see shop'\)"):
        schema.with_roles({"bad": Role.NUMERIC})
    codes = infer_schema(pd.DataFrame({"department_id": [1, 2, 3] * 10})).with_roles({"department_id": "NUMERIC"})
    assert codes.role("department_id") is Role.NUMERIC and codes.parse("department_id") is None


def test_id_with_a_few_repeats_is_still_the_id():
    ids = [f"B0{i:04d}" for i in range(95)] + ["B00001"] * 5  # scraped twice, as in raw Amazon listings
    schema = infer_schema(pd.DataFrame({"product_id": ids, "price": np.arange(100) * 1.5}))
    assert schema.id_column == "product_id", schema.reason("product_id")
    assert schema.reason("product_id") == "95 distinct of 100 (5 repeated), named like an id → id"


@pytest.mark.parametrize(
    "name, role",
    [("productId", Role.ID), ("article id", Role.ID), ("sku", Role.ID), ("amount_paid", Role.NUMERIC),
     ("android", Role.NUMERIC), ("deptNo", Role.CATEGORICAL), ("piano", Role.NUMERIC), ("review_num", Role.NUMERIC)],
)
def test_name_hints_are_whole_words(name, role):
    values = [7, 3, 9, 1, 12] * 4 if role is Role.CATEGORICAL else [v * 7 + 3 for v in range(20)]
    got = infer_schema(pd.DataFrame({name: values}))
    assert got.role(name) is role, f"{name}: {got.reason(name)}"


def test_repeated_index_labels_and_input_untouched(catalog):
    twice = pd.concat([catalog, catalog])  # index 0..199 twice
    before = twice.copy()
    schema = infer_schema(twice)
    assert schema.role("price_text") is Role.NUMERIC and schema.role("brand") is Role.CATEGORICAL
    assert schema.role("product_id") is not Role.ID, "every id appears twice"
    pd.testing.assert_frame_equal(twice, before)


# --------------------------------------------------------------------------- property: read_table → infer_schema

_cells = st.one_of(
    st.none(),
    st.integers(-10**6, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.text(max_size=12),
    st.sampled_from(["₹1,099", "64%", "yes", "no", "2023-01-05", "0123", "N/A", ""]),
)


@st.composite
def _frames(draw) -> pd.DataFrame:
    rows = draw(st.integers(1, 8))
    names = draw(st.lists(st.text(max_size=6), min_size=1, max_size=5, unique=True))
    cols = {}
    for name in names:
        kind = draw(st.sampled_from(["mixed", "int", "float", "str"]))
        if kind == "int":
            cols[name] = draw(st.lists(st.integers(-1000, 1000), min_size=rows, max_size=rows))
        elif kind == "float":
            cols[name] = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=rows, max_size=rows))
        elif kind == "str":
            cols[name] = draw(st.lists(st.text(max_size=10), min_size=rows, max_size=rows))
        else:
            cols[name] = [str(v) if v is not None else None for v in draw(st.lists(_cells, min_size=rows, max_size=rows))]
    return pd.DataFrame(cols)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_frames(), fmt=st.sampled_from(["csv", "parquet"]))
def test_property_read_then_infer_never_crashes(frame, fmt):
    buf = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buf, index=False)
    else:
        frame.to_parquet(buf)
    buf.name = f"random.{fmt}"
    try:
        df = read_table(buf)
        schema = infer_schema(df)
    except ProductReprError:
        return  # a clear refusal is allowed; any other exception fails the test
    assert schema.names() == list(df.columns) and len(set(df.columns)) == df.shape[1]
    assert all(isinstance(c, str) and c for c in df.columns), list(df.columns)
    for info in schema:
        assert isinstance(info.role, Role) and info.reason, info
        if info.role is Role.NUMERIC:
            x = as_numbers(df[info.name], info.parse)
            assert x.shape == (len(df),) and not np.isinf(x).any(), (info, x)
    assert Schema.from_dict(json.loads(json.dumps(schema.to_dict()))) == schema


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_frames(), mixed=st.lists(st.one_of(_cells, st.lists(st.integers(), max_size=2)), min_size=1, max_size=8))
def test_property_infer_on_raw_frames(frame, mixed):
    """DataFrames built in code (object columns of mixed Python values) are inferred too."""
    frame = frame.copy()
    frame["mixed objects"] = (mixed * len(frame))[: len(frame)]
    frame.columns = [str(c) or f"column_{i}" for i, c in enumerate(frame.columns)]
    frame = frame.loc[:, ~frame.columns.duplicated()]
    schema = infer_schema(frame)
    for info in schema:
        if info.role is Role.NUMERIC:
            x = as_numbers(frame[info.name], info.parse)
            assert x.shape == (len(frame),) and not np.isinf(x).any(), (info, x)


def test_many_named_levels_become_text_but_codes_stay_categorical():
    rng = np.random.default_rng(5)
    n = 3000
    makers = [f"{a} {b}" for a in ("Sri", "Happy", "Green", "Royal", "Fresh", "Urban") for b in
              ("Farms", "Kitchen", "Organics", "Labs", "Naturals", "Foods", "Basics", "Home", "Care", "Craft",
               "Goods", "Works", "Made", "Store", "Brand", "Choice", "House", "Select", "Pure", "Prime")]
    df = pd.DataFrame({
        "maker": rng.choice(makers, n),                           # 120 levels, top 50 cover ~42%
        "code": rng.choice([f"X{i:04d}" for i in range(120)], n),  # same spread, but codes
        "price": rng.lognormal(3, 1, n),
    })
    schema = infer_schema(df)
    assert schema.role("maker") is Role.TEXT, schema.reason("maker")
    assert "top 50 cover only" in schema.reason("maker")
    assert schema.role("code") is Role.CATEGORICAL, schema.reason("code")


def test_small_table_titles_are_text_not_categories():
    """Ten products: every title differs and has several words, so it is text even under 50 levels;
    a short repeated column stays categorical, and distinct single words do not become text."""
    df = pd.DataFrame({
        "title": [f"Organic {w} rolled oats 1 kg" for w in "abcdefghij"],
        "category": ["Breakfast", "Drinks"] * 5,
        "code": [f"c{i}" for i in range(10)],
    })
    schema = infer_schema(df)
    assert schema.role("title") == Role.TEXT, schema.reason("title")
    assert "all 10 values different" in schema.reason("title")
    assert schema.role("category") == Role.CATEGORICAL, schema.reason("category")
    assert schema.role("code") != Role.TEXT, schema.reason("code")
