"""The demo catalog: deterministic, realistic, with planted truth that is really there."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from product_repr.data import demo
from product_repr.errors import ConfigError
from product_repr.features.space import FeatureSpace
from product_repr.data.schema import Role, infer_schema

ROWS = 1000


@pytest.fixture(scope="module")
def catalog() -> demo.Catalog:
    return demo.make_catalog(rows=ROWS, seed=0)


def test_deterministic_by_seed():
    a, b = demo.make_catalog(300, seed=7), demo.make_catalog(300, seed=7)
    pd.testing.assert_frame_equal(a.table, b.table)
    assert a.truth == b.truth
    assert not a.table.equals(demo.make_catalog(300, seed=8).table), "another seed, another catalog"


def test_shape_columns_and_ids(catalog):
    df = catalog.table
    assert list(df.columns) == demo.COLUMNS and len(df) == ROWS
    assert df["product_id"].is_unique and df["product_id"].iloc[0] == "P00001"
    assert 7 <= df["category"].nunique() <= 9 and df["subcategory"].nunique() >= 25
    missing = df.isna().mean()
    for col in ("rating", "weight_kg", "colour", "description", "brand"):
        assert 0.005 < missing[col] < 0.08, f"{col}: {missing[col]:.3f} missing, expected a few percent"
    assert missing[["product_id", "title", "category", "price"]].sum() == 0


def test_brands_belong_to_one_category(catalog):
    df = catalog.table.dropna(subset=["brand"])
    assert df.groupby("brand")["category"].nunique().max() == 1


def test_inferred_roles_are_sensible(catalog):
    schema = infer_schema(catalog.table)
    assert schema.role("product_id") is Role.ID
    assert schema.role("title") is Role.TEXT and schema.role("description") is Role.TEXT
    assert schema.role("category") is Role.CATEGORICAL and schema.role("brand") is Role.CATEGORICAL
    assert schema.role("price") is Role.NUMERIC and schema.role("review_count") is Role.NUMERIC


def test_truth_ids_exist_and_sizes(catalog):
    ids = set(catalog.table["product_id"])
    truth = catalog.truth
    assert set(truth["anomalies"]) <= ids and all(set(p) <= ids for p in truth["near_duplicates"])
    assert 0.005 * ROWS <= len(truth["anomalies"]) <= 0.01 * ROWS
    assert 0.01 * ROWS <= len(truth["near_duplicates"]) <= 0.02 * ROWS
    assert set(truth["anomaly_kinds"].values()) == {"price", "weight", "category"}
    assert set(truth["anomaly_kinds"]) == set(truth["anomalies"])


def test_anomalies_are_extreme_in_raw_features(catalog):
    df = catalog.table.set_index("product_id")
    for pid, kind in catalog.truth["anomaly_kinds"].items():
        row = df.loc[pid]
        same = df[(df["category"] == row["category"]) & ~df.index.isin(catalog.truth["anomalies"])]
        if kind == "price":
            assert row["price"] > same["price"].quantile(0.999), f"{pid} price {row['price']} not extreme"
        elif kind == "weight":
            assert row["weight_kg"] > same["weight_kg"].quantile(0.999), f"{pid} weight {row['weight_kg']}"
        else:
            others = df[df["category"] != row["category"]]
            assert row["brand"] in set(same["brand"]), "a miscategorised product keeps its category's brand"
            words = set(row["title"].lower().split()[1:])  # without the brand
            own = set(" ".join(same["title"].str.lower()).split())
            assert words - own, f"{pid} title {row['title']!r} uses only its filed category's words"
            assert len(others) > 0


def test_near_duplicates_are_nearest_neighbours_in_raw_features(catalog):
    df = catalog.table
    schema = infer_schema(df)
    X = FeatureSpace(schema, exclude=["category", "subcategory"]).fit_transform(df)
    Z = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = Z @ Z.T
    np.fill_diagonal(S, -np.inf)
    nn = S.argmax(axis=1)
    pos = {pid: i for i, pid in enumerate(df["product_id"])}
    pairs = catalog.truth["near_duplicates"]
    hits = sum(nn[pos[a]] == pos[b] or nn[pos[b]] == pos[a] for a, b in pairs)
    assert hits >= 0.8 * len(pairs), f"only {hits}/{len(pairs)} near-duplicate pairs are nearest neighbours"


def test_write_catalog(tmp_path):
    csv_path, truth_path = demo.write_catalog(tmp_path / "sub" / "demo.csv", rows=100, seed=1)
    assert truth_path.name == "demo.truth.json" and truth_path.parent == csv_path.parent
    df = pd.read_csv(csv_path)
    truth = json.loads(truth_path.read_text())
    assert len(df) == 100 and set(truth["anomalies"]) <= set(df["product_id"])
    assert truth == demo.make_catalog(100, seed=1).truth


@pytest.mark.parametrize("rows", [20, 21, 57])
def test_small_catalogs_still_plant_every_kind(rows):
    c = demo.make_catalog(rows, seed=3)
    assert len(c.table) == rows and c.table["product_id"].is_unique
    assert set(c.truth["anomaly_kinds"].values()) == {"price", "weight", "category"}
    assert len(c.truth["near_duplicates"]) >= 2


def test_too_few_rows():
    with pytest.raises(ConfigError, match="at least 20 rows"):
        demo.make_catalog(rows=5)
