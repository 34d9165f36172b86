"""One contract, checked over every registered learner (same seed, same embeddings, also in threads)."""
from __future__ import annotations

import dataclasses
import re
import threading

import numpy as np
import pytest
import torch

from product_repr import learners
from product_repr.errors import ConfigError, FeatureError, NotFittedError
from product_repr.features.space import Span
from product_repr.learners.config import config_fields
from product_repr.data.schema import Role
from product_repr.learners.training import TrainingReport

pytestmark = pytest.mark.usefixtures("one_torch_thread")

NAMES = sorted(learners.REGISTRY)


def small_data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, list[Span]]:
    """Two numeric columns, a 4-level categorical and a 3-dim 'text' block."""
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 4, n)
    price = (group + rng.normal(0, 0.3, n)).astype(np.float32)
    flag = np.zeros(n, dtype=np.float32)
    cat = np.eye(4, dtype=np.float32)[group]
    text = (np.eye(4, 3)[group] + rng.normal(0, 0.1, (n, 3))).astype(np.float32)
    X = np.column_stack([price, flag, cat, text]).astype(np.float32)
    spans = [
        Span("price", Role.NUMERIC, 0, 2, "mse"),
        Span("brand", Role.CATEGORICAL, 2, 6, "ce"),
        Span("title", Role.TEXT, 6, 9, "mse"),
    ]
    return X, spans


def quick(name: str, **changes):
    settings = {"steps": 6, "width": 32, "embedding_dim": 8, "batch_size": 32, **changes}
    cfg = learners.get(name).Config(**settings)
    return learners.get(name)(cfg)


def test_registry_names():
    assert set(NAMES) == {"autoencoder", "denoising", "contrastive", "multitask"}
    with pytest.raises(ConfigError, match="unknown learner 'nope'"):
        learners.get("nope")


@pytest.mark.parametrize("name", NAMES)
def test_class_attributes(name):
    cls = learners.get(name)
    assert cls.name == name
    assert cls.title and 10 < len(cls.description) < 300, "description is shown on the Train page"
    assert dataclasses.is_dataclass(cls.Config) and issubclass(cls.Config, learners.LearnerConfig)
    assert isinstance(cls.has_decoder, bool)
    specs = config_fields(cls.Config)
    assert {"embedding_dim", "steps", "epochs", "seed", "learning_rate", "max_seconds"} <= {s.name for s in specs}


def test_only_the_default_learner_says_to_start_with_it():
    says = [n for n in NAMES if re.search(r"start (here|with)", learners.get(n).description, re.IGNORECASE)]
    assert says == [learners.DEFAULT], f"descriptions that say to start with them: {says}"


@pytest.mark.parametrize("name", NAMES)
def test_fit_encode_shapes(name):
    X, spans = small_data()
    model = quick(name)
    assert model.fit(X, spans=spans, device="cpu") is model
    Z = model.encode(X)
    assert Z.shape == (len(X), 8) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    assert model.input_dim_ == X.shape[1] and model.spans_ == spans
    assert [h["step"] for h in model.history_] == [1, 2, 3, 4, 5, 6], "6 steps, each one a check (< 20 steps)"
    assert {"step", "epoch", "train_loss", "val_loss", "seconds", "lr"} <= set(model.history_[0])
    if model.has_decoder:
        X_hat = model.reconstruct(X)
        assert X_hat.shape == X.shape and X_hat.dtype == np.float32
        np.testing.assert_allclose(X_hat[:, 2:6].sum(axis=1), 1.0, rtol=1e-5,
                                   err_msg="categorical spans must hold softmax probabilities")
    else:
        with pytest.raises(ConfigError, match="no decoder"):
            model.reconstruct(X)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_embeddings(name):
    X, spans = small_data()
    torch.manual_seed(123)
    z1 = quick(name, dropout=0.1).fit(X, spans=spans, device="cpu").encode(X)
    torch.manual_seed(999)  # global state must not matter
    z2 = quick(name, dropout=0.1).fit(X, spans=spans, device="cpu").encode(X)
    assert np.array_equal(z1, z2), "same seed and data must give bit-identical embeddings"
    z3 = quick(name, dropout=0.1, seed=1).fit(X, spans=spans, device="cpu").encode(X)
    assert not np.array_equal(z1, z3), "a different seed should give different embeddings"


def fit_with_dropout(name: str, seed: int, X, spans) -> np.ndarray:
    # dropout on, and every learner's own random draws (corruption, neighbour partners) at their defaults
    cfg = learners.get(name).Config(steps=40, width=32, embedding_dim=8, batch_size=32, dropout=0.1, seed=seed)
    return learners.get(name)(cfg).fit(X, spans=spans, device="cpu").encode(X)


@pytest.mark.parametrize("name", NAMES)
def test_trainings_in_threads_equal_the_same_seed_alone(name):
    X, spans = small_data(200)
    alone = {seed: fit_with_dropout(name, seed, X, spans) for seed in (0, 1)}
    got: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def job(seed: int) -> None:
        start.wait()
        try:
            got[seed] = fit_with_dropout(name, seed, X, spans)
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=job, args=(seed,)) for seed in (0, 1)]
    for t in threads:
        t.start()
    start.wait()
    with torch.random.fork_rng(devices=[]):
        while any(t.is_alive() for t in threads):  # meanwhile someone else uses the global generator
            torch.manual_seed(len(got))
            torch.rand(1000)
    for t in threads:
        t.join(60)
    assert not errors, f"a training thread failed: {errors[0]!r}"
    for seed in (0, 1):
        assert np.array_equal(got[seed], alone[seed]), \
            f"{name}, seed {seed}: trained in a thread next to another run, embeddings differ from alone " \
            f"(max diff {np.abs(got[seed] - alone[seed]).max():.3g})"


def other_value(spec: learners.ParamSpec):
    """A valid value of ``spec`` other than its default (not zero, which can switch a part off)."""
    if spec.kind == "choice":
        return next(c for c in spec.choices if c != spec.default)
    if spec.kind == "bool":
        return not spec.default
    if spec.kind == "int":
        step = int(spec.step or 1)
        return spec.default + step if spec.default + step <= spec.high else spec.default - step
    if spec.kind == "float":
        return spec.default + (spec.high - spec.default) / 2 if spec.default < spec.high else spec.low / 2
    raise AssertionError(f"no other value for {spec.name} ({spec.kind})")


HIDING = [(name, {}) for name in NAMES] + [
    ("contrastive", {"loss": "margin", "positives": "corruption"}),
    ("multitask", {"contrastive_weight": 0.0}),
    ("multitask", {"reconstruction_weight": 0.0, "mask_weight": 0.0}),
    ("multitask", {"positives": "corruption", "predict_columns": ("brand",)}),
]


@pytest.mark.parametrize(("name", "values"), HIDING, ids=[f"{n}-{'-'.join(v) or 'defaults'}" for n, v in HIDING])
def test_fields_hidden_by_visible_fields_do_not_change_the_embedding(name, values):
    """What visible_fields leaves out for the Train page to hide must really be unused at those values."""
    X, spans = small_data()
    cls = learners.get(name).Config
    shown = {s.name for s in learners.visible_fields(cls, values)}
    hidden = [s for s in config_fields(cls) if s.name not in shown]
    base = quick(name, dropout=0.1, **values).fit(X, spans=spans, device="cpu").encode(X)
    for spec in hidden:
        changed = quick(name, dropout=0.1, **values, **{spec.name: other_value(spec)})
        assert np.array_equal(changed.fit(X, spans=spans, device="cpu").encode(X), base), \
            f"{name} with {values}: {spec.name} is hidden as unused, yet changing it changed the embedding"
    if name == "contrastive" and values:
        margin = quick(name, **values, margin=0.0).fit(X, spans=spans, device="cpu").encode(X)
        assert not np.array_equal(margin, quick(name, **values).fit(X, spans=spans, device="cpu").encode(X)), \
            "a shown field does change the embedding (the check above can fail)"


@pytest.mark.parametrize("name", NAMES)
def test_fit_does_not_touch_global_rng(name):
    X, spans = small_data()
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    quick(name).fit(X, spans=spans, device="cpu")
    assert torch.equal(torch.rand(3), expected), "fit must not consume the global torch RNG"


@pytest.mark.parametrize("name", NAMES)
def test_progress_can_stop_and_best_weights_are_kept(name):
    X, spans = small_data()
    reports: list[TrainingReport] = []
    snapshots: dict[int, dict] = {}
    model = quick(name, steps=40)

    def stop_after_two(report: TrainingReport) -> bool:
        reports.append(report)
        snapshots[report.step] = {k: v.detach().clone() for k, v in model_modules["m"].state_dict().items()}
        return len(reports) == 2

    model_modules: dict = {}
    build = model._build

    def keep_modules(*args):
        model_modules["m"] = build(*args)
        return model_modules["m"]

    model._build = keep_modules
    model.fit(X, spans=spans, progress=stop_after_two, device="cpu")
    assert [r.step for r in reports] == [2, 4] and reports[0].steps == 40, "a check every 40/20 = 2 steps"
    assert len(model.history_) == 2, "stopping from progress must end training at that check"
    best = reports[-1].best_step
    assert best in (2, 4)
    kept = model.model_.state_dict()
    assert all(torch.equal(kept[k], v) for k, v in snapshots[best].items()), "the best check's weights are restored"


@pytest.mark.parametrize("name", NAMES)
def test_state_round_trip(name):
    X, spans = small_data()
    model = quick(name).fit(X, spans=spans, device="cpu")
    meta, tensors = model.to_state()
    rebuilt = learners.get(meta["learner"]).from_state(meta, tensors)
    assert np.array_equal(rebuilt.encode(X), model.encode(X))
    assert rebuilt.config == model.config


@pytest.mark.parametrize("name", NAMES)
def test_encode_before_fit_raises(name):
    X, _ = small_data()
    with pytest.raises(NotFittedError, match="not fitted yet"):
        learners.get(name)().encode(X)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_width_raises(name):
    X, spans = small_data()
    model = quick(name).fit(X, spans=spans, device="cpu")
    with pytest.raises(FeatureError, match="fitted on 9"):
        model.encode(X[:, :5])


def test_nan_input_names_the_column():
    X, spans = small_data()
    X[7, 3] = np.nan
    with pytest.raises(FeatureError, match="row 7, column 'brand'"):
        quick("autoencoder").fit(X, spans=spans, device="cpu")


def test_spans_must_tile_x():
    X, spans = small_data()
    with pytest.raises(ConfigError, match="belongs to no span"):
        quick("autoencoder").fit(X, spans=spans[:2], device="cpu")


def test_config_object_of_wrong_learner_rejected():
    with pytest.raises(ConfigError, match="takes a DenoisingConfig"):
        learners.get("denoising")(learners.get("contrastive").Config())


def test_multitask_predicted_columns():
    X, spans = small_data()
    model = quick("multitask", predict_columns=("brand",)).fit(X, spans=spans, device="cpu")
    assert "columns_loss" in model.history_[0]
    # the predicted column is hidden from the input: changing it does not change the embedding
    X2 = X.copy()
    X2[:, 2:6] = np.roll(X2[:, 2:6], 1, axis=1)
    assert np.array_equal(model.encode(X), model.encode(X2)), "predicted columns must be masked from the input"
    with pytest.raises(ConfigError, match=r"predict_columns names \['colour'\]"):
        quick("multitask", predict_columns=("colour",)).fit(X, spans=spans, device="cpu")


def test_multitask_reports_task_losses():
    X, spans = small_data()
    seen = []
    quick("multitask", contrastive_weight=0.5).fit(X, spans=spans, device="cpu",
                                                   progress=lambda r: seen.append(r.task_losses))
    assert set(seen[0]) == {"reconstruction", "mask", "contrastive"}


@pytest.mark.parametrize("name", ["contrastive", "multitask"])
def test_neighbour_positives_are_the_default_and_can_be_switched_off(name):
    X, spans = small_data()
    neighbour = quick(name, neighbours=4)
    assert neighbour.config.positives == "neighbours"
    partners = neighbour._partners(X)
    assert partners.shape == (len(X), 4) and not (partners == np.arange(len(X))[:, None]).any()
    # rows of one group are each other's partners: the graph carries the structure to the loss
    group = X[:, 2:6].argmax(1)
    assert (group[partners] == group[:, None]).mean() > 0.95
    assert quick(name, positives="corruption")._partners(X) is None
    Z = quick(name, positives="corruption").fit(X, spans=spans, device="cpu").encode(X)
    assert Z.shape == (len(X), 8) and np.isfinite(Z).all()


def test_neighbour_contrastive_keeps_the_groups():
    """Groups are visible in the columns; with neighbour positives the embedding's 10-NN stay in the group."""
    X, spans = small_data(n=200, seed=3)
    group = X[:, 2:6].argmax(1)

    def purity(Z: np.ndarray) -> float:
        U = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        S = U @ U.T
        np.fill_diagonal(S, -np.inf)
        idx = np.argsort(-S, axis=1)[:, :10]
        return float((group[idx] == group[:, None]).mean())

    settings = {"steps": 60, "width": 32, "embedding_dim": 8, "batch_size": 64}
    nb = learners.get("contrastive")({**settings, "positives": "neighbours"}).fit(X, spans=spans, device="cpu")
    assert purity(nb.encode(X)) > 0.95, f"neighbour positives lost the groups: {purity(nb.encode(X)):.2f}"
