"""The tables a person reads about runs, on small synthetic arrays and fake runs."""
from __future__ import annotations

import numpy as np
import pandas as pd

from product_repr.analysis import report


class FakeRun:
    def __init__(self, name, knn, d=4, sha="s"):
        self.name, self.embeddings, self.reconstruction = name, np.zeros((3, d)), None
        self.info = {"learner": "x", "data": {"sha256": sha, "label": "c"}, "timings": {"train_s": 1.5}}
        self.metrics = {"knn_precision@10": {"model": knn, "raw": 0.5, "pca": 0.4},
                        "linear_probe_accuracy": {"model": 0.9, "raw": 0.8, "pca": 0.7}, "label": "c"}
        self.learner = None


def test_metrics_table_adds_each_baseline_once_for_the_same_data():
    table = report.metrics_table([FakeRun("a", 0.7), FakeRun("b", 0.8)])
    assert list(table["name"]) == ["a", "raw features", "PCA to d=4", "b"], "baselines once for the same data"
    assert table.loc[table["name"] == "b", report.KNN].item() == 0.8
    assert list(table["kind"]) == ["run", "baseline", "baseline", "run"]
    other = report.metrics_table([FakeRun("a", 0.7), FakeRun("c", 0.6, sha="t")])
    assert list(other["name"]).count("raw features") == 2, "another table has its own baselines"


def test_metrics_table_without_a_label_has_no_baselines_and_nan_figures():
    run = FakeRun("a", 0.7)
    run.metrics = {}
    table = report.metrics_table([run])
    assert list(table["name"]) == ["a"] and table[report.KNN].isna().all()
    assert report.metrics_table([]).empty and report.KNN in report.metrics_table([]).columns


def test_knn_verdict_against_pca():
    assert report.knn_verdict({"knn_precision@10": {"model": 0.712, "pca": 0.654}}) == "better than PCA (0.712 vs 0.654)"
    assert report.knn_verdict({"knn_precision@10": {"model": 0.65, "pca": 0.654}}).startswith("no better than")
    assert report.knn_verdict({"knn_precision@10": {"model": 0.5, "pca": 0.654}}).startswith("worse than")
    assert report.knn_verdict({}) is None


def test_neighbourhood_changes_compare_ids_not_positions():
    changes = report.neighbourhood_changes(["p", "q", "r"], np.array([[1], [0], [0]]),
                                           ["r", "q", "p"], np.array([[1], [0], [1]]))
    assert dict(zip(changes["product_id"], changes["change"])) == {"p": 0.0, "q": 1.0, "r": 1.0}
    assert list(changes["change"]) == sorted(changes["change"], reverse=True)


def test_neighbour_table_marks_shared_neighbours_and_adds_attributes():
    rows = pd.DataFrame({"title": ["a", "b", "c"]}, index=["p0", "p1", "p2"])
    table = report.neighbour_table(np.array([2, 1]), np.array([0.9, 0.5]), ["p0", "p1", "p2"], rows, ["title"],
                                   shared={"p1"})
    assert list(table["product_id"]) == ["p2", "p1"] and list(table["rank"]) == [1, 2]
    assert list(table["in both"]) == [False, True] and list(table["title"]) == ["c", "b"]


def test_selection_table_keeps_order_and_unique_column_names():
    rows = pd.DataFrame({"product_id": ["a", "b", "c"], "price": [1.0, 2.0, 3.0]}, index=["a", "b", "c"])
    table = report.selection_table(["a", "b", "c"], ["c", "a", "zz"], rows, extra={"price": np.array([9, 8, 7])})
    assert list(table.columns) == ["product_id", "price"], "catalog columns already present are not repeated"
    assert list(table["product_id"]) == ["c", "a"] and list(table["price"]) == [7, 9]
    assert list(report.selection_table(["a"], ["a"], None).columns) == ["product_id"]


def test_isolated_products_rank_the_product_least_like_its_neighbours_first():
    sims = np.array([[0.9, 0.8], [0.1, -0.1], [0.5, 0.5]])
    ids = np.array([[1, 2], [2, 0], [0, 1]])
    table = report.isolated_products(["a", "b", "c"], ids, sims, top=2)
    assert list(table["product_id"]) == ["b", "c"] and list(table["nearest"]) == ["c", "a"]
    rows = pd.DataFrame({"title": ["A", "B", "C"]}, index=["a", "b", "c"])
    assert list(report.with_attributes(table, rows, ["title", None, "nope"])["title"]) == ["B", "C"]


def test_unusual_products_name_the_columns_far_above_their_mean():
    rec = pd.DataFrame({"product_id": ["a", "b", "c", "d"], "error": [1.0, 9.0, 1.2, 0.8],
                        "price": [0.5, 8.0, 0.6, 0.4], "title": [0.5, 1.0, 0.6, 0.4]})
    table = report.unusual_products(rec, top=2)
    assert list(table["product_id"]) == ["b", "c"] and list(table["error_rank"]) == [1, 2]
    assert table["unusual in"].iloc[0].startswith("price (×3.4)"), table["unusual in"].iloc[0]


def test_selection_summary_counts_values_and_describes_numbers():
    table = pd.DataFrame({"category": ["Shoes", "Shoes", "Toys", None], "price": [10.0, 30.0, None, 20.0],
                          "title": list("abcd")})
    counts, stats = report.selection_summary(table, categorical=["category", "absent"], numeric=["price"])
    assert counts.values.tolist() == [["category", "Shoes", 2, 0.5], ["category", "Toys", 1, 0.25],
                                      ["category", "(missing)", 1, 0.25]]
    assert stats.iloc[0].tolist() == ["price", 3, 10.0, 20.0, 20.0, 30.0]


def test_the_sentence_encoder_baselines_get_their_rows_and_the_best_baseline_is_named():
    run = FakeRun("a", 0.7)
    run.metrics["knn_precision@10"].update(sentence=0.695, sentence_raw=0.62)
    run.metrics["linear_probe_accuracy"].update(sentence=0.85, sentence_raw=0.86)
    table = report.metrics_table([run])
    assert list(table["name"]) == ["a", "raw features", "PCA to d=4", "sentence encoder of the text",
                                   "sentence encoder + raw features"]
    assert table.loc[3, report.KNN] == 0.695 and table.loc[4, "linear probe"] == 0.86
    assert report.baseline_verdict(run.metrics) == \
        "no better than the best baseline, the sentence encoder of the text (0.700 vs 0.695)"
    run.metrics["knn_precision@10"]["model"] = 0.8
    assert report.baseline_verdict(run.metrics).startswith("better than the best baseline, the sentence encoder")
    del run.metrics["knn_precision@10"]["sentence"], run.metrics["knn_precision@10"]["sentence_raw"]
    assert report.baseline_verdict(run.metrics) == "better than the best baseline, the raw features (0.800 vs 0.500)"
    assert report.baseline_verdict({}) is None
