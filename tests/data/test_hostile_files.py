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
}


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
