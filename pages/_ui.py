"""Shared UI helpers for the dashboard's pages (not a page itself: app.py never registers it).

Per-user state lives in ``st.session_state["app"]`` (an :class:`AppState`), a key no widget owns, so it
survives page switches and is never shared between browser tabs. Heavy pure computations are cached with
``st.cache_data`` keyed by a content hash of the embeddings; big arrays travel as ``_underscore`` arguments
so Streamlit does not hash them again.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st

from product_repr.errors import ProductReprError

if TYPE_CHECKING:  # imported lazily at run time so a page opens before torch/umap load
    from product_repr.runs import Run
    from product_repr.data.schema import Schema

log = logging.getLogger("product_repr.app")

ROOT = Path(__file__).resolve().parent.parent  # the folder holding app.py
STATE_KEY = "app"
DEEP_LINK_KEY = "app.deep_link"
DEMO_NAME = "demo catalog"
DEMO_LABEL = "category"
DEMO_EXCLUDE = ("category", "subcategory")
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

    ``sha256`` is a content hash of ``df``; ``truth`` is the demo catalog's planted truth (None for uploads).
    """

    name: str
    df: pd.DataFrame
    schema: "Schema"
    label: str | None = None
    colour: str | None = None
    exclude: list[str] = field(default_factory=list)
    sha256: str = ""
    truth: dict | None = None


@dataclass
class AppState:
    """One browser session's state: the catalog, the runs trained or opened (in order), the active run."""

    catalog: CatalogState | None = None
    runs: dict[str, "Run"] = field(default_factory=dict)
    active: str | None = None
    # the table each run was trained on (rows aligned with run.product_ids), by run name
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    # the label each run was evaluated against (for colouring and agreement), by run name
    labels: dict[str, str | None] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------------------
# Catalogs


def table_hash(df: pd.DataFrame) -> str:
    """Content hash of a table (values and column names); the same function the pipeline writes to run.json."""
    try:
        from product_repr.pipeline import table_sha256

        return table_sha256(df)
    except ImportError:  # pragma: no cover - pipeline always ships with the package
        digest = hashlib.sha256("\x1f".join(map(str, df.columns)).encode())
        digest.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
        return digest.hexdigest()


def taxonomy_twins(df: pd.DataFrame, label: str | None, *, schema: "Schema | None" = None,
                   purity: float = 0.98, max_rows: int = 50_000) -> list[str]:
    """Columns that (almost) determine ``label``, e.g. a subcategory names its category: learning from them
    leaks the label into the embedding that is scored against it.

    A column is a twin when at least ``purity`` of the rows carry their value's most common label, and it has
    at least as many distinct values as the label but is not an id (at most half as many values as rows).
    With a ``schema``, only categorical columns are considered (a title naturally pins down its category).
    Pure; looks at the first ``max_rows`` rows.
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
        if col == label or (schema is not None and str(col) in schema.names()
                            and _role_value(schema.role(str(col))) != "categorical"):
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


def named_twins(df: pd.DataFrame, label: str | None, *, schema: "Schema | None" = None) -> list[str]:
    """The :func:`taxonomy_twins` of ``label`` whose names share a word with it (``sub_category``,
    ``category_l2``, ``category_path`` for ``category_l1``): almost surely the same taxonomy, excluded by default.
    """
    if label is None:
        return []
    generic = {"name", "code", "type", "product", "item", "article"}
    words = {w for w in re.split(r"[^a-z]+", label.lower()) if len(w) >= 4 and w not in generic}
    # any role but id: a text column named after the label (category_path) leaks it as much as a category
    ids = set(schema.names(schema.role(schema.id_column))) if schema is not None and schema.id_column else set()
    return [t for t in taxonomy_twins(df, label) if t not in ids and any(w in t.lower() for w in words)]


def make_catalog(df: pd.DataFrame, name: str, *, label: str | None = None, truth: dict | None = None,
                 exclude: Sequence[str] | None = None) -> CatalogState:
    """A :class:`CatalogState` for ``df`` with inferred roles; the label (if any) and its twins are excluded.

    Raises ProductReprError (e.g. SchemaError) when no role can be inferred.
    """
    from product_repr.data.schema import infer_schema

    schema = infer_schema(df)
    if label is not None and label not in df.columns:
        label = None
    if exclude is None:
        exclude = [label, *named_twins(df, label, schema=schema)] if label else []
    exclude = [c for c in dict.fromkeys(exclude) if c in df.columns]
    return CatalogState(name=name, df=df, schema=schema, label=label, colour=label, exclude=list(exclude),
                        sha256=table_hash(df), truth=truth)


def _truth_dict(truth: Any) -> dict | None:
    if truth is None:
        return None
    if isinstance(truth, dict):
        return truth
    for attr in ("to_dict", "as_dict"):
        if hasattr(truth, attr):
            return getattr(truth, attr)()
    try:
        import dataclasses

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
    exclude = [c for c in DEMO_EXCLUDE if c in df.columns]
    return make_catalog(df, f"{DEMO_NAME} ({len(df):,} rows, seed {seed})", label=label,
                        truth=_truth_dict(getattr(catalog, "truth", None)), exclude=exclude)


def load_upload(file: Any, *, max_rows: int = MAX_ROWS) -> CatalogState:
    """Read an uploaded file (anything with ``.name`` and ``.read``) into a catalog; no label chosen.

    Raises ProductReprError (TableError, SchemaError) with the reason and the way out.
    """
    from product_repr.data.tables import read_table

    df = read_table(file, max_rows=max_rows)
    return make_catalog(df, str(getattr(file, "name", "upload")))


# ---------------------------------------------------------------------------------------------------------
# Session state


def ensure_app_shell() -> None:
    """Send a page that was opened outside app.py's navigation to app.py (which then draws the Data page).

    Streamlit treats an app with a folder named pages/ as a legacy multipage app until st.navigation has been
    called once in the server process. So when the very first request after a server start is a deep link
    (/map), the page file runs on its own — no sidebar, a menu listing the helper modules. Re-entering through
    app.py fixes that for the rest of the process. Not under AppTest, which resets the guess on every run.
    """
    try:
        from streamlit import config
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - a future Streamlit without this internal
        return
    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        frame = sys._getframe(1)
        while frame is not None:  # the page file that called us (maybe through state())
            path = Path(frame.f_code.co_filename)
            if path.parent == ROOT / "pages" and not path.name.startswith("_"):
                st.session_state[DEEP_LINK_KEY] = f"pages/{path.name}"  # app.py forwards there
                break
            frame = frame.f_back
        st.switch_page("app.py")


def state() -> AppState:
    """This session's :class:`AppState`, created on first use with the demo catalog."""
    ensure_app_shell()
    app = st.session_state.get(STATE_KEY)
    if app is None:
        app = AppState()
        try:
            app.catalog = load_demo()
        except ImportError:
            log.warning("demo catalog not available yet; the app starts without a catalog")
        except ProductReprError as err:  # pragma: no cover - the demo is generated by us
            log.error("demo catalog failed: %s", err)
        st.session_state[STATE_KEY] = app
    return app


def active_run() -> "Run | None":
    """The run the pages show, or None when nothing has been trained or opened."""
    app = state()
    if app.active is None:
        return None
    return app.runs.get(app.active)


def require_run() -> "Run":
    """The active run; without one, say where to make one and stop the page."""
    run = active_run()
    if run is None:
        st.info("Train a model on the **Train** page first (or open a saved run on the **Runs** page).")
        st.stop()
    return run


def require_catalog() -> CatalogState:
    """The current catalog; without one, point to the Data page and stop."""
    catalog = state().catalog
    if catalog is None:
        st.info("Load a catalog on the **Data** page first (the demo catalog or an upload).")
        st.stop()
    return catalog


def add_run(run: "Run", *, table: pd.DataFrame | None = None, label: str | None = None,
            activate: bool = True) -> str:
    """Keep ``run`` in the session under a unique name (``name``, ``name (2)``…) and return that name."""
    app = state()
    name = run.name
    n = 2
    while name in app.runs:
        name = f"{run.name} ({n})"
        n += 1
    if name != run.name:
        run.name = name
    app.runs[name] = run
    if table is not None:
        app.tables[name] = table
    app.labels[name] = label
    if activate:
        app.active = name
    return name


JOB_KEY = "train.job"
LAST_RUN_KEY = "train.last"  # the run whose summary the Train page shows


def collect_job() -> str | None:
    """Keep the run of a finished background training (pages/_training_job.py) once; return its name.

    Called by the sidebar on every page, so a run that finishes while the user looks elsewhere is kept and
    made active. A failed job is left for the Train page to report.
    """
    job = st.session_state.get(JOB_KEY)
    if job is None or not job.done or job.collected or job.run is None:
        return None
    job.collected = True
    name = add_run(job.run, table=job.table, label=job.label)
    st.session_state[LAST_RUN_KEY] = name
    return name


def run_label(run: "Run") -> str | None:
    """The label column a run was evaluated against (session record, else run.json/metrics)."""
    app = state()
    if run.name in app.labels and app.labels[run.name] is not None:
        return app.labels[run.name]
    data = (run.info or {}).get("data", {})
    return data.get("label") or (run.metrics or {}).get("label")


def run_table(run: "Run") -> pd.DataFrame:
    """The catalog rows a run was trained on, aligned with ``run.product_ids`` (row i = product i).

    For a run trained in this session, its training table; for an opened run, the current catalog when its
    content hash matches run.json; otherwise a table holding only ``product_id``.
    """
    app = state()
    table = app.tables.get(run.name)
    if table is not None and len(table) == len(run.product_ids):
        return table
    sha = (run.info or {}).get("data", {}).get("sha256")
    if app.catalog is not None and sha and sha == app.catalog.sha256 and len(app.catalog.df) == len(run.product_ids):
        return app.catalog.df
    return pd.DataFrame({"product_id": np.asarray(run.product_ids, dtype=object)})


# ---------------------------------------------------------------------------------------------------------
# Errors


@contextlib.contextmanager
def error_boundary(what: str = "") -> Iterator[None]:
    """Show a ``ProductReprError`` as ``st.error(message)``, anything else as a generic error plus a log entry.

    Streamlit's own stop/rerun signals are BaseExceptions and pass through untouched.
    """
    try:
        yield
    except ProductReprError as err:
        st.error(str(err))
    except Exception:  # noqa: BLE001 - the UI must never show a traceback
        log.exception("unexpected error%s", f" while {what}" if what else "")
        st.error(f"Something went wrong{' while ' + what if what else ''} (details in the server log). "
                 "Try again, or reload the page to start over.")


# ---------------------------------------------------------------------------------------------------------
# Display helpers


def title_column(df: pd.DataFrame, schema: "Schema | None" = None) -> str | None:
    """The column that best names a product: 'title'/'name'-like, else the shortest text column."""
    names = [str(c) for c in df.columns]
    for key in ("title", "name", "product_name", "product", "label"):
        for c in names:
            if c.lower() == key:
                return c
    for c in names:
        low = c.lower()
        if "title" in low or low.endswith("name"):
            return c
    if schema is not None:
        try:
            from product_repr.data.schema import Role

            texts = [c for c in schema.names(Role.TEXT) if c in df.columns]
        except Exception:  # noqa: BLE001 - a schema from an older run
            texts = []
        if texts:
            return min(texts, key=lambda c: df[c].astype("string").str.len().mean() or 0)
    return None


def _id_column(df: pd.DataFrame, schema: "Schema | None") -> str | None:
    if "product_id" in df.columns:
        return "product_id"
    if schema is not None and getattr(schema, "id_column", None) in df.columns:
        return schema.id_column
    return None


def product_label(df: pd.DataFrame, ids: Sequence[Any] | np.ndarray, *, schema: "Schema | None" = None,
                  width: int = 60) -> list[str]:
    """A short display string per product, e.g. ``"A17 · Red cotton shirt"``.

    ``ids`` are row positions into ``df`` (ints), or product ids (strings) matched against ``df``'s id column
    (``product_id`` or the schema's id column). Unknown ids are shown as themselves.
    """
    ids = list(ids)
    title = title_column(df, schema)
    id_col = _id_column(df, schema)
    if ids and all(isinstance(i, (int, np.integer)) for i in ids):
        positions = [int(i) for i in ids]
        shown_ids = [str(df[id_col].iloc[p]) if id_col else str(p) for p in positions]
    else:
        lookup: dict[str, int] = {}
        if id_col is not None:
            for pos, value in enumerate(df[id_col].astype("string").fillna("")):
                lookup.setdefault(str(value), pos)
        positions = [lookup.get(str(i), -1) for i in ids]
        shown_ids = [str(i) for i in ids]
    out = []
    for shown, pos in zip(shown_ids, positions):
        text = ""
        if title is not None and 0 <= pos < len(df) and title != id_col:
            value = df[title].iloc[pos]
            text = "" if pd.isna(value) else str(value)
        if len(text) > width:
            text = text[: width - 1] + "…"
        out.append(f"{shown} · {text}" if text else shown)
    return out


def format_seconds(seconds: float) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


# ---------------------------------------------------------------------------------------------------------
# Cached computations (content-hash keys; arrays passed as _underscore arguments)


def array_hash(a: np.ndarray) -> str:
    """Content hash of an array (dtype, shape and bytes)."""
    a = np.ascontiguousarray(a)
    digest = hashlib.sha256(f"{a.dtype}{a.shape}".encode())
    digest.update(a.tobytes())
    return digest.hexdigest()


@st.cache_data(max_entries=32, show_spinner=False)
def _projection(key: str, _Z: np.ndarray, params: tuple) -> Any:
    from product_repr.analysis import projection

    return projection.project(_Z, **dict(params))


def cached_projection(run: "Run", **params: Any):
    """``projection.project(run.embeddings, **params)`` cached per (embeddings content, params).

    Returns a ``projection.Projection`` (coords float32 (n, dims), method, params, note). Raises ConfigError.
    """
    Z = np.asarray(run.embeddings, dtype=np.float32)
    return _projection(array_hash(Z), Z, tuple(sorted(params.items())))


@st.cache_data(max_entries=32, show_spinner=False)
def _neighbours(key: str, _Z: np.ndarray, k: int, exclude_self: bool) -> tuple[np.ndarray, np.ndarray]:
    from product_repr.analysis import neighbours

    return neighbours.all_neighbours(_Z, k, exclude_self=exclude_self)


def cached_neighbours(Z: np.ndarray, k: int = 10, *, exclude_self: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` cosine neighbours of every row of ``Z`` (n, d): (ids int64 (n, k), sims float32 (n, k)), cached."""
    Z = np.asarray(Z, dtype=np.float32)
    k = max(1, min(int(k), len(Z) - 1))
    return _neighbours(array_hash(Z), Z, k, exclude_self)


@st.cache_data(max_entries=16, show_spinner=False)
def _features(key: str, _run: Any, _table: pd.DataFrame) -> np.ndarray:
    return _run.feature_space.transform(_table)


def features_for(run: "Run", table: pd.DataFrame) -> np.ndarray:
    """``run``'s feature space applied to ``table``: X float32 (n, p), cached by content hash."""
    key = array_hash(np.asarray(run.embeddings, dtype=np.float32)) + table_hash(table)
    return _features(key, run, table)


def run_features(run: "Run") -> np.ndarray | None:
    """The run's encoded input X float32 (n, p) for its table, or None when that table is not known."""
    table = run_table(run)
    if list(table.columns) == ["product_id"]:
        return None
    return features_for(run, table)


# ---------------------------------------------------------------------------------------------------------
# Sidebar


def sidebar() -> None:
    """Current catalog (name, rows × columns, label) and the active run, switchable among this session's runs."""
    app = state()
    collect_job()
    with st.sidebar:
        st.markdown("**Catalog**")
        if app.catalog is None:
            st.caption("none loaded — see the Data page")
        else:
            cat = app.catalog
            st.caption(f"{cat.name}  \n{len(cat.df):,} rows × {len(cat.df.columns)} columns  \n"
                       f"label: {cat.label or '—'}")
        st.markdown("**Run**")
        job = st.session_state.get(JOB_KEY)
        if job is not None and job.running:
            st.caption(f"training {job.name}… (progress on the Train page)")
        if not app.runs:
            st.caption("none yet — train one on the Train page")
            return
        names = list(app.runs)
        if app.active not in app.runs:
            app.active = names[-1]
        # The widget key holds the choice; sync it with AppState both ways so a new run shows as active.
        key = "sidebar.run"
        if st.session_state.get(key) not in names or st.session_state.get("sidebar.synced") != app.active:
            st.session_state[key] = app.active
        choice = st.selectbox("Active run", names, key=key, help="the run the Map, Neighbours, Reconstruction "
                              "and Runs pages show")
        app.active = choice
        st.session_state["sidebar.synced"] = choice
        run = app.runs[choice]
        rows = len(run.product_ids)
        dim = int(np.asarray(run.embeddings).shape[1]) if np.asarray(run.embeddings).ndim == 2 else 0
        st.caption(f"{(run.info or {}).get('learner', '?')} · {rows:,} products · d = {dim}")


# ---------------------------------------------------------------------------------------------------------
# Column profile and roles (pure; used by the Data page)


def column_profile(df: pd.DataFrame, schema: "Schema | None" = None, *, sample: int = 100_000) -> pd.DataFrame:
    """One row per column: type, missing %, distinct values, an example, and the inferred role and reason."""
    part = df.head(sample)
    rows = []
    for col in df.columns:
        s = part[col]
        present = s.dropna()
        example = "" if present.empty else str(present.iloc[0])
        if len(example) > 60:
            example = example[:59] + "…"
        row = {
            "column": str(col),
            "type": str(s.dtype),
            "missing %": round(100.0 * float(s.isna().mean()), 1) if len(s) else 0.0,
            "distinct": int(s.astype("string").nunique(dropna=True)),
            "example": example,
        }
        if schema is not None and str(col) in schema.names():
            row["role"] = _role_value(schema.role(str(col)))
            row["reason"] = schema.reason(str(col))
        rows.append(row)
    return pd.DataFrame(rows)


@st.cache_data(max_entries=16, show_spinner=False)
def _cached_profile(key: str, schema_json: str, _df: pd.DataFrame, _schema: Any) -> pd.DataFrame:
    return column_profile(_df, _schema)


def cached_profile(catalog: CatalogState) -> pd.DataFrame:
    """:func:`column_profile` of the catalog, computed once per (table content, roles)."""
    import json

    schema_json = json.dumps(catalog.schema.to_dict(), sort_keys=True, default=str)
    return _cached_profile(catalog.sha256, schema_json, catalog.df, catalog.schema)


@st.cache_data(max_entries=64, show_spinner=False)
def _cached_twins(key: str, label: str | None, roles: tuple, _df: pd.DataFrame, _schema: Any) -> list[str]:
    return taxonomy_twins(_df, label, schema=_schema)


def cached_twins(catalog: CatalogState, label: str | None) -> list[str]:
    """:func:`taxonomy_twins` of ``label`` in the catalog (categorical columns only), cached by content."""
    roles = tuple((c, _role_value(catalog.schema.role(c))) for c in catalog.schema.names())
    return _cached_twins(catalog.sha256, label, roles, catalog.df, catalog.schema)


def _role_value(role: Any) -> str:
    return str(getattr(role, "value", role))


def role_changes(schema: "Schema", edited: pd.DataFrame) -> dict[str, str]:
    """The roles in an edited ``column``/``role`` table that differ from ``schema``: {column: role}."""
    changes = {}
    for col, role in zip(edited["column"], edited["role"]):
        if role is None or (isinstance(role, float) and np.isnan(role)):
            continue
        if str(col) in schema.names() and _role_value(schema.role(str(col))) != str(role):
            changes[str(col)] = str(role)
    return changes


# ---------------------------------------------------------------------------------------------------------
# Settings and metrics display (pure)


def log_grid(low: float, high: float, default: float, *, integer: bool = False) -> list:
    """Log-spaced choices for a select_slider from ``low`` to ``high`` that include ``default``.

    Floats follow 1-2-5 steps per decade (1e-4, 2e-4, 5e-4, 1e-3 …); integers are powers of two. A zero
    ``low`` becomes the first choice as is. Sorted, unique.
    """
    values: set = {default}
    if integer:
        v = 1
        while v <= high:
            if v >= low:
                values.add(v)
            v *= 2
        values.update({int(low), int(high)})
        return sorted(int(x) for x in values)
    start = low if low > 0 else (default if default > 0 else high / 1e4)
    exponent = int(np.floor(np.log10(start)))
    while 10.0 ** exponent <= high * 1.0000001:
        for m in (1, 2, 5):
            v = float(f"{m}e{exponent}")
            if low - 1e-15 <= v <= high * 1.0000001:
                values.add(v)
        exponent += 1
    values.update({float(low), float(high)})
    return sorted(values)


def metrics_table(metrics: dict) -> pd.DataFrame:
    """Rows = metrics that compare the model with baselines (values are {"model", "raw", "pca", …} dicts).

    Columns are the compared representations ("model" first). Scalars and other entries are left out.
    """
    rows = {}
    for key, value in (metrics or {}).items():
        if isinstance(value, dict) and value and all(isinstance(v, (int, float)) or v is None
                                                     for v in value.values()):
            rows[key] = value
    if not rows:
        return pd.DataFrame()
    table = pd.DataFrame(rows).T.astype(float)  # None → NaN, shown as "—"
    order = [c for c in ("model", "raw", "pca") if c in table.columns] + \
            [c for c in table.columns if c not in ("model", "raw", "pca")]
    return table[order]
