"""Which table, and which products: content hashes of a table and of its columns, and each row's product id.

``run.json`` records the hashes of the table a run was made on (``data.sha256``, ``data.columns_sha256``),
so ``runs.align`` can tell that very table from a new version of it and from another catalog.
"""
from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from product_repr.data.schema import Schema


def table_sha256(df: pd.DataFrame) -> str:
    """A content hash of a table (values and column names), stable across processes."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, df.columns)).encode())
    digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def column_sha256(df: pd.DataFrame) -> dict[str, str]:
    """A short content hash (16 hex digits) of each column's values, in row order: {column: hash}.

    Recorded in run.json so ``runs.align`` can tell a different version of a run's catalog (some columns
    changed) from another catalog that happens to use the same product ids.
    """
    return {str(c): hashlib.sha256(pd.util.hash_pandas_object(df[c], index=False).to_numpy().tobytes()).hexdigest()[:16]
            for c in df.columns}


def product_ids(df: pd.DataFrame, schema: Schema) -> np.ndarray:
    """The id of every row as strings: the schema's id column, else the row number.

    Duplicate ids are made unique (``"A17"``, ``"A17#2"``) so every product has
    one entry in neighbours and projections.
    """
    column = schema.id_column
    if column is None or column not in df.columns:
        return np.array([str(i) for i in range(len(df))], dtype=object)
    raw = df[column].astype("string").fillna("").str.strip().to_numpy(dtype=object)
    raw = np.where(raw == "", [f"row{i}" for i in range(len(raw))], raw)
    seen: dict[str, int] = {}
    out = []
    for value in raw:
        count = seen.get(value, 0) + 1
        seen[value] = count
        out.append(value if count == 1 else f"{value}#{count}")
    return np.array(out, dtype=object)
