"""The analysis pages' helpers (pages/_views.py, _runview.py, _tables.py) on small synthetic arrays."""
from __future__ import annotations


import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pages import _runview as runview
from pages import _tables as tables
from pages import _views as views


def test_scatter_2d_is_webgl_and_every_point_carries_its_product_id():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(300, 2))
    ids = [f"P{i}" for i in range(300)]
    colour = np.array(["a", "b", "c"] * 100, dtype=object)
    hover = pd.DataFrame({"title": [f"thing {i}" for i in range(300)], "price": np.arange(300.0)})
    fig = views.scatter_figure(coords, ids, colour=colour, colour_name="kind", hover=hover)
    assert all(isinstance(t, go.Scattergl) for t in fig.data), [type(t).__name__ for t in fig.data]
    assert [t.name for t in fig.data] == ["a", "b", "c"], "one trace per level, most frequent first"
    carried = sorted(str(row[0]) for t in fig.data for row in t.customdata)
    assert carried == sorted(ids), "customdata[0] must be the product id of every point exactly once"
    assert "title: %{customdata[1]}" in fig.data[0].hovertemplate
    assert fig.layout.dragmode == "select"


def test_scatter_3d_numeric_colour_is_continuous_with_missing_in_grey():
    coords = np.random.default_rng(1).normal(size=(50, 3))
    values = np.arange(50.0)
    values[:5] = np.nan
    fig = views.scatter_figure(coords, [str(i) for i in range(50)], colour=values, colour_name="error", continuous=True)
    assert all(isinstance(t, go.Scatter3d) for t in fig.data)
    assert len(fig.data) == 2 and len(fig.data[0].x) == 5 and len(fig.data[1].x) == 45
    assert fig.data[1].marker.showscale is True


def test_scatter_caps_levels_and_rejects_bad_shapes():
    coords = np.zeros((100, 2))
    colour = np.array([f"L{i}" for i in range(100)], dtype=object)
    fig = views.scatter_figure(coords, [str(i) for i in range(100)], colour=colour, colour_name="c")
    assert len(fig.data) == views.MAX_LEVELS + 1 and fig.data[-1].name == views.OTHER
    with pytest.raises(ValueError, match=r"coords must be \(n, 2\) or \(n, 3\)"):
        views.scatter_figure(np.zeros((10, 4)), [str(i) for i in range(10)])
    with pytest.raises(ValueError, match="colour has 3 values for 10 points"):
        views.scatter_figure(np.zeros((10, 2)), [str(i) for i in range(10)], colour=np.zeros(3))


def test_selected_product_ids_reads_customdata_not_point_indices():
    event = {"selection": {"points": [
        {"point_index": 0, "curve_number": 1, "customdata": ["B7", "x"]},
        {"point_index": 0, "curve_number": 0, "customdata": ["A3", "y"]},
        {"point_index": 1, "curve_number": 0, "customdata": ["B7", "x"]},
        {"point_index": 2},
    ], "point_indices": [0, 0, 1], "box": [], "lasso": []}}
    assert views.selected_product_ids(event) == ["B7", "A3"]
    assert views.selected_product_ids(None) == []
    assert views.selected_product_ids({"selection": {"points": []}}) == []


def test_aligned_rows_follow_the_run_order_and_refuse_a_foreign_catalog():
    df = pd.DataFrame({"sku": ["a", "b", "c"], "title": ["x", "y", "z"]})
    rows = runview.aligned_rows(df, ["a", "b", "c"], ["c", "a"])
    assert list(rows.index) == ["c", "a"] and list(rows["title"]) == ["z", "x"]
    assert runview.aligned_rows(df, ["a", "b", "c"], ["a", "zz"]) is None
    assert runview.aligned_rows(None, None, ["a"]) is None


def test_colour_values_split_numbers_from_categories():
    values, continuous = views.colour_values(pd.Series([1.0, None, 3.0]))
    assert continuous and np.isnan(values[1])
    values, continuous = views.colour_values(pd.Series(["a", None, ""]))
    assert not continuous and list(values) == ["a", views.MISSING, views.MISSING]


def test_search_products_matches_id_or_title_exact_id_first():
    ids = ["X10", "X1", "Y2"]
    titles = ["red shirt X1-compatible", "blue mug", None]
    hits, total = runview.search_products(ids, titles, "X1")
    assert total == 2 and list(hits) == [1, 0], "the exact id comes first, then other matches"
    hits, total = runview.search_products(ids, titles, "MUG")
    assert list(hits) == [1] and total == 1
    hits, total = runview.search_products(ids, titles, "", limit=2)
    assert list(hits) == [0, 1] and total == 3


def test_neighbour_table_marks_shared_neighbours_and_adds_attributes():
    rows = pd.DataFrame({"title": ["a", "b", "c"]}, index=["p0", "p1", "p2"])
    table = tables.neighbour_table(np.array([2, 1]), np.array([0.9, 0.5]), ["p0", "p1", "p2"], rows, ["title"],
                                  shared={"p1"})
    assert list(table["product_id"]) == ["p2", "p1"] and list(table["rank"]) == [1, 2]
    assert list(table["in both"]) == [False, True] and list(table["title"]) == ["c", "b"]


def test_small_figures_build():
    assert len(views.histogram_figure(np.array([1.0, np.nan, 2.0]), name="error").data[0].x) == 2
    bar = views.bar_figure(["a", "b"], [2.0, 1.0], x_title="mean error", y_title="column")
    assert list(bar.data[0].y) == ["b", "a"], "largest bar on top (last in plotly's order)"
    box = views.box_figure(np.array([1.0, 2.0, 3.0, 4.0]), np.array(["u", "u", "v", None], dtype=object),
                           value_name="error", group_name="cat")
    assert [t.name for t in box.data] == [views.MISSING, "v", "u"], "groups ordered by median error, highest first"
    assert [t.x[0] for t in views.overlap_figure(3, 2, 1).data] == [3, 2, 1]


def test_selection_table_keeps_order_and_unique_column_names():
    rows = pd.DataFrame({"product_id": ["a", "b", "c"], "price": [1.0, 2.0, 3.0]}, index=["a", "b", "c"])
    table = tables.selection_table(["a", "b", "c"], ["c", "a", "zz"], rows, extra={"price": np.array([9, 8, 7])})
    assert list(table.columns) == ["product_id", "price"], "catalog columns already present are not repeated"
    assert list(table["product_id"]) == ["c", "a"] and list(table["price"]) == [7, 9]
    assert list(tables.selection_table(["a"], ["a"], None).columns) == ["product_id"]


def test_isolation_ranks_the_product_least_like_its_neighbours_first():
    sims = np.array([[0.9, 0.8], [0.1, -0.1], [0.5, 0.5]])
    ids = np.array([[1, 2], [2, 0], [0, 1]])
    assert np.allclose(tables.isolation(sims), [0.15, 1.0, 0.5])
    table = tables.isolated_products(["a", "b", "c"], ids, sims, top=2)
    assert list(table["product_id"]) == ["b", "c"] and list(table["nearest"]) == ["c", "a"]


def test_metrics_table_adds_each_baseline_once_and_neighbourhood_changes_compare_ids():
    class FakeRun:
        def __init__(self, name, knn, d=4):
            self.name, self.embeddings, self.reconstruction = name, np.zeros((3, d)), None
            self.info = {"learner": "x", "data": {"sha256": "s", "label": "c"}, "timings": {"train_s": 1.5}}
            self.metrics = {"knn_precision@10": {"model": knn, "raw": 0.5, "pca": 0.4},
                            "linear_probe_accuracy": {"model": 0.9, "raw": 0.8, "pca": 0.7}, "label": "c"}
            self.learner = None

    table = tables.metrics_table([FakeRun("a", 0.7), FakeRun("b", 0.8)])
    assert list(table["name"]) == ["a", "raw features", "PCA to d=4", "b"], "baselines once for the same data"
    assert table.loc[table["name"] == "b", "kNN precision"].item() == 0.8

    changes = tables.neighbourhood_changes(["p", "q", "r"], np.array([[1], [0], [0]]),
                                          ["r", "q", "p"], np.array([[1], [0], [1]]))
    assert dict(zip(changes["product_id"], changes["change"])) == {"p": 0.0, "q": 1.0, "r": 1.0}
    assert list(changes["change"]) == sorted(changes["change"], reverse=True)
