"""Label leakage: columns that give away the label a run is scored against.

A column that (almost) determines the label — a subcategory names its category — lets the embedding "learn"
the answer it is then scored on, and flatters every metric. :func:`taxonomy_twins` finds such columns from
the values; :func:`named_twins` keeps those named after the label (``sub_category``, ``category_l2``,
``category_path`` for ``category_l1``), which are almost surely the same taxonomy; :func:`label_exclusions`
(the label and its named twins) is what both the dashboard and ``pipeline.build_run`` keep out of the input
by default. Other twins (a brand sold in one category only) may be genuine attributes: they are pointed out,
never excluded silently.
"""
from __future__ import annotations

import re

import pandas as pd

from product_repr.data.schema import Role, Schema

#: words too generic to tie a column to a label ("product_name" and "product_type" are not one taxonomy)
GENERIC_WORDS = frozenset({"name", "code", "type", "product", "item", "article"})


def taxonomy_twins(df: pd.DataFrame, label: str | None, *, schema: Schema | None = None,
                   purity: float = 0.98, max_rows: int = 50_000) -> list[str]:
    """Columns that (almost) determine ``label``, in table order.

    A column is a twin when at least ``purity`` of the rows carry their value's most common label, and it has
    at least as many distinct values as the label but is not an id (at most half as many values as rows, or
    as many as the label). With a ``schema``, only categorical columns are considered (a title naturally pins
    down its category). Pure; looks at the first ``max_rows`` rows. A label that is missing from ``df`` or has
    fewer than two values has no twins.
    """
    if label is None or label not in df.columns:
        return []
    sample = df.head(max_rows)
    lab = sample[label].astype("string")
    n_label = lab.nunique(dropna=True)
    if n_label < 2:
        return []
    twins = []
    for col in sample.columns:
        if col == label or (schema is not None and str(col) in schema
                            and schema.role(str(col)) is not Role.CATEGORICAL):
            continue
        values = sample[col].astype("string")
        distinct = values.nunique(dropna=True)
        if distinct < n_label or distinct > max(n_label, len(sample) // 2):
            continue
        pairs = pd.DataFrame({"c": values, "l": lab}).dropna()
        if not len(pairs):
            continue
        majority = pairs.value_counts(["c", "l"]).groupby(level=0).max().sum()
        if majority / len(pairs) >= purity:
            twins.append(str(col))
    return twins


def named_twins(df: pd.DataFrame, label: str | None, *, schema: Schema | None = None) -> list[str]:
    """The :func:`taxonomy_twins` of ``label`` (any role but id) whose names share a word of 4+ letters with it.

    Any role counts, not only categorical: a text column named after the label (``category_path``) leaks it as
    much as a category does. The schema's id column never counts.
    """
    if label is None:
        return []
    words = {w for w in re.split(r"[^a-z]+", label.lower()) if len(w) >= 4 and w not in GENERIC_WORDS}
    ids = set(schema.names(Role.ID)) if schema is not None else set()
    return [t for t in taxonomy_twins(df, label) if t not in ids and any(w in t.lower() for w in words)]


def label_exclusions(df: pd.DataFrame, label: str | None, *, schema: Schema | None = None) -> list[str]:
    """The columns kept out of the input by default when ``label`` is scored: the label and its named twins.

    Empty without a label (or one that is not a column of ``df``).
    """
    if label is None or label not in df.columns:
        return []
    return [label, *[t for t in named_twins(df, label, schema=schema) if t != label]]
