"""The lists people read: odd products with the reason, duplicate pairs with what differs, planted-truth
evidence and the marks a person gives."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr import findings, infer_schema, pipeline
from product_repr.errors import ConfigError, RunError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def shop(one_torch_thread):
    """300 products of three kinds, one priced 40x its kind, and one listed twice."""
    rng = np.random.default_rng(5)
    n = 300
    kinds = rng.choice(["kettle", "toaster", "blender"], size=n)
    base = {"kettle": 30.0, "toaster": 45.0, "blender": 80.0}
    df = pd.DataFrame({
        "product_id": [f"P{i:03d}" for i in range(n)],
        "title": [f"{rng.choice(['Acme', 'Bolt', 'Crest'])} {k} model {rng.integers(100, 999)}" for k in kinds],
        "kind": kinds,
        "price": (np.array([base[k] for k in kinds]) * rng.lognormal(0, 0.1, size=n)).round(2),
        "weight_kg": (rng.lognormal(0, 0.2, size=n)).round(3),
    })
    df.loc[11, "price"] = round(base[df.loc[11, "kind"]] * 40, 2)
    copy = df.loc[[20]].copy()
    copy["product_id"] = "P999"
    copy["price"] = round(float(copy["price"].iloc[0]) * 1.02, 2)
    df = pd.concat([df, copy], ignore_index=True)
    from product_repr import learners
    config = learners.get(learners.DEFAULT).Config(steps=200, seed=0)
    run = pipeline.build_run(df, infer_schema(df), config=config, exclude=["kind"])
    return df, run


def test_the_run_keeps_scores_and_pairs_and_the_odd_list_explains_the_top(shop):
    df, run = shop
    assert run.anomalies is not None and run.duplicates is not None
    assert run.info["anomalies"]["flagged"] == int((run.anomalies["spreads"] >= run.info["anomalies"]["flag_at"]).sum())
    rows = df.set_index("product_id", drop=False)
    X = run.feature_space.transform(df)
    odd = findings.odd_products(run, rows, X, top=3)
    assert list(odd.columns) == ["rank", "product_id", "score", "spreads", "worst_column", "why"]
    assert odd["product_id"].iloc[0] == "P011", odd
    assert odd["worst_column"].iloc[0] == "price" and "model expected about" in odd["why"].iloc[0], odd["why"].iloc[0]
    assert odd["score"].is_monotonic_decreasing


def test_the_duplicate_list_names_what_differs_and_counts_planted_truth(shop):
    df, run = shop
    rows = df.set_index("product_id", drop=False)
    pairs = findings.duplicate_list(findings.duplicate_candidates(run), 0.94, rows, title="title",
                                    columns=["title", "kind", "price", "weight_kg"])
    first = pairs.iloc[0]
    assert {first["product_a"], first["product_b"]} == {"P020", "P999"}, pairs.head()
    assert first["differs_in"] == "price" and first["title_a"] == first["title_b"]
    truth = {"anomalies": ["P011"], "near_duplicates": [["P020", "P999"]]}
    evidence = findings.planted_evidence(truth, run.anomalies, pairs)
    assert evidence["in_top"] == 1 and evidence["pairs_found"] == 1
    assert evidence["other_pairs"] == len(pairs) - 1
    assert findings.planted_evidence(None, run.anomalies, pairs) == {}


def test_a_threshold_below_the_kept_pairs_needs_the_table(shop):
    df, run = shop
    with pytest.raises(RunError, match="pass the table"):
        findings.duplicate_candidates(run, threshold=0.5)
    X = run.feature_space.transform(df)
    wider = findings.duplicate_candidates(run, X, threshold=0.5)
    assert wider["similarity"].min() < 0.8 <= run.duplicates["similarity"].min()


def test_marks_round_trip_and_unknown_marks_are_named():
    marks = {("product", "P1", ""): "anomaly", ("pair", "P1", "P2"): "not a duplicate"}
    frame = findings.marks_frame(marks)
    assert list(frame.columns) == list(findings.MARK_COLUMNS)
    assert findings.marks_from_frame(frame) == marks
    with pytest.raises(ConfigError, match="not one of the marks"):
        findings.marks_frame({("product", "P1", ""): "duplicate"})
    bad = frame.assign(mark=["anomaly", "maybe"])
    with pytest.raises(RunError, match="line 3: 'pair' / 'maybe'"):
        findings.marks_from_frame(bad)
