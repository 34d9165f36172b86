"""``embed --ray``: new products placed batch by batch by Ray Data actors on a local Ray (2 CPUs), against the
single-process ``embed`` of the same table."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from product_repr import cli, pipeline, placing, raydata
from product_repr.data import demo
from product_repr.data.schema import infer_schema
from product_repr.errors import RunError
from product_repr.runs import load_run, save_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    table = demo.make_catalog(rows=400, seed=6).table
    run = pipeline.build_run(table, infer_schema(table), config={"steps": 30, "seed": 1}, label="category",
                             features={"text_encoder": "tfidf"}, name="ray")
    root = tmp_path_factory.mktemp("ray")
    save_run(run, root / "run")
    new = demo.make_catalog(rows=300, seed=9).table
    new["product_id"] = [f"NEW{i}" for i in range(len(new))]
    new.loc[3, "brand"] = "A brand the run never saw"
    return load_run(root / "run"), new, root


def _embed_on_ray(root, table, out, *extra):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "product_repr", "embed", str(root / "run"), str(table), "--ray",
                           "--workers", "2", "--out", str(out), *extra],
                          cwd=root, env=env, capture_output=True, text=True, timeout=600)


def test_ray_places_every_product_as_the_single_process_embed_does(trained):
    run, new, root = trained
    table = root / "new.parquet"
    new.to_parquet(table, row_group_size=64)  # several blocks, so both actors get batches
    done = _embed_on_ray(root, table, root / "placed", "--k", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "300 new products placed on Ray (2 actors)" in done.stderr
    files = sorted((root / "placed").glob("*.parquet"))
    assert files
    got = pd.concat([pd.read_parquet(f) for f in files]).set_index("product_id")

    want = placing.place(run, new, k=3).table().set_index("product_id")
    assert sorted(got.index) == sorted(want.index)  # every product once
    got = got.loc[want.index]
    dims = [f"e{j}" for j in range(run.embeddings.shape[1])]
    np.testing.assert_allclose(got[dims].to_numpy(), want[dims].to_numpy(), atol=1e-5)
    assert list(got["nearest"]) == list(want["nearest"])
    assert list(got["neighbour_3"]) == list(want["neighbour_3"])
    np.testing.assert_allclose(got["reconstruction_error"], want["reconstruction_error"], rtol=1e-4)
    np.testing.assert_allclose(got["error_percentile"], want["error_percentile"], atol=1e-6)
    assert list(got["worst_column"]) == list(want["worst_column"])


def test_ray_refuses_a_table_without_the_run_ids_and_names_the_way_out(trained, capsys):
    run, new, root = trained
    table = root / "no_ids.csv"
    new.drop(columns=["product_id"]).to_csv(table, index=False)
    assert cli.main(["embed", str(root / "run"), str(table), "--ray", "--out", str(root / "never")]) == 2
    err = capsys.readouterr().err
    assert "the new table has no 'product_id' column, the run's product ids" in err
    assert "without --ray" in err
    assert not (root / "never").exists()


def test_ray_needs_a_folder_to_write_and_names_the_formats_it_reads(trained, capsys):
    run, new, root = trained
    with pytest.raises(RunError, match="neither Parquet nor CSV"):
        raydata.read_dataset(str(root / "new.xlsx"))
    with pytest.raises(RunError, match="lacks 'price', which run 'ray' encodes"):
        new.drop(columns=["price"]).to_parquet(root / "no_price.parquet")
        raydata.embed(str(root / "run"), str(root / "no_price.parquet"), str(root / "never"), k=3)
    assert cli.main(["embed", str(root / "run"), "x.parquet", "--ray"]) == 2
    assert "give it with --out DIR" in capsys.readouterr().err


def test_check_ids_refuses_a_run_without_an_id_column(trained):
    run, new, _ = trained
    assert raydata.check_ids(run, list(new.columns)) == "product_id"
    no_ids = new.drop(columns=["product_id"])
    other = pipeline.build_run(no_ids, infer_schema(no_ids), config={"steps": 2}, analysis=False,
                               features={"text_encoder": "tfidf"})
    with pytest.raises(RunError, match="has no id column"):
        raydata.check_ids(other, list(new.columns))
