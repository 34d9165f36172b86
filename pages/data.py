"""Data: load a catalog (the demo or an upload), look at it, and decide what each column is for."""
from __future__ import annotations

import streamlit as st

from pages import _ui
from product_repr.errors import ProductReprError

UPLOAD_TYPES = ["csv", "tsv", "txt", "parquet", "pq", "json", "jsonl", "ndjson", "xlsx", "gz"]
ROLES = ["id", "numeric", "categorical", "text", "ignore"]
NONE = "(none)"

st.title("Data")
app = _ui.state()

# --- loading ------------------------------------------------------------------------------------------------
upload_col, demo_col = st.columns([3, 2], gap="large")
with upload_col:
    upload = st.file_uploader(
        f"Upload a catalog — CSV, TSV, Parquet, JSON, JSON Lines or Excel .xlsx, optionally .gz; "
        f"up to {_ui.MAX_UPLOAD_MB} MB",
        type=UPLOAD_TYPES,
        key="data.upload",
        help=f"One row per product, one column per attribute. The first {_ui.MAX_ROWS:,} rows are read; "
             "bigger catalogs train with the command line (see the Runs page).",
    )
    if upload is not None and st.session_state.get("data.loaded") != upload.file_id:
        # A new file in the uploader: read it once. On error the previous catalog (and every run) stays.
        st.session_state["data.loaded"] = upload.file_id
        st.session_state.pop("data.upload_error", None)
        try:
            with st.spinner(f"Reading {upload.name}…"):
                app.catalog = _ui.load_upload(upload, max_rows=_ui.MAX_ROWS)
            st.rerun()  # the sidebar, drawn before this page, shows the new catalog
        except ProductReprError as err:
            st.session_state["data.upload_error"] = str(err)
        except Exception:  # noqa: BLE001 - never a traceback in the UI
            _ui.log.exception("reading upload %s failed", upload.name)
            st.session_state["data.upload_error"] = (
                f"Could not read {upload.name} (details in the server log). Check that it is a table in one of "
                "the formats above.")
    if upload is not None and st.session_state.get("data.upload_error"):
        st.error(st.session_state["data.upload_error"])
        if app.catalog is not None:
            st.caption(f"Still using the previous catalog: {app.catalog.name}.")

with demo_col:
    with st.form("data.demo"):
        st.markdown("**Built-in demo catalog** — generated products in 8 categories with planted "
                    "near-duplicates and anomalies, so you can check what the model finds.")
        left, right = st.columns(2)
        rows = left.number_input("Rows", min_value=100, max_value=100_000, value=_ui.demo_rows(), step=500,
                                 key="data.demo_rows")
        seed = right.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="data.demo_seed")
        if st.form_submit_button("Load demo catalog", icon=":material/refresh:"):
            with _ui.error_boundary("making the demo catalog"):
                app.catalog = _ui.load_demo(rows=int(rows), seed=int(seed))
                st.session_state.pop("data.upload_error", None)
                st.rerun()  # the sidebar, drawn before this page, shows the new catalog

cat = app.catalog
if cat is None:
    st.info("No catalog loaded yet: upload one or load the demo catalog.")
    st.stop()

df = cat.df
sha = cat.sha256[:12]
st.subheader(cat.name)
st.caption(f"{len(df):,} rows × {len(df.columns)} columns · format {df.attrs.get('format', 'generated')}")
if df.attrs.get("capped"):
    st.warning(f"Only the first {len(df):,} rows were read (the dashboard's limit). Train on the whole file "
               "with `python -m product_repr train FILE --out runs/NAME`, then open it on the Runs page.")
for note in df.attrs.get("notes", []) or []:
    st.caption(f"ℹ️ {note}")

tab_preview, tab_roles, tab_use = st.tabs(["Preview", "Columns & roles", "Label & exclusions"])

with tab_preview:
    st.dataframe(df.head(1000), width="stretch", height=360)
    if len(df) > 1000:
        st.caption(f"The first 1,000 of {len(df):,} rows.")

# --- roles --------------------------------------------------------------------------------------------------
with tab_roles:
    st.markdown(
        "Each column gets a **role**: `id` names the product, `numeric` and `categorical` attributes and `text` "
        "(titles, descriptions) are encoded for learning, `ignore` leaves a column out. The role was inferred "
        "from the values — the reason says why; change it in the **role** column.")
    with _ui.error_boundary("profiling the columns"):
        profile = _ui.cached_profile(cat)
        editor_key = f"data.roles.{sha}"  # per catalog: edits to one table never apply to another
        edited = st.data_editor(
            profile[["column", "role", "reason", "type", "missing %", "distinct", "example"]],
            key=editor_key,
            hide_index=True,
            width="stretch",
            disabled=["column", "reason", "type", "missing %", "distinct", "example"],
            column_config={
                "role": st.column_config.SelectboxColumn("role", options=ROLES, required=True,
                                                         help="how this column is used for learning"),
                "missing %": st.column_config.NumberColumn("missing %", format="%.1f"),
                "reason": st.column_config.TextColumn("reason", width="large"),
            },
        )
        changes = _ui.role_changes(cat.schema, edited)
        if changes:
            try:
                cat.schema = cat.schema.with_roles(changes)
                st.success("Roles updated: " + ", ".join(f"{c} → {r}" for c, r in changes.items()))
            except ProductReprError as err:
                st.error(f"{err} — the previous roles are kept.")

# --- label, colour, exclusions ------------------------------------------------------------------------------
with tab_use:
    columns = [str(c) for c in df.columns]
    options = [NONE, *columns]

    def _on_label() -> None:
        new = st.session_state[f"data.label.{sha}"]
        new = None if new == NONE else new
        old = cat.label
        excl = [c for c in cat.exclude if c != old]
        if new is not None:
            # the label, and columns named after it that refine it (subcategory, category_l2): never inputs
            named = _ui.named_twins(df, new, schema=cat.schema)
            excl += [c for c in [new, *named] if c not in excl]
        cat.label = new
        if cat.colour in (None, old):
            cat.colour = new
            st.session_state[f"data.colour.{sha}"] = new or NONE
        cat.exclude = excl
        st.session_state[f"data.exclude.{sha}"] = excl

    # Widget values start from the catalog's choices (set before the widget exists, so no default is passed).
    st.session_state.setdefault(f"data.label.{sha}", cat.label if cat.label in columns else NONE)
    st.session_state.setdefault(f"data.colour.{sha}", cat.colour if cat.colour in columns else NONE)
    st.session_state.setdefault(f"data.exclude.{sha}", [c for c in cat.exclude if c in columns])
    st.selectbox(
        "Label column (for evaluation)",
        options,
        key=f"data.label.{sha}",
        on_change=_on_label,
        help="A known grouping (e.g. category). Runs are scored by how often a product's nearest neighbours "
             "share its label (kNN precision), against raw-feature and PCA baselines. The label is never used "
             "as an input.",
    )
    colour = st.selectbox(
        "Colour column (for the map)",
        options,
        key=f"data.colour.{sha}",
        help="The Map page colours points by this column first (you can change it there).",
    )
    cat.colour = None if colour == NONE else colour

    exclude = st.multiselect(
        "Exclude from learning",
        columns,
        key=f"data.exclude.{sha}",
        help="Columns the learner never sees. The label is excluded by default, otherwise the embedding simply "
             "learns the answer it is scored against.",
    )
    cat.exclude = list(exclude)
    if cat.label is not None and cat.label not in cat.exclude:
        st.warning(f"The label '{cat.label}' is not excluded: training will still leave it out, since learning "
                   "from the label would make its evaluation meaningless.")
    twins = [c for c in _ui.cached_twins(cat, cat.label) if c not in cat.exclude]
    if twins:
        one = len(twins) == 1
        st.info(f"Each value of {', '.join(twins)} falls within a single '{cat.label}'. If "
                f"{'it is' if one else 'they are'} part of the same taxonomy (like a subcategory), learning from "
                f"{'it' if one else 'them'} gives the label away and flatters the evaluation; if "
                f"{'it is a genuine attribute' if one else 'they are genuine attributes'} (like a brand), keep "
                f"{'it' if one else 'them'}.")

        def _add_twins() -> None:
            cat.exclude = [*cat.exclude, *twins]
            st.session_state[f"data.exclude.{sha}"] = list(cat.exclude)

        st.button(f"Exclude {', '.join(twins)}", key=f"data.twins.{sha}", on_click=_add_twins)
    used = [c for c in cat.schema.names() if c not in cat.exclude and _ui._role_value(cat.schema.role(c))
            not in ("id", "ignore")]
    st.caption(f"The learner will see {len(used)} column{'s' if len(used) != 1 else ''}: {', '.join(used) or '—'}.")
    if not used:
        st.error("No column is left to learn from: give some columns a numeric, categorical or text role, or "
                 "exclude fewer.")
