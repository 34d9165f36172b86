"""Search by meaning through the run's own encoding."""
from __future__ import annotations

import numpy as np
import pytest

from product_repr import infer_schema, learners, pipeline
from product_repr.analysis import search
from product_repr.data import demo
from product_repr.errors import ConfigError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def demo_run(one_torch_thread):
    df = demo.make_catalog(400, seed=5).table
    config = learners.get(learners.DEFAULT).Config(steps=150, seed=0)
    run = pipeline.build_run(df, infer_schema(df), config=config, label="category", analysis=False)
    return df, run, run.feature_space.transform(df)


@pytest.mark.parametrize("space", search.SPACES)
def test_a_query_equal_to_a_title_finds_that_product_first(demo_run, space):
    df, run, X = demo_run
    hits = 0
    for i in range(0, 400, 40):
        # the product's own title: the query row differs from it in the other columns only
        ids, sims = search.search(run, df["title"][i], X, k=5, space=space)
        hits += int(i in ids[:5])
        assert np.all(np.diff(sims) <= 1e-6)
    assert hits >= 8, f"{hits} of 10 titles found their own product in the top 5 ({space})"


def test_a_kind_of_product_finds_products_of_its_category(demo_run):
    df, run, X = demo_run
    ids, _ = search.search(run, "running shoes sneakers", X, k=10)
    assert (df["category"].iloc[ids] == "Shoes").mean() >= 0.7, df["category"].iloc[ids].tolist()
    with pytest.raises(ConfigError, match="type a few words"):
        search.search(run, "   ", X)
    with pytest.raises(ConfigError, match="not one of"):
        search.search(run, "shoes", X, space="sideways")
