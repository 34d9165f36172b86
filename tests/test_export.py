"""Exported files parse back to the same ids, vectors and metadata."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from product_repr import export
from product_repr.errors import ConfigError


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    ids = np.array(["A1", "B\t2", "C3", "D4"], dtype=object)
    Z = rng.normal(size=(4, 5)).astype(np.float32)
    meta = pd.DataFrame(
        {"product_id": ids, "title": ["plain", "tab\there", "line\nbreak", None], "error": [0.1, 2.5, np.nan, 1.0]}
    )
    return ids, Z, meta


def read_tsv(path):
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "file must end with a newline"
    return [[export.unescape(f) for f in line.split("\t")] for line in lines[:-1]]


def test_projector_files_parse_back(tmp_path, data):
    ids, Z, meta = data
    paths = export.export_projector(tmp_path / "proj", ids, Z, meta)
    assert [p.name for p in paths] == ["tensors.tsv", "metadata.tsv", "projector_config.pbtxt"]
    tensors = np.array([[float(v) for v in row] for row in read_tsv(paths[0])], dtype=np.float32)
    np.testing.assert_allclose(tensors, Z, rtol=1e-6, err_msg="vectors changed on the way out")
    rows = read_tsv(paths[1])
    assert rows[0] == ["product_id", "title", "error"], rows[0]
    assert len(rows) == 5 and all(len(r) == 3 for r in rows), "every metadata line needs 3 fields"
    assert [r[0] for r in rows[1:]] == list(ids)
    assert [r[1] for r in rows[1:]] == ["plain", "tab\there", "line\nbreak", ""]
    config = paths[2].read_text()
    assert 'tensor_path: "tensors.tsv"' in config and 'metadata_path: "metadata.tsv"' in config


def test_projector_without_metadata_keeps_a_header(tmp_path, data):
    ids, Z, _ = data
    paths = export.export_projector(tmp_path, ids, Z, None)
    rows = read_tsv(paths[1])
    assert rows[0] == ["product_id", "row"], "single-column metadata would be read without a header"
    assert rows[2] == ["B\t2", "1"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_export_round_trips(tmp_path, data, fmt):
    ids, Z, meta = data
    [path] = export.export_table(tmp_path, ids, Z, fmt=fmt, metadata=meta[["error"]])
    back = pd.read_csv(path, keep_default_na=False) if fmt == "csv" else pd.read_parquet(path)
    assert list(back.columns) == ["product_id", "e0", "e1", "e2", "e3", "e4", "error"]
    assert back["product_id"].astype(str).tolist() == list(ids)
    np.testing.assert_allclose(back[[f"e{j}" for j in range(5)]].to_numpy(dtype=np.float32), Z, rtol=1e-6)


def test_bad_export_requests_are_explained(tmp_path, data):
    ids, Z, meta = data
    with pytest.raises(ConfigError, match="export format 'xlsx' is unknown"):
        export.export_table(tmp_path, ids, Z, fmt="xlsx")
    with pytest.raises(ConfigError, match="3 product ids for embeddings of shape"):
        export.export_projector(tmp_path, ids[:3], Z, None)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file; choose a folder"):
        export.export_table(tmp_path / "file", ids, Z)


def test_run_projector_metadata_has_title_label_colour_and_error(tmp_path, data):
    from types import SimpleNamespace

    ids, Z, _ = data
    table = pd.DataFrame({"sku": ids, "name": ["a", "b", "c", "d"], "kind": ["x", "x", "y", "y"],
                          "shade": ["red", None, "blue", "red"], "price": [1.0, 2.0, 3.0, 4.0]})
    run = SimpleNamespace(product_ids=ids, embeddings=Z, schema=None, info={"data": {"label": "kind"}}, metrics={},
                          reconstruction=pd.DataFrame({"product_id": ids, "error": [0.5, 1.5, 2.5, 3.5]}))
    meta = export.projector_metadata(run, table, colour="shade")
    assert list(meta.columns) == ["product_id", "name", "kind", "shade", "error"], list(meta.columns)
    assert meta["kind"].tolist() == ["x", "x", "y", "y"], "the label recorded in run.json is shown"
    paths = export.export_run_projector(tmp_path, run, table, colour="shade")
    assert read_tsv(paths[1])[2] == ["B\t2", "b", "x", "", "1.5"]
    assert list(export.projector_metadata(run, None).columns) == ["product_id", "error"]
    with pytest.raises(ConfigError, match="the table has 3 rows for the run's 4 products"):
        export.projector_metadata(run, table.head(3))


def test_every_csv_for_people_defuses_spreadsheet_formulas(tmp_path):
    from product_repr import export

    frame = pd.DataFrame({"product_id": ["=HYPERLINK(\"http://x\",\"y\")", "+cmd|' /C calc'!A0", "@SUM(1+1)", "ok"],
                          "price": [-3.5, 1.0, 2.0, 3.0], "=col": ["-1+1", "\tx", "a", "b"]})
    text = export.csv_bytes(frame).decode()
    lines = text.splitlines()
    assert lines[0] == "product_id,price,'=col"
    assert lines[1].startswith("\"'=HYPERLINK") and ",-3.5," in lines[1] and lines[1].endswith("'-1+1")
    assert lines[2].startswith("'+cmd") and lines[3].startswith("'@SUM")
    assert not any(cell.startswith(("=", "+", "@")) for line in lines for cell in line.split(","))
    assert frame["product_id"].iloc[0].startswith("="), "the frame itself is left as it was"
    paths = export.export_table(tmp_path, frame["product_id"], np.eye(4, 2, dtype=np.float32), fmt="csv")
    assert paths[0].read_text().splitlines()[1].startswith("\"'=HYPERLINK")
