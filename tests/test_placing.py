"""New products placed in a saved run (product_repr.placing and the CLI's ``embed``): the training table placed
again reproduces the run, odd and unseen values are told apart, a table without the run's columns is refused."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr import pipeline, placing
from product_repr.cli import main
from product_repr.data import demo
from product_repr.data.schema import infer_schema
from product_repr.errors import RunError
from product_repr.runs import load_run, save_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A short multi-task run on a 500-row demo catalog, saved and loaded back."""
    table = demo.make_catalog(rows=500, seed=4).table
    run = pipeline.build_run(table, infer_schema(table), config={"steps": 40, "seed": 2}, label="category",
                             features={"text_encoder": "tfidf"}, name="placed")
    root = tmp_path_factory.mktemp("placing")
    save_run(run, root / "run")
    return table, load_run(root / "run"), root


def test_the_training_table_placed_again_reproduces_the_run(trained):
    table, run, _ = trained
    placed = placing.place(run, table, k=3, run_X=run.feature_space.transform(table))
    np.testing.assert_allclose(placed.embeddings, run.embeddings, atol=1e-5)
    frame = placed.frame
    assert list(frame["product_id"]) == [str(p) for p in run.product_ids]
    assert (frame["nearest"] == frame["product_id"]).mean() > 0.97, "each product's nearest is itself"
    np.testing.assert_allclose(frame["reconstruction_error"], run.reconstruction["error"], rtol=1e-4)
    assert frame["already_in_catalog"].all() and np.allclose(frame["catalog_match"], 1.0)
    assert placed.notes == []
    dims = [c for c in placed.table().columns if c[0] == "e" and c[1:].isdigit()]
    assert dims == [f"e{j}" for j in range(run.embeddings.shape[1])]


def test_an_odd_value_ranks_high_and_an_unseen_level_is_named(trained):
    table, run, _ = trained
    new = table.sample(20, random_state=0).reset_index(drop=True)
    new["product_id"] = [f"NEW{i}" for i in range(len(new))]
    new.loc[0, "price"] = float(table["price"].max()) * 1000
    new.loc[1, "brand"] = "Never Seen Brand"
    placed = placing.place(run, new, run_X=run.feature_space.transform(table))
    frame = placed.frame.set_index("product_id")
    assert frame.loc["NEW0", "error_percentile"] > 95 and frame.loc["NEW0", "worst_column"] == "price"
    assert frame.loc["NEW0", "reconstruction_error"] > frame["reconstruction_error"].drop("NEW0").median()
    assert any("brand: 1 new product has a value the run does not know ('Never Seen Brand')" in n for n in placed.notes)
    assert not frame.loc["NEW1", "already_in_catalog"], "a copy with another brand is not the same product"
    untouched = frame.drop(["NEW0", "NEW1"])
    assert untouched["already_in_catalog"].all(), "unchanged copies of catalog products are found in it"
    assert (untouched["similarity"] > 0.99).all()


def test_a_table_without_the_runs_columns_is_refused_by_name(trained):
    table, run, _ = trained
    with pytest.raises(RunError, match=r"lacks 1 column that run '\w+' encodes: 'brand'; add it"):
        placing.place(run, table.drop(columns=["brand"]))
    with pytest.raises(RunError, match="has no rows"):
        placing.place(run, table.iloc[:0])


def test_a_run_saved_without_its_error_scale_says_how_it_scored(trained):
    table, run, _ = trained
    scales = run.info.pop("reconstruction")
    try:
        rough = placing.place(run, table.head(50))
        assert any("on the new table's own scale" in n for n in rough.notes)
        exact = placing.place(run, table.head(50), run_X=run.feature_space.transform(table))
        assert exact.notes == []
        np.testing.assert_allclose(exact.frame["reconstruction_error"], run.reconstruction["error"][:50], rtol=1e-4)
    finally:
        run.info["reconstruction"] = scales


def test_cli_embed_writes_parquet_and_refuses_missing_columns(trained, capsys):
    table, _, root = trained
    new = table.head(12).copy()
    new["product_id"] = [f"N{i}" for i in range(len(new))]
    new_path, bad_path = root / "new.csv", root / "bad.csv"
    new.to_csv(new_path, index=False)
    new.drop(columns=["price", "colour"]).to_csv(bad_path, index=False)
    (root / "table.csv").write_text(table.to_csv(index=False))
    out = root / "placed.parquet"
    assert main(["embed", str(root / "run"), str(new_path), "--out", str(out), "--k", "4",
                 "--data", str(root / "table.csv"), "--allow-other-data"]) == 0
    err = capsys.readouterr().err
    assert "12 new products placed among the run's 500; 12 look already in the catalog" in err
    written = pd.read_parquet(out)
    run = load_run(root / "run")
    assert len(written) == 12 and "neighbour_4" in written and "neighbour_5" not in written
    dims = [f"e{j}" for j in range(run.embeddings.shape[1])]
    np.testing.assert_allclose(written[dims].to_numpy(), run.embeddings[:12], atol=1e-5)
    assert main(["embed", str(root / "run"), str(bad_path)]) == 2
    err = capsys.readouterr().err
    assert "lacks 2 columns" in err and "'price'" in err and "'colour'" in err and "Traceback" not in err


def test_cli_embed_goes_on_without_catalog_matches_when_the_runs_table_is_another(trained, capsys):
    table, _, root = trained
    other = table.head(30).copy()
    other["price"] = other["price"] * 2  # not the run's table
    other_path = root / "other.csv"
    other.to_csv(other_path, index=False)
    new_path = root / "new2.csv"
    table.head(3).to_csv(new_path, index=False)
    assert main(["embed", str(root / "run"), str(new_path), "--data", str(other_path)]) == 0
    captured = capsys.readouterr()
    assert "note: no catalog matches:" in captured.err and "--allow-other-data" in captured.err
    assert "3 new products placed among the run's 500" in captured.err and "already_in_catalog" not in captured.out
