"""The dashboard's caches of heavy pure computations, keyed by content hashes.

Not a page. ``st.cache_data`` holds results per (content, parameters); big arrays travel as ``_underscore``
arguments so Streamlit does not hash them again. ``st.cache_resource`` holds only what is the same for every
user (an index of given content).
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st

if TYPE_CHECKING:
    from pages._catalogs import CatalogState
    from product_repr.runs import Run


def array_hash(a: np.ndarray) -> str:
    """Content hash of an array (dtype, shape and bytes)."""
    a = np.ascontiguousarray(a)
    digest = hashlib.sha256(f"{a.dtype}{a.shape}".encode())
    digest.update(a.tobytes())
    return digest.hexdigest()


def embeddings(run: "Run") -> np.ndarray:
    """The run's embeddings as float32 (n, d)."""
    return np.asarray(run.embeddings, dtype=np.float32)


@st.cache_data(max_entries=32, show_spinner=False)
def _projection(key: str, _Z: np.ndarray, params: tuple) -> Any:
    from product_repr.analysis import projection

    return projection.project(_Z, **dict(params))


def cached_projection(run: "Run", **params: Any):
    """``projection.project(run.embeddings, **params)`` cached per (embeddings content, params).

    Returns a ``projection.Projection`` (coords float32 (n, dims), method, params, note). Raises ConfigError.
    """
    Z = embeddings(run)
    return _projection(array_hash(Z), Z, tuple(sorted(params.items())))


@st.cache_data(max_entries=32, show_spinner=False)
def _neighbours(key: str, _Z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    from product_repr.analysis import neighbours

    return neighbours.all_neighbours(_Z, k)


def cached_neighbours(Z: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine neighbours of every row of ``Z`` (n, d), itself left out: (ids int64 (n, k), sims (n, k))."""
    Z = np.asarray(Z, dtype=np.float32)
    k = max(1, min(int(k), len(Z) - 1))
    return _neighbours(array_hash(Z), Z, k)


def learned_neighbours(run: "Run", k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` neighbours of every product in the run's embedding: the ones the run stores (its top-10,
    ``run.neighbours``) when ``k`` fits, else computed once per content."""
    from product_repr.analysis.neighbours import from_frame

    k = max(1, min(int(k), len(run.product_ids) - 1))
    stored = from_frame(run.neighbours, run.product_ids, k)
    return stored if stored is not None else cached_neighbours(embeddings(run), k)


@st.cache_resource(max_entries=8, show_spinner=False)
def _neighbour_index(key: str, _Z: np.ndarray):
    from product_repr.analysis.neighbours import NeighbourIndex

    return NeighbourIndex(_Z)


def neighbour_index(Z: np.ndarray):
    """A ``neighbours.NeighbourIndex`` of ``Z`` (n, d), built once per content and shared read-only.

    ``st.cache_resource`` (not ``cache_data``): the index holds a faiss object that must not be copied, and an
    index of given content is the same for every user, so sharing it is safe.
    """
    Z = np.asarray(Z, dtype=np.float32)
    return _neighbour_index(array_hash(Z), Z)


@st.cache_data(max_entries=16, show_spinner=False)
def _features(key: str, _run: Any, _table: pd.DataFrame) -> np.ndarray:
    return np.asarray(_run.feature_space.transform(_table), dtype=np.float32)


def features_for(run: "Run", table: pd.DataFrame, table_key: str) -> np.ndarray:
    """``run``'s feature space applied to ``table`` (whose content is named by ``table_key``): X float32 (n, p)."""
    return _features(array_hash(embeddings(run)) + table_key, run, table)


@st.cache_data(max_entries=4, show_spinner="Reconstructing the products…")
def _reconstructed(key: str, _run: Any, _X: np.ndarray) -> np.ndarray:
    return np.asarray(_run.learner.reconstruct(_X), dtype=np.float32)


def reconstructed(run: "Run", X: np.ndarray) -> np.ndarray:
    """The run's reconstruction X̂ float32 (n, p) of its encoded products ``X``."""
    return _reconstructed(array_hash(embeddings(run)) + array_hash(X), run, X)


@st.cache_data(max_entries=16, show_spinner=False)
def _profile(key: str, schema_json: str, _df: pd.DataFrame, _schema: Any) -> pd.DataFrame:
    from product_repr.data.profile import column_profile

    return column_profile(_df, _schema)


def cached_profile(catalog: "CatalogState") -> pd.DataFrame:
    """``data.profile.column_profile`` of the catalog, computed once per (table content, roles)."""
    schema_json = json.dumps(catalog.schema.to_dict(), sort_keys=True, default=str)
    return _profile(catalog.sha256, schema_json, catalog.df, catalog.schema)


@st.cache_data(max_entries=64, show_spinner=False)
def _twins(key: str, label: str | None, roles: tuple, _df: pd.DataFrame, _schema: Any) -> list[str]:
    from product_repr.data.leakage import taxonomy_twins

    return taxonomy_twins(_df, label, schema=_schema)


def cached_twins(catalog: "CatalogState", label: str | None) -> list[str]:
    """``data.leakage.taxonomy_twins`` of ``label`` in the catalog (categorical columns only), cached."""
    roles = tuple((c.name, c.role.value) for c in catalog.schema)
    return _twins(catalog.sha256, label, roles, catalog.df, catalog.schema)
