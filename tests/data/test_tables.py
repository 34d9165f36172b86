"""read_table: formats, encodings, delimiters, names, caps."""
from __future__ import annotations

import gzip
import io
import json
import time

import numpy as np
import pandas as pd
import pytest

from product_repr.errors import ProductReprError, TableError
from product_repr.data.tables import read_table, unique_names

ROWS = [
    {"sku": "A1", "title": "Red kettle 1.5 l", "price": 25.5, "brand": "Acme"},
    {"sku": "A2", "title": "Blue mug", "price": 4.0, "brand": "Mugz"},
    {"sku": "A3", "title": "Green teapot, ceramic", "price": 18.25, "brand": "Acme"},
]
EXPECTED = pd.DataFrame(ROWS)


def _check(df: pd.DataFrame, fmt: str) -> None:
    assert list(df.columns) == ["sku", "title", "price", "brand"], f"columns: {list(df.columns)}"
    assert df["price"].tolist() == [25.5, 4.0, 18.25], f"prices: {df['price'].tolist()}"
    assert df["title"].tolist() == EXPECTED["title"].tolist()
    assert df.attrs["format"] == fmt, df.attrs
    assert df.attrs["rows_read"] == 3 and df.attrs["capped"] is False, df.attrs


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_sniffs_delimiter(tmp_path, sep):
    path = tmp_path / "t.txt"
    EXPECTED.to_csv(path, sep=sep, index=False)
    _check(read_table(path), "tsv" if sep == "\t" else "csv")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_encodings(tmp_path, encoding):
    df = EXPECTED.assign(brand=["Café", "Mügz", "Ñandú"])
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False, encoding=encoding, lineterminator="\r\n")
    got = read_table(path)
    assert got["brand"].tolist() == ["Café", "Mügz", "Ñandú"], f"{encoding}: {got['brand'].tolist()}"
    assert got.columns[0] == "sku", f"BOM leaked into the header: {got.columns[0]!r}"


def test_utf8_sample_then_latin1_later(tmp_path):
    head = "sku,name\n" + "".join(f"s{i},plain {i}\n" for i in range(20000))
    path = tmp_path / "late.csv"
    path.write_bytes(head.encode() + "s-last,Crème brûlée\n".encode("cp1252"))
    df = read_table(path)
    assert df["name"].iloc[-1] == "Crème brûlée", df["name"].iloc[-1]
    assert any("Windows-1252" in n for n in df.attrs["notes"]), df.attrs["notes"]


def test_gzip_detected_by_content_not_suffix(tmp_path):
    path = tmp_path / "t.dat"
    path.write_bytes(gzip.compress(EXPECTED.to_csv(index=False).encode()))
    df = read_table(path)
    _check(df, "csv")
    assert df.attrs["compression"] == "gzip"


def test_parquet_json_jsonl_xlsx(tmp_path):
    EXPECTED.to_parquet(tmp_path / "t.parquet")
    _check(read_table(tmp_path / "t.parquet"), "parquet")
    (tmp_path / "t.json").write_text(json.dumps(ROWS))
    _check(read_table(tmp_path / "t.json"), "json")
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    _check(read_table(tmp_path / "t.jsonl"), "jsonl")
    EXPECTED.to_excel(tmp_path / "t.xlsx", index=False)
    _check(read_table(tmp_path / "t.xlsx"), "xlsx")


def test_json_columns_and_nested_records(tmp_path):
    (tmp_path / "cols.json").write_text(json.dumps({k: EXPECTED[k].tolist() for k in EXPECTED}))
    _check(read_table(tmp_path / "cols.json"), "json")
    nested = {"total": 2, "products": [{"id": 1, "dims": {"w": 2, "h": 3}, "tags": ["a", "b"]},
                                       {"id": 2, "dims": {"w": 5, "h": 1}, "tags": []}]}
    (tmp_path / "nested.json").write_text(json.dumps(nested))
    df = read_table(tmp_path / "nested.json")
    assert sorted(df.columns) == ["dims.h", "dims.w", "id", "tags"], list(df.columns)
    assert df["tags"].tolist() == ['["a", "b"]', "[]"], df["tags"].tolist()
    assert any("products" in n for n in df.attrs["notes"]), df.attrs["notes"]


def test_uploaded_file_like(tmp_path):
    buf = io.BytesIO(EXPECTED.to_csv(index=False).encode())
    buf.name = "upload.csv"
    buf.read(5)  # a page may have read it already
    df = read_table(buf)
    _check(df, "csv")
    assert df.attrs["source"] == "upload.csv"


def test_streamlit_uploaded_file_read_twice():
    from streamlit.proto.Common_pb2 import FileURLs
    from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec

    data = gzip.compress(EXPECTED.to_csv(index=False).encode())
    upload = UploadedFile(UploadedFileRec("1", "catalog.csv.gz", "application/gzip", data), FileURLs())
    first, second = read_table(upload), read_table(upload)
    _check(second, "csv")
    assert first.equals(second) and second.attrs["source"] == "catalog.csv.gz", second.attrs


def test_max_rows_caps_and_says_so(tmp_path):
    path = tmp_path / "many.csv"
    pd.DataFrame({"x": range(100), "y": [f"v{i}" for i in range(100)]}).to_csv(path, index=False)
    df = read_table(path, max_rows=10)
    assert len(df) == 10 and df.attrs["capped"] is True, df.attrs
    assert read_table(path, max_rows=100).attrs["capped"] is False
    pd.DataFrame({"x": range(100)}).to_parquet(tmp_path / "many.parquet")
    assert read_table(tmp_path / "many.parquet", max_rows=7).attrs["rows_read"] == 7
    with pytest.raises(TableError, match="max_rows must be a whole number"):
        read_table(path, max_rows=0)


def test_names_made_unique_and_non_empty(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("price,price,,title\n1,2,3,a\n4,5,6,b\n")
    df = read_table(path)
    assert list(df.columns) == ["price", "price.1", "column_3", "title"], list(df.columns)
    notes = " ".join(df.attrs["notes"])
    assert "repeated" in notes and "blank" in notes, notes
    assert unique_names(["a", "a", "a.1"]) == ["a", "a.2", "a.1"]


def test_leading_zero_codes_stay_strings(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text("article_id,qty\n0108775015,1\n0108775044,2\n")
    df = read_table(path)
    assert df["article_id"].tolist() == ["0108775015", "0108775044"], df["article_id"].tolist()
    assert df["qty"].dtype.kind == "i", df["qty"].dtype


def test_missing_file_names_it(tmp_path):
    with pytest.raises(TableError, match="file not found: .*nope.csv"):
        read_table(tmp_path / "nope.csv")


def test_100k_rows_read_fast(tmp_path):
    n = 100_000
    rng = np.random.default_rng(0)
    pd.DataFrame(
        {"id": np.arange(n), "title": [f"product {i} cotton shirt" for i in range(n)],
         "price": rng.random(n) * 100, "cat": rng.choice(list("abcdefg"), n)}
    ).to_csv(tmp_path / "big.csv", index=False)
    start = time.perf_counter()
    df = read_table(tmp_path / "big.csv")
    seconds = time.perf_counter() - start
    assert df.shape == (n, 4)
    # ~0.3 s on the dev box; the bound is loose so a busy CI machine does not flake.
    assert seconds < 5, f"100k-row CSV took {seconds:.1f} s"


def test_errors_are_product_repr_errors():
    assert issubclass(TableError, ProductReprError) and issubclass(TableError, ValueError)


def test_parquet_nested_decimal_and_lists(tmp_path):
    import datetime
    import decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({
        "id": [1, 2, 3],
        "tags": [[1, 2], [3], []],
        "price": pa.array([decimal.Decimal("1.50"), decimal.Decimal("2.00"), None], pa.decimal128(5, 2)),
        "dims": [{"w": 1, "h": 2}, {"w": 3, "h": 4}, None],
        "added": [datetime.datetime(2020, 1, 1), None, datetime.datetime(2021, 1, 1)],
    })
    pq.write_table(table, tmp_path / "nested.parquet")
    df = read_table(tmp_path / "nested.parquet")
    assert list(df.columns) == ["id", "tags", "price", "dims.w", "dims.h", "added"], list(df.columns)
    assert df["tags"].tolist() == ["[1, 2]", "[3]", "[]"], df["tags"].tolist()
    assert df["price"].dtype.kind == "f" and df["price"].iloc[0] == 1.5, df["price"]
    assert df["added"].dtype.kind == "M", df["added"].dtype


def test_single_column_with_quoted_commas(tmp_path):
    path = tmp_path / "titles.csv"
    path.write_text('title\n"Shoes, red"\nHat\n')
    df = read_table(path)
    assert df["title"].tolist() == ["Shoes, red", "Hat"], df["title"].tolist()
    assert any("single column" in n for n in df.attrs["notes"]), df.attrs["notes"]


def test_excel_header_dates_and_mixed_columns(tmp_path):
    import datetime

    rows = pd.DataFrame({
        "sku": ["0012", "0013", "0014"], "added": [datetime.datetime(2022, 5, d) for d in (1, 2, 3)],
        "size": [1, "L", 3.5],
    })
    with pd.ExcelWriter(tmp_path / "book.xlsx") as writer:
        rows.to_excel(writer, sheet_name="products", index=False)
        rows.head(1).to_excel(writer, sheet_name="other", index=False)
    df = read_table(tmp_path / "book.xlsx")
    assert df["sku"].tolist() == ["0012", "0013", "0014"], df["sku"].tolist()
    assert df["added"].dtype.kind == "M", df["added"].dtype
    assert df["size"].tolist() == ["1", "L", "3.5"], df["size"].tolist()
    assert "read the first sheet 'products' of 2" in df.attrs["notes"], df.attrs["notes"]


def test_csv_whose_header_starts_with_a_bracket(tmp_path):
    path = tmp_path / "brackets.csv"
    path.write_text("[size],{note}\n1,a\n2,b\n")
    df = read_table(path)
    assert list(df.columns) == ["[size]", "{note}"] and df.attrs["format"] == "csv", df.attrs
    (tmp_path / "brackets.json").write_text("[size],{note}\n1,a\n")
    with pytest.raises(TableError, match="'brackets.json' is not valid JSON"):
        read_table(tmp_path / "brackets.json")


def test_leading_zero_codes_detected_in_sample_only_stay_text_and_others_numeric(tmp_path):
    rows = "".join(f"{i:06d},{i * 2} ,  item {i}  \n" for i in range(3000))
    path = tmp_path / "zips.csv"
    path.write_text("zip,qty,name\n" + rows)
    df = read_table(path)
    assert df["zip"].iloc[5] == "000005" and df["zip"].dtype.kind not in "if", df["zip"].head()
    assert df["qty"].dtype.kind == "i" and df["name"].iloc[1] == "item 1", df.dtypes


def test_reading_a_big_parquet_file_hands_its_freed_memory_back(tmp_path, monkeypatch):
    """Above BIG_READ_ROWS rows, what the reading of a Parquet file freed (pyarrow's pool keeps it) is handed
    back to the system once the table is in pandas; smaller files are left alone."""
    from product_repr.compute import give_memory_back
    from product_repr.data import tables

    calls = []
    monkeypatch.setattr(tables, "give_memory_back", lambda: (calls.append(1), give_memory_back()))
    monkeypatch.setattr(tables, "BIG_READ_ROWS", 50)
    frame = pd.DataFrame({"id": [f"P{i}" for i in range(80)], "price": np.arange(80.0)})
    frame.to_parquet(tmp_path / "big.parquet")
    frame.head(20).to_parquet(tmp_path / "small.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "big.parquet"), frame, check_dtype=False)
    assert calls == [1]
    assert len(read_table(tmp_path / "small.parquet")) == 20 and calls == [1]
