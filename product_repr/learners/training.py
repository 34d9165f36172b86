"""The one training loop every learner uses; learners differ only in their loss.

Read it top to bottom: split off a validation set, then take ``config.steps`` optimiser steps (fewer when
``config.epochs`` passes over the data come first, or when ``config.max_seconds`` would be exceeded). Each
step slices the next minibatch out of one seeded permutation of the training rows (a new permutation per
pass), steps AdamW with gradient clipping and sets the learning rate from the schedule (``onecycle``: a
linear warm-up over the first 5 % of the steps, then a cosine decay to zero; ``constant``). ``CHECKS``
times per run the validation loss is measured, the best weights are kept, ``progress`` gets a
:class:`TrainingReport`, and training stops early when the validation loss has not improved for
``patience`` checks (or when ``progress`` returns True). The best weights are restored at the end. No
DataLoader: the data is one tensor already on the device.

Every random draw of a run (split, batch order, partners, corruption, dropout masks) comes from generators
seeded by ``config.seed``, never from torch's global one, so runs in parallel threads do not disturb
each other and the same seed gives the same weights.

A run is sized by steps, not epochs: a 50k catalog does not need five times the steps of a 10k one
(docs/BENCHMARKS.md measures quality against steps and seconds).

Learners whose positive pairs are a row and one of its nearest neighbours pass ``partners`` (each row's
neighbour rows); every batch then also draws one partner per row, and the loss gets their features as
``positives``.

Inside a ``torch.distributed`` process group (``product_repr.distributed``, launched by ``torchrun``) each
process trains on its own shard of the rows through ``DistributedDataParallel``: gradients are averaged
over the processes at every step, a step takes ``batch_size / world_size`` rows on each (the same rows per
step in all as one process takes), the number of steps comes from the rows of all shards, and every decision
(the losses of a check, early stopping, a stop asked for, the time budget) is made on values reduced over the
processes, so they all take the same steps and keep the same weights.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from product_repr.compute import autocast
from product_repr.errors import ConfigError, TrainingError
from product_repr.features.space import Span
from product_repr.learners.encoder import bind_generator
from product_repr.learners.group import reduce, world

#: loss_fn(model, xb, generator) -> (scalar loss, {task name: scalar loss}) for one batch; with ``partners``
#: given to :func:`train` it is called as loss_fn(model, xb, generator, positives=xp)
LossFn = Callable[..., tuple[torch.Tensor, dict]]

MAX_GRAD_NORM = 1.0
VAL_SEED_OFFSET = 7919  # validation corruption uses its own, fixed stream so epochs are comparable


CHECKS = 20  # validation checks (and progress reports) per run
RANK_SEED_OFFSET = 104_729  # in a process group, rank r draws its batches and corruption from seed + r * this
WARMUP_SHARE = 0.05  # onecycle: share of the steps spent warming the learning rate up


@dataclass(frozen=True)
class TrainingReport:
    """What ``progress`` receives after every validation check.

    ``step`` of at most ``steps`` optimiser steps so far; ``epoch`` the passes over the training rows so far
    (fractional); ``train_loss`` the mean since the previous check; ``seconds`` the time since the previous
    check, ``elapsed`` since the start; ``best_step`` the step whose weights are kept so far.
    """

    step: int
    steps: int
    epoch: float
    train_loss: float
    val_loss: float | None
    task_losses: dict = field(default_factory=dict)
    seconds: float = 0.0
    best_step: int = 0
    elapsed: float = 0.0


def planned_steps(n_train: int, config) -> int:
    """Optimiser steps a run takes before any time limit: ``config.steps``, capped at ``config.epochs``
    passes over ``n_train`` rows in batches of ``config.batch_size``."""
    batch = max(1, min(config.batch_size, n_train))
    per_epoch = math.ceil(n_train / batch)
    return max(1, min(int(config.steps), int(config.epochs) * per_epoch))


def learning_rate(step: int, total: int, peak: float, schedule: str) -> float:
    """The learning rate of 0-based ``step`` of ``total``: ``onecycle`` warms up linearly over the first
    ``WARMUP_SHARE`` of the steps, then decays along a cosine to zero; ``constant`` is ``peak`` throughout."""
    if schedule == "constant":
        return peak
    warm = max(1, int(round(WARMUP_SHARE * total)))
    if step < warm:
        return peak * (step + 1) / warm
    progress = min(1.0, (step - warm + 1) / max(1, total - warm))
    return peak * 0.5 * (1.0 + math.cos(math.pi * progress))


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"`` → CUDA when available else CPU; ``"cuda"`` without a GPU raises ``ConfigError``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available; use device 'auto' or 'cpu'")
        return torch.device("cuda")
    raise ConfigError(f"unknown device {device!r}; use 'auto', 'cpu' or 'cuda'")


class _LossModule(nn.Module):
    """The learner's modules with its loss as ``forward``: what DistributedDataParallel wraps, since a loss
    function calls the encoder, decoder and heads itself."""

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, xb: torch.Tensor, generator: torch.Generator, **kwargs):
        return self.loss_fn(self.model, xb, generator, **kwargs)


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded split of ``range(n)`` into (train, val) index tensors; val is empty when too few rows."""
    n_val = int(round(n * val_fraction))
    if n_val < 1 or n - n_val < 2:
        n_val = 0
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[n_val:], perm[:n_val]


class _FileRows:
    """A :class:`~product_repr.features.rowfile.RowFile` as the training's X: ``X[rows]`` (a tensor of row
    numbers) reads those rows from the file as a float32 tensor on ``device``."""

    def __init__(self, rows, device: torch.device) -> None:
        self.rows, self.device, self.shape = rows, device, rows.shape

    def __getitem__(self, index: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self.rows[index.cpu().numpy()]).to(self.device)


def _batch_loss(model: nn.Module, X: torch.Tensor, rows: torch.Tensor, loss_fn: LossFn, generator: torch.Generator,
                partners: torch.Tensor | None, precision: str = "float32"):
    """The loss of the batch X[rows]; with ``partners`` (n, k) one random partner of each row is its positive."""
    xb = X[rows.to(X.device)]
    with autocast(X.device.type, precision):
        if partners is None:
            loss, parts = loss_fn(model, xb, generator)
        else:
            pick = torch.randint(0, partners.shape[1], (len(rows),), generator=generator)
            loss, parts = loss_fn(model, xb, generator, positives=X[partners[rows, pick].to(X.device)])
    return loss.float(), {k: v.float() for k, v in parts.items()}


def _mean_loss(model: nn.Module, X: torch.Tensor, rows: torch.Tensor, loss_fn: LossFn, batches: int,
               generator: torch.Generator, partners: torch.Tensor | None, precision: str = "float32"):
    """Row-weighted mean of the loss (and task losses) over X[rows] in ``batches`` slices, without gradients."""
    total, tasks = 0.0, {}
    with torch.no_grad():
        for idx in rows.tensor_split(batches):
            if not len(idx):  # a shard without validation rows adds nothing to the sums
                continue
            loss, parts = _batch_loss(model, X, idx, loss_fn, generator, partners, precision)
            total += float(loss) * len(idx)
            for k, v in parts.items():
                tasks[k] = tasks.get(k, 0.0) + float(v) * len(idx)
    n = len(rows)
    if world()[1] > 1:  # the mean over every process's validation rows
        keys = sorted(tasks)
        n, total, *sums = reduce([n, total] + [tasks[k] for k in keys])
        tasks = dict(zip(keys, sums))
    return total / n, {k: v / n for k, v in tasks.items()}


def train(
    model: nn.Module,
    X: np.ndarray | torch.Tensor,
    *,
    spans: Sequence[Span],
    loss_fn: LossFn,
    config,
    progress: Callable[[TrainingReport], bool | None] | None = None,
    device: str = "auto",
    partners: np.ndarray | None = None,
) -> list[dict]:
    """Train ``model`` in place on X; return the history, one dict per validation check.

    Args:
        model: the learner's modules (moved to ``device``; left there with the best weights loaded).
        X: (n, p) float32 features, finite.
        spans: the spans tiling X (passed for the record; the loss function closes over what it needs).
        loss_fn: ``loss_fn(model, xb, generator) -> (loss, {task: loss})``.
        config: a ``LearnerConfig`` (steps, epochs, schedule, max_seconds, batch_size, learning_rate,
            weight_decay, patience, val_fraction, seed).
        progress: called after each check with a :class:`TrainingReport`; returning True stops training.
        device: "auto", "cpu" or "cuda".
        partners: optional (n, k) int row indices into X (e.g. each row's nearest neighbours); each batch
            row then gets one of its partners, drawn at random, as ``positives``.

    Returns:
        list of dicts with keys step, epoch, train_loss, val_loss (None without a validation split),
        seconds, lr, and one ``<task>_loss`` key per task loss.

    Raises:
        TrainingError: fewer than 2 rows, or the loss became NaN/inf.
        ConfigError: device "cuda" without a GPU.
    """
    rank, size = world()
    dev = resolve_device(device)
    if size > 1 and dev.type == "cuda":
        dev = torch.device("cuda", torch.cuda.current_device())  # this process's GPU (set by its launcher)
    from product_repr.features.rowfile import RowFile

    if isinstance(X, RowFile):
        X = _FileRows(X, dev)  # a big table's X on disk: each batch's rows are read when it is taken
    else:
        X = torch.as_tensor(np.asarray(X, dtype=np.float32)) if not isinstance(X, torch.Tensor) else X.float()
    n = X.shape[0]
    if min(reduce([n], "min")) < 2:
        raise TrainingError(f"training needs at least 2 rows{' in every shard' if size > 1 else ''}, got {n}; "
                            "load more products")
    if partners is not None:
        partners = torch.as_tensor(np.asarray(partners, dtype=np.int64))
        if partners.ndim != 2 or partners.shape[0] != n or partners.shape[1] < 1:
            raise ConfigError(f"partners must be (n, k) = ({n}, k >= 1) row indices, got shape {tuple(partners.shape)}")
    seed = config.seed + rank * RANK_SEED_OFFSET  # rank 0 draws what a single process draws
    train_idx, val_idx = split_rows(n, config.val_fraction, seed)
    X = X if isinstance(X, _FileRows) else X.to(dev)
    n_train, n_val = len(train_idx), len(val_idx)
    all_train, all_val = (int(v) for v in reduce([n_train, n_val]))
    # a step takes the rows one process would take, split over the processes
    batch = min(max(1, math.ceil(min(config.batch_size, all_train) / size)), n_train)
    n_batches = math.ceil(n_train / batch)
    val_batches = max(1, math.ceil(n_val / min(config.batch_size, all_train)))  # batches as one process has
    total = planned_steps(all_train, config)
    check_every = max(1, math.ceil(total / CHECKS))

    model.to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)
    gen = torch.Generator().manual_seed(seed)  # batch order, partners, corruption and dropout masks
    step_loss = loss_fn
    if size > 1:  # gradients averaged over the processes at every backward pass
        from torch.nn.parallel import DistributedDataParallel

        wrapped = DistributedDataParallel(_LossModule(model, loss_fn),
                                          device_ids=[dev.index] if dev.type == "cuda" else None,
                                          find_unused_parameters=False)  # learners build only the heads they use

        def step_loss(_model, xb, generator, **kwargs):
            return wrapped(xb, generator, **kwargs)

    history: list[dict] = []
    best_loss, best_step, best_state, since_best = math.inf, 0, None, 0
    start = last_check = time.perf_counter()
    order: list[torch.Tensor] = []  # the batches of the current pass, consumed from the front
    step = 0
    running = torch.zeros((), device=dev)
    task_running: dict[str, torch.Tensor] = {}
    steps_since = 0
    with bind_generator(model, gen):  # the model's Dropout layers draw from gen too
        model.train()
        while step < total:
            if not order:  # a new pass: equal-sized slices of one shuffled permutation, no tiny last batch
                order = list(train_idx[torch.randperm(n_train, generator=gen)].tensor_split(n_batches))
            idx = order.pop(0)
            lr = learning_rate(step, total, config.learning_rate, config.schedule)
            for group in opt.param_groups:
                group["lr"] = lr
            loss, parts = _batch_loss(model, X, idx, step_loss, gen, partners, config.precision)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, MAX_GRAD_NORM)
            opt.step()
            step += 1
            steps_since += 1
            running += loss.detach()
            for k, v in parts.items():
                task_running[k] = task_running.get(k, 0.0) + v.detach()
            if step % check_every and step < total:
                continue

            # -- a validation check: losses, best weights, progress, early stop, time budget --
            keys = sorted(task_running)
            train_loss, *task_values = (v / size for v in reduce(  # one device sync per check
                [float(running) / steps_since] + [float(task_running[k]) / steps_since for k in keys]))
            if not math.isfinite(train_loss):
                raise TrainingError(
                    f"loss became {train_loss} at step {step}; lower the learning rate (now {config.learning_rate}) "
                    "or check the input for extreme values"
                )
            task_losses = dict(zip(keys, task_values))
            running, task_running, steps_since = torch.zeros((), device=dev), {}, 0
            val_loss = None
            if all_val:
                model.eval()
                val_gen = torch.Generator().manual_seed(config.seed + VAL_SEED_OFFSET)
                val_loss, _ = _mean_loss(model, X, val_idx, loss_fn, val_batches, val_gen, partners,
                                         config.precision)
                model.train()
                if not math.isfinite(val_loss):
                    raise TrainingError(
                        f"validation loss became {val_loss} at step {step}; lower the learning rate "
                        f"(now {config.learning_rate}) or check the input for extreme values"
                    )
            watched = train_loss if val_loss is None else val_loss
            if watched < best_loss:
                best_loss, best_step, since_best = watched, step, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                since_best += 1

            now = time.perf_counter()
            seconds, elapsed = now - last_check, now - start
            last_check = now
            epoch = round(step / n_batches, 3)
            row = {"step": step, "epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": seconds,
                   "lr": lr}
            row.update({f"{k}_loss": v for k, v in task_losses.items()})
            history.append(row)
            stop = False
            if progress is not None:
                stop = bool(progress(TrainingReport(step, total, epoch, train_loss, val_loss, task_losses, seconds,
                                                    best_step, elapsed)))
            stop = bool(reduce([stop], "max")[0])  # one process asked to stop: all stop
            if stop or since_best >= config.patience:
                break
            if config.max_seconds and step < total:
                # shrink the run so it ends within the time budget; the schedule follows the new length
                per_step = elapsed / step
                fit = int(reduce([step + max(0, int((config.max_seconds - elapsed) / per_step))], "min")[0])
                if fit < total:
                    total = max(step + 1, fit)
                    check_every = max(1, math.ceil(total / CHECKS))

    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    return history
