"""Runs: this session's runs, downloads of the active run, new products placed in it, and run directories made
by the CLI."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import _placing as placing_view
from pages import _triage as triage
from pages._shell import error_boundary, log
from pages._state import (CLOSED_KEY, MAX_RUNS, MAX_SESSION_BYTES, active_run, add_run, run_alignment,
                          run_label, state)
from pages._memory import session_bytes
from pages._text import md
from product_repr import export, library
from product_repr.errors import ProductReprError

st.title("Runs")
app = state()


def runs_overview() -> pd.DataFrame:
    """One row per run of this session: learner, size, kNN precision and training time."""
    rows = []
    for name, run in app.runs.items():
        info = run.info or {}
        knn = next((v for k, v in (run.metrics or {}).items() if k.startswith("knn_precision") and isinstance(v, dict)),
                   {})
        train_s = (info.get("timings") or {}).get("train_s")
        rows.append({
            "run": name,
            "active": "●" if name == app.active else "",
            "learner": info.get("learner", "?"),
            "products": len(run.product_ids),
            "d": int(run.embeddings.shape[1]),
            "steps": (int(run.history["step"].iloc[-1]) if run.history is not None and "step" in run.history
                      and len(run.history) else None),
            "kNN precision": round(knn["model"], 3) if isinstance(knn.get("model"), (int, float)) else None,
            "training time (s)": round(train_s, 1) if isinstance(train_s, (int, float)) else None,
            "source": (info.get("data") or {}).get("source") or info.get("opened_from", ""),
        })
    return pd.DataFrame(rows)


def adopt(opened, where: str, table: pd.DataFrame | None) -> None:
    """Make a run opened from ``where`` (a folder or a zip) this session's active run, say so, and rerun so
    the sidebar shows it."""
    opened.info = dict(opened.info or {})
    opened.info.setdefault("opened_from", where)
    label = (opened.info.get("data") or {}).get("label") or (opened.metrics or {}).get("label")
    name = add_run(opened, label=label, table=table)
    message = f"Opened {where} as run '{name}' — it is now the active run."
    alignment, why = run_alignment(opened)
    if alignment is None or alignment.note:
        message += f" {why or alignment.note}"
    st.session_state["runs.flash"] = message
    st.rerun()


def run_rows(run) -> pd.DataFrame | None:
    """The catalog rows of ``run`` in its product order, or None when no loaded catalog is the run's."""
    alignment, _ = run_alignment(run)
    return alignment.rows if alignment is not None else None


# --- this session's runs -----------------------------------------------------------------------------------
st.subheader("This session's runs")
if st.session_state.get(CLOSED_KEY):
    st.info(md(st.session_state.pop(CLOSED_KEY)), icon=":material/info:")
if app.runs:
    st.dataframe(runs_overview(), hide_index=True, width="stretch")
    st.caption("Switch the active run in the sidebar. Runs live in this browser tab's session only: download "
               "a run's zip (and open it again below, here or on another server) or save it to keep it. "
               f"This session holds about {session_bytes(app) / 1e6:,.1f} MB of runs and catalog; it keeps at most "
               f"{MAX_RUNS} runs and {MAX_SESSION_BYTES / 1e6:,.0f} MB, closing the oldest run beyond that.")
else:
    st.caption("No runs yet: train one on the Train page, or open a saved run below.")

# --- downloads of the active run ---------------------------------------------------------------------------
run = active_run()
if run is not None:
    st.subheader(f"Download run {md(run.name)}")
    stem = library.safe_name(run.name)
    n, d = run.embeddings.shape
    st.caption(f"{n:,} products × {d} dimensions. Files are built when you click.")
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Embeddings (CSV)", data=lambda: export.embeddings_csv(run), file_name=f"{stem}-embeddings.csv",
                       mime="text/csv", on_click="ignore", key="runs.csv", icon=":material/download:",
                       help="product_id, e0 … e{d-1}")
    c2.download_button("Embeddings (Parquet)", data=lambda: export.embeddings_parquet(run),
                       file_name=f"{stem}-embeddings.parquet", mime="application/octet-stream", on_click="ignore",
                       key="runs.parquet", icon=":material/download:")
    c3.download_button("TensorBoard projector", data=lambda: export.projector_zip(
                           run, run_rows(run), label=run_label(run),
                           colour=app.catalog.colour if app.catalog else None),
                       file_name=f"{stem}-projector.zip", mime="application/zip", on_click="ignore",
                       key="runs.projector", icon=":material/download:",
                       help="tensors.tsv + metadata.tsv + projector_config.pbtxt: load them at "
                            "projector.tensorflow.org or in TensorBoard")
    c4.download_button("Run directory (zip)", data=lambda: export.run_zip(triage.with_marks(run)), file_name=f"{stem}.zip",
                       mime="application/zip", on_click="ignore", key="runs.zip", icon=":material/folder_zip:",
                       help="weights, feature state, history, embeddings, map, neighbours, errors, anomaly scores, "
                            "duplicate pairs, your marks (marks.csv) and run.json; "
                            "unzip into a runs folder to open it here or use it with the CLI")


    placing_view.draw(run, run_rows(run))


# --- open a run directory made by the CLI ------------------------------------------------------------------
st.subheader("Open a saved run")
zipped = st.file_uploader("Open a run zip", type=["zip"], key="runs.zip_upload",
                          help="A run downloaded with \"Run directory (zip)\", here or on another server: it becomes "
                               "a run of this session. Every file is checked; nothing in it is run.")
if zipped is not None and st.session_state.get("runs.zip_opened") != zipped.file_id:
    st.session_state["runs.zip_opened"] = zipped.file_id  # once per file, not on every rerun
    st.session_state.pop("runs.zip_error", None)
    try:
        with st.spinner(f"Checking and opening {zipped.name}…"):
            opened, saved = library.open_run_zip(zipped.getvalue(), name=zipped.name)
    except ProductReprError as err:
        st.session_state["runs.zip_error"] = str(err)
    except Exception:  # noqa: BLE001 - never a traceback in the UI
        log.exception("opening run zip %s failed", zipped.name)
        st.session_state["runs.zip_error"] = (f"Could not open {zipped.name} (details in the server log); upload "
                                              "the zip the Runs page downloads")
    else:
        adopt(opened, zipped.name, saved)
if zipped is not None and st.session_state.get("runs.zip_error"):
    st.error(md(st.session_state["runs.zip_error"]))
    if state().runs:
        st.caption("This session's runs are unchanged.")
folder = library.runs_folder()
st.markdown(f"Run directories made by `python -m product_repr train … --out {folder}/NAME` (or unzipped downloads) "
            f"in the server folder `{folder.resolve()}` (set `${library.RUNS_ENV}` to use another one).")
if st.session_state.get("runs.flash"):
    st.success(md(st.session_state.pop("runs.flash")))
found = library.list_run_dirs(folder)
if not found:
    st.caption("No run directories there yet.")
else:
    labels = {str(p.relative_to(folder)): p for p in found}
    pick = st.selectbox("Run directory", list(labels), key="runs.dir")
    if st.button("Open run", key="runs.open", icon=":material/folder_open:"):
        with error_boundary(f"opening {pick}"):
            from product_repr.runs import load_run

            with st.spinner(f"Loading {pick}…"):
                opened = load_run(labels[pick])
            adopt(opened, str(labels[pick]), library.saved_table(labels[pick], opened))

if run is not None:
    with st.expander("Save the active run into the runs folder"):
        target = st.text_input("Folder name", value=library.safe_name(run.name), key="runs.save_name",
                               help="a folder that already holds a run is never replaced: -2, -3… is added")
        if st.button("Save", key="runs.save", icon=":material/save:"):
            with error_boundary("saving the run"):
                path = library.save_into(triage.with_marks(run), folder, target, table=run_rows(run))
                renamed = "" if path.name == library.safe_name(target) else f" ({target!r} already holds a run)"
                st.success(md(f"Saved to {path}{renamed} — {library.evaluate_hint(path)}"))
