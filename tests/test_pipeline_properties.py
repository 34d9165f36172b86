"""Property: any small table survives read_table -> infer_schema -> FeatureSpace.

Either a ProductReprError (with a message) or a finite float32 X whose spans are
contiguous and cover every column.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from product_repr.errors import ProductReprError
from product_repr.features.space import FeatureSpace
from product_repr.data.schema import infer_schema
from product_repr.data.tables import read_table

WORDS = ["kettle", "steel", "cotton", "shirt", "red", "1.5 L", "₹1,099", "64%", "N/A", "", " ", "é", "a,b", 'q"t']

numbers = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                    st.integers(min_value=-10**12, max_value=10**12), st.none())
texts = st.one_of(st.none(), st.text(max_size=12),
                  st.lists(st.sampled_from(WORDS), min_size=0, max_size=6).map(" ".join))
levels = st.one_of(st.none(), st.sampled_from(["Acme", "Acme ", "Zeta", "nova", "1", "true", "false"]))


@st.composite
def tables(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=1, max_value=25))
    n_cols = draw(st.integers(min_value=1, max_value=5))
    data = {}
    for j in range(n_cols):
        kind = draw(st.sampled_from([numbers, texts, levels, st.booleans()]))
        data[f"c{j}"] = draw(st.lists(kind, min_size=n, max_size=n))
    return pd.DataFrame(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(df=tables())
def test_random_tables_encode_to_finite_features_or_raise_a_clear_error(tmp_path, df):
    path = tmp_path / "table.csv"
    df.to_csv(path, index=False)
    try:
        table = read_table(path)
        schema = infer_schema(table)
        fs = FeatureSpace(schema, text_dim=8)
        X = fs.fit_transform(table)
    except ProductReprError as err:
        assert str(err), "a ProductReprError must say what went wrong"
        return
    assert X.dtype == np.float32 and X.shape[0] == len(table)
    assert np.isfinite(X).all(), "non-finite features"
    assert fs.spans[0].start == 0 and X.shape[1] == fs.spans[-1].stop
    for a, b in zip(fs.spans, fs.spans[1:]):
        assert a.stop == b.start, f"spans {a.name} and {b.name} are not contiguous"
    assert all(s.width >= 1 for s in fs.spans)
    state, arrays = fs.to_dict()
    state = json.loads(json.dumps(state, allow_nan=False))  # JSON-safe: no NaN/inf, plain types
    again = FeatureSpace.from_dict(state, arrays)
    assert np.array_equal(again.transform(table), X), "state round trip changed X"
