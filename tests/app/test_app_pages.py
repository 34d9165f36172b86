"""AppTest of the analysis pages (Map, Neighbours, Reconstruction, Duplicates, Compare) driven through app.py.

Each page must run without exception with no run (and then say where to make one) and with trained runs in
session state; the widgets that matter (colour by error, 3D, product search, k) must change what is drawn.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]

from streamlit.testing.v1 import AppTest  # noqa: E402

from pages import _catalogs, _state  # noqa: E402

APP = str(ROOT / "app.py")
PAGES = ["pages/map.py", "pages/neighbours.py", "pages/reconstruction.py", "pages/duplicates.py", "pages/compare.py"]
TIMEOUT = 120  # the first UMAP fit in a process compiles numba code (~25 s on a 2-core CPU)


@pytest.fixture(scope="module")
def trained(one_torch_thread):
    """A 200-product demo catalog with two tiny runs: denoising (has a decoder) and contrastive (has none)."""

    from product_repr.data import demo
    from product_repr.pipeline import build_run

    table = demo.make_catalog(rows=200, seed=3)
    catalog = _catalogs.make_catalog(table.table, "demo (200 rows)", label="category", truth=table.truth)
    runs = {}
    for learner in ("denoising", "contrastive"):
        run = build_run(catalog.df, catalog.schema, learner=learner, config={"epochs": 3, "seed": 0},
                        exclude=catalog.exclude, label=catalog.label, name=f"{learner}-test")
        runs[run.name] = run
    return catalog, runs


def app_with(catalog, runs: dict, active: str | None) -> AppTest:
    """An AppTest whose session already holds ``catalog`` and ``runs`` (as the Train page leaves them)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[_state.STATE_KEY] = _state.AppState(
        catalog=catalog, runs=dict(runs), active=active,
        tables={name: catalog.df for name in runs}, labels={name: catalog.label for name in runs})
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page)
    at.run()
    assert not at.exception, f"{page} raised: {[e.message for e in at.exception]}"
    assert not at.error, f"{page} showed an error: {[e.value for e in at.error]}"
    return at


def charts(at: AppTest) -> list[dict]:
    """The plotly figures on the page as dicts."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trace_types(figure: dict) -> set[str]:
    return {trace.get("type", "scatter") for trace in figure["data"]}


@pytest.mark.parametrize("page", PAGES)
def test_page_without_a_run_says_where_to_make_one(page):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    open_page(at, page)
    assert at.info, f"{page} should explain with st.info that a run is needed"
    text = " ".join(i.value for i in at.info)
    assert "Train" in text, f"{page}'s info should point to the Train page, got: {text}"
    assert not at.get("plotly_chart"), f"{page} drew a chart without a run"


@pytest.mark.parametrize("page", PAGES)
def test_page_with_runs_draws_without_errors(trained, page):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), page)
    assert at.get("plotly_chart"), f"{page} drew no chart for a trained run"


def test_map_is_webgl_with_product_ids_and_recolours_by_error_and_goes_3d(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/map.py")
    (fig,) = charts(at)
    assert trace_types(fig) == {"scattergl"}, f"the 2D map must use WebGL, got {trace_types(fig)}"
    ids = {row[0] for trace in fig["data"] for row in trace["customdata"]}
    assert ids == {str(p) for p in runs["denoising-test"].product_ids}, "every product's id rides in customdata"
    assert fig["layout"]["legend"]["title"]["text"] == "category", "coloured by the catalog's colour column"
    assert len(fig["data"]) > 1, "one trace per category"

    at.selectbox(key="map.colour").select("reconstruction error").run()
    assert not at.exception
    (fig,) = charts(at)
    assert any(t.get("marker", {}).get("showscale") for t in fig["data"]), "error colouring needs a colour bar"

    at.toggle(key="map.3d").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    (fig,) = charts(at)
    assert trace_types(fig) == {"scatter3d"}, f"3D toggle should draw Scatter3d, got {trace_types(fig)}"


@pytest.mark.parametrize("colour", ["neighbour agreement", "isolation", "price", "(none)"])
def test_map_colours_by_agreement_isolation_numbers_or_nothing(trained, colour):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "contrastive-test"), "pages/map.py")
    at.selectbox(key="map.colour").select(colour).run()
    assert not at.exception and not at.error, [e.message for e in at.exception] + [e.value for e in at.error]
    (fig,) = charts(at)
    scaled = any(t.get("marker", {}).get("showscale") for t in fig["data"])
    assert scaled == (colour != "(none)"), f"colour by {colour}: continuous scale expected only for numbers"


def test_map_projection_settings_recompute_with_pca(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/map.py")
    assert "UMAP 2D" in " ".join(c.value for c in at.caption), "the stored UMAP map is shown first"
    at.selectbox(key="map.method").select("pca")
    next(b for b in at.button if b.label == "Apply").click().run()
    assert not at.exception and not at.error, [e.message for e in at.exception] + [e.value for e in at.error]
    assert "PCA 2D" in " ".join(c.value for c in at.caption), "the caption names the recomputed projection"
    assert trace_types(charts(at)[0]) == {"scattergl"}


def test_neighbours_search_picks_a_product_and_k_sets_the_table_length(trained):
    catalog, runs = trained
    run = runs["denoising-test"]
    target = str(run.product_ids[17])
    at = open_page(app_with(catalog, runs, run.name), "pages/neighbours.py")
    at.text_input(key="neighbours.query").input(target).run()
    assert not at.exception
    assert at.selectbox(key="neighbours.product").value == 17, "an exact id match is offered first"
    assert any(target in s.value for s in at.subheader)

    at.slider(key="neighbours.k").set_value(5).run()
    assert not at.exception
    tables = [df.value for df in at.dataframe]
    learned = [t for t in tables if "similarity" in t.columns]
    assert len(learned) == 2, "learned and raw neighbour tables side by side"
    assert all(len(t) == 5 for t in learned), [len(t) for t in learned]
    assert target not in set(learned[0]["product_id"]), "a product is not its own neighbour"
    assert np.all(np.diff(learned[0]["similarity"].to_numpy()) <= 1e-6), "sorted by similarity"
    shared = next(m for m in at.metric if m.label == "Shared neighbours")
    assert shared.value.endswith("of 5")


def test_map_clusters_are_named_on_the_map_listed_and_downloadable(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/map.py")
    at.selectbox(key="map.colour").select("cluster").run()
    assert not at.exception, [e.message for e in at.exception]
    (fig,) = charts(at)
    table = next(df.value for df in at.dataframe if "words" in df.value.columns)
    named = table[table["cluster"] >= 0]
    assert len(named) >= 2 and table["size"].sum() == len(runs["denoising-test"].product_ids)
    texts = [a["text"] for a in fig["layout"].get("annotations", [])]
    assert len(texts) == min(len(named), 20) and all(t.startswith("<b>") for t in texts), texts
    assert named["label"].str.len().gt(0).all()
    assert {t["name"].split(" · ")[0] for t in fig["data"]} >= {str(c) for c in named["cluster"].head(5)}
    assert any(b.label == "Download cluster assignment (CSV)" for b in at.get("download_button"))


def test_neighbours_says_why_a_product_and_its_neighbour_are_alike(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/neighbours.py")
    pair = next(df.value for df in at.dataframe if "agreement" in df.value.columns)
    run = runs["denoising-test"]
    assert set(pair["column"]) == {s.name for s in run.feature_space.spans}
    assert pair["agreement"].is_monotonic_increasing and pair["agreement"].between(0, 1).all()
    assert any(m.value.startswith("**Alike in") or m.value.startswith("**Different") or m.value.startswith("**Partly")
               for m in at.markdown), [m.value for m in at.markdown]
    options = at.selectbox(key="neighbours.pair").options
    at.selectbox(key="neighbours.pair").select_index(len(options) - 1).run()
    assert not at.exception
    other = next(df.value for df in at.dataframe if "agreement" in df.value.columns)
    assert list(other.columns)[3:] != list(pair.columns)[3:], "the table names the other neighbour"


def test_map_stars_the_products_found_by_meaning_and_they_stay_selectable(trained):
    from pages._search import FIND_K

    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/map.py")
    (before,) = charts(at)
    title = catalog.df["title"].iloc[3]
    at.text_input(key="map.find").input(title).run()
    assert not at.exception, [e.message for e in at.exception]
    (fig,) = charts(at)
    assert len(fig["data"]) == len(before["data"]) + 1
    star = fig["data"][-1]
    assert star["marker"]["symbol"] == "star" and star["name"].startswith("★")
    starred = [row[0] for row in star["customdata"]]
    assert len(starred) == FIND_K and str(catalog.df["product_id"].iloc[3]) in starred[:3]
    assert any("products nearest in meaning to" in c.value for c in at.caption)


def test_map_shows_only_the_products_with_the_chosen_values(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/map.py")
    at.selectbox(key="map.filter_column").select("category").run()
    level = catalog.df["category"].value_counts().index[0]
    at.multiselect(key="map.filter_values").select(level).run()
    assert not at.exception, [e.message for e in at.exception]
    (fig,) = charts(at)
    shown = {row[0] for trace in fig["data"] for row in trace["customdata"]}
    want = set(catalog.df.loc[catalog.df["category"] == level, "product_id"].astype(str))
    assert shown == want, "exactly the products of the chosen category are drawn"
    from pages._text import md
    assert any(f"showing the {len(want):,} products whose category is {md(level)}" in c.value for c in at.caption)


def test_a_map_bigger_than_the_point_limit_draws_a_sample_over_the_density_of_all(trained, monkeypatch):
    catalog, runs = trained
    run = runs["denoising-test"]
    monkeypatch.setenv("PRODUCT_REPR_MAP_POINTS", "50")
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/map.py")
    assert not at.exception, [e.message for e in at.exception]
    (fig,) = charts(at)
    assert fig["data"][0]["type"] == "heatmap", "the density of every product lies under the points"
    drawn = {row[0] for trace in fig["data"][1:] for row in trace["customdata"]}
    assert len(drawn) == 50 and drawn <= {str(p) for p in run.product_ids}
    assert any(f"drawn: a random 50 of the {len(run.product_ids):,} products" in c.value for c in at.caption)


def test_drawn_rows_keep_the_starred_and_the_order():
    from pages._views import add_density, drawn_rows, scatter_figure

    rows = np.arange(0, 1_000, 2)
    assert (drawn_rows(rows, 600) == rows).all(), "under the limit every row is drawn"
    picked = drawn_rows(rows, 100, keep=[7, 8, 998])
    assert 100 <= len(picked) <= 102 and {8, 998} <= set(picked) and 7 not in picked, "kept where among rows"
    assert (np.diff(picked) > 0).all() and set(picked) <= set(rows)
    assert (drawn_rows(rows, 100) == drawn_rows(rows, 100)).all(), "seeded: the same sample on every rerun"
    coords = np.random.default_rng(0).normal(size=(1_000, 2))
    fig = add_density(scatter_figure(coords[:10], [str(i) for i in range(10)]), coords, bins=20)
    assert fig.data[0].type == "heatmap" and np.nansum(np.expm1(np.asarray(fig.data[0].z, float))) == pytest.approx(1_000)


def test_hover_shows_a_column_name_as_text_not_markup():
    import pandas as pd

    from pages._views import scatter_figure

    hover = pd.DataFrame({"<b>name</b> %{x}": ["a", "b"]})
    fig = scatter_figure(np.zeros((2, 2)), ["p1", "p2"], hover=hover)
    template = fig.data[0].hovertemplate
    assert "&lt;b&gt;name&lt;/b&gt; &#37;&#123;x}" in template and "<b>name</b>" not in template


def test_one_selected_product_gets_its_nearest_neighbours_starred(trained):
    from pages._search import STAR_K

    catalog, runs = trained
    run = runs["denoising-test"]
    at = app_with(catalog, runs, "denoising-test")
    pid = str(run.product_ids[5])
    at.session_state["map.chart"] = {"selection": {"points": [{"customdata": [pid]}], "point_indices": [5],
                                                   "box": [], "lasso": []}}
    at = open_page(at, "pages/map.py")
    assert not at.exception, [e.message for e in at.exception]
    (fig,) = charts(at)
    star = fig["data"][-1]
    assert star["name"] == f"★ nearest to {pid}"
    starred = [row[0] for row in star["customdata"]]
    want = run.neighbours[run.neighbours["product_id"] == pid].sort_values("rank")["neighbour_id"].head(STAR_K)
    assert starred == [str(p) for p in want], "the stars are the run's own nearest neighbours, in order"
    assert any(f"nearest to {pid} in the learned space" in c.value for c in at.caption)


def test_neighbours_search_by_meaning_lists_the_nearest_products(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/neighbours.py")

    def results(at):  # the search results: a neighbour table without the "in both" column of the pair lists
        return [df.value for df in at.dataframe if "similarity" in df.value.columns and "in both" not in df.value.columns]

    assert not results(at), "no results before a query"
    title = catalog.df["title"].iloc[3]
    at.text_input(key="neighbours.meaning").input(title).run()
    assert not at.exception, [e.message for e in at.exception]
    (found,) = results(at)
    assert len(found) == 10 and found["similarity"].is_monotonic_decreasing
    assert catalog.df["product_id"].iloc[3] in found["product_id"].head(3).tolist(), found
    at.radio(key="neighbours.meaning_space").set_value("learned").run()
    assert not at.exception and len(results(at)[0]) == 10


def test_neighbours_search_without_match_warns(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/neighbours.py")
    at.text_input(key="neighbours.query").input("no such product zzz").run()
    assert not at.exception
    assert at.warning and "zzz" in at.warning[0].value


def test_reconstruction_lists_odd_products_by_score_and_explains_a_missing_decoder(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/reconstruction.py")
    odd = next(df.value for df in at.dataframe if "why" in df.value.columns)
    run = runs["denoising-test"]
    expected = run.anomalies.sort_values("score", ascending=False, kind="stable")["product_id"].head(20).tolist()
    assert odd["product_id"].tolist() == expected, "the list is the run's anomaly ranking"
    assert odd["score"].is_monotonic_decreasing and odd["why"].str.len().gt(0).all()
    flagged = at.metric[0]
    assert flagged.label == "Flagged" and int(flagged.value) == int((run.anomalies["spreads"] >= 10).sum())
    at.slider(key="reconstruction.flag_at").set_value(1.0).run()
    assert int(at.metric[0].value) == int((run.anomalies["spreads"] >= 1).sum()) >= int(flagged.value)
    assert len(charts(at)) >= 4, "score histogram, error histogram, per-column bars and errors by category"
    assert at.success and "planted odd products" in at.success[0].value, "the demo's planted recall is shown"

    # triage: the first listed product beside its neighbours, marked, and the mark kept in the session
    side = next(df.value for df in at.dataframe if "column" in df.value.columns)
    assert side.columns[1].endswith("(this)") and len(side.columns) == 7, side.columns
    pid = odd["product_id"].iloc[0]
    at.radio(key=f"triage.product.{pid}.").set_value("anomaly").run()
    marks = at.session_state[_state.STATE_KEY].marks["denoising-test"]
    assert marks == {("product", pid, ""): "anomaly"}
    odd = next(df.value for df in at.dataframe if "why" in df.value.columns)
    assert odd["your mark"].iloc[0] == "anomaly"

    at = open_page(app_with(catalog, runs, "contrastive-test"), "pages/reconstruction.py")
    assert at.info and "no decoder" in at.info[0].value
    isolated = next(df.value for df in at.dataframe if "isolation" in df.value.columns)
    assert len(isolated) == 20 and isolated["isolation"].is_monotonic_decreasing, "most isolated products instead"


def test_duplicates_lists_planted_copies_follows_the_threshold_and_keeps_marks(trained):
    catalog, runs = trained
    at = open_page(app_with(catalog, runs, "contrastive-test"), "pages/duplicates.py")
    pairs = next(df.value for df in at.dataframe if "differs_in" in df.value.columns)
    planted = {frozenset(p) for p in catalog.truth["near_duplicates"]}
    listed = [frozenset(p) for p in zip(pairs["product_a"], pairs["product_b"])]
    assert sum(p in planted for p in listed) >= 0.95 * len(planted), pairs
    assert pairs["similarity"].is_monotonic_decreasing and pairs["similarity"].min() >= 0.94
    assert at.success and f"{len(planted)} planted near-duplicate pairs" in at.success[0].value
    assert int(at.metric[0].value) == len(pairs)
    side = next(df.value for df in at.dataframe if "same" in df.value.columns)
    assert side["same"].is_monotonic_increasing, "the columns that differ come first"

    at.slider(key="duplicates.threshold").set_value(0.8).run()
    wider = next(df.value for df in at.dataframe if "differs_in" in df.value.columns)
    assert len(wider) >= len(pairs) and int(at.metric[0].value) == len(wider)

    a, b = pairs["product_a"].iloc[0], pairs["product_b"].iloc[0]
    at.slider(key="duplicates.threshold").set_value(0.94).run()
    at.radio(key=f"triage.pair.{a}.{b}").set_value("not a duplicate").run()
    assert at.session_state[_state.STATE_KEY].marks["contrastive-test"] == {("pair", a, b): "not a duplicate"}
    at.switch_page("pages/map.py").run()
    at.switch_page("pages/duplicates.py").run()
    pairs = next(df.value for df in at.dataframe if "differs_in" in df.value.columns)
    assert pairs["your mark"].iloc[0] == "not a duplicate", "marks survive leaving the page"


def test_compare_needs_two_runs_then_shows_metrics_with_baselines(trained):
    catalog, runs = trained
    one = {"denoising-test": runs["denoising-test"]}
    at = open_page(app_with(catalog, one, "denoising-test"), "pages/compare.py")
    assert at.info and "two runs" in at.info[0].value

    at = open_page(app_with(catalog, runs, "denoising-test"), "pages/compare.py")
    metrics = at.dataframe[0].value
    names = list(metrics["name"])
    assert {"denoising-test", "contrastive-test", "raw features"} <= set(names), names
    assert any(n.startswith("PCA") for n in names), names
    assert len(charts(at)) >= 3, "two maps and the change histogram"
    changes = at.dataframe[-1].value
    assert changes["change"].is_monotonic_decreasing and changes["change"].between(0, 1).all()

    # the right map aligned to the left, and the most changed products drawn moving between them
    assert any("aligned to the left" in c.value for c in at.caption)
    moves = [f for f in charts(at) if any(t.get("mode") == "lines" for t in f["data"])]
    assert len(moves) == 1 and len(moves[0]["data"][0]["x"]) == 3 * 30, "30 products, each with a line"
    at.toggle(key="compare.align").set_value(False).run()
    assert not at.exception and not any(any(t.get("mode") == "lines" for t in f["data"]) for f in charts(at))


def test_compare_stars_a_selection_of_one_map_on_the_other(trained):
    catalog, runs = trained
    at = app_with(catalog, runs, "denoising-test")
    picked = [str(p) for p in runs["denoising-test"].product_ids[3:8]]
    at.session_state["compare.map.a"] = {"selection": {"points": [{"customdata": [p]} for p in picked],
                                                       "point_indices": [], "box": [], "lasso": []}}
    at = open_page(at, "pages/compare.py")
    assert not at.exception, [e.message for e in at.exception]
    left, right = [f for f in charts(at) if f["layout"].get("title", {}).get("text") in runs][:2]
    assert not any(t.get("name", "").startswith("★") for t in left["data"]), "the left map shows its own selection"
    star = right["data"][-1]
    assert star["name"] == "★ selected on the left map"
    assert [row[0] for row in star["customdata"]] == picked, "the same products, starred on the right map"
    assert any("5 products selected on the left map" in c.value for c in at.caption)
    selected = next(df.value for df in at.dataframe if set(df.value.get("product_id", [])) == set(picked))
    assert selected["change"].is_monotonic_decreasing


DATASETS = Path(os.environ.get("PRODUCT_REPR_DATASETS", ROOT.parent / "shared" / "datasets"))
REAL = {
    "amazon_sales_india": "amazon_products_parsed.csv",
    "bigbasket_products": "bigbasket_products.csv",
    "hm_articles": "hm_articles.csv.gz",
    "instacart_products": "instacart_products_joined.csv",
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_analysis_pages_on_a_real_catalog(name):
    """The first 400 rows of each real catalog: train briefly, then every analysis page draws without an error."""
    path = DATASETS / name / REAL[name]
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"real catalog missing in CI: {path}")
        pytest.skip(f"real catalog not available: {path}")

    from product_repr.pipeline import build_run
    from product_repr.data.tables import read_table

    catalog = _catalogs.make_catalog(read_table(path, max_rows=400), path.name)
    run = build_run(catalog.df, catalog.schema, learner="denoising", config={"epochs": 3, "seed": 0},
                    exclude=catalog.exclude, label=catalog.label, name=f"{name}-test")
    for page in PAGES[:3]:
        at = open_page(app_with(catalog, {run.name: run}, run.name), page)
        assert at.get("plotly_chart"), f"{page} drew no chart for {name}"


def shown_text(at: AppTest) -> str:
    """Everything a page shows that could hold a product title: tables, choices, headers and figures."""
    parts = [df.value.to_csv() for df in at.dataframe]
    parts += [" ".join(map(str, box.options)) for box in at.selectbox]
    parts += [h.value for h in at.subheader] + [chart.proto.spec for chart in at.get("plotly_chart")]
    return "\n".join(parts)


@pytest.mark.parametrize("page", PAGES)
def test_a_run_opened_beside_another_catalog_shows_none_of_its_titles(trained, page):
    """A run opened from a directory while another demo catalog is loaded (the same ids P00001 …, other
    products): the page says so and never puts that catalog's titles under the run's ids."""
    catalog, runs = trained
    other = _catalogs.load_demo(rows=300, seed=0)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[_state.STATE_KEY] = _state.AppState(catalog=other, runs=dict(runs), active="denoising-test")
    at = open_page(at, page)
    warnings = " ".join(w.value for w in at.warning)
    assert "another catalog with the same ids" in warnings and "shown by id only" in warnings, warnings
    wrong = set(other.df["title"]) - set(catalog.df["title"])
    text = shown_text(at)
    leaked = [t for t in wrong if t in text]
    assert not leaked, f"{page} shows the loaded catalog's titles under the run's ids: {leaked[:3]}"


def test_a_different_version_of_the_catalog_is_shown_with_a_warning(trained):
    catalog, runs = trained
    run = runs["denoising-test"]
    newer = catalog.df.iloc[::-1].copy()
    newer["price"] = newer["price"] * 1.1
    loaded = _catalogs.make_catalog(newer.reset_index(drop=True), "demo v2", label="category")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[_state.STATE_KEY] = _state.AppState(catalog=loaded, runs={run.name: run}, active=run.name)
    at = open_page(at, "pages/neighbours.py")
    warnings = " ".join(w.value for w in at.warning)
    assert "a different version of the catalog" in warnings and "price changed" in warnings, warnings
    first = str(run.product_ids[0])
    title = catalog.df.loc[catalog.df["product_id"] == first, "title"].item()
    assert any(title[:40] in str(o) for o in at.selectbox(key="neighbours.product").options), \
        "each product keeps its own title in the new version"


MARKDOWN_TITLE = "$5 off *today* :red[sale] [win](javascript:alert(1)) <b>bold</b>"
MARKDOWN_COLUMN = "brand_[eu] *x*"


def _texts(at: AppTest) -> list[str]:
    """Every string Streamlit renders as Markdown on the page: text elements, alerts and headings."""
    out = []
    for kind in ("markdown", "caption", "subheader", "header", "title", "info", "warning", "error", "success"):
        out += [str(e.value) for e in at.get(kind)]
    return out


def test_titles_and_column_names_are_shown_as_typed_never_read_as_markdown(one_torch_thread):
    """A title with LaTeX dollars, emphasis, a colour directive, a javascript: link and HTML, and a column name
    with brackets and stars: wherever the pages put them in Markdown they arrive escaped, character for
    character (``pages/_text.md``)."""
    from pages._text import md
    from product_repr.data import demo
    from product_repr.pipeline import build_run

    table = demo.make_catalog(rows=150, seed=4).table.rename(columns={"brand": MARKDOWN_COLUMN})
    table.loc[0, "title"] = MARKDOWN_TITLE
    catalog = _catalogs.make_catalog(table, "shop *2024*.csv", label="category")
    run = build_run(catalog.df, catalog.schema, learner="denoising", config={"epochs": 2, "seed": 0},
                    exclude=catalog.exclude, label=catalog.label, name="run $x$", features={"text_encoder": "tfidf"})
    at = app_with(catalog, {run.name: run}, run.name)
    at.run()
    seen = _texts(at)
    at = open_page(at, "pages/neighbours.py")
    at.text_input(key="neighbours.query").input("today").run()
    seen += _texts(at)
    for page in ("pages/data.py", "pages/train.py", "pages/runs.py", "pages/map.py"):
        seen += _texts(open_page(at, page))
    rendered = " ".join(seen)
    for raw in ("$5", "*today*", ":red[", "](javascript:", "<b>", "*2024*", "$x$", "[eu]", "*x*"):
        hit = re.search(r"(?<!\\)" + re.escape(raw), rendered)
        assert not hit, f"{raw!r} reached Markdown unescaped: …{rendered[max(0, hit.start() - 150):hit.end() + 30]}"
    assert md(f"{table.loc[0, 'product_id']} — {MARKDOWN_TITLE[:70]}") in rendered, "the product's heading"
    assert md(MARKDOWN_COLUMN) in rendered, "the Data page names the column as typed"
    assert md("shop *2024*.csv") in rendered and md("run $x$") in rendered
