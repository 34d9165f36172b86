"""Runs: this session's runs, downloads of the active run, and run directories made by the CLI."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from pages import _run_files as files
from pages import _ui

st.title("Runs")
app = _ui.state()


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


def projector_metadata(run) -> pd.DataFrame | None:
    """Per-product labels for the projector: id, title, label/colour column and reconstruction error."""
    table = _ui.run_table(run)
    meta = pd.DataFrame({"product_id": [str(i) for i in run.product_ids]})
    title = _ui.title_column(table, run.schema)
    for col in dict.fromkeys([title, _ui.run_label(run), app.catalog.colour if app.catalog else None]):
        if col and col in table.columns and col != "product_id":
            meta[col] = table[col].astype("string").to_numpy()
    if run.reconstruction is not None and "error" in run.reconstruction:
        meta["error"] = run.reconstruction["error"].to_numpy()
    return meta if meta.shape[1] > 1 else None


# --- this session's runs -----------------------------------------------------------------------------------
st.subheader("This session's runs")
if app.runs:
    st.dataframe(runs_overview(), hide_index=True, width="stretch")
    st.caption("Switch the active run in the sidebar. Runs live in this browser tab's session only: download "
               "or save them to keep them.")
else:
    st.caption("No runs yet: train one on the Train page, or open a saved run below.")

# --- downloads of the active run ---------------------------------------------------------------------------
run = _ui.active_run()
if run is not None:
    st.subheader(f"Download run {run.name}")
    stem = files.safe_name(run.name)
    n, d = run.embeddings.shape
    st.caption(f"{n:,} products × {d} dimensions. Files are built when you click.")
    c1, c2, c3, c4 = st.columns(4)
    c1.download_button("Embeddings (CSV)", data=lambda: files.embeddings_csv(run), file_name=f"{stem}-embeddings.csv",
                       mime="text/csv", on_click="ignore", key="runs.csv", icon=":material/download:",
                       help="product_id, e0 … e{d-1}")
    c2.download_button("Embeddings (Parquet)", data=lambda: files.embeddings_parquet(run),
                       file_name=f"{stem}-embeddings.parquet", mime="application/octet-stream", on_click="ignore",
                       key="runs.parquet", icon=":material/download:")
    c3.download_button("TensorBoard projector", data=lambda: files.projector_zip(run, projector_metadata(run)),
                       file_name=f"{stem}-projector.zip", mime="application/zip", on_click="ignore",
                       key="runs.projector", icon=":material/download:",
                       help="tensors.tsv + metadata.tsv + projector_config.pbtxt: load them at "
                            "projector.tensorflow.org or in TensorBoard")
    c4.download_button("Run directory (zip)", data=lambda: files.run_zip(run), file_name=f"{stem}.zip",
                       mime="application/zip", on_click="ignore", key="runs.zip", icon=":material/folder_zip:",
                       help="weights, feature state, history, embeddings, map, neighbours, errors and run.json; "
                            "unzip into a runs folder to open it here or use it with the CLI")


# --- open a run directory made by the CLI ------------------------------------------------------------------
st.subheader("Open a saved run")
folder = files.runs_folder()
st.markdown(f"Run directories made by `python -m product_repr train … --out {folder}/NAME` (or unzipped downloads) "
            f"in the server folder `{folder.resolve()}` (set `${files.RUNS_ENV}` to use another one).")
if st.session_state.get("runs.flash"):
    st.success(st.session_state.pop("runs.flash"))
found = files.list_run_dirs(folder)
if not found:
    st.caption("No run directories there yet.")
else:
    labels = {str(p.relative_to(folder)): p for p in found}
    pick = st.selectbox("Run directory", list(labels), key="runs.dir")
    if st.button("Open run", key="runs.open", icon=":material/folder_open:"):
        with _ui.error_boundary(f"opening {pick}"):
            from product_repr.runs import load_run

            with st.spinner(f"Loading {pick}…"):
                opened = load_run(labels[pick])
            opened.info = dict(opened.info or {})
            opened.info.setdefault("opened_from", str(labels[pick]))
            label = (opened.info.get("data") or {}).get("label") or (opened.metrics or {}).get("label")
            name = _ui.add_run(opened, label=label)
            message = f"Opened {pick} as run '{name}' — it is now the active run."
            if list(_ui.run_table(opened).columns) == ["product_id"]:
                message += (" Its catalog is not the one loaded on the Data page, so pages show product ids only; "
                            "load the same file there to see titles and attributes.")
            st.session_state["runs.flash"] = message
            st.rerun()  # so the sidebar shows the opened run as active

if run is not None:
    with st.expander("Save the active run into the runs folder"):
        target = st.text_input("Folder name", value=files.safe_name(run.name), key="runs.save_name")
        if st.button("Save", key="runs.save", icon=":material/save:"):
            with _ui.error_boundary("saving the run"):
                from product_repr.runs import save_run

                path = save_run(run, folder / files.safe_name(target))
                st.success(f"Saved to {path} — `python -m product_repr evaluate {path}` works on it.")
