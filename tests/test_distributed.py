"""Training across processes (``torchrun`` + DDP, gloo on CPU) against one process on the same data."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp

from product_repr import cli, distributed
from product_repr.data import demo
from product_repr.data.tables import read_rows, read_table
from product_repr.errors import TableError
from product_repr.learners.losses import margin_contrastive, nt_xent
from product_repr.runs import load_run


def test_shards_cover_every_row_once_in_order():
    for n, size in [(10, 2), (11, 3), (2, 2), (1001, 4)]:
        bounds = [distributed.shard(n, r, size) for r in range(size)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_a_shard_reads_as_the_same_rows_of_the_whole_table(tmp_path, suffix):
    df = pd.DataFrame({"id": [f"A{i}" for i in range(1000)], "code": [f"{i:05d}" for i in range(1000)],
                       "price": np.linspace(1, 99, 1000), "title": [f"thing {i % 7}" for i in range(1000)]})
    path = tmp_path / f"t.{suffix}"
    df.to_parquet(path, row_group_size=128) if suffix == "parquet" else df.to_csv(path, index=False)
    whole = read_table(path)
    text = [c for c in whole.columns if not pd.api.types.is_numeric_dtype(whole[c])]
    for start, stop in [(0, 1), (120, 300), (127, 129), (990, 1000), (0, 1000)]:
        pd.testing.assert_frame_equal(read_rows(path, start, stop, text_columns=text),
                                      whole.iloc[start:stop].reset_index(drop=True))
    with pytest.raises(TableError, match="rows 900:1,100 are not in 't"):
        read_rows(path, 900, 1100)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LOSSES = {"ntxent": lambda a, b: nt_xent(a, b, temperature=0.5), "margin": margin_contrastive}
SPLITS = {"equal": [(0, 5), (5, 10)], "unequal": [(0, 6), (6, 10)]}


def _split_loss(rank: int, size: int, port: int, z1: torch.Tensor, z2: torch.Tensor, out) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
    try:
        torch.set_num_threads(1)
        results = {}
        for split, rows in SPLITS.items():
            lo, hi = rows[rank]
            for name, fn in LOSSES.items():
                a, b = z1[lo:hi].clone().requires_grad_(), z2[lo:hi].clone().requires_grad_()
                loss = fn(a, b)
                loss.backward()
                # numpy, not tensors: a tensor would travel through shared memory that ends with this process
                results[split, name] = (loss.item(), a.grad.numpy().copy(), b.grad.numpy().copy())
        out.put((rank, results))
    finally:
        dist.destroy_process_group()


def test_contrastive_losses_over_processes_see_every_row_of_the_step():
    """A step's 10 rows held by two processes: every other row of the step is a negative in each process's
    loss, so their row-weighted mean is the one-process loss, and with equal shares each row's gradient
    (summed over the processes, then averaged by DDP over the 2) is its one-process gradient."""
    g = torch.Generator().manual_seed(0)
    z1, z2 = torch.randn(10, 6, generator=g), torch.randn(10, 6, generator=g)
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_split_loss, args=(r, 2, port, z1, z2, out)) for r in range(2)]
    for p in procs:
        p.start()
    got = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for name, fn in LOSSES.items():
        a, b = z1.clone().requires_grad_(), z2.clone().requires_grad_()
        whole = fn(a, b)
        whole.backward()
        for split, rows in SPLITS.items():
            mean = sum(got[r][split, name][0] * (hi - lo) for r, (lo, hi) in enumerate(rows)) / 10
            assert mean == pytest.approx(whole.item(), rel=1e-5), (split, name)
        for r, (lo, hi) in enumerate(SPLITS["equal"]):
            _, grad_a, grad_b = got[r]["equal", name]
            np.testing.assert_allclose(grad_a / 2, a.grad[lo:hi].numpy(), atol=1e-6, err_msg=name)
            np.testing.assert_allclose(grad_b / 2, b.grad[lo:hi].numpy(), atol=1e-6, err_msg=name)


def _torchrun(args: list[str], cwd, env, timeout: int = 600) -> subprocess.CompletedProcess:
    """``torchrun --nproc-per-node 2 -m product_repr ARGS``, run once."""
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                           "--master-port", str(_free_port()), "-m", "product_repr", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_torchrun_two_processes_train_a_run_as_good_as_one_process(tmp_path):
    df = demo.make_catalog(rows=1200, seed=3).table
    table = tmp_path / "catalog.parquet"
    df.to_parquet(table, row_group_size=250)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    # TF-IDF texts: the sentence model's load and encoding in each process would double this test's time
    common = ["train", str(table), "--label", "subcategory", "--exclude", "category", "--steps", "150", "--quiet",
              "--feature", "text_encoder=tfidf"]
    done = _torchrun(common + ["--out", str(tmp_path / "two")], tmp_path, env)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)  # rank 0 alone prints
    assert summary["processes"] == 2 and summary["rows"] == 1200 and summary["steps_trained"] == 150
    assert cli.main([*common, "--out", str(tmp_path / "one")]) == 0  # one process, the same command

    two_run, one_run = load_run(tmp_path / "two"), load_run(tmp_path / "one")
    assert two_run.info["distributed"] == {"processes": 2, "backend": "gloo", "shard_rows": [600, 600],
                                           "fit_rows": 1200}
    assert list(two_run.product_ids) == list(one_run.product_ids)  # every product, in table order
    assert two_run.embeddings.shape == one_run.embeddings.shape
    assert np.isfinite(two_run.embeddings).all()
    assert two_run.projection is not None and two_run.anomalies is not None and two_run.duplicates is not None
    # the same feature space: fitted on the same rows
    assert two_run.feature_space.feature_names == one_run.feature_space.feature_names
    two_q = two_run.metrics["knn_precision@10"]["model"]
    one_q = one_run.metrics["knn_precision@10"]["model"]
    assert two_q > two_run.metrics["knn_precision@10"]["raw"] - 0.02
    assert abs(two_q - one_q) < 0.03, (two_q, one_q)
    last_two, last_one = two_run.history.iloc[-1], one_run.history.iloc[-1]
    for task in ("reconstruction_loss", "mask_loss", "contrastive_loss", "train_loss"):
        assert last_two[task] == pytest.approx(last_one[task], rel=0.05), task


@pytest.mark.parametrize("rows, message", [
    ("", "error: 'bad.csv' has a header but no rows"),
    ("1,2\n3,4\n3,5\n", "error: 3 rows cannot be shared by 2 processes (each needs 2); train it in one process"),
])
def test_torchrun_stops_every_process_on_bad_input(tmp_path, rows, message):
    (tmp_path / "bad.csv").write_text("a,b\n" + rows)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    # both processes end within the timeout: the other one is told and stops too, instead of waiting for rank 0
    # (torchrun may end it first once rank 0 has failed, so its own message is not always printed)
    done = _torchrun(["train", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "r"), "--quiet"], tmp_path, env,
                     timeout=180)
    assert done.returncode != 0
    assert message in done.stderr
    assert not (tmp_path / "r").exists()


def _gather(rank: int, size: int, port: int, folder: str, out) -> None:
    import torch.distributed as dist

    from product_repr.features import rowfile

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=size)
    try:
        rowfile.CHUNK_BYTES = 1  # blocks of the least rows (1,000): several per share
        total = 5_001
        whole = np.arange(total * 8, dtype=np.float32).reshape(total, 8)
        lo, hi = distributed.shard(total, rank, size)
        on_file = distributed.gather_rows(whole[lo:hi], total, to_file=True, folder=folder if rank == 0 else None)
        in_memory = distributed.gather_rows(whole[lo:hi], total)
        if rank == 0:
            out.put((rank, type(on_file).__name__, on_file[:], in_memory))
        else:
            out.put((rank, on_file, None, in_memory))
    finally:
        dist.destroy_process_group()


def test_the_shares_of_a_big_table_reach_process_0_whole_in_a_file_or_in_memory(tmp_path):
    """Rank 0 gets every process's rows in rank order: written block by block into a RowFile (a big table) or
    as one array; the other processes get None."""
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    port = _free_port()
    procs = [ctx.Process(target=_gather, args=(r, 2, port, str(tmp_path), out)) for r in range(2)]
    for p in procs:
        p.start()
    got = {r: rest for r, *rest in (out.get(timeout=120) for _ in procs)}
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    whole = np.arange(5_001 * 8, dtype=np.float32).reshape(5_001, 8)
    kind, on_file, in_memory = got[0]
    assert kind == "RowFile" and (tmp_path / "X.npy").exists()
    np.testing.assert_array_equal(on_file, whole)
    np.testing.assert_array_equal(in_memory, whole)
    assert got[1] == [None, None, None]
