"""Hostile files: each ends in a loaded table or a ProductReprError that names the problem and the way out."""
from __future__ import annotations

import gzip
import io
import random
import zipfile
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from product_repr.errors import ProductReprError, SchemaError, TableError
from product_repr.data.schema import Role, as_numbers, infer_schema
from product_repr.data.tables import MAX_COLUMNS, read_table

BIG_CELL = b"word " * 200_000  # 1,000,000 bytes; the trailing space is stripped on reading
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00" + bytes(200)


def _garbage(n: int = 4096) -> bytes:
    return random.Random(0).randbytes(n)


def _parquet_bytes() -> bytes:
    buf = io.BytesIO()
    pd.DataFrame({"a": range(1000), "b": [f"x{i}" for i in range(1000)]}).to_parquet(buf)
    return buf.getvalue()


def _corrupt_parquet() -> bytes:
    data = bytearray(_parquet_bytes())
    mid = len(data) // 2
    data[mid : mid + 200] = _garbage(200)
    return bytes(data[: len(data) - 40]) + b"PAR1"  # footer length now points at garbage


def _zip_not_workbook() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("readme.txt", "not a workbook")
    return buf.getvalue()


def _wide(cols: int, rows: int = 30) -> bytes:
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.random((rows, cols)), columns=[f"c{i}" for i in range(cols)]).to_csv(index=False).encode()


def _gzip_bomb() -> bytes:
    """A gzip file of ~40 kB that unpacks to 40 MB (more than the limit the test sets)."""
    return gzip.compress(b"a,b\n" + b"0" * 40_000_000, compresslevel=9)


def _xlsx_bomb() -> bytes:
    """A zip named .xlsx whose worksheet unpacks to 40 MB."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/worksheets/sheet1.xml", b"<" + b" " * 40_000_000 + b">")
    return buf.getvalue()


def _xlsx(rows: list[list]) -> bytes:
    """An .xlsx written by openpyxl: formula cells hold no saved values, as in a file never opened in Excel."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _parquet_of(table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _nested_parquet() -> bytes:
    import pyarrow as pa

    return _parquet_of(pa.table({
        "title": ["kettle", "mug", "lamp", "desk"],
        "dims": pa.array([{"w": 1.0, "h": 2.0}, {"w": 3.0, "h": None}, None, {"w": 5.0, "h": 6.0}]),
        "tags": pa.array([["a", "b"], [], None, ["c"]]),
    }))


def _dictionary_parquet() -> bytes:
    import pyarrow as pa

    brands = pa.array(["acme", "zen", "acme", "orb"] * 10).dictionary_encode()
    return _parquet_of(pa.table({"title": [f"item {i}" for i in range(40)], "brand": brands,
                                 "price": [float(i) for i in range(40)]}))


def _same_big_string(df: pd.DataFrame) -> None:
    assert df.shape == (60, 3) and df["blob"].str.len().min() == 100_000
    schema = infer_schema(df)
    assert schema.role("blob") is Role.IGNORE and "constant" in schema.reason("blob"), schema.reason("blob")


def _formulas(df: pd.DataFrame) -> None:
    assert df["title"].isna().tolist() == [False, True, False], "a formula is never read as its text"
    notes = " ".join(df.attrs["notes"])
    assert "2 formula cells without saved values (A3 =HYPERLINK" in notes and "read as missing" in notes, notes


def _names_kept(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["名前 🛒", "السعر", "<script>alert(1)</script>", "עברית"], list(df.columns)
    schema = infer_schema(df)
    assert schema.role("السعر") is Role.NUMERIC


def _script_titles(df: pd.DataFrame) -> None:
    assert df["title"].iloc[0] == "<script>alert('x')</script>", "markup is kept as text, not stripped or run"
    assert df["title"].iloc[1] == '<img src=x onerror="alert(1)">'


def _nested_parquet_ok(df: pd.DataFrame) -> None:
    assert {"title", "dims.w", "dims.h", "tags"} <= set(df.columns), list(df.columns)
    assert df["dims.w"].tolist()[:2] == [1.0, 3.0]
    assert df["tags"].tolist()[0] == '["a", "b"]', "a list cell is read as its JSON text"


def _dictionary_ok(df: pd.DataFrame) -> None:
    schema = infer_schema(df)
    assert schema.role("brand") is Role.CATEGORICAL and df["brand"].tolist()[:2] == ["acme", "zen"]


def _mixed(df: pd.DataFrame) -> None:
    schema = infer_schema(df)
    assert schema.role("price") is Role.NUMERIC, schema.reason("price")
    values = as_numbers(df["price"], schema.parse("price"))
    assert values[0] == 12 and values[3] == 3.5 and np.isnan(values[1]), values


def _dates(df: pd.DataFrame) -> None:
    schema = infer_schema(df)
    assert schema.role("added") is Role.NUMERIC and schema.parse("added") == "datetime", schema.reason("added")
    values = as_numbers(df["added"], schema.parse("added"))
    assert np.isfinite(values).all(), values
    day = 86_400
    assert values[0] == values[8] == values[12] and abs(values[16] - values[0]) < day, "the same day in each format"


def _blank_names(df: pd.DataFrame) -> None:
    assert len(df.columns) == 3 and df.columns[2] == "price" and all(str(c).strip() for c in df.columns), list(df.columns)


def _long_name(df: pd.DataFrame) -> None:
    assert df.shape == (2, 2) and list(df.columns)[1] == "price"
    assert infer_schema(df).role("price") is Role.NUMERIC


# Each case: file name, its bytes, and either an error pattern (str) or a check of the loaded table.
Check = Callable[[pd.DataFrame], None]


def _schema_has_no_features(df: pd.DataFrame) -> None:
    schema = infer_schema(df)
    assert all(c.role is Role.IGNORE for c in schema), [(c.name, c.reason) for c in schema]
    with pytest.raises(SchemaError, match="no column can be used as a feature .* set a column to numeric"):
        schema.check_usable()


def _duplicates(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["price", "price.1", "price.2", "title"], list(df.columns)
    assert any("repeated column name" in n for n in df.attrs["notes"]), df.attrs["notes"]


def _extremes(df: pd.DataFrame) -> None:
    schema = infer_schema(df)
    assert schema.role("value") is Role.NUMERIC, schema.reason("value")
    assert "infinite treated as missing" in schema.reason("value"), schema.reason("value")
    x = as_numbers(df["value"], schema.parse("value"))
    assert not np.isinf(x).any() and np.nanmax(x) == 1e308, x


def _no_nul(df: pd.DataFrame) -> None:
    assert df["title"].tolist() == ["kettle", "mug", "lamp"], df["title"].tolist()
    assert "NUL" in " ".join(df.attrs["notes"]), df.attrs["notes"]


def _huge_cell(df: pd.DataFrame) -> None:
    assert df["desc"].str.len().max() == len(BIG_CELL.strip())
    assert infer_schema(df).role("desc") in (Role.TEXT, Role.CATEGORICAL, Role.IGNORE)


def _wide_ok(df: pd.DataFrame) -> None:
    assert df.shape == (30, 2000)
    schema = infer_schema(df)
    assert len(schema.names(Role.NUMERIC)) == 2000


def _one_row(df: pd.DataFrame) -> None:
    assert df.shape == (1, 3)
    _schema_has_no_features(df)


def _plain_gz(df: pd.DataFrame) -> None:
    assert df.shape == (2, 2)
    assert "not gzip-compressed" in " ".join(df.attrs["notes"]), df.attrs["notes"]


def _text_xlsx(df: pd.DataFrame) -> None:
    assert list(df.columns) == ["a", "b"] and df.attrs["format"] == "csv", df.attrs


CASES: dict[str, tuple[str, bytes, str | Check]] = {
    "empty file": ("empty.csv", b"", r"'empty.csv' is empty \(0 bytes\); export the table again"),
    "only whitespace": ("blank.csv", b"  \r\n\n ", r"'blank.csv' is empty"),
    "header only": ("header.csv", b"a,b,c\n", r"'header.csv' has a header but no rows"),
    "binary garbage": ("noise.csv", _garbage(), r"'noise.csv' looks like binary data, not a text table; upload a CSV"),
    "image renamed .csv": ("photo.csv", PNG, r"'photo.csv' looks like a PNG image, not a table"),
    "pdf renamed .xlsx": ("report.xlsx", b"%PDF-1.7\n" + bytes(100), r"'report.xlsx' looks like a PDF document"),
    "html page saved as csv": ("page.csv", b"<!DOCTYPE html>\n<html><body>Sign in</body></html>\n",
                               r"'page.csv' looks like a web page \(HTML\)"),
    "ragged rows": ("ragged.csv", b"a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n",
                    r"'ragged.csv' line 3 has 4 fields but the header has 3; quote values"),
    "every row longer than the header": ("long.csv", b"a,b\n1,2,3\n4,5,6\n",
                                         r"'long.csv' line 2 has 3 fields but the header has 2; add the missing column"),
    "unbalanced quotes": ("quotes.csv", b'a,b\n1,2\n3,4\n5,"oops\n6,7\n',
                          r"'quotes.csv' has an unbalanced quote: the quoted value starting on line 4 never closes"),
    "no usable column": ("useless.csv", b"shop,notes,flag\nacme,,x\nacme,,x\nacme,,x\n", _schema_has_no_features),
    "one row": ("one.csv", b"title,price,brand\nkettle,25,acme\n", _one_row),
    "duplicate column names": ("dupes.csv", b"price,price,price,title\n1,2,3,a\n4,5,6,b\n", _duplicates),
    "2,000 columns": ("wide.csv", _wide(2000), _wide_ok),
    "too many columns": ("wider.csv", _wide(MAX_COLUMNS + 1, rows=2),
                         r"'wider.csv' has 5,001 columns, more than the 5,000 this tool reads"),
    "inf and 1e308": ("extreme.csv", b"value,title\n1,a\ninf,b\n-inf,c\n1e308,d\n2,e\n", _extremes),
    "NUL bytes": ("nul.csv", b"title,price\nket\x00tle,1\nmug,2\x00\nlamp,3\n", _no_nul),
    "1 MB text cell": ("big_cell.csv", b'id,desc\n1,"' + BIG_CELL + b'"\n2,short\n', _huge_cell),
    "corrupted parquet": ("broken.parquet", _corrupt_parquet(), r"'broken.parquet' is a damaged or unsupported Parquet file"),
    "parquet cut short": ("cut.parquet", _parquet_bytes()[:300], r"'cut.parquet' is a damaged or unsupported Parquet"),
    "JSON bare number": ("n.json", b"42", r"'n.json' holds a single number \('42'\), not a table; a table in JSON is a list"),
    "JSON bare string": ("s.json", b'"hello"', r"'s.json' holds a single string"),
    "JSON broken": ("bad.json", b'[{"a": 1}, {"a": 2,}]', r"'bad.json' is not valid JSON \(line 1, column 20"),
    "JSON Lines with a bad line": ("bad.jsonl", b'{"a": 1}\n{"a": 2\n', r"'bad.jsonl' line 2 is not valid JSON"),
    "JSON list of mixed items": ("mixed.json", b'[{"a": 1}, 3]', r"'mixed.json' item 2 is a number among objects"),
    "fake xlsx (zip, no workbook)": ("fake.xlsx", _zip_not_workbook(), r"'fake.xlsx' is not a readable .xlsx workbook"),
    "fake xlsx (random bytes)": ("fake2.xlsx", _garbage(), r"'fake2.xlsx' looks like binary data"),
    "fake xlsx (really a CSV)": ("csv.xlsx", b"a,b\n1,x\n2,y\n", _text_xlsx),
    "old .xls renamed .xlsx": ("old.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
                               r"'old.xlsx' looks like an old Excel .xls .* save it from Excel as .xlsx or CSV"),
    ".gz that is not gzip (a plain CSV)": ("plain.csv.gz", b"a,b\n1,x\n2,y\n", _plain_gz),
    ".gz that is not gzip (garbage)": ("junk.csv.gz", _garbage(), r"'junk.csv.gz' looks like binary data"),
    "gzip cut short": ("cut.csv.gz", gzip.compress(_wide(50, rows=400))[:2000], r"'cut.csv.gz' is a damaged gzip file"),
    "zip archive": ("t.zip", _zip_not_workbook(), r"'t.zip' is a ZIP archive, not a table; extract the table"),
    "gzip bomb": ("bomb.csv.gz", _gzip_bomb(),
                  r"'bomb.csv.gz' unpacks to more than 10 MB, the most this tool reads; split the table"),
    "xlsx bomb": ("bomb.xlsx", _xlsx_bomb(),
                  r"'bomb.xlsx' would unpack to 40 MB, more than the 10 MB this tool reads"),
    "column of identical 100 kB strings": (
        "blob.csv", pd.DataFrame({"title": [f"item {i}" for i in range(60)], "price": range(60),
                                  "blob": ["x" * 100_000] * 60}).to_csv(index=False).encode(), _same_big_string),
    "Excel formulas": ("formulas.xlsx", _xlsx([["title", "price"], ["kettle", 2], ['=HYPERLINK("http://evil","x")', 3],
                                               ["lamp", "=SUM(B2:B3)"]]), _formulas),
    "emoji, right-to-left and markup in column names": (
        "names.csv", "名前 🛒,السعر,<script>alert(1)</script>,עברית\nkettle,12,a,x\nmug,3,b,y\nlamp,4,c,z\n".encode(),
        _names_kept),
    "markup in titles": ("markup.csv", b"title,price\n<script>alert('x')</script>,1\n"
                                       b"\"<img src=x onerror=\"\"alert(1)\"\">\",2\nlamp,3\n", _script_titles),
    "a million-column header": ("header1m.csv", b",".join(b"c%d" % i for i in range(1_000_000)) + b"\n1\n",
                                r"'header1m.csv' has at least [\d,]+ columns \(its header goes on past the first \d+ KB\), more than the 5,000 "
                                r"this tool reads"),
    "deeply nested JSON": ("deep.json", b"[" + b'{"a": ' * 100_000 + b"1" + b"}" * 100_000 + b"]",
                           r"'deep.json' is nested too deeply \(more than"),
    "Parquet with struct and list columns": ("nested.parquet", _nested_parquet(), _nested_parquet_ok),
    "Parquet with a dictionary column": ("dict.parquet", _dictionary_parquet(), _dictionary_ok),
    "mixed types in one column": ("mixed.csv", ("title,price\na,12\nb,n/a\nc,twelve\nd,3.5\n" + "".join(
        f"p{i},{i * 1.25 + 2}\n" for i in range(60))).encode(), _mixed),
    "blank column names": ("blank_names.csv", b",,price\nkettle,acme,3\nmug,zen,4\nlamp,orb,5\n", _blank_names),
    "a 10,000-character column name": ("long_name.csv", b"x" * 10_000 + b",price\na,1\nb,2\n", _long_name),
    "dates in five formats": ("dates.csv", ("title,added\n" + "".join(
        f"p{i},{d}\n" for i, d in enumerate(["2024-01-05", "2024-02-11", "2024-03-17", "2023-12-01",
                                            "05/01/2024", "11/02/2024", "17/03/2024", "01/12/2023",
                                            '"Jan 5, 2024"', '"Feb 11, 2024"', '"Mar 17, 2024"', '"Dec 1, 2023"',
                                            "5 Jan 2024", "11 Feb 2024", "17 Mar 2024", "1 Dec 2023",
                                            "2024-01-05T10:30:00", "2024-02-11T08:00:00", "2024-03-17T12:00:00",
                                            "2023-12-01T00:00:00"]))).encode(), _dates),
}


@pytest.fixture(autouse=True)
def unpack_limit(monkeypatch):
    """A 10 MB unpacking limit, so the bombs above stay small and quick to build."""
    from product_repr.data import tables

    monkeypatch.setattr(tables, "MAX_UNPACKED_BYTES", 10_000_000)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_hostile_file(tmp_path, case):
    name, data, expect = CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    if isinstance(expect, str):
        with pytest.raises(ProductReprError, match=expect):
            read_table(path)
        return
    df = read_table(path)
    expect(df)


@pytest.mark.parametrize("case", ["binary garbage", "ragged rows", "JSON bare number", "1 MB text cell"])
def test_hostile_upload_same_as_path(case):
    name, data, expect = CASES[case]
    upload = io.BytesIO(data)
    upload.name = name
    if isinstance(expect, str):
        with pytest.raises(TableError, match=expect):
            read_table(upload)
    else:
        expect(read_table(upload))


LOADED = [case for case, (_, _, expect) in CASES.items() if not isinstance(expect, str)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", LOADED, ids=LOADED)
def test_hostile_file_end_to_end_features_finite(tmp_path, case):
    """What loads goes on to finite features, or stops with a ProductReprError (never NaN, never a crash)."""
    features = pytest.importorskip("product_repr.features.space")
    name, data, _ = CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    df = read_table(path)
    schema = infer_schema(df)
    try:
        X = features.FeatureSpace(schema).fit_transform(df)
    except ProductReprError as err:
        assert str(err), "an error must say what is wrong"
        return
    assert X.shape[0] == len(df) and np.isfinite(X).all(), f"{case}: {np.isnan(X).sum()} NaN in X"


def test_a_table_over_the_row_limit_is_cut_and_says_so_or_sampled_on_request(tmp_path):
    path = tmp_path / "long.csv"
    pd.DataFrame({"title": [f"item {i}" for i in range(1000)], "price": range(1000)}).to_csv(path, index=False)
    first = read_table(path, max_rows=100)
    assert len(first) == 100 and first.attrs["capped"] and not first.attrs["sampled"]
    assert first["price"].tolist() == list(range(100))
    sampled = read_table(path, max_rows=100, sample=True)
    assert len(sampled) == 100 and sampled.attrs["capped"] and sampled.attrs["sampled"]
    assert sampled.attrs["rows_total"] == 1000
    prices = sampled["price"].tolist()
    assert prices == sorted(prices) and prices[-1] > 500, "a spread of the whole file, in file order"
    assert any("a random sample of 100 of its 1,000 rows" in n for n in sampled.attrs["notes"])
    assert read_table(path, max_rows=100, sample=True)["price"].tolist() == prices, "seeded"
    assert len(read_table(path, max_rows=5000, sample=True)) == 1000
