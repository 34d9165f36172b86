"""Saving and loading a run directory: complete, pickle-free, and faithful."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from product_repr import learners
from product_repr.errors import RunError
from product_repr.features.space import FeatureSpace
from product_repr.runs import Run, load_run, save_run
from product_repr.data.schema import infer_schema

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def catalog(n: int = 80) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    kinds = np.array(["shirt", "shoe", "lamp", "mug"])[rng.integers(0, 4, n)]
    return pd.DataFrame({
        "sku": [f"P{i:03d}" for i in range(n)],
        "price": rng.gamma(2.0, 20.0, n).round(2),
        "brand": np.array(["acme", "zeta", "nova"])[rng.integers(0, 3, n)],
        "title": [f"{k} model {rng.integers(0, 9)} {w}" for k, w in zip(kinds, rng.choice(["blue", "red", "big", "small"], n))],
    })


def make_run(name: str = "autoencoder", **frames) -> tuple[Run, np.ndarray]:
    df = catalog()
    schema = infer_schema(df)
    fs = FeatureSpace(schema).fit(df)
    X = fs.transform(df)
    cls = learners.get(name)
    model = cls(cls.Config(epochs=2, width=16, embedding_dim=4)).fit(X, spans=fs.spans, device="cpu")
    Z = model.encode(X)
    run = Run(name="test-run", learner=model, feature_space=fs, schema=schema,
              product_ids=df["sku"].to_numpy(dtype=object), embeddings=Z,
              history=pd.DataFrame(model.history_), info={"data": {"rows": len(df)}},
              metrics={"knn_precision": np.float32(0.5), "nan": float("nan")}, **frames)
    return run, X


@pytest.mark.parametrize("name", sorted(learners.REGISTRY))
def test_round_trip_gives_identical_embeddings(tmp_path, name):
    run, X = make_run(name)
    path = save_run(run, tmp_path / "run")
    names = {p.name for p in path.iterdir()}
    assert {"run.json", "model.safetensors", "features.json", "features.npz", "history.csv",
            "embeddings.parquet"} <= names, names
    loaded = load_run(path)
    assert np.array_equal(loaded.embeddings, run.embeddings)
    assert list(loaded.product_ids) == list(run.product_ids)
    assert np.array_equal(loaded.learner.encode(X), run.embeddings), "the loaded model must encode new rows identically"
    assert np.array_equal(loaded.feature_space.transform(catalog()), X)
    assert loaded.learner.config == run.learner.config
    assert len(loaded.learner.history_) == len(run.history)
    assert loaded.schema == run.schema
    assert loaded.metrics["knn_precision"] == pytest.approx(0.5) and loaded.metrics["nan"] is None
    info = json.loads((path / "run.json").read_text())
    assert info["model"]["learner"] == name and info["format"] == 1 and "created" in info


def test_optional_frames_saved_and_stale_ones_removed(tmp_path):
    ids = catalog()["sku"].tolist()
    proj = pd.DataFrame({"product_id": ids, "x": np.arange(len(ids), dtype=float), "y": 1.0})
    run, _ = make_run(projection=proj)
    save_run(run, tmp_path)
    pd.testing.assert_frame_equal(load_run(tmp_path).projection, proj)
    run.projection = None
    save_run(run, tmp_path, overwrite=True)
    assert not (tmp_path / "projection.parquet").exists()
    assert load_run(tmp_path).projection is None


def test_anomalies_duplicates_and_marks_come_back_and_stale_marks_are_removed(tmp_path):
    ids = catalog()["sku"].tolist()
    scored = pd.DataFrame({"product_id": ids, "score": [12.5] + [0.0] * (len(ids) - 1),
                           "price": [12.5] + [0.0] * (len(ids) - 1)})
    pairs = pd.DataFrame({"product_a": ["P000"], "product_b": ["P001"], "similarity": np.float32([0.97]),
                          "embedding_similarity": np.float32([0.99])})
    marks = pd.DataFrame({"kind": ["product", "pair"], "product_a": ["P000", "P000"], "product_b": ["", "P001"],
                          "mark": ["anomaly", "not a duplicate"]})
    run, _ = make_run(anomalies=scored, duplicates=pairs, marks=marks)
    save_run(run, tmp_path)
    loaded = load_run(tmp_path)
    pd.testing.assert_frame_equal(loaded.anomalies, scored)
    pd.testing.assert_frame_equal(loaded.duplicates, pairs)
    pd.testing.assert_frame_equal(loaded.marks, marks)
    assert (tmp_path / "marks.csv").read_text().splitlines()[0] == "kind,product_a,product_b,mark"
    run.marks = None
    save_run(run, tmp_path, overwrite=True)
    assert not (tmp_path / "marks.csv").exists() and load_run(tmp_path).marks is None


def test_no_pickle_in_run_directory(tmp_path):
    run, _ = make_run()
    save_run(run, tmp_path)
    with np.load(tmp_path / "features.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype != object for k in npz.files)


@pytest.mark.parametrize("victim", ["run.json", "model.safetensors", "features.json", "history.csv",
                                    "embeddings.parquet"])
def test_missing_file_named(tmp_path, victim):
    run, _ = make_run()
    save_run(run, tmp_path)
    (tmp_path / victim).unlink()
    with pytest.raises(RunError, match=victim.replace(".", r"\.")):
        load_run(tmp_path)


@pytest.mark.parametrize("victim", ["run.json", "model.safetensors", "embeddings.parquet"])
def test_corrupt_file_named(tmp_path, victim):
    run, _ = make_run()
    save_run(run, tmp_path)
    (tmp_path / victim).write_bytes(b"\x00garbage")
    with pytest.raises(RunError, match=victim.replace(".", r"\.")):
        load_run(tmp_path)


def test_weights_that_do_not_fit_config(tmp_path):
    run, _ = make_run()
    save_run(run, tmp_path)
    info = json.loads((tmp_path / "run.json").read_text())
    info["model"]["config"]["width"] = 32
    (tmp_path / "run.json").write_text(json.dumps(info))
    with pytest.raises(RunError, match="model.safetensors does not match run.json"):
        load_run(tmp_path)


def test_missing_directory(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        load_run(tmp_path / "nope")


# --- a run lined up with a catalog table -----------------------------------------------------------------------


def table_run(df: pd.DataFrame, *, source: str = "catalog.csv", hashes: bool = True) -> Run:
    """A run over ``df``'s products as build_run records it (no learner needed to align)."""
    from product_repr.data.fingerprint import column_sha256, product_ids, table_sha256

    schema = infer_schema(df)
    data = {"source": source, "rows": len(df), "sha256": table_sha256(df)}
    if hashes:
        data["columns_sha256"] = column_sha256(df)
    return Run(name="r", learner=None, feature_space=None, schema=schema, product_ids=product_ids(df, schema),
               embeddings=np.zeros((len(df), 2), dtype=np.float32), history=pd.DataFrame(), info={"data": data})


def test_align_the_very_table_is_exact():
    from product_repr.runs import align

    df = catalog()
    aligned = align(table_run(df), df)
    assert aligned.exact and not aligned.note
    pd.testing.assert_frame_equal(aligned.rows, df)


def test_align_a_new_version_of_the_catalog_follows_the_run_order_and_says_what_changed():
    from product_repr.runs import align

    df = catalog()
    run = table_run(df)
    newer = df.iloc[::-1].copy()
    newer["price"] = newer["price"] * 1.1
    aligned = align(run, newer, name="catalog-v2.csv")
    assert not aligned.exact and aligned.changed == ("price",), aligned.changed
    assert list(aligned.rows["sku"]) == list(run.product_ids), "rows in the run's product order"
    assert list(aligned.rows["title"]) == list(df["title"]), "each product keeps its own title"
    assert "a different version" in aligned.note and "price changed" in aligned.note and "catalog-v2.csv" in aligned.note


def test_align_refuses_a_catalog_without_the_runs_products():
    from product_repr.runs import align

    df = catalog()
    with pytest.raises(RunError, match=r"run 'r' was made on 'catalog.csv' \(80 rows.*not on 'other.csv' \(40 rows\).*"
                                       r"40 of its 80 products .*are not in it; load \(or pass\) the catalog run 'r' was made on"):
        align(table_run(df), df.head(40), name="other.csv")


def test_align_refuses_another_demo_catalog_with_the_same_ids():
    """Demo catalogs of any size or seed number their products P00001, P00002 …: the ids match, the products
    do not, and no title of the loaded catalog may be shown under the run's ids."""
    from product_repr.data import demo
    from product_repr.runs import align

    small = demo.make_catalog(rows=100, seed=0).table
    run = table_run(small, source="demo catalog")
    for other in (demo.make_catalog(rows=200, seed=0).table, demo.make_catalog(rows=100, seed=1).table):
        assert set(run.product_ids) <= set(other["product_id"]), "the demo's ids overlap"
        with pytest.raises(RunError, match="another catalog with the same ids"):
            align(run, other, name="demo catalog (200 rows, seed 0)")


def test_align_without_column_hashes_accepts_the_same_products_only():
    from product_repr.runs import align

    df = catalog()
    run = table_run(df, hashes=False)
    changed = df.assign(price=df["price"] + 1)
    aligned = align(run, changed)
    assert not aligned.exact and "records no column hashes" in aligned.note
    more = pd.concat([changed, changed.head(1).assign(sku="EXTRA")], ignore_index=True)
    with pytest.raises(RunError, match="1 more product, and"):
        align(run, more)


def test_a_saved_run_is_never_overwritten_silently(tmp_path):
    run, _ = make_run()
    save_run(run, tmp_path / "run")
    before = (tmp_path / "run" / "run.json").read_bytes()
    run.name = "another-run"
    with pytest.raises(RunError, match=r"run already holds a run; save into another folder .*--overwrite"):
        save_run(run, tmp_path / "run")
    assert (tmp_path / "run" / "run.json").read_bytes() == before, "the refused save changed the run"
    save_run(run, tmp_path / "run", overwrite=True)
    assert load_run(tmp_path / "run").name == "another-run"


def test_saving_into_a_file_is_refused(tmp_path):
    run, _ = make_run()
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="is a file, not a folder"):
        save_run(run, tmp_path / "file")


def _rewrite_parquet(path, change) -> None:
    change(pd.read_parquet(path)).to_parquet(path, index=False)


@pytest.mark.parametrize("tamper, message", [
    (lambda d: (d / "features.npz").write_bytes(b"PK\x03\x04 not a zip"), r"features\.npz is corrupt or unreadable"),
    (lambda d: _rewrite_parquet(d / "embeddings.parquet", lambda f: f.iloc[:10]),
     r"embeddings\.parquet has 10 products but run\.json records 80"),
    (lambda d: _rewrite_parquet(d / "embeddings.parquet", lambda f: f.assign(e0=np.nan)),
     r"embeddings\.parquet holds 80 values that are not finite"),
    (lambda d: _rewrite_parquet(d / "embeddings.parquet", lambda f: f.assign(product_id="P000")),
     r"embeddings\.parquet lists a product id twice"),
    (lambda d: _rewrite_parquet(d / "projection.parquet", lambda f: f.iloc[::-1]),
     r"projection\.parquet does not list the run's 80 products in their order"),
    (lambda d: _rewrite_parquet(d / "projection.parquet", lambda f: f.assign(x=np.inf)),
     r"projection\.parquet holds values that are not finite numbers in 'x'"),
    (lambda d: _rewrite_parquet(d / "neighbours.parquet", lambda f: f.assign(neighbour_id="../../etc")),
     r"neighbours\.parquet names product '\.\./\.\./etc', which is not in the run"),
    (lambda d: _rewrite_parquet(d / "reconstruction.parquet", lambda f: f.drop(columns=["product_id"])),
     r"reconstruction\.parquet lacks the column 'product_id'"),
], ids=["npz garbage", "embeddings cut", "embeddings NaN", "ids repeated", "projection reordered",
        "projection inf", "neighbours of another run", "reconstruction without ids"])
def test_a_tampered_run_directory_is_refused_naming_the_file(tmp_path, tamper, message):
    from product_repr.analysis import neighbours, reconstruction

    run, X = make_run()
    ids, sims = neighbours.all_neighbours(run.embeddings, 3)
    run.neighbours = neighbours.neighbours_frame(run.product_ids, ids, sims)
    run.projection = pd.DataFrame({"product_id": run.product_ids, "x": run.embeddings[:, 0], "y": run.embeddings[:, 1]})
    errors = reconstruction.errors(X, run.learner.reconstruct(X), run.feature_space.spans)
    errors.insert(0, "product_id", run.product_ids)
    run.reconstruction = errors
    save_run(run, tmp_path)
    load_run(tmp_path)  # untouched, it loads
    tamper(tmp_path)
    with pytest.raises(RunError, match=message):
        load_run(tmp_path)


def test_a_table_file_outside_the_run_directory_is_never_read(tmp_path):
    from product_repr.runs import table_path

    (tmp_path / "run").mkdir()
    (tmp_path / "secret.parquet").write_bytes(b"x")
    (tmp_path / "run" / "table.parquet").write_bytes(b"x")
    for crafted in ("../secret.parquet", str(tmp_path / "secret.parquet"), "..", "", None, 7, "a\x00b"):
        assert table_path(tmp_path / "run", {"data": {"table_file": crafted}}) is None, crafted
    assert table_path(tmp_path / "run", {"data": {"table_file": "table.parquet"}}) == tmp_path / "run" / "table.parquet"
