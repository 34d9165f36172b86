"""A table's columns at a glance, and the role changes a person made in that view.

:func:`column_profile` is the table the Data page shows (type, missing share, distinct values, an example,
the inferred role and its reason); :func:`role_changes` reads an edited copy of it back as overrides for
:meth:`Schema.with_roles`.
"""
from __future__ import annotations

import pandas as pd

from product_repr.data.schema import Schema

EXAMPLE_WIDTH = 60


def column_profile(df: pd.DataFrame, schema: Schema | None = None, *, sample: int = 100_000) -> pd.DataFrame:
    """One row per column of ``df``: column, type, missing %, distinct, example (and role, reason with a schema).

    Counts look at the first ``sample`` rows; the example is the first present value, cut to 60 characters.
    """
    part = df.head(sample)
    rows = []
    for col in df.columns:
        s = part[col]
        present = s.dropna()
        example = "" if present.empty else str(present.iloc[0])
        if len(example) > EXAMPLE_WIDTH:
            example = example[: EXAMPLE_WIDTH - 1] + "…"
        row = {
            "column": str(col),
            "type": str(s.dtype),
            "missing %": round(100.0 * float(s.isna().mean()), 1) if len(s) else 0.0,
            "distinct": int(s.astype("string").nunique(dropna=True)),
            "example": example,
        }
        if schema is not None and str(col) in schema:
            row["role"] = schema.role(str(col)).value
            row["reason"] = schema.reason(str(col))
        rows.append(row)
    return pd.DataFrame(rows)


def role_changes(schema: Schema, edited: pd.DataFrame) -> dict[str, str]:
    """The roles in an edited ``column``/``role`` table that differ from ``schema``: {column: role}.

    Rows without a role (a cleared cell) and columns the schema does not know are left out.
    """
    changes = {}
    for col, role in zip(edited["column"], edited["role"]):
        if role is None or pd.isna(role):
            continue
        if str(col) in schema and schema.role(str(col)).value != str(role):
            changes[str(col)] = str(role)
    return changes
