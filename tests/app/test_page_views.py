"""The analysis pages' figures (pages/_views.py, _charts.py, _colours.py) on small synthetic arrays."""
from __future__ import annotations


import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from pages import _charts as charts
from pages import _colours as colours
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
    assert len(fig.data) == colours.MAX_LEVELS + 1 and fig.data[-1].name == colours.OTHER
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


def test_colour_values_split_numbers_from_categories():
    values, continuous = colours.colour_values(pd.Series([1.0, None, 3.0]))
    assert continuous and np.isnan(values[1])
    values, continuous = colours.colour_values(pd.Series(["a", None, ""]))
    assert not continuous and list(values) == ["a", colours.MISSING, colours.MISSING]


def test_small_figures_build():
    assert len(charts.histogram_figure(np.array([1.0, np.nan, 2.0]), name="error").data[0].x) == 2
    bar = charts.bar_figure(["a", "b"], [2.0, 1.0], x_title="mean error", y_title="column")
    assert list(bar.data[0].y) == ["b", "a"], "largest bar on top (last in plotly's order)"
    box = charts.box_figure(np.array([1.0, 2.0, 3.0, 4.0]), np.array(["u", "u", "v", None], dtype=object),
                           value_name="error", group_name="cat")
    assert [t.name for t in box.data] == [colours.MISSING, "v", "u"], "groups ordered by median error, highest first"
    assert [t.x[0] for t in charts.overlap_figure(3, 2, 1).data] == [3, 2, 1]


def test_linked_selection_mirrors_the_map_whose_selection_is_new():
    seen: dict = {}
    assert views.linked_selection(seen, {"a": [], "b": []}) == (None, [])
    assert views.linked_selection(seen, {"a": ["P1", "P2"], "b": []}) == ("a", ["P1", "P2"])
    assert views.linked_selection(seen, {"a": ["P1", "P2"], "b": []}) == ("a", ["P1", "P2"]), "a rerun keeps it"
    # a new selection on the right map wins although the left one is still selected
    assert views.linked_selection(seen, {"a": ["P1", "P2"], "b": ["P9"]}) == ("b", ["P9"])
    assert views.linked_selection(seen, {"a": ["P1", "P2"], "b": ["P9"]}) == ("b", ["P9"])
    assert views.linked_selection(seen, {"a": ["P3"], "b": ["P9"]}) == ("a", ["P3"])
    assert views.linked_selection(seen, {"a": [], "b": []}) == (None, [])


def test_md_escapes_what_markdown_and_streamlit_would_read_and_keeps_plain_text():
    from pages._text import md

    assert md("Kettle 1.5 L, steel: 1,499") == "Kettle 1.5 L, steel: 1,499", "plain text passes unchanged"
    assert md("$5 off *today*") == r"\$5 off \*today\*"
    assert md(":red[sale] :material/home: :smile:") == r"\:red\[sale\] \:material/home: \:smile:"
    assert md("[win](javascript:alert(1)) <b>x</b> &lt; ~~no~~ `code` a_b") == \
        r"\[win\](javascript\:alert(1)) \<b>x\</b> \&lt; \~\~no\~\~ \`code\` a\_b"
    assert md("# heading") == r"\# heading" and md("- item") == r"\- item" and md("12. item") == r"12\. item"
    assert md("two\nlines\n\n- a list") == "two lines - a list", "no new block can start"


def test_the_progress_line_says_when_training_ends_at_the_pace_so_far():
    from pages._run_summary import progress_text
    from product_repr.learners.training import TrainingReport

    halfway = TrainingReport(step=120, steps=240, epoch=30.0, train_loss=0.5, val_loss=0.6, best_step=120,
                             elapsed=7.0)
    assert progress_text(halfway).startswith("step 120 of 240 (epoch 30.0) · train loss 0.5000 · validation 0.6000")
    assert progress_text(halfway).endswith("· training ends in about 7.0 s")
    quarter = TrainingReport(step=250, steps=1000, epoch=1.0, train_loss=0.5, val_loss=None, elapsed=20.0)
    assert progress_text(quarter).endswith("training ends in about 1 min 00 s")
    done = TrainingReport(step=240, steps=240, epoch=60.0, train_loss=0.5, val_loss=None, elapsed=14.0)
    assert "ends in" not in progress_text(done), "nothing left to wait for"


def test_while_a_job_trains_the_charts_are_resent_every_few_seconds_and_the_progress_line_every_poll():
    """A 30 s training polled every 0.5 s: 60 progress lines, but the loss chart and the map forming (costly to
    re-send and to redraw in a browser beside the training) once at the start and then once per 4 s."""
    from types import SimpleNamespace

    from pages._run_summary import follow

    now = [0.0]
    job = SimpleNamespace(done=False)

    def sleep(seconds: float) -> None:
        now[0] += seconds
        job.done = now[0] >= 30.0

    polls, charts = [], []
    follow(job, lambda: polls.append(now[0]), lambda: charts.append(now[0]) or True, poll_s=0.5, redraw_s=4.0,
           clock=lambda: now[0], sleep=sleep)
    assert len(polls) == 60
    assert charts == [4.0 * i for i in range(8)], charts
    # nothing to show for the first 1.5 s (no check yet): tried at every poll, drawn as soon as there is one
    now[0], job.done, tried = 0.0, False, []
    follow(job, lambda: None, lambda: tried.append(now[0]) or now[0] >= 1.5, poll_s=0.5, redraw_s=4.0,
           clock=lambda: now[0], sleep=sleep)
    assert tried[:5] == [0.0, 0.5, 1.0, 1.5, 5.5], tried
    finished = SimpleNamespace(done=True)
    follow(finished, lambda: polls.append(-1), lambda: charts.append(-1), poll_s=0.5, redraw_s=4.0)
    assert -1 not in polls + charts, "a finished job is not polled"
