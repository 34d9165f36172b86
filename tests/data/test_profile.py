"""The column profile the Data page shows, and role edits read back from it."""
from __future__ import annotations

import pandas as pd

from product_repr.data.profile import column_profile, role_changes
from product_repr.data.schema import infer_schema


def table() -> pd.DataFrame:
    return pd.DataFrame({"sku": [f"S{i}" for i in range(40)], "price": [float(i) if i % 4 else None for i in range(40)],
                         "shop": ["north", "south"] * 20, "note": ["x" * 100] * 39 + [None]})


def test_profile_counts_missing_and_distinct_values_and_names_each_role():
    df = table()
    schema = infer_schema(df)
    profile = column_profile(df, schema).set_index("column")
    assert list(profile.index) == list(df.columns)
    assert profile.loc["price", "missing %"] == 25.0 and profile.loc["shop", "distinct"] == 2
    assert profile.loc["sku", "role"] == "id" and profile.loc["sku", "reason"], profile.loc["sku"].to_dict()
    assert len(profile.loc["note", "example"]) == 60 and profile.loc["note", "example"].endswith("…")
    assert "role" not in column_profile(df).columns, "no roles without a schema"


def test_role_changes_lists_only_what_differs():
    df = table()
    schema = infer_schema(df)
    edited = column_profile(df, schema)[["column", "role"]]
    assert role_changes(schema, edited) == {}
    edited.loc[edited["column"] == "shop", "role"] = "ignore"
    edited.loc[edited["column"] == "price", "role"] = None
    assert role_changes(schema, edited) == {"shop": "ignore"}
