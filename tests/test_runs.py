"""Saving and loading a run directory: complete, pickle-free, and faithful."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from product_repr import learners
from product_repr.errors import RunError
from product_repr.features.space import FeatureSpace
from product_repr.runs import Run, load_run, save_run
from product_repr.data.schema import infer_schema

torch.set_num_threads(1)


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
    proj = pd.DataFrame({"product_id": ["a"], "x": [0.0], "y": [1.0]})
    run, _ = make_run(projection=proj)
    save_run(run, tmp_path)
    pd.testing.assert_frame_equal(load_run(tmp_path).projection, proj)
    run.projection = None
    save_run(run, tmp_path)
    assert not (tmp_path / "projection.parquet").exists()
    assert load_run(tmp_path).projection is None


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
