"""build_run: the one path from a table to a finished run, shared by the CLI and the Train page."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr import pipeline

from product_repr.data import demo
from product_repr.errors import SchemaError
from product_repr.data.schema import infer_schema


@pytest.fixture(scope="module")
def catalog():
    return demo.make_catalog(rows=500, seed=11).table


def test_build_run_fills_every_analysis(catalog):
    schema = infer_schema(catalog)
    stages = []
    reports = []
    run = pipeline.build_run(
        catalog, schema, learner="autoencoder", config={"epochs": 3, "embedding_dim": 6},
        exclude=["subcategory"], label="category", progress=reports.append, on_stage=stages.append,
    )
    assert run.embeddings.shape == (len(catalog), 6) and run.embeddings.dtype == np.float32
    assert len(reports) == 3 and [r.epoch for r in reports] == [1, 2, 3]
    assert stages[:2] == ["Encoding features", "Training autoencoder"]
    assert {"category", "subcategory"}.isdisjoint(run.feature_space.columns)
    assert len(run.projection) == len(catalog) and np.isfinite(run.projection[["x", "y"]].to_numpy()).all()
    assert len(run.neighbours) == 10 * len(catalog)
    assert len(run.reconstruction) == len(catalog)
    assert run.metrics["knn_precision@10"]["model"] > run.metrics["chance"], "embedding no better than chance"
    assert run.info["data"]["rows"] == len(catalog) and len(run.info["data"]["sha256"]) == 64
    assert run.info["neighbours"] == {"method": "exact"}


def test_a_big_run_finds_its_neighbours_approximately_and_records_the_recall(catalog, monkeypatch, tmp_path):
    from product_repr.analysis import neighbours
    from product_repr.runs import load_run, save_run

    monkeypatch.setattr(neighbours, "EXACT_ROWS", 100)  # the 500-row catalog counts as big
    monkeypatch.setattr(neighbours, "RECALL_SAMPLE", 200)
    run = pipeline.build_run(catalog, infer_schema(catalog), learner="autoencoder", config={"epochs": 2},
                             features={"text_encoder": "tfidf"})
    search = run.info["neighbours"]
    assert search["method"] == "approximate (faiss IVF)" and search["sample"] == 200
    assert search["recall"] >= neighbours.TARGET_RECALL or search["nprobe"] == search["nlist"]
    exact, _ = neighbours.all_neighbours(run.embeddings, 10, exact=True)
    stored = run.neighbours.groupby("product_id", sort=False)["neighbour_id"].apply(list)
    index = {p: i for i, p in enumerate(run.product_ids)}
    found = np.mean([len(set(index[q] for q in stored[p]) & set(exact[i])) / 10 for i, p in enumerate(run.product_ids)])
    assert found >= 0.9
    save_run(run, tmp_path / "big")
    assert load_run(tmp_path / "big").info["neighbours"] == search  # run.json says how they were found


def test_a_big_table_fits_its_features_on_a_sample_and_encodes_every_row(catalog, monkeypatch):
    monkeypatch.setattr(pipeline, "FIT_ROWS", 200)
    stages = []
    run = pipeline.build_run(catalog, infer_schema(catalog), learner="autoencoder", config={"epochs": 1},
                             features={"text_encoder": "tfidf"}, analysis=False, on_stage=stages.append)
    assert "Fitting the features on a random 200 of the 500 rows" in stages
    assert run.info["data"]["fit_rows"] == 200 and run.embeddings.shape[0] == len(catalog)
    sample = catalog.iloc[pipeline.draft_rows(len(catalog), 200)]
    assert run.feature_space.numeric_stats("price")["median"] == pytest.approx(sample["price"].median())


def test_contrastive_run_has_no_reconstruction(catalog):
    run = pipeline.build_run(
        catalog, infer_schema(catalog), learner="contrastive", config={"epochs": 2}, label="category",
    )
    assert run.reconstruction is None
    assert run.neighbours is not None and run.metrics


def test_duplicate_ids_are_made_unique(catalog):
    table = catalog.head(50).copy()
    schema = infer_schema(catalog)
    table[schema.id_column] = ["SAME"] * 50
    ids = pipeline.product_ids(table, schema)
    assert len(set(ids)) == 50 and ids[0] == "SAME" and ids[1] == "SAME#2"


def test_unknown_exclude_and_label_are_schema_errors(catalog):
    schema = infer_schema(catalog)
    with pytest.raises(SchemaError, match="no_such"):
        pipeline.build_run(catalog, schema, exclude=["no_such"], config={"epochs": 1}, analysis=False)
    with pytest.raises(SchemaError, match="label column 'nope'"):
        pipeline.build_run(catalog, schema, label="nope", config={"epochs": 1}, analysis=False)


def test_table_hash_changes_with_content(catalog):
    a = pipeline.table_sha256(catalog)
    changed = catalog.copy()
    changed.iloc[0, 1] = "something else"
    assert a == pipeline.table_sha256(catalog.copy())
    assert a != pipeline.table_sha256(changed)


def test_a_draft_map_comes_first_and_the_run_map_replaces_it(catalog, monkeypatch):
    """on_map gets a draft of the input features, then the run's own map before the metrics are computed."""
    from product_repr.compute import WorkGate

    monkeypatch.setattr(pipeline, "DRAFT_AFTER_S", 0.0)  # this small run would not need one
    monkeypatch.setattr(pipeline, "DRAFT_ENCODING_S", 0.0)
    maps, stages = [], []

    def on_map(frame, info):
        maps.append((frame, info, list(stages)))

    gate = WorkGate()
    run = pipeline.build_run(catalog, infer_schema(catalog), config={"steps": 4}, label="category",
                             on_map=on_map, on_stage=stages.append, draft=True, gate=gate, owner="tab-1")
    assert [info["kind"] for _, info, _ in maps] == ["draft", "final"]
    draft, final = maps[0][0], maps[1][0]
    assert "Draft" in maps[0][1]["note"] and list(draft.columns) == ["product_id", "x", "y"]
    assert list(draft["product_id"]) == list(run.product_ids) and np.isfinite(draft[["x", "y"]].to_numpy()).all()
    assert final is run.projection, "the final map is the run's own"
    assert not np.allclose(draft[["x", "y"]].to_numpy(), final[["x", "y"]].to_numpy())
    assert "Measuring quality against baselines" not in maps[1][2], "the map is published before the metrics"
    assert run.metrics["knn_precision@10"]["model"] is not None
    assert gate.grants >= 5 and gate.queue() == [], "every heavy stage went through the gate, which is free again"
    assert "draft_map_s" in run.info["timings"]


def test_the_draft_of_a_big_table_comes_first_shows_a_sample_and_says_so(catalog, monkeypatch):
    """Above DRAFT_FIRST_ROWS the draft comes before the features are encoded, even with every text cached;
    above DRAFT_ROWS it lays out a seeded sample of the products; the final map has every product."""
    monkeypatch.setattr(pipeline, "DRAFT_AFTER_S", 1e9)
    monkeypatch.setattr(pipeline, "DRAFT_ENCODING_S", 1e9)  # as when every text is in the cache
    monkeypatch.setattr(pipeline, "DRAFT_ROWS", 50)
    monkeypatch.setattr(pipeline, "DRAFT_FIRST_ROWS", 50)
    maps = []
    run = pipeline.build_run(catalog, infer_schema(catalog), config={"steps": 2}, draft=True,
                             on_map=lambda frame, info: maps.append((frame, info)), analysis=True)
    (draft, info), (final, _) = maps
    assert info["kind"] == "draft" and len(draft) == info["rows"] == 50
    assert f"a random 50 of the {len(catalog):,} products" in info["note"]
    assert set(draft["product_id"]) < set(run.product_ids) and draft["product_id"].is_unique
    assert len(final) == len(catalog)
    assert list(pipeline.draft_rows(len(catalog), 50)) == list(pipeline.draft_rows(len(catalog), 50)), "seeded"
    assert list(pipeline.draft_rows(40, 50)) == list(range(40))


def test_a_mid_sized_table_gets_its_draft_of_every_product_before_its_features(catalog, monkeypatch):
    """Between DRAFT_FIRST_ROWS and DRAFT_ROWS the draft still comes first (encoding cached texts takes
    seconds there) and shows every product."""
    monkeypatch.setattr(pipeline, "DRAFT_AFTER_S", 1e9)
    monkeypatch.setattr(pipeline, "DRAFT_ENCODING_S", 1e9)
    monkeypatch.setattr(pipeline, "DRAFT_FIRST_ROWS", 50)
    events = []
    pipeline.build_run(catalog, infer_schema(catalog), config={"steps": 2}, draft=True, analysis=False,
                       features={"text_encoder": "tfidf"}, on_stage=events.append,
                       on_map=lambda frame, info: events.append((info["kind"], len(frame))))
    assert ("draft", len(catalog)) in events
    assert events.index(("draft", len(catalog))) < events.index("Encoding features")


def test_no_draft_for_a_quick_run(catalog):
    kinds = []
    pipeline.build_run(catalog, infer_schema(catalog), config={"steps": 4}, draft=True,
                       on_map=lambda frame, info: kinds.append(info["kind"]),
                       features={"text_encoder": "tfidf"})
    assert kinds == ["final"], "a run expected to reach its map within DRAFT_AFTER_S draws no draft"


def test_the_training_estimate_follows_what_this_process_measured(monkeypatch):
    """The formula's figures come from one machine; timed fits correct it, a fit too small to time does not."""
    monkeypatch.setattr(pipeline, "_training_pace", {})
    formula = pipeline.estimated_training_seconds(1000, 512, 1000)
    pipeline.time_training(1000, 512, 1000, 3 * formula)  # this machine is three times slower
    assert pipeline.estimated_training_seconds(1000, 512, 1000) == pytest.approx(3 * formula)
    pipeline.time_training(1000, 512, 1000, formula)  # then one fit at the formula's pace: halfway
    assert pipeline.estimated_training_seconds(1000, 512, 1000) == pytest.approx(2 * formula)
    pipeline.time_training(2, 8, 1000, 100 * formula)  # 16 row-steps: mostly start-up, not timed
    assert pipeline.estimated_training_seconds(1000, 512, 1000) == pytest.approx(2 * formula)


def test_a_run_slower_than_the_formula_draws_a_draft_once_measured(catalog, monkeypatch):
    """A fit is timed into the estimate, so on a machine slower than the formula's the next run of the same
    size gets its draft map first."""
    monkeypatch.setattr(pipeline, "_training_pace", {})
    monkeypatch.setattr(pipeline, "DRAFT_ENCODING_S", 1e9)  # the draft would come from the training estimate
    kinds, config = [], {"steps": 40, "batch_size": 256}
    schema = infer_schema(catalog)
    pipeline.build_run(catalog, schema, config=config, draft=True, features={"text_encoder": "tfidf"},
                       on_map=lambda frame, info: kinds.append(info["kind"]), analysis=False)
    assert "ratio" in pipeline._training_pace, "40 steps of 256 rows were timed"
    monkeypatch.setattr(pipeline, "_training_pace", {"ratio": 1e6})  # as measured on a very slow machine
    pipeline.build_run(catalog, schema, config=config, draft=True, features={"text_encoder": "tfidf"},
                       on_map=lambda frame, info: kinds.append(info["kind"]), analysis=False)
    assert kinds == ["draft"], "no draft for the first run, which the formula expects to be quick; one for the second"


def test_with_a_gate_texts_are_encoded_chunk_by_chunk_one_turn_each(catalog, monkeypatch, tmp_path):
    """A big catalog's sentence encoding gives the CPU back between chunks (counted turns)."""
    from product_repr.features import sentence
    from product_repr.compute import WorkGate

    if sentence.DEFAULT_MODEL not in sentence.available():
        pytest.skip("the sentence encoder is not installed")
    monkeypatch.setenv("PRODUCT_REPR_CACHE", str(tmp_path))
    monkeypatch.setattr(sentence, "_cache", sentence.OrderedDict())
    monkeypatch.setattr(pipeline, "ENCODE_CHUNK", 25)
    table = catalog.head(60)
    texts, model = pipeline._sentence_texts(table, pipeline.FeatureSpace(infer_schema(table)))
    todo = len(sentence.uncached(texts, model))
    assert todo > 50
    stages: list[str] = []
    gate = WorkGate()
    pipeline.build_run(table, infer_schema(table), config={"steps": 2}, gate=gate, owner="big", analysis=False,
                       on_stage=stages.append)
    chunks = [m for m in stages if m.startswith("Encoding texts")]
    assert len(chunks) == -(-todo // 25), f"{todo} texts in chunks of 25: {chunks}"
    assert gate.grants >= len(chunks) + 2, "one turn per chunk, then features and training"
    before = sentence.stats["encoded"]
    stages.clear()
    pipeline.build_run(table, infer_schema(table), config={"steps": 2}, gate=gate, owner="big", analysis=False,
                       on_stage=stages.append)
    assert sentence.stats["encoded"] == before, "the second run finds every text in the disk cache"
    assert not any(m.startswith("Encoding texts") for m in stages)


def test_a_turn_of_encoding_is_sized_by_time_so_long_texts_come_in_smaller_chunks(monkeypatch, tmp_path):
    """Each turn at the gate encodes about ENCODE_TURN_S seconds of texts by the encoder's estimate: a smaller
    waiting job then waits about as long behind 500-character descriptions as behind short titles."""
    from product_repr.compute import WorkGate
    from product_repr.features import sentence

    if sentence.DEFAULT_MODEL not in sentence.available():
        pytest.skip("the sentence encoder is not installed")
    monkeypatch.setenv("PRODUCT_REPR_CACHE", str(tmp_path))
    monkeypatch.setattr(pipeline, "ENCODE_TURN_S", 2.0)
    monkeypatch.setattr(sentence, "_pace", {})  # the formula's pace, whatever earlier encodings measured
    turns: list[list[str]] = []
    monkeypatch.setattr(sentence, "encode", lambda texts, model: turns.append(list(texts)))
    rng = np.random.default_rng(0)
    words = ["steel", "kettle", "cotton", "shirt", "fresh", "tea", "leather", "shoe", "organic", "snack"]
    n = 2_000  # more short titles than one turn holds
    table = pd.DataFrame({
        "product_id": [f"P{i}" for i in range(n)],
        "title": [f"item {i} " + " ".join(rng.choice(words, 3)) for i in range(n)],
        "description": [f"item {i} " + " ".join(rng.choice(words, 80)) if i < 300 else None for i in range(n)],
    })
    space = pipeline.FeatureSpace(infer_schema(table))
    texts, model = pipeline._sentence_texts(table, space)
    done = pipeline._pre_encode(table, space, pipeline.Pace(WorkGate(), "job"), lambda message: None)
    assert done == len(sentence.uncached(texts, model)) == sum(len(t) for t in turns)
    seconds = [sentence.estimate_seconds(t, model) for t in turns]
    assert max(seconds) <= 2.0 * 1.2, f"every turn about ENCODE_TURN_S: {seconds}"
    short = [len(t) for t in turns if all(len(x) < 60 for x in t)]
    long = [len(t) for t in turns if all(len(x) > 300 for x in t)]
    assert short and long and min(short) > 3 * max(long), (short, long)


def test_the_labels_named_twins_are_excluded_unless_the_caller_keeps_them(catalog):
    """`train --label category` must not learn from subcategory (it names the category); a caller whose user
    decided the exclusions (the Data page) keeps them with keep_twins=True."""
    schema = infer_schema(catalog)
    stages: list[str] = []
    run = pipeline.build_run(catalog, schema, config={"steps": 2}, label="category", on_stage=stages.append,
                             analysis=False, features={"text_encoder": "tfidf"})
    data = run.info["data"]
    assert data["excluded"] == ["category", "subcategory"] and data["twins_excluded"] == ["subcategory"], data
    assert "subcategory" not in run.feature_space.columns, "the twin leaked into the learner's input"
    assert any(m.startswith("Excluding subcategory from the input") for m in stages), stages
    kept = pipeline.build_run(catalog, schema, config={"steps": 2}, label="category", keep_twins=True,
                              analysis=False, features={"text_encoder": "tfidf"})
    assert kept.info["data"]["excluded"] == ["category"] and kept.info["data"]["twins_kept"] == ["subcategory"]
    assert "subcategory" in kept.feature_space.columns
    assert set(data["columns_sha256"]) == set(map(str, catalog.columns)), "a hash per column for runs.align"


def test_the_practitioner_baselines_are_the_sentence_vectors_of_the_text_alone_and_beside_the_rest(catalog):
    from product_repr.analysis import evaluation

    schema = infer_schema(catalog)
    run = pipeline.build_run(catalog, schema, learner="autoencoder", config={"epochs": 2}, exclude=["subcategory"],
                             label="category", features={"text_encoder": "all-MiniLM-L6-v2-static"})
    space = run.feature_space
    X = space.transform(catalog)
    spaces = pipeline.practitioner_spaces(X, space)
    texts = [s for s in space.spans if s.role.value == "text"]
    assert [s.name for s in texts] == ["title", "description"]
    width = space.text_encoder("title").sentence_width
    assert width == 256, "the static model's vectors"  # all-MiniLM-L6-v2-static
    want = np.hstack([X[:, s.stop - width:s.stop] for s in texts])
    np.testing.assert_array_equal(spaces["sentence"], want)
    others = np.hstack([X[:, s.start:s.stop] for s in space.spans if s.role.value != "text"])
    np.testing.assert_allclose(spaces["sentence_raw"], evaluation.side_by_side(want, others), rtol=1e-6)
    halves = spaces["sentence_raw"][:, :want.shape[1]], spaces["sentence_raw"][:, want.shape[1]:]
    assert all(abs(h.astype(np.float64).var(axis=0).sum() - 1.0) < 1e-4 for h in halves), "each block counts the same"
    knn = run.metrics["knn_precision@10"]
    assert {"sentence", "sentence_raw"} <= set(knn) and all(0 <= knn[n] <= 1 for n in ("sentence", "sentence_raw"))
    assert knn["sentence"] == pytest.approx(evaluation.knn_precision(want, pipeline.label_values(catalog, "category")))

    tfidf = pipeline.build_run(catalog, schema, learner="autoencoder", config={"epochs": 2}, exclude=["subcategory"],
                               label="category", features={"text_encoder": "tfidf"})
    assert "sentence" not in tfidf.metrics["knn_precision@10"], "no sentence model, no sentence baseline"
