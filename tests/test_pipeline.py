"""build_run: the one path from a table to a finished run, shared by the CLI and the Train page."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr import demo, pipeline
from product_repr.errors import SchemaError
from product_repr.schema import infer_schema


@pytest.fixture(scope="module")
def catalog():
    return demo.make_catalog(rows=500, seed=11).table


def test_build_run_fills_every_analysis(catalog):
    schema = infer_schema(catalog)
    stages = []
    reports = []
    run = pipeline.build_run(
        catalog, schema, learner="autoencoder", config={"epochs": 3, "embedding_dim": 6},
        exclude=["subcategory"], label="category", progress=reports.append, on_stage=stages.append,
    )
    assert run.embeddings.shape == (len(catalog), 6) and run.embeddings.dtype == np.float32
    assert len(reports) == 3 and [r.epoch for r in reports] == [1, 2, 3]
    assert stages[:2] == ["Encoding features", "Training autoencoder"]
    assert {"category", "subcategory"}.isdisjoint(run.feature_space.columns)
    assert len(run.projection) == len(catalog) and np.isfinite(run.projection[["x", "y"]].to_numpy()).all()
    assert len(run.neighbours) == 10 * len(catalog)
    assert len(run.reconstruction) == len(catalog)
    assert run.metrics["knn_precision@10"]["model"] > run.metrics["chance"], "embedding no better than chance"
    assert run.info["data"]["rows"] == len(catalog) and len(run.info["data"]["sha256"]) == 64


def test_contrastive_run_has_no_reconstruction(catalog):
    run = pipeline.build_run(
        catalog, infer_schema(catalog), learner="contrastive", config={"epochs": 2}, label="category",
    )
    assert run.reconstruction is None
    assert run.neighbours is not None and run.metrics


def test_duplicate_ids_are_made_unique(catalog):
    table = catalog.head(50).copy()
    schema = infer_schema(catalog)
    table[schema.id_column] = ["SAME"] * 50
    ids = pipeline.product_ids(table, schema)
    assert len(set(ids)) == 50 and ids[0] == "SAME" and ids[1] == "SAME#2"


def test_unknown_exclude_and_label_are_schema_errors(catalog):
    schema = infer_schema(catalog)
    with pytest.raises(SchemaError, match="no_such"):
        pipeline.build_run(catalog, schema, exclude=["no_such"], config={"epochs": 1}, analysis=False)
    with pytest.raises(SchemaError, match="label column 'nope'"):
        pipeline.build_run(catalog, schema, label="nope", config={"epochs": 1}, analysis=False)


def test_table_hash_changes_with_content(catalog):
    a = pipeline.table_sha256(catalog)
    changed = catalog.copy()
    changed.iloc[0, 1] = "something else"
    assert a == pipeline.table_sha256(catalog.copy())
    assert a != pipeline.table_sha256(changed)
