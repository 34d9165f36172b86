"""The training loop: steps and schedule, early stopping, best weights, progress, time budget, NaN guard, devices."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from product_repr import learners
from product_repr.errors import ConfigError, TrainingError
from product_repr.features.space import Span
from product_repr.learners.config import LearnerConfig
from product_repr.data.schema import Role
from product_repr.compute import use_cpu_threads
from product_repr.learners.training import (CHECKS, TrainingReport, learning_rate, planned_steps, resolve_device, split_rows,
                                   train)

pytestmark = pytest.mark.usefixtures("one_torch_thread")
SPANS = [Span("a", Role.NUMERIC, 0, 2, "mse")]


def scheduled_loss(val_schedule: list[float], calls: dict | None = None):
    """A loss whose validation value follows ``val_schedule`` check by check (training value: 1.0)."""
    calls = calls if calls is not None else {}
    calls.update(val=0, train=0)

    def loss_fn(model, xb, generator):
        zero = (model.weight * 0).sum()
        if model.training:
            calls["train"] += 1
            return zero + 1.0, {"part": zero + 0.5}
        value = val_schedule[min(calls["val"], len(val_schedule) - 1)]
        calls["val"] += 1
        return zero + value, {}

    return loss_fn


def test_early_stopping_restores_best_weights():
    model = nn.Linear(2, 1)
    X = np.ones((40, 2), dtype=np.float32)
    cfg = LearnerConfig(steps=60, patience=2, batch_size=64, weight_decay=0.05, learning_rate=0.01)
    snapshots = {}

    def progress(report: TrainingReport):
        snapshots[report.step] = model.weight.detach().clone()

    history = train(model, X, spans=SPANS, loss_fn=scheduled_loss([3, 2, 1, 2, 2, 2, 2]), config=cfg,
                    progress=progress, device="cpu")
    every = 60 // CHECKS
    assert [h["step"] for h in history] == [every * i for i in range(1, 6)], \
        "patience 2 after the best (third) check ends at the fifth"
    assert [h["val_loss"] for h in history] == [3, 2, 1, 2, 2]
    assert not torch.equal(snapshots[3 * every], snapshots[5 * every]), "weight decay should have moved the weights"
    assert torch.equal(model.weight, snapshots[3 * every]), "the best check's weights must be restored"
    assert history[0]["part_loss"] == pytest.approx(0.5), "task losses are recorded as <task>_loss"


def test_the_run_takes_its_steps_capped_by_epochs():
    """steps sizes the run; a table too small for them ends after `epochs` passes (counted, not timed)."""
    calls: dict = {}
    X = np.ones((40, 2), dtype=np.float32)  # 36 training rows
    cfg = LearnerConfig(steps=70, epochs=100, batch_size=16, patience=100)
    history = train(nn.Linear(2, 1), X, spans=SPANS, loss_fn=scheduled_loss([1.0], calls), config=cfg,
                    device="cpu")
    assert calls["train"] == 70 == history[-1]["step"], f"expected 70 optimiser steps, took {calls['train']}"
    assert CHECKS - 3 <= len(history) <= CHECKS, f"about {CHECKS} validation checks per run, got {len(history)}"
    assert history[-1]["epoch"] == pytest.approx(70 / 3, abs=1e-3), "3 batches per pass over 36 rows"
    capped = LearnerConfig(steps=70, epochs=2, batch_size=16, patience=100)
    assert planned_steps(36, capped) == 6
    train(nn.Linear(2, 1), X, spans=SPANS, loss_fn=scheduled_loss([1.0], calls), config=capped, device="cpu")
    assert calls["train"] == 6, "two passes of three batches"


def test_onecycle_schedule_warms_up_then_decays_to_zero():
    total, peak = 200, 0.01
    lrs = [learning_rate(i, total, peak, "onecycle") for i in range(total)]
    warm = int(round(0.05 * total))
    assert lrs[0] == pytest.approx(peak / warm) and lrs[warm - 1] == pytest.approx(peak)
    assert all(a >= b for a, b in zip(lrs[warm - 1:], lrs[warm:])), "the learning rate only falls after warm-up"
    assert lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert learning_rate(150, total, peak, "constant") == peak
    cfg = LearnerConfig(steps=40, batch_size=16, patience=100)
    history = train(nn.Linear(2, 1), np.ones((40, 2), np.float32), spans=SPANS, loss_fn=scheduled_loss([1.0]),
                    config=cfg, device="cpu")
    assert [h["lr"] for h in history] == pytest.approx(
        [learning_rate(h["step"] - 1, 40, cfg.learning_rate, "onecycle") for h in history])


def test_time_budget_shortens_the_run():
    import time as clock

    def slow(model, xb, generator):
        if model.training:
            clock.sleep(0.005)
        return (model.weight * 0).sum() + 1.0, {}

    cfg = LearnerConfig(steps=2000, batch_size=16, patience=500, max_seconds=0.5)
    history = train(nn.Linear(2, 1), np.ones((40, 2), np.float32), spans=SPANS, loss_fn=slow, config=cfg,
                    device="cpu")
    assert history[-1]["step"] < 400, f"a 0.5 s budget at >= 5 ms a step allows < 100 steps, took {history[-1]['step']}"
    assert history[-1]["lr"] < cfg.learning_rate * 0.05, "the schedule follows the shortened run down to ~0"


def test_progress_stop_and_report_fields():
    model = nn.Linear(2, 1)
    reports = []

    def progress(report):
        reports.append(report)
        return len(reports) == 3

    cfg = LearnerConfig(steps=40, patience=10)
    history = train(model, np.ones((30, 2), np.float32), spans=SPANS, loss_fn=scheduled_loss([5, 4, 3, 2, 1]),
                    config=cfg, progress=progress, device="cpu")
    assert len(history) == 3
    last = reports[-1]
    assert (last.step, last.steps, last.best_step) == (6, 40, 6)
    assert last.train_loss == pytest.approx(1.0) and last.val_loss == 3
    assert last.task_losses == {"part": pytest.approx(0.5)}
    assert last.seconds >= 0 and last.elapsed >= last.seconds


def test_no_validation_split_watches_train_loss():
    cfg = LearnerConfig(steps=3, val_fraction=0.0)
    history = train(nn.Linear(2, 1), np.ones((30, 2), np.float32), spans=SPANS, loss_fn=scheduled_loss([1.0]),
                    config=cfg, device="cpu")
    assert [h["val_loss"] for h in history] == [None, None, None]


def test_nan_loss_raises_with_the_way_out():
    X = np.full((50, 2), 1e25, dtype=np.float32)  # squared error overflows float32
    model = learners.get("autoencoder")(LearnerConfig(steps=20, learning_rate=0.01, width=16).to_dict())
    with pytest.raises(TrainingError, match=r"loss became (nan|inf) at step 1; lower the learning rate \(now 0.01\)"):
        model.fit(X, spans=SPANS, device="cpu")


def test_too_few_rows():
    with pytest.raises(TrainingError, match="at least 2 rows, got 1"):
        learners.get("autoencoder")().fit(np.zeros((1, 2), np.float32), spans=SPANS, device="cpu")


def test_split_rows_is_seeded_and_disjoint():
    tr, va = split_rows(100, 0.2, seed=3)
    assert len(va) == 20 and len(tr) == 80
    assert set(tr.tolist()).isdisjoint(va.tolist()) and set(tr.tolist()) | set(va.tolist()) == set(range(100))
    tr2, va2 = split_rows(100, 0.2, seed=3)
    assert torch.equal(va, va2)
    assert len(split_rows(2, 0.3, seed=0)[1]) == 0, "too few rows: no validation split"


def test_devices():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU is available"):
            resolve_device("cuda")


def test_threads_are_set_by_the_entry_point_only(monkeypatch):
    monkeypatch.delenv("TOKENIZERS_PARALLELISM", raising=False)  # use_cpu_threads sets it; undone after the test
    assert use_cpu_threads(1) == 1 == torch.get_num_threads()
    model = learners.get("autoencoder")({"steps": 10, "width": 16})
    model.fit(np.zeros((20, 2), np.float32), spans=SPANS, device="cpu")
    assert torch.get_num_threads() == 1, "training must not change the process's thread setting"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_training_runs():
    X = np.random.default_rng(0).normal(size=(200, 2)).astype(np.float32)
    model = learners.get("denoising")({"steps": 20}).fit(X, spans=SPANS, device="cuda")
    assert model.encode(X).shape == (200, 32)


def test_partners_reach_the_loss_as_positives():
    """With partners, every batch row's positive is one of that row's partner rows, drawn at random."""
    n = 60
    X = np.repeat(np.arange(n, dtype=np.float32)[:, None], 2, axis=1)  # row i holds the value i
    partners = np.stack([(np.arange(n) + 1) % n, (np.arange(n) + 2) % n], axis=1)
    seen = []

    def loss_fn(model, xb, generator, positives=None):
        assert positives is not None and positives.shape == xb.shape
        offset = (positives[:, 0] - xb[:, 0]) % n
        seen.append(offset)
        return (model.weight * 0).sum() + 1.0, {}

    cfg = LearnerConfig(steps=6, batch_size=16, val_fraction=0.2)
    train(nn.Linear(2, 1), X, spans=SPANS, loss_fn=loss_fn, config=cfg, device="cpu", partners=partners)
    offsets = torch.cat(seen)
    assert set(offsets.tolist()) == {1.0, 2.0}, f"positives were not the rows' partners: {set(offsets.tolist())}"


def test_partners_of_the_wrong_shape_are_refused():
    cfg = LearnerConfig(steps=10)
    with pytest.raises(ConfigError, match=r"partners must be \(n, k\) = \(30, k >= 1\) row indices, got shape \(29, 2\)"):
        train(nn.Linear(2, 1), np.ones((30, 2), np.float32), spans=SPANS, loss_fn=scheduled_loss([1.0]), config=cfg,
              device="cpu", partners=np.zeros((29, 2), dtype=np.int64))
