"""Training one run across several processes with ``torch.distributed``, launched by ``torchrun``.

``torchrun --nproc-per-node 2 -m product_repr train catalog.parquet --out runs/big`` starts two processes (on
one machine or, with ``--nnodes``, on several); each runs the CLI's ``train``, which sees the launcher's
environment (``RANK``, ``WORLD_SIZE``) and calls :func:`train_table` instead of the single-process pipeline:

1. rank 0 reads the table, infers the schema, decides the input columns and fits the feature space (on a
   seeded random :data:`product_repr.pipeline.FIT_ROWS` of the rows when there are more), and sends the fitted space to the others;
2. every process encodes its own contiguous shard of the rows (a Parquet file is read only for those rows);
3. every process trains the same learner on its shard through ``DistributedDataParallel``
   (``learners.training``): gradients averaged at every step, the same steps and weights in all;
4. every process encodes its shard; rank 0 gathers the embeddings and encoded features (above
   :data:`product_repr.pipeline.FILE_ROWS` rows into a temporary file, a block at a time: :func:`gather_rows`),
   runs the analysis (neighbours, map, reconstruction, odd products, duplicates, metrics) and writes the run
   directory.

The backend is gloo on CPU and nccl on CUDA. Each process of a CPU machine takes its share of the cores.
What differs from one process: a learner whose positives are nearest neighbours finds them within its own
shard, and a contrastive loss draws its in-batch negatives from its own part of each step's rows.
"""
from __future__ import annotations

import datetime
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from product_repr.errors import ProductReprError, TableError


def launched() -> bool:
    """Whether this process was started by ``torchrun`` (or another launcher setting the same environment)
    as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1") or 1) > 1 and "RANK" in os.environ


def threads_per_process() -> int:
    """CPU threads for one of the ``LOCAL_WORLD_SIZE`` processes sharing this machine's cores."""
    from product_repr.compute import cpu_count

    return max(1, cpu_count() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1)))


def shard(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``start, stop`` of process ``rank`` of ``size``: contiguous, in table order, sizes within one."""
    return rank * n // size, (rank + 1) * n // size


#: how long a process of the group waits for the others at a collective step (rank 0's analysis of a big table
#: can take more than torch's default of 30 minutes)
GROUP_HOURS = 12


class process_group:
    """The process group for the length of a ``with``: gloo on CPU, nccl (one GPU per local rank) on CUDA."""

    def __init__(self, device: str) -> None:
        self.device = device

    def __enter__(self):
        import torch
        import torch.distributed as dist

        from product_repr.learners.training import resolve_device

        cuda = resolve_device(self.device).type == "cuda"
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            # the other processes wait for rank 0's analysis at the end (leave_together): no 30-minute limit
            dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(hours=GROUP_HOURS))
            self.owned = True
        else:
            self.owned = False
        return self

    def __exit__(self, *exc) -> None:
        import torch.distributed as dist

        if self.owned and dist.is_initialized():
            dist.destroy_process_group()


def leave_together() -> None:
    """Wait until every process of the group gets here (rank 0 after writing the run, the others after handing
    over their shares), so none tears its connections down while another still works."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.barrier()


def _agree(error: ProductReprError | None) -> None:
    """Raise in every process when one of them failed (naming the first failure), so no process waits for a
    partner that has given up."""
    import torch.distributed as dist

    from product_repr.learners.group import world

    rank, size = world()
    said: list = [None] * size
    dist.all_gather_object(said, None if error is None else (type(error).__name__, str(error)))
    if error is not None:
        raise error
    for r, failure in enumerate(said):
        if failure is not None:
            raise ProductReprError(f"process {r} stopped: {failure[1]}")


def train_table(
    path: str,
    *,
    learner: str,
    config: Any = None,
    exclude: Iterable[str] = (),
    label: str | None = None,
    keep_twins: bool = False,
    roles: Mapping[str, str] | None = None,
    features: Mapping[str, Any] | None = None,
    max_rows: int | None = None,
    device: str = "auto",
    name: str | None = None,
    progress=None,
    on_stage: Callable[[str], None] | None = None,
    k: int = 10,
    check: Callable[[], None] | None = None,
):
    """Train ``learner`` on the table at ``path`` in this process's share of a process group (see the module
    text): the finished :class:`~product_repr.runs.Run` in rank 0, None in the others. Settings as
    :func:`product_repr.pipeline.build_run`; ``progress``, ``on_stage`` and ``check`` (e.g. that the run's
    folder is free; it may raise a ProductReprError) are called in rank 0 only, ``check`` before any work.

    Raises ProductReprError subclasses in every process when any of them meets bad data or settings.
    """
    import torch.distributed as dist

    from product_repr import learners, pipeline
    from product_repr.data.schema import infer_schema
    from product_repr.data.tables import read_rows, read_table
    from product_repr.features.space import FeatureSpace
    from product_repr.learners.group import world

    rank, size = world()
    say = (on_stage or (lambda message: None)) if rank == 0 else (lambda message: None)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    sent: list = [None]
    if rank == 0:
        try:
            if check is not None:
                check()
            df = read_table(path, max_rows=max_rows)
            schema = infer_schema(df)
            if roles:
                schema = schema.with_roles(roles)
            plan = pipeline.plan_inputs(df, schema, learner=learner, config=config, exclude=exclude, label=label,
                                        keep_twins=keep_twins, features=features, stage=say)
            if len(df) < 2 * size:
                raise TableError(f"{len(df)} rows cannot be shared by {size} processes (each needs 2); "
                                 "train it in one process")
            say(f"Fitting the feature space on {min(len(df), pipeline.FIT_ROWS):,} of {len(df):,} rows")
            space = FeatureSpace(schema, exclude=plan.dropped, **plan.features)
            space.fit(df.iloc[pipeline.draft_rows(len(df), pipeline.FIT_ROWS)])
            text = [str(c) for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
            sent = [{"rows": len(df), "space": space.to_dict(), "config": plan.config, "text_columns": text}]
        except ProductReprError as err:
            sent = [{"error": (type(err).__name__, str(err))}]
            dist.broadcast_object_list(sent, src=0)
            raise
    dist.broadcast_object_list(sent, src=0)
    got = sent[0]
    if "error" in got:
        raise ProductReprError(f"process 0 stopped: {got['error'][1]}")
    start, stop = shard(got["rows"], rank, size)
    failure = None
    try:
        if rank != 0:
            space = FeatureSpace.from_dict(*got["space"])
            part = read_rows(path, start, stop, text_columns=got["text_columns"])
        else:
            part = df.iloc[start:stop]
        say(f"Encoding features: {stop - start:,} rows in each of {size} processes")
        X = space.transform(part)
    except ProductReprError as err:
        failure = err
    _agree(failure)
    timings["features_s"] = time.perf_counter() - t0

    say(f"Training {learner} in {size} processes")
    t0 = time.perf_counter()
    model = learners.get(learner)(got["config"]).fit(X, spans=space.spans, progress=progress if rank == 0 else None,
                                                     device=device)
    timings["train_s"] = time.perf_counter() - t0
    Z = model.encode(X)
    parts: list | None = [None] * size if rank == 0 else None
    dist.gather_object(Z, parts, dst=0)
    # a big table's encoded features reach rank 0 a block at a time, into a temporary file (as in one process)
    on_file = got["rows"] > pipeline.FILE_ROWS
    files = tempfile.TemporaryDirectory(prefix="product_repr-features-") if on_file and rank == 0 else nullcontext()
    with files as folder:
        X = gather_rows(X, got["rows"], to_file=on_file, folder=folder)
        if rank != 0:
            return None
        Z = np.concatenate(parts)
        run = pipeline.assemble_run(df, schema, plan, model=model, feature_space=space, embeddings=Z,
                                    timings=timings, name=name, source=str(path))
        run.info["distributed"] = {"processes": size, "backend": dist.get_backend(),
                                   "shard_rows": [b - a for a, b in (shard(len(df), r, size) for r in range(size))],
                                   "fit_rows": int(min(len(df), pipeline.FIT_ROWS))}
        pipeline.analyse(run, df, X, label=label, k=k, on_stage=say)
        return run


def gather_rows(X: np.ndarray, total: int, *, to_file: bool = False, folder: str | None = None):
    """Every process's share ``X`` of a table's ``total`` rows, in rank order, in rank 0: one array, or with
    ``to_file`` (the same in every process) a :class:`~product_repr.features.rowfile.RowFile` in rank 0's
    ``folder``, written a block of about 64 MB at a time as the shares arrive, so rank 0 holds its own share
    and one block, never the whole. None in the other processes."""
    import torch.distributed as dist

    from product_repr.features.rowfile import RowFile, chunk_rows
    from product_repr.learners.group import world

    rank, size = world()
    if not to_file:
        parts: list | None = [None] * size if rank == 0 else None
        dist.gather_object(X, parts, dst=0)
        return np.concatenate(parts) if rank == 0 else None
    rows = chunk_rows(X.shape[1])
    if rank != 0:
        for lo in range(0, len(X), rows):
            dist.send_object_list([np.ascontiguousarray(X[lo:lo + rows])], dst=0)
        return None

    def blocks():
        for lo in range(0, len(X), rows):
            yield X[lo:lo + rows]
        for r in range(1, size):
            start, stop = shard(total, r, size)
            got = 0
            while got < stop - start:
                box: list = [None]
                dist.recv_object_list(box, src=r)
                got += len(box[0])
                yield box[0]

    return RowFile.write(Path(folder) / "X.npy", total, blocks())
