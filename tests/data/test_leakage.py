"""Label leakage: the columns that give the label away are found, and only those named after it excluded."""
from __future__ import annotations

import pandas as pd

from product_repr.data import demo
from product_repr.data.leakage import label_exclusions, named_twins, taxonomy_twins
from product_repr.data.schema import infer_schema


def test_taxonomy_twins_finds_the_subcategory_of_the_demo():
    df = demo.make_catalog(rows=200, seed=0).table
    schema = infer_schema(df)
    twins = taxonomy_twins(df, "category", schema=schema)
    assert "subcategory" in twins, f"subcategory determines category, got twins {twins}"
    assert not {"price", "product_id", "title"} & set(twins), f"numbers, ids and titles are not twins: {twins}"
    assert named_twins(df, "category", schema=schema) == ["subcategory"], \
        "only the twin named after the label is excluded by default"
    assert label_exclusions(df, "category", schema=schema) == ["category", "subcategory"]


def test_taxonomy_twins_tolerate_a_few_inconsistent_rows():
    df = pd.DataFrame({"cat": ["a"] * 60 + ["b"] * 40, "sub_cat": ["a1"] * 30 + ["a2"] * 30 + ["b1"] * 39 + ["a1"],
                       "shop": ["x", "y"] * 50})
    assert taxonomy_twins(df, "cat") == ["sub_cat"], "99% pure is still a twin; a 50/50 column is not"


def test_a_text_path_named_after_the_label_is_a_twin_but_a_brand_and_the_id_are_not():
    rows = 120
    top = ["food", "home", "toys"]
    df = pd.DataFrame({
        "sku": [f"S{i}" for i in range(rows)],
        "category_l1": [top[i % 3] for i in range(rows)],
        "category_path": [f"{top[i % 3]} > shelf {i % 12}" for i in range(rows)],
        "brand": [f"{top[i % 3]}-brand-{i % 6}" for i in range(rows)],  # pins the label down, not named after it
    })
    schema = infer_schema(df)
    assert set(taxonomy_twins(df, "category_l1")) >= {"category_path", "brand"}, taxonomy_twins(df, "category_l1")
    assert named_twins(df, "category_l1", schema=schema) == ["category_path"], "the brand is pointed out, not excluded"
    assert label_exclusions(df, "category_l1", schema=schema) == ["category_l1", "category_path"]


def test_no_label_or_a_single_valued_one_has_no_twins():
    df = pd.DataFrame({"a": ["x"] * 10, "b": list("abcdefghij")})
    assert taxonomy_twins(df, "a") == [] and taxonomy_twins(df, None) == [] and taxonomy_twins(df, "nope") == []
    assert label_exclusions(df, None) == [] and label_exclusions(df, "nope") == []
