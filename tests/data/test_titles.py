"""Naming and finding products in a catalog table."""
from __future__ import annotations

import pandas as pd

from product_repr.data.schema import infer_schema
from product_repr.data.titles import id_column, key_columns, product_label, search_products, title_column


def test_product_label_by_position_and_by_id():
    df = pd.DataFrame({"product_id": ["A1", "B2"], "title": ["Red shirt", "A very long title " * 10]})
    assert product_label(df, [0]) == ["A1 · Red shirt"]
    by_id = product_label(df, ["B2", "zz"], width=20)
    assert by_id[0].startswith("B2 · A very long") and len(by_id[0]) <= 25 and by_id[1] == "zz", by_id


def test_title_and_id_columns_by_name_then_by_role():
    assert title_column(pd.DataFrame({"sku": ["a"], "Product_Title": ["x"]})) == "Product_Title"
    words = ["red", "blue", "big", "small", "soft", "cotton", "steel"]
    df = pd.DataFrame({"sku": [f"S{i}" for i in range(60)],
                       "blurb": [" ".join(words[(i + j) % 7] for j in range(12)) for i in range(60)],
                       "head": [f"{words[i % 7]} {words[(i * 3) % 7]} item {i}" for i in range(60)]})
    schema = infer_schema(df)
    assert title_column(df) is None, "no title-like name"
    assert title_column(df, schema) == "head", "with roles: the text column with the shortest values"
    assert id_column(df, schema) == "sku" and id_column(df) is None


def test_key_columns_prefer_then_categorical_then_numeric_within_a_limit():
    df = pd.DataFrame(columns=["title", "brand", "colour", "price", "weight"])
    assert key_columns(df, preferred=[None, "colour"], categorical=["brand", "colour"], numeric=["price", "weight"],
                       skip=["title"], limit=3) == ["colour", "brand", "price"]
    assert key_columns(None, preferred=["x"]) == []


def test_search_products_matches_id_or_title_exact_id_first():
    ids = ["X10", "X1", "Y2"]
    titles = ["red shirt X1-compatible", "blue mug", None]
    hits, total = search_products(ids, titles, "X1")
    assert total == 2 and list(hits) == [1, 0], "the exact id comes first, then other matches"
    hits, total = search_products(ids, titles, "MUG")
    assert list(hits) == [1] and total == 1
    hits, total = search_products(ids, titles, "", limit=2)
    assert list(hits) == [0, 1] and total == 3
