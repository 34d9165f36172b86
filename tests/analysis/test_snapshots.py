"""The map forming while a model learns: snapshot layouts, their alignment, and a fit that is unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from product_repr import infer_schema, learners, pipeline
from product_repr.analysis import snapshots
from product_repr.data import demo

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_replay_keeps_one_aligned_layout_per_snapshot():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(100, 8))
    replay = snapshots.Replay(rows=np.arange(100))
    first = replay.add(0, Z)
    flipped = replay.add(5, -Z * 3)  # the same embedding, mirrored and scaled: PCA may draw it any way round
    assert first.shape == (100, 2) and np.abs(flipped - first).max() < 1e-4
    assert np.sqrt((first ** 2).sum(axis=1).mean()) == pytest.approx(1.0, abs=1e-5)
    assert [step for step, _ in replay.frames] == [0, 5]
    assert np.all(snapshots.layout(np.ones((4, 3))) == 0)
    assert len(snapshots.sample_rows(10_000)) == snapshots.ROWS and len(snapshots.sample_rows(50)) == 50


def test_build_run_reports_the_map_forming_without_changing_the_run():
    df = demo.make_catalog(300, seed=2).table
    schema = infer_schema(df)
    config = learners.get(learners.DEFAULT).Config(steps=60, seed=0)
    seen = []
    run = pipeline.build_run(df, schema, config=config, analysis=False, features={"text_encoder": "tfidf"},
                             on_snapshot=lambda replay: seen.append(len(replay.frames)))
    plain = pipeline.build_run(df, schema, config=config, analysis=False, features={"text_encoder": "tfidf"})
    assert np.array_equal(run.embeddings, plain.embeddings), "watching the training changes nothing"
    assert seen == list(range(1, len(seen) + 1)) and seen[-1] == len(run.history) + 1, (seen, len(run.history))
