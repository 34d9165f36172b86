"""Data: load a catalog (the demo or an upload), look at it, and decide what each column is for."""
from __future__ import annotations

import streamlit as st

from pages._cache import cached_profile
from pages._catalogs import MAX_ROWS, MAX_UPLOAD_MB, demo_rows, load_demo, load_upload
from pages._exclusions import draw_label_and_exclusions
from pages._shell import ROOT, error_boundary, log
from pages._state import state
from pages._text import md
from product_repr.data.profile import role_changes
from product_repr.data.schema import Role
from product_repr.data.tables import SUFFIXES
from product_repr.errors import ProductReprError

UPLOAD_TYPES = list(SUFFIXES)
ROLES = [role.value for role in Role]

st.title("Data")
app = state()

# --- loading ------------------------------------------------------------------------------------------------
upload_col, demo_col = st.columns([3, 2], gap="large")
with upload_col:
    upload = st.file_uploader(
        f"Upload a catalog — CSV, TSV, Parquet, JSON, JSON Lines or Excel .xlsx, optionally .gz; "
        f"up to {MAX_UPLOAD_MB} MB",
        type=UPLOAD_TYPES,
        key="data.upload",
        help=f"One row per product, one column per attribute. The first {MAX_ROWS:,} rows are read; "
             "bigger catalogs train with the command line (see the Runs page).",
    )
    st.download_button("Download a template", data=(ROOT / "assets" / "catalog_template.csv").read_bytes(),
                       file_name="catalog_template.csv", mime="text/csv", key="data.template",
                       icon=":material/download:", help="Eight example products: the shape a catalog takes.")
    if upload is not None and st.session_state.get("data.loaded") != upload.file_id:
        # A new file in the uploader: read it once. On error the previous catalog (and every run) stays.
        st.session_state["data.loaded"] = upload.file_id
        st.session_state.pop("data.upload_error", None)
        try:
            with st.spinner(f"Reading {upload.name}…"):
                app.catalog = load_upload(upload, max_rows=MAX_ROWS)
            st.rerun()  # the sidebar, drawn before this page, shows the new catalog
        except ProductReprError as err:
            st.session_state["data.upload_error"] = str(err)
        except Exception:  # noqa: BLE001 - never a traceback in the UI
            log.exception("reading upload %s failed", upload.name)
            st.session_state["data.upload_error"] = (
                f"Could not read {upload.name} (details in the server log). Check that it is a table in one of "
                "the formats above.")
    if upload is not None and st.session_state.get("data.upload_error"):
        st.error(md(st.session_state["data.upload_error"]))
        if app.catalog is not None:
            st.caption(f"Still using the previous catalog: {md(app.catalog.name)}.")

with demo_col:
    with st.form("data.demo"):
        st.markdown("**Built-in demo catalog** — generated products in 8 categories with planted "
                    "near-duplicates and anomalies, so you can check what the model finds.")
        left, right = st.columns(2)
        rows = left.number_input("Rows", min_value=100, max_value=100_000, value=demo_rows(), step=500,
                                 key="data.demo_rows")
        seed = right.number_input("Seed", min_value=0, max_value=2**31 - 1, value=0, step=1, key="data.demo_seed")
        if st.form_submit_button("Load demo catalog", icon=":material/refresh:"):
            with error_boundary("making the demo catalog"):
                app.catalog = load_demo(rows=int(rows), seed=int(seed))
                st.session_state.pop("data.upload_error", None)
                st.rerun()  # the sidebar, drawn before this page, shows the new catalog

cat = app.catalog
if cat is None:
    st.info("No catalog loaded yet: upload one or load the demo catalog.")
    st.stop()

df = cat.df
sha = cat.sha256[:12]
st.subheader(md(cat.name))
st.caption(f"{len(df):,} rows × {len(df.columns)} columns · format {df.attrs.get('format', 'generated')}")
if df.attrs.get("sampled"):
    st.warning(f"A random sample of {len(df):,} of the file's {df.attrs.get('rows_total') or 0:,} rows was read "
               "(the dashboard's limit). Train on the whole file with `python -m product_repr train FILE --out "
               "runs/NAME`, then open it on the Runs page.")
elif df.attrs.get("capped"):
    st.warning(f"Only the first {len(df):,} rows were read (the dashboard's limit). Read a random sample of them "
               "instead, or train on the whole file with `python -m product_repr train FILE --out runs/NAME`, then "
               "open it on the Runs page.")
    if upload is not None and upload.name == cat.name and st.button(
            f"Read a random {len(df):,} rows instead", key="data.sample", icon=":material/shuffle:",
            help="reads the whole file once and keeps a seeded random sample of rows, in file order"):
        with error_boundary(f"sampling {upload.name}"):
            with st.spinner(f"Reading all of {upload.name}…"):
                app.catalog = load_upload(upload, max_rows=MAX_ROWS, sample=True)
            st.rerun()
for note in df.attrs.get("notes", []) or []:
    st.caption(f"ℹ️ {md(note)}")

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
    with error_boundary("profiling the columns"):
        profile = cached_profile(cat)
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
        changes = role_changes(cat.schema, edited)
        if changes:
            try:
                cat.schema = cat.schema.with_roles(changes)
                st.success("Roles updated: " + ", ".join(f"{md(c)} → {r}" for c, r in changes.items()))
            except ProductReprError as err:
                st.error(f"{md(err)} — the previous roles are kept.")

# --- label, colour, exclusions ------------------------------------------------------------------------------
with tab_use:
    draw_label_and_exclusions(cat)
