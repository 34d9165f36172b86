"""New products placed in a saved run on a Ray cluster, with Ray Data: ``embed`` for tables too big for one
machine's day.

``product-repr embed RUN new.parquet --out placed/ --ray [ADDRESS]`` reads the new products as a Ray dataset,
places each batch in the run with :func:`product_repr.placing.place` inside actors that load the run once
(``map_batches`` with :class:`RunPlacer`), and writes a folder of Parquet files with the layout of ``embed
--out``. Without an address Ray starts a local cluster on this machine; ``--ray auto`` joins the cluster this
machine belongs to. Every worker needs ``pip install product-repr[ray]`` and the run directory at the same
path (a shared file system), and reads the table from a path every worker can reach.

The products need the run's id column: a batch has no row numbers of the whole table to name products by.
Catalog matches (``already_in_catalog``) need the run's encoded catalog in every actor and are left to the
single-process ``embed``.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from product_repr.errors import ConfigError, RunError

#: rows per batch handed to an actor: large enough for the encoder's matrix products, small enough to stream
BATCH_ROWS = 4096


def _ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as err:
        raise ConfigError("Ray is not installed: pip install 'product-repr[ray]' (on every machine of the "
                          "cluster), or run embed without --ray") from err
    return ray


class RunPlacer:
    """A Ray Data actor: loads the run once, then places each pandas batch of new products in it."""

    def __init__(self, run_dir: str, k: int) -> None:
        from product_repr.compute import use_cpu_threads
        from product_repr.runs import load_run

        use_cpu_threads(1)  # the actor holds one CPU
        self.run = load_run(run_dir)
        self.k = k

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        from product_repr import placing

        table = placing.place(self.run, batch.reset_index(drop=True), k=self.k).table()
        # Arrow needs one type per column: ids as text, booleans and numbers as they are
        return table.astype({c: "string" for c in table.columns if table[c].dtype == object})


def check_ids(run, columns) -> str:
    """The run's id column, when the new table has it; RunError naming the way out otherwise."""
    column = run.schema.id_column
    if column is None:
        raise RunError(f"run {run.name!r} has no id column, so products placed in batches cannot be named; place "
                       "them without --ray, or train the run on a table with an id column")
    if column not in columns:
        raise RunError(f"the new table has no {column!r} column, the run's product ids; add it (batches have no "
                       "row numbers of the whole table to name products by), or place them without --ray")
    return column


def _kind(table: str) -> str:
    path = Path(table)
    name = path.name.lower()
    if path.is_dir() or name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    raise RunError(f"'{path.name}' is neither Parquet nor CSV; --ray reads those (a file or a folder of Parquet "
                   "files); convert it, or place it without --ray")


def columns(table: str) -> list[str]:
    """The column names of the new table, read from its Parquet schema or CSV header (before Ray starts)."""
    kind = _kind(table)
    try:
        if kind == "parquet":
            import pyarrow.dataset as ds

            return list(ds.dataset(table, format="parquet").schema.names)
        return [str(c) for c in pd.read_csv(table, nrows=0).columns]
    except (OSError, ValueError) as err:
        raise RunError(f"cannot read the columns of '{Path(table).name}' ({err}); check the path") from err


def read_dataset(table: str):
    """The new products as a Ray dataset: Parquet (a file or a folder of files) or CSV, read by Ray's readers."""
    kind = _kind(table)
    ray = _ray()
    return ray.data.read_parquet(str(table)) if kind == "parquet" else ray.data.read_csv(str(table))


def place_dataset(run_dir: str, dataset, *, k: int, workers: int = 2, batch_rows: int = BATCH_ROWS):
    """``dataset``'s products placed in the run at ``run_dir`` by ``workers`` actors: a Ray dataset in the
    layout of ``embed --out`` (product_id, nearest, similarity, errors, neighbours, e0..)."""
    return dataset.map_batches(RunPlacer, fn_constructor_kwargs={"run_dir": str(run_dir), "k": int(k)},
                               batch_format="pandas", batch_size=batch_rows, concurrency=int(workers), num_cpus=1)


def embed(run_dir: str, table: str, out: str, *, k: int, address: str | None = None, workers: int = 2,
          batch_rows: int = BATCH_ROWS) -> int:
    """Place the products of ``table`` in the run at ``run_dir`` on Ray and write them as Parquet files into the
    folder ``out``; returns how many were placed. ``address`` None starts a local Ray on this machine for
    ``workers`` actors; "auto" or ``ray://host:port`` joins a cluster.

    Raises RunError when the table is not Parquet/CSV or lacks the run's id column or a column it encodes,
    ConfigError without Ray.
    """
    from product_repr.runs import load_run

    ray = _ray()
    run = load_run(run_dir)
    names = columns(table)
    check_ids(run, names)
    missing = [c for c in run.feature_space.columns if c not in names]
    if missing:
        raise RunError(f"'{Path(table).name}' lacks {', '.join(map(repr, missing))}, which run {run.name!r} "
                       "encodes; add them with the same names (empty cells are read as missing values)")
    started = not ray.is_initialized()
    if started:  # a local cluster: one CPU per actor and one for reading
        ray.init(address=address, num_cpus=None if address else int(workers) + 1, include_dashboard=False,
                 log_to_driver=False)
    try:
        dataset = read_dataset(table)
        placed = place_dataset(str(Path(run_dir).resolve()), dataset, k=k, workers=workers, batch_rows=batch_rows)
        placed.write_parquet(str(out))
    finally:
        if started:
            ray.shutdown()
    return sum(_rows(p) for p in Path(out).glob("*.parquet"))


def _rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows
