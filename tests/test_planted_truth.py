"""The demo catalog's planted truth is found through the CLI defaults, as a user would run them:
``demo --rows 4000 --seed 2``, ``train demo.csv --exclude category`` (default learner and settings), then
``anomalies`` and ``duplicates``.

Measured (2 cores, 2026-12-02): 29 of 30 planted anomalies in the top 2 % by anomaly score (every price
and weight anomaly, 9 of 10 titles filed under another category); 60 of 60 planted near-duplicate pairs
listed at the default threshold and no other pair.
"""
from __future__ import annotations

import json

import pandas as pd
import pytest

from product_repr import cli

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_torch_thread")]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, one_torch_thread):
    folder = tmp_path_factory.mktemp("planted")
    csv = folder / "demo.csv"
    assert cli.main(["demo", "--rows", "4000", "--seed", "2", "--out", str(csv)]) == 0
    assert cli.main(["train", str(csv), "--exclude", "category", "--out", str(folder / "run"), "--quiet"]) == 0
    truth = json.loads((folder / "demo.truth.json").read_text())
    return folder, truth


def test_planted_anomalies_top_the_cli_list(demo_run, capsys):
    folder, truth = demo_run
    out = folder / "odd.csv"
    capsys.readouterr()
    assert cli.main(["anomalies", str(folder / "run"), "--top", "80", "--out", str(out),
                     "--truth", str(folder / "demo.truth.json")]) == 0
    said = capsys.readouterr().err
    odd = pd.read_csv(out)
    planted = set(truth["anomalies"])
    found = planted & set(odd["product_id"])  # the top 80 are the top 2 % of 4,000
    # chance would put 2 % of them there; measured 29 of 30
    assert len(found) >= 0.9 * len(planted), f"{len(found)} of {len(planted)} planted anomalies in the top 2 %"
    assert f"{len(found)} of {len(planted)} planted anomalies in the top 80" in said, said
    kinds = truth["anomaly_kinds"]
    for _, row in odd[odd["product_id"].isin([p for p in planted if kinds[p] in ("price", "weight")])].iterrows():
        column = "price" if kinds[row["product_id"]] == "price" else "weight_kg"
        assert row["worst_column"] == column and "model expected about" in row["why"], row.to_dict()
    assert odd["product_id"].iloc[0] in planted


def test_planted_duplicates_are_the_cli_pairs(demo_run, capsys):
    folder, truth = demo_run
    out = folder / "pairs.csv"
    assert cli.main(["duplicates", str(folder / "run"), "--out", str(out)]) == 0
    pairs = pd.read_csv(out)
    listed = [frozenset(p) for p in zip(pairs["product_a"], pairs["product_b"])]
    planted = {frozenset(p) for p in truth["near_duplicates"]}
    hits = sum(p in planted for p in listed)
    assert hits >= 0.95 * len(planted), f"{hits} of {len(planted)} planted pairs listed"
    assert len(listed) - hits <= 0.1 * len(listed), f"{len(listed) - hits} pairs listed that were not planted"
    assert {"title_a", "title_b", "differs_in", "group"} <= set(pairs.columns)
    assert pairs["differs_in"].str.contains("title").mean() > 0.9  # the demo varies every copy's title
    assert pairs["similarity"].is_monotonic_decreasing
