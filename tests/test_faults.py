"""Numerical faults, end to end: a table with inf/NaN/1e308, constant columns, one category, one or two rows,
only empty texts, or one odd value among identical ones trains to finite embeddings whose map, neighbours,
errors and exports hold no NaN, or stops with a message that says what to change. Plus a fuzz of whole runs."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from product_repr import export, pipeline
from product_repr.data.schema import infer_schema
from product_repr.data.tables import read_table
from product_repr.errors import ProductReprError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = {"steps": 3, "width": 16, "embedding_dim": 4}


def _titles(n: int) -> list[str]:
    words = ["steel kettle", "cotton shirt", "desk lamp", "tea mug", "wool scarf"]
    return [f"{words[i % 5]} {i}" for i in range(n)]


def _faulty(kind: str) -> pd.DataFrame:
    n = 40
    base = pd.DataFrame({"title": _titles(n), "price": np.linspace(1, 100, n), "brand": ["acme", "zeta"] * (n // 2)})
    if kind == "inf, NaN and 1e308":
        base["price"] = [np.inf, -np.inf, np.nan, 1e308, -1e308] + list(np.linspace(1, 100, n - 5))
    elif kind == "constant columns":
        base["price"], base["brand"] = 5.0, "acme"
    elif kind == "one category":
        base["brand"] = "acme"
    elif kind == "one row":
        base = base.head(1)
    elif kind == "two rows":
        base = base.head(2)
    elif kind == "all text empty":
        base["title"] = ""
    elif kind == "identical values but one":
        base["price"] = [1e9] + [3.0] * (n - 1)
    return base


FAULTS = ["inf, NaN and 1e308", "constant columns", "one category", "one row", "two rows", "all text empty",
          "identical values but one"]


def assert_finite_run(run) -> None:
    assert np.isfinite(run.embeddings).all(), "embeddings"
    if run.projection is not None:
        assert np.isfinite(run.projection[["x", "y"]].to_numpy()).all(), "map"
    if run.neighbours is not None:
        assert np.isfinite(run.neighbours["similarity"].to_numpy()).all(), "neighbours"
    for frame in (run.reconstruction, run.anomalies):
        if frame is not None:
            assert np.isfinite(frame.select_dtypes("number").to_numpy()).all(), "errors / anomaly scores"
    exported = pd.read_csv(io.BytesIO(export.embeddings_csv(run)))
    assert len(exported) == len(run.product_ids) and np.isfinite(exported.drop(columns="product_id").to_numpy()).all()


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind", FAULTS)
def test_a_numerical_fault_trains_to_finite_results_or_says_what_to_change(kind):
    table = _faulty(kind)
    try:
        run = pipeline.build_run(table, infer_schema(table), config=TINY, features={"text_encoder": "tfidf"})
    except ProductReprError as err:
        assert kind in ("one row", "constant columns"), f"{kind}: refused ({err})"
        assert "row" in str(err) or "column" in str(err), str(err)
        return
    assert_finite_run(run)
    assert len(run.product_ids) == len(table)


numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.integers(min_value=-10**12, max_value=10**12), st.none())
texts = st.one_of(st.none(), st.text(max_size=12),
                  st.lists(st.sampled_from(["kettle", "steel", "N/A", "", "é", "a,b", "1.5 L"]), max_size=5).map(" ".join))
levels = st.one_of(st.none(), st.sampled_from(["Acme", "Zeta", "nova", "1", "true"]))


@st.composite
def tables(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=30))
    data = {}
    for j in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from([numbers, texts, levels, st.booleans()]))
        data[f"c{j}"] = draw(st.lists(kind, min_size=n, max_size=n))
    return pd.DataFrame(data)


@pytest.mark.timeout(300)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(df=tables())
def test_random_tables_train_and_analyse_to_finite_results_or_a_clear_error(tmp_path, df):
    """read_table → infer_schema → FeatureSpace → a few training steps → map, neighbours, errors, export."""
    path = tmp_path / "table.csv"
    df.to_csv(path, index=False)
    try:
        table = read_table(path)
        run = pipeline.build_run(table, infer_schema(table), config=TINY, features={"text_encoder": "tfidf"})
    except ProductReprError as err:
        assert str(err), "a ProductReprError must say what went wrong"
        return
    assert_finite_run(run)
