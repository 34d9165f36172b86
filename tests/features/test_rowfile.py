"""A big table's X on disk (features.rowfile.RowFile) answers every stage as X in memory does."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr import pipeline
from product_repr.analysis import anomalies, duplicates, neighbours, projection, reconstruction
from product_repr.data import demo
from product_repr.data.schema import infer_schema
from product_repr.features.rowfile import RowFile, row_chunks
from product_repr.features.space import FeatureSpace


@pytest.fixture(scope="module")
def catalog():
    return demo.make_catalog(rows=600, seed=4).table


@pytest.fixture(scope="module")
def encoded(catalog, tmp_path_factory):
    """(feature space, X in memory, the same X in a RowFile written 128 rows at a time)."""
    space = FeatureSpace(infer_schema(catalog), exclude=["category", "subcategory"], text_encoder="tfidf")
    X = space.fit_transform(catalog)
    path = tmp_path_factory.mktemp("rows") / "X.npy"
    stored = RowFile.write(path, len(catalog), FeatureSpace.from_dict(*space.to_dict())
                           .transform_chunks(catalog, chunk_rows=128))
    assert isinstance(stored, RowFile)
    return space, X, stored


def test_chunked_encoding_equals_whole_table_encoding(catalog):
    space = FeatureSpace(infer_schema(catalog), text_encoder="tfidf")
    whole = space.fit_transform(catalog)
    chunks = list(space.transform_chunks(catalog, chunk_rows=128))
    assert [len(c) for c in chunks] == [128, 128, 128, 128, 88]
    np.testing.assert_array_equal(np.vstack(chunks), whole)


def test_a_row_file_reads_back_the_rows_asked_for(encoded):
    _, X, stored = encoded
    assert stored.shape == X.shape and len(stored) == len(X)
    np.testing.assert_array_equal(stored[:], X)
    np.testing.assert_array_equal(stored[17:301], X[17:301])
    np.testing.assert_array_equal(stored[5], X[5])
    np.testing.assert_array_equal(stored[-1], X[-1])
    rows = np.random.default_rng(0).integers(0, len(X), 400)  # any order, repeats
    np.testing.assert_array_equal(stored[rows], X[rows])
    np.testing.assert_array_equal(stored[rows, 3:9], X[rows, 3:9])
    mask = X[:, 0] > np.median(X[:, 0])
    np.testing.assert_array_equal(stored[mask], X[mask])
    np.testing.assert_array_equal(np.vstack([b for _, b in row_chunks(stored, 100)]), X)
    np.testing.assert_allclose(stored.mean(axis=0), X.mean(axis=0), rtol=1e-5, atol=1e-6)
    with pytest.raises(IndexError):
        stored[len(X)]


def test_a_row_file_refuses_rows_that_do_not_continue(tmp_path):
    with pytest.raises(ValueError, match="does not continue rows of 3 columns"):
        RowFile.write(tmp_path / "x.npy", 4, [np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="3 rows written for 4"):
        RowFile.write(tmp_path / "y.npy", 4, [np.zeros((3, 3))])


def test_analysis_reads_a_row_file_as_it_reads_x_in_memory(encoded, monkeypatch):
    space, X, stored = encoded
    spans = space.spans
    scales = reconstruction.column_scales(X, spans)
    assert reconstruction.column_scales(stored, spans) == pytest.approx(scales, rel=1e-9)
    weights = np.linspace(0.5, 1.5, X.shape[1], dtype=np.float32)

    def reconstruct(x):  # a stand-in decoder: each row's output depends on that row alone
        return np.tanh(np.asarray(x) * weights).astype(np.float32)

    pd_testing = pytest.importorskip("pandas").testing
    pd_testing.assert_frame_equal(reconstruction.model_errors(stored, reconstruct, spans, scales=scales),
                                  reconstruction.model_errors(X, reconstruct, spans, scales=scales))
    whole = anomalies.anomaly_scores(reconstruct, X, spans)
    monkeypatch.setattr(anomalies, "CHUNK_ROWS", 128)  # chunk by chunk: the same scores
    seen = []
    chunked = anomalies.anomaly_scores(reconstruct, X, spans, progress=seen.append)
    assert seen == [128, 256, 384, 512, 600]
    from_file = anomalies.anomaly_scores(reconstruct, stored, spans)
    for scored in (chunked, from_file):
        np.testing.assert_allclose(scored.to_numpy(), whole.to_numpy(), rtol=1e-5, atol=1e-6)
        assert list(scored.columns) == list(whole.columns)
    from product_repr.learners.losses import span_weights

    for mode in ("equal", "scaled"):  # what training weighs each column by, read from the file
        np.testing.assert_allclose(span_weights(stored, spans, mode), span_weights(X, spans, mode), rtol=1e-6)
    ids = np.array([f"P{i}" for i in range(len(X))])
    pd_testing.assert_frame_equal(duplicates.pairs(stored, spans, ids), duplicates.pairs(X, spans, ids))
    monkeypatch.setattr(neighbours, "FILE_SVD_ROWS", 10_000)  # the same sample as in memory: the same graph
    np.testing.assert_array_equal(neighbours.neighbour_graph(stored, 5, max_dim=16),
                                  neighbours.neighbour_graph(X, 5, max_dim=16))


def test_a_big_table_is_encoded_to_a_file_and_trained_on_a_sample(catalog, monkeypatch):
    """Above FILE_ROWS the run's X lives in a temporary file; above TRAIN_ROWS the learner sees a sample of
    the rows; above EVAL_ROWS the metrics are measured on a sample; every product is still embedded, mapped
    and scored."""
    schema = infer_schema(catalog)
    settings = dict(learner="autoencoder", config={"steps": 40, "embedding_dim": 8}, exclude=["subcategory"],
                    label="category", features={"text_encoder": "tfidf"})
    small = pipeline.build_run(catalog, schema, **settings)
    files = []
    real_write = RowFile.write

    def write(path, n, blocks, **kwargs):
        files.append(path)
        return real_write(path, n, blocks, **kwargs)

    monkeypatch.setattr(RowFile, "write", staticmethod(write))
    monkeypatch.setattr(pipeline, "FILE_ROWS", 100)
    stages = []
    on_file = pipeline.build_run(catalog, schema, **settings, on_stage=stages.append)
    assert len(files) == 1 and not files[0].exists()  # written, then removed with the run built
    assert "Encoding features: 600 of 600 rows" in stages
    # every later stage of a big table says how far it is
    assert "Finding neighbours: 600 of 600 products" in stages
    assert "Looking for duplicates: 600 of 600 products searched" in stages
    pairs = [m for m in stages if m.endswith("candidate pairs scored")]
    assert pairs and pairs[-1].startswith("Looking for duplicates: ") and pairs[-1].split()[3] == pairs[-1].split()[5]
    assert "Scoring odd products: 600 of 600 rows" in stages
    # the same X, the same training: the same run
    np.testing.assert_allclose(on_file.embeddings, small.embeddings, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(on_file.reconstruction["error"], small.reconstruction["error"], rtol=1e-4)
    np.testing.assert_allclose(on_file.anomalies["score"], small.anomalies["score"], rtol=1e-4, atol=1e-5)
    assert on_file.metrics["knn_precision@10"] == pytest.approx(small.metrics["knn_precision@10"], abs=1e-6)
    pd.testing.assert_frame_equal(on_file.duplicates, small.duplicates, rtol=1e-4, atol=1e-5)

    monkeypatch.setattr(pipeline, "TRAIN_ROWS", 250)
    monkeypatch.setattr(pipeline, "EVAL_ROWS", 300)
    monkeypatch.setattr(projection, "SAMPLE_LIMIT", 200)
    stages.clear()
    sampled = pipeline.build_run(catalog, schema, **settings, on_stage=stages.append)
    assert ("Projecting to 2D: UMAP fitted on a random 200 of the 600 products, then the others placed beside "
            "their nearest") in stages
    assert "Projecting to 2D: 400 of 400 other products placed" in stages
    assert sampled.info["projection"]["params"]["sample_rows"] == 200
    assert "Training on a random 250 of the 600 rows, then encoding every row" in stages
    assert sampled.info["timings"]["train_rows"] == 250 and sampled.history["step"].iloc[-1] == 40
    assert sampled.embeddings.shape == (600, 8) and np.isfinite(sampled.embeddings).all()
    assert len(sampled.projection) == len(sampled.anomalies) == len(sampled.reconstruction) == 600
    assert sampled.metrics["sample_rows"] == 300 and sampled.metrics["n_rows"] == 300
    assert "measured on a random 300 of the 600 products" in sampled.metrics["notes"]
    assert sampled.metrics["knn_precision@10"]["model"] > sampled.metrics["chance"]
