"""The catalog a user works on: a table, its column roles and their choices; loaded from the demo or a file.

Not a page. The label's default exclusions come from the core (``data.leakage.label_exclusions``), the
same rule ``pipeline.build_run`` applies for the command line.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:  # imported lazily at run time so a page opens before torch/umap load
    from product_repr.data.schema import Schema

DEMO_NAME = "demo catalog"
DEMO_LABEL = "category"
MAX_ROWS = 200_000
MAX_UPLOAD_MB = 200  # keep equal to server.maxUploadSize in .streamlit/config.toml


def demo_rows() -> int:
    """Rows of the built-in demo catalog: 2,000, or ``$PRODUCT_REPR_DEMO_ROWS`` (tests use a few hundred)."""
    try:
        return max(50, int(os.environ.get("PRODUCT_REPR_DEMO_ROWS", "2000")))
    except ValueError:
        return 2000


@dataclass
class CatalogState:
    """The catalog a user works on: the table, its column roles and their choices of label/colour/exclusions.

    ``sha256`` is ``data.fingerprint.table_sha256(df)``; ``truth`` is the demo catalog's planted truth (None for uploads).
    """

    name: str
    df: pd.DataFrame
    schema: "Schema"
    label: str | None = None
    colour: str | None = None
    exclude: list[str] = field(default_factory=list)
    sha256: str = ""
    truth: dict | None = None


def make_catalog(df: pd.DataFrame, name: str, *, label: str | None = None, truth: dict | None = None,
                 exclude: Sequence[str] | None = None) -> CatalogState:
    """A :class:`CatalogState` for ``df`` with inferred roles; by default the label and its named twins are
    excluded (``label_exclusions``). Raises ProductReprError (e.g. SchemaError) when no role can be inferred.
    """
    from product_repr.data.leakage import label_exclusions
    from product_repr.data.schema import infer_schema
    from product_repr.data.fingerprint import table_sha256

    schema = infer_schema(df)
    if label is not None and label not in df.columns:
        label = None
    if exclude is None:
        exclude = label_exclusions(df, label, schema=schema)
    exclude = [c for c in dict.fromkeys(exclude) if c in df.columns]
    return CatalogState(name=name, df=df, schema=schema, label=label, colour=label, exclude=list(exclude),
                        sha256=table_sha256(df), truth=truth)


def _truth_dict(truth: Any) -> dict | None:
    if truth is None or isinstance(truth, dict):
        return truth
    for attr in ("to_dict", "as_dict"):
        if hasattr(truth, attr):
            return getattr(truth, attr)()
    try:
        return dataclasses.asdict(truth)
    except TypeError:
        return {"truth": truth}


def load_demo(rows: int | None = None, seed: int = 0) -> CatalogState:
    """The built-in demo catalog (``product_repr.data.demo.make_catalog``) with label "category"."""
    from product_repr.data import demo

    catalog = demo.make_catalog(rows=rows or demo_rows(), seed=seed)
    df = getattr(catalog, "table", catalog)
    df.attrs.setdefault("source", DEMO_NAME)
    label = DEMO_LABEL if DEMO_LABEL in df.columns else None
    return make_catalog(df, f"{DEMO_NAME} ({len(df):,} rows, seed {seed})", label=label,
                        truth=_truth_dict(getattr(catalog, "truth", None)))


def load_upload(file: Any, *, max_rows: int = MAX_ROWS, sample: bool = False) -> CatalogState:
    """Read an uploaded file (anything with ``.name`` and ``.read``) into a catalog; no label chosen. With
    ``sample`` a file longer than ``max_rows`` gives a seeded random sample of its rows, not the first ones.

    Raises ProductReprError (TableError, SchemaError) with the reason and the way out.
    """
    from product_repr.data.tables import read_table

    df = read_table(file, max_rows=max_rows, sample=sample)
    return make_catalog(df, str(getattr(file, "name", "upload")))
