"""read_table(): any product table file in, a pandas DataFrame out.

The format is decided from the file's content first and its name second, so a
CSV saved as ``.xlsx`` still loads and a PNG renamed ``.csv`` is refused with a
message that says so. Every failure caused by the file is a ``TableError``
naming the file, the line/column/value where it can, and the way out.
"""
from __future__ import annotations

import csv
import decimal
import gzip
import io
import json
import numbers
import os
import re
import warnings
import zipfile
import zlib
from pathlib import Path
from collections.abc import Sequence
from typing import IO, Any

import numpy as np
import pandas as pd

from product_repr.compute import give_memory_back
from product_repr.errors import TableError
from product_repr.data.table_formats import (
    MAX_COLUMNS,
    SAMPLE_BYTES,
    decode_text,
    detect_encoding,
    leading_zero_columns,
    sniff_delimiter,
    sniff_format,
)
from product_repr.data.table_json import read_json_text

__all__ = ["read_table", "read_rows", "unique_names", "MAX_COLUMNS"]

#: A number written with a leading zero ("0108775015") is a code, not an amount.
_LEADING_ZERO = re.compile(r"^[+-]?0\d")
#: file name endings read_table is made for (the format is read from the content first, so these are what an
#: upload box should offer, not a limit): delimited text, Parquet, JSON / JSON Lines, Excel, and any of them .gz
SUFFIXES = ("csv", "tsv", "txt", "parquet", "pq", "json", "jsonl", "ndjson", "xlsx", "gz")
#: the most bytes a compressed file (.gz, the zip inside .xlsx) may unpack to: a 200 MB upload of a "zip bomb"
#: must not fill the server's memory
MAX_UNPACKED_BYTES = 2_000_000_000
#: after reading a Parquet file of more rows, the memory its reading freed is handed back to the system
BIG_READ_ROWS = 100_000
_CHUNK = 1 << 20


def read_table(source: str | os.PathLike | IO[bytes], *, max_rows: int | None = None,
               sample: bool = False) -> pd.DataFrame:
    """Read a product table from a path or an uploaded file.

    ``source`` is a path (str or ``Path``) or a binary file-like object with a
    ``.name`` (Streamlit's ``UploadedFile``, or ``io.BytesIO`` with ``name`` set).
    Formats: CSV/TSV (delimiter ``,`` ``;`` tab ``|`` sniffed; UTF-8, UTF-8 with
    BOM, UTF-16, Windows-1252/Latin-1), the same gzip-compressed, Parquet, JSON
    (a list of records, ``{"col": [...]}``, or records under one key), JSON
    Lines and Excel ``.xlsx`` (first sheet).

    Returns a DataFrame of shape (rows, columns) whose column names are unique,
    non-empty strings. Columns that are all numbers become numeric, except
    codes with leading zeros (``"0108775015"``), which stay strings. ``df.attrs``
    holds ``source`` (the file name), ``format`` (``"csv"``, ``"tsv"``,
    ``"parquet"``, ``"json"``, ``"jsonl"``, ``"xlsx"``), ``compression``
    (``"gzip"`` or None), ``capped`` (True when ``max_rows`` cut the table
    short), ``rows_read`` and ``notes`` (list of plain-language remarks, e.g.
    renamed columns). With ``sample`` a table longer than ``max_rows`` is read
    whole and a seeded random ``max_rows`` of its rows are kept, in file order,
    instead of the first ones (``attrs["sampled"]`` True, ``rows_total`` the
    file's rows).

    Raises ``TableError`` when the file is missing, empty, not a table, damaged,
    or wider than ``MAX_COLUMNS`` columns.
    """
    if max_rows is not None and (isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 1):
        raise TableError(f"max_rows must be a whole number of at least 1 or None (got {max_rows!r})")
    name, stream, owned = _open(source)
    try:
        df, fmt, compression, notes, capped = _read_stream(stream, name, None if sample else max_rows)
    finally:
        if owned:
            stream.close()
    total = None
    if sample and max_rows is not None and len(df) > max_rows:
        total = len(df)
        keep = np.sort(np.random.default_rng(0).choice(total, size=max_rows, replace=False))
        df = df.iloc[keep].reset_index(drop=True)
        capped = True
        notes.append(f"a random sample of {max_rows:,} of its {total:,} rows (seed 0), in file order")
    df = _finish(df, name, notes)
    df.attrs.update(
        {
            "source": name,
            "format": fmt,
            "compression": compression,
            "capped": bool(capped),
            "sampled": total is not None,
            "rows_total": total,
            "rows_read": int(len(df)),
            "notes": notes,
        }
    )
    return df


def read_rows(path: str | os.PathLike, start: int, stop: int, *, text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Rows ``start:stop`` of the table at ``path``, as :func:`read_table` reads them from the whole file: one
    process's shard of a table that several train on (``product_repr.distributed``).

    A Parquet file reads only the row groups that hold those rows; any other format is read whole and cut, so
    give a big table as Parquet. ``text_columns`` are the columns the whole table holds as text: a shard keeps
    them as text even when its own rows of them all look like numbers.

    Raises ``TableError`` as :func:`read_table` does, and when ``start:stop`` is not a range of the table's rows.
    """
    name, stream, _ = _open(path)
    try:
        if sniff_format(stream.read(SAMPLE_BYTES), name) != "parquet":
            stream.close()
            df = read_table(path)
            total = len(df)
            if not 0 <= start <= stop <= total:
                raise TableError(f"rows {start:,}:{stop:,} are not in '{name}', which has {total:,} rows")
            return df.iloc[start:stop].reset_index(drop=True)
        stream.seek(0)
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(stream)
            total = pf.metadata.num_rows
            if not 0 <= start <= stop <= total:
                raise TableError(f"rows {start:,}:{stop:,} are not in '{name}', which has {total:,} rows")
            groups, first, offset = [], None, 0
            for g in range(pf.metadata.num_row_groups):
                rows = pf.metadata.row_group(g).num_rows
                if offset < stop and offset + rows > start:
                    groups.append(g)
                    first = offset if first is None else first
                offset += rows
            table = pf.read_row_groups(groups) if groups else pf.schema_arrow.empty_table()
            table = table.slice(start - (first or 0), stop - start)
            while any(pa.types.is_struct(f.type) for f in table.schema):
                table = table.flatten()
            df = table.to_pandas()
        except TableError:
            raise
        except (pa.ArrowException, ValueError, OSError, TypeError, KeyError, IndexError) as err:
            raise TableError(f"'{name}' is a damaged or unsupported Parquet file ({err}); write it again") from err
    finally:
        stream.close()
    return _finish(df, name, [], keep=frozenset(text_columns))


# --------------------------------------------------------------------------- opening


def _open(source: Any) -> tuple[str, IO[bytes], bool]:
    """Return (display name, seekable binary stream, whether we must close it)."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source).expanduser()
        if not path.exists():
            raise TableError(f"file not found: '{path}'; check the path and the working directory")
        if path.is_dir():
            raise TableError(f"'{path}' is a folder, not a file; give the path of the table inside it")
        try:
            return path.name, open(path, "rb"), True
        except OSError as err:
            raise TableError(f"cannot open '{path}': {err.strerror}; check that you may read it") from err
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "uploaded table", io.BytesIO(bytes(source)), True
    if not hasattr(source, "read"):
        raise TableError(
            f"cannot read a table from a {type(source).__name__}; give a file path or an uploaded file"
        )
    name = Path(str(getattr(source, "name", "") or "uploaded table")).name
    if hasattr(source, "seekable") and source.seekable():
        source.seek(0)
        if isinstance(source, io.BytesIO):
            return name, source, False
    data = source.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return name, io.BytesIO(data), True


def _peek(stream: IO[bytes], n: int = SAMPLE_BYTES) -> bytes:
    head = stream.read(n)
    stream.seek(0)
    return head


# --------------------------------------------------------------------------- dispatch


def _read_stream(
    stream: IO[bytes], name: str, max_rows: int | None
) -> tuple[pd.DataFrame, str, str | None, list[str], bool]:
    notes: list[str] = []
    compression = None
    inner_name = name
    try:
        head = _peek(stream)
    except OSError as err:
        raise TableError(f"cannot read '{name}': {err}; try saving the file again") from err
    if not head.strip():
        raise TableError(f"'{name}' is empty ({len(head)} bytes); export the table again with its header row")

    if head[:2] == b"\x1f\x8b":
        compression = "gzip"
        inner_name = re.sub(r"\.gz$", "", name, flags=re.IGNORECASE)
        try:
            stream = _unpack_gzip(stream, name)
            head = _peek(stream)
        except (OSError, EOFError, zlib.error) as err:
            raise TableError(f"'{name}' is a damaged gzip file ({err}); compress the table again") from err
        if not head.strip():
            raise TableError(f"'{name}' holds an empty file once decompressed; compress the table again")
    elif name.lower().endswith(".gz"):
        notes.append(f"'{name}' is named .gz but is not gzip-compressed; read it as it is")
        inner_name = name[:-3]

    fmt = sniff_format(head, inner_name, shown_name=name)
    try:
        if fmt == "parquet":
            df, capped = _read_parquet(stream, name, max_rows, notes)
        elif fmt == "xlsx":
            df, capped = _read_excel(stream, name, max_rows, notes)
        else:
            encoding, note = detect_encoding(head)
            if note:
                notes.append(note)
            if fmt in ("json", "jsonl"):
                text = _read_all_text(stream, name, encoding, notes)
                try:
                    df, capped, fmt = read_json_text(text, name, fmt, max_rows, notes)
                except TableError:
                    if inner_name.lower().endswith((".json", ".jsonl", ".ndjson")):
                        raise
                    # Named as delimited text and merely starting with "[" or "{": read it as what its name says.
                    stream.seek(0)
                    fmt = "csv"
            if fmt not in ("json", "jsonl"):
                df, capped, fmt = _read_delimited(stream, name, inner_name, head, encoding, max_rows, notes)
    except (OSError, EOFError, zlib.error) as err:
        if compression:
            raise TableError(f"'{name}' is a damaged gzip file ({err}); compress the table again") from err
        raise TableError(f"cannot read '{name}': {err}; try saving the file again") from err
    return df, fmt, compression, notes, capped


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def _unpack_gzip(stream: IO[bytes], name: str) -> IO[bytes]:
    """The decompressed bytes of a gzip stream, in memory; TableError past :data:`MAX_UNPACKED_BYTES`."""
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=stream, mode="rb") as unpacked:
        while chunk := unpacked.read(_CHUNK):
            out.write(chunk)
            if out.tell() > MAX_UNPACKED_BYTES:
                raise TableError(f"'{name}' unpacks to more than {_mb(MAX_UNPACKED_BYTES)}, the most this tool reads; "
                                 "split the table into smaller files, or keep fewer rows or columns")
    out.seek(0)
    return out


def _read_all_text(stream: IO[bytes], name: str, encoding: str, notes: list[str]) -> str:
    text, note = decode_text(stream.read(), encoding)
    if note:
        notes.append(note)
    if "\x00" in text:
        notes.append(f"removed {text.count(chr(0)):,} NUL bytes")
        text = text.replace("\x00", "")
    return text


# --------------------------------------------------------------------------- CSV / TSV


def _read_delimited(
    stream: IO[bytes], name: str, inner_name: str, head: bytes, encoding: str, max_rows: int | None, notes: list[str]
) -> tuple[pd.DataFrame, bool, str]:
    head_text, _ = decode_text(head, encoding, partial=len(head) >= SAMPLE_BYTES)
    sep, header, note = sniff_delimiter(head_text, inner_name, truncated=len(head) >= SAMPLE_BYTES)
    if note:
        notes.append(note)
    if len(header) > MAX_COLUMNS:
        endless = len(head) >= SAMPLE_BYTES and "\n" not in head_text and "\r" not in head_text
        count = (f"at least {len(header):,} columns (its header goes on past the first {SAMPLE_BYTES // 1024} KB)"
                 if endless else f"{len(header):,} columns")
        raise TableError(
            f"'{name}' has {count}, more than the {MAX_COLUMNS:,} this tool reads; "
            "keep the product attributes you need and save them as a new file"
        )
    # Types are inferred by pandas' C parser (fast); only columns whose sample holds codes with leading zeros
    # ("0108775015") are read as text, so the zeros survive.
    codes = leading_zero_columns(head_text, sep, truncated=len(head) >= SAMPLE_BYTES)
    kwargs = dict(
        sep=sep,
        dtype={i: str for i in codes} or None,
        index_col=False,
        nrows=max_rows + 1 if max_rows else None,
        engine="c",
        low_memory=False,
        quoting=csv.QUOTE_MINIMAL,
    )
    if "\x00" in head_text or not encoding.startswith("utf-8"):
        # Decode in Python: NUL bytes are dropped and UTF-16/cp1252 handled in one place.
        source: Any = io.StringIO(_read_all_text(stream, name, encoding, notes))
        kwargs["encoding"] = None
    else:
        source = stream
        kwargs["encoding"] = encoding
        kwargs["encoding_errors"] = "strict"
    try:
        df = _parse_csv(source, name, kwargs, head_text)
    except UnicodeDecodeError:
        # The sample was UTF-8 but a later byte is not: the file is Windows-1252/Latin-1.
        stream.seek(0)
        text, note = decode_text(stream.read(), "cp1252")
        notes.append(f"not UTF-8 past the first {SAMPLE_BYTES // 1024} KB; read as {note or 'Windows-1252'}")
        kwargs["encoding"] = None
        kwargs.pop("encoding_errors", None)
        df = _parse_csv(io.StringIO(text.replace("\x00", "")), name, kwargs, head_text)
    capped = max_rows is not None and len(df) > max_rows
    if capped:
        df = df.iloc[:max_rows]
    if len(header) == df.shape[1]:
        df.columns = header
    df = _tidy_text_columns(df, codes, notes)
    return df, capped, "tsv" if sep == "\t" else "csv"


def _parse_csv(source: Any, name: str, kwargs: dict, sample: str = "") -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            # pandas only warns when every row is longer than the header, and drops the extra fields.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            return pd.read_csv(source, **kwargs)
    except pd.errors.ParserWarning as err:
        raise TableError(_explain_long_rows(name, sample, kwargs["sep"])) from err
    except pd.errors.EmptyDataError as err:
        raise TableError(f"'{name}' has no columns or rows; export the table again with its header row") from err
    except pd.errors.ParserError as err:
        raise TableError(_explain_parser_error(name, str(err))) from err
    except UnicodeDecodeError:
        raise
    except (ValueError, csv.Error, OverflowError) as err:
        raise TableError(f"'{name}' could not be read as a delimited table ({err}); save it again as UTF-8 CSV") from err


def _explain_long_rows(name: str, sample: str, sep: str) -> str:
    rows = list(csv.reader(io.StringIO(sample), delimiter=sep)) if sample else []
    width = len(rows[0]) if rows else 0
    for line, row in enumerate(rows[1:], start=2):
        if len(row) > width:
            return (
                f"'{name}' line {line} has {len(row)} fields but the header has {width}; "
                "add the missing column names to the header, or remove the extra fields"
            )
    return f"'{name}' has rows with more fields than the header; add the missing column names to the header"


def _explain_parser_error(name: str, message: str) -> str:
    ragged = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if ragged:
        want, line, got = ragged.groups()
        return (
            f"'{name}' line {line} has {got} fields but the header has {want}; "
            "quote values that contain the delimiter, or fix or delete that line"
        )
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:
        line = int(quote.group(1)) + 1
        return (
            f"'{name}' has an unbalanced quote: the quoted value starting on line {line} never closes; "
            "close the quote or remove the stray '\"' on that line"
        )
    return f"'{name}' could not be parsed as a delimited table ({message.strip()}); save it again as a plain CSV"


# --------------------------------------------------------------------------- Parquet / Excel


def _read_parquet(stream: IO[bytes], name: str, max_rows: int | None, notes: list[str]) -> tuple[pd.DataFrame, bool]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(stream)
        total = pf.metadata.num_rows
        if len(pf.schema_arrow.names) > MAX_COLUMNS:
            raise TableError(
                f"'{name}' has {len(pf.schema_arrow.names):,} columns, more than the {MAX_COLUMNS:,} this tool "
                "reads; keep the product attributes you need and save them as a new file"
            )
        if max_rows is not None and total > max_rows:
            batches = []
            got = 0
            for batch in pf.iter_batches(batch_size=min(max_rows, 65536)):
                batches.append(batch)
                got += batch.num_rows
                if got >= max_rows:
                    break
            table = pa.Table.from_batches(batches, schema=pf.schema_arrow).slice(0, max_rows)
        else:
            table = pf.read()
        while any(pa.types.is_struct(f.type) for f in table.schema):
            table = table.flatten()  # {"dims": {"w": 1}} → column "dims.w", as for JSON
        df = table.to_pandas()
        del table
        if len(df) > BIG_READ_ROWS:
            give_memory_back()  # what pyarrow's pool kept of the reading (a third of a big table's size)
    except TableError:
        raise
    except (pa.ArrowException, ValueError, OSError, TypeError, KeyError, IndexError) as err:
        raise TableError(f"'{name}' is a damaged or unsupported Parquet file ({err}); write it again") from err
    return df, max_rows is not None and total > max_rows


def _check_workbook(stream: IO[bytes], name: str) -> bool:
    """Refuse a workbook that would unpack past :data:`MAX_UNPACKED_BYTES` (the sizes its zip declares, which
    reading enforces); True when a worksheet holds formulas. Rewinds ``stream``."""
    try:
        with zipfile.ZipFile(stream) as archive:
            members = archive.infolist()
            size = sum(m.file_size for m in members)
            if size > MAX_UNPACKED_BYTES:
                raise TableError(f"'{name}' would unpack to {_mb(size)}, more than the {_mb(MAX_UNPACKED_BYTES)} this "
                                 "tool reads; save fewer rows, or save the sheet as CSV")
            formulas = False
            for m in members:
                if m.filename.startswith("xl/worksheets/") and m.filename.endswith(".xml"):
                    with archive.open(m) as sheet:
                        while chunk := sheet.read(_CHUNK):
                            if b"<f>" in chunk or b"<f " in chunk:
                                formulas = True
                                break
                    break  # the first sheet is the one read
    except zipfile.BadZipFile:
        formulas = False  # pandas names the damage below
    stream.seek(0)
    return formulas


def _formula_note(stream: IO[bytes], name: str, max_rows: int | None) -> str | None:
    """A note on the formula cells of the first sheet that have no saved value (read as missing)."""
    from openpyxl import load_workbook

    stream.seek(0)
    formulas = load_workbook(stream, read_only=True, data_only=False)
    stream.seek(0)
    values = load_workbook(stream, read_only=True, data_only=True)
    blank, first = 0, None
    limit = None if max_rows is None else max_rows + 2
    rows = zip(formulas.worksheets[0].iter_rows(max_row=limit), values.worksheets[0].iter_rows(max_row=limit))
    for f_row, v_row in rows:
        for f_cell, v_cell in zip(f_row, v_row):
            if isinstance(f_cell.value, str) and f_cell.value.startswith("=") and v_cell.value is None:
                blank += 1
                first = first or f"{f_cell.coordinate} {f_cell.value[:40]}"
    formulas.close()
    values.close()
    if not blank:
        return None
    return (f"'{name}' has {blank:,} formula cell{'s' if blank != 1 else ''} without saved values ({first}): "
            "read as missing, never as formulas; open the file in Excel and save it to store their values")


def _read_excel(stream: IO[bytes], name: str, max_rows: int | None, notes: list[str]) -> tuple[pd.DataFrame, bool]:
    formulas = _check_workbook(stream, name)
    try:
        if formulas:
            note = _formula_note(stream, name, max_rows)
            if note:
                notes.append(note)
            stream.seek(0)
        book = pd.ExcelFile(stream, engine="openpyxl")
        if len(book.sheet_names) > 1:
            notes.append(f"read the first sheet '{book.sheet_names[0]}' of {len(book.sheet_names)}")
        raw = pd.read_excel(book, sheet_name=book.sheet_names[0], header=None, nrows=max_rows + 2 if max_rows else None)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, IndexError) as err:
        raise TableError(f"'{name}' is not a readable .xlsx workbook ({err}); save it again from Excel as .xlsx or CSV") from err
    raw = raw.dropna(how="all").dropna(axis=1, how="all")
    if raw.empty:
        raise TableError(f"the first sheet of '{name}' is empty; put the table on the first sheet")
    header = ["" if _is_missing(v) else str(v) for v in raw.iloc[0]]
    df = raw.iloc[1:].reset_index(drop=True)
    capped = max_rows is not None and len(df) > max_rows
    if capped:
        df = df.iloc[:max_rows]
    df.columns = header
    return df.infer_objects(), capped


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- finishing


def _tidy_text_columns(df: pd.DataFrame, codes: set[int], notes: list[str]) -> pd.DataFrame:
    """Strip text values (blank → missing); text that is all numbers after that becomes numeric.

    ``codes`` are the positions read as text on purpose; those that hold digit
    codes with leading zeros stay text (and the notes say so).
    """
    out = {}
    kept: list[str] = []
    for pos in range(df.shape[1]):
        s = df.iloc[:, pos]
        out[pos] = s
        if not (pd.api.types.is_string_dtype(s) or s.dtype == object) or s.isna().all():
            continue
        s = _clean_strings(s)
        out[pos] = s
        values = s.dropna()
        if values.empty:
            continue
        if pos in codes and values.str.fullmatch(r"[+-]?\d+").all() and values.str.match(_LEADING_ZERO).any():
            kept.append(str(df.columns[pos]))
            continue
        if _to_numbers(values.head(50)) is None:
            continue  # the usual case: real text; checking 50 values spares a full parse
        num = _to_numbers(s)
        if num is not None:
            out[pos] = num
    if kept:
        notes.append("kept as text because of leading zeros (codes, not amounts): " + ", ".join(repr(k) for k in kept[:5]))
    result = pd.concat(out, axis=1) if out else df
    result.columns = df.columns
    return result


def _to_numbers(s: pd.Series) -> pd.Series | None:
    """The column as numbers, or None when some value is not a number (very large integers included)."""
    try:
        num = pd.to_numeric(s, errors="raise")
    except (ValueError, TypeError, OverflowError):
        return None
    return num if pd.api.types.is_numeric_dtype(num) and num.dtype != object else None


def _clean_strings(s: pd.Series) -> pd.Series:
    """Strip surrounding spaces; blank strings become missing."""
    s = s.astype("str") if s.dtype == object else s
    s = s.str.strip()
    return s.mask(s == "")


def _finish(df: pd.DataFrame, name: str, notes: list[str], keep: frozenset = frozenset()) -> pd.DataFrame:
    if df.shape[1] > MAX_COLUMNS:
        raise TableError(
            f"'{name}' has {df.shape[1]:,} columns, more than the {MAX_COLUMNS:,} this tool reads; "
            "keep the product attributes you need and save them as a new file"
        )
    if df.shape[1] == 0:
        raise TableError(f"'{name}' has no columns; export the table again with its header row")
    if len(df) == 0:
        raise TableError(f"'{name}' has a header but no rows; export the table again with its rows")
    df = df.reset_index(drop=True)
    df.columns = unique_names([_name_text(c) for c in df.columns], notes)
    for pos in range(df.shape[1]):
        s = df.iloc[:, pos]
        if s.dtype == object and df.columns[pos] not in keep:
            df.isetitem(pos, _object_column(s))
    return df


def _name_text(name: Any) -> str:
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    text = str(name).replace("\x00", "").strip()
    return "" if re.fullmatch(r"Unnamed: \d+(_level_\d+)?", text) else text


def unique_names(names: list[str], notes: list[str] | None = None) -> list[str]:
    """Make column names unique and non-empty: blank → ``column_3``, repeats → ``price.1``.

    ``names`` are the raw header texts in order; a remark is appended to
    ``notes`` for each kind of change.
    """
    result: list[str] = []
    taken = set(names)
    seen: set[str] = set()
    blanks, repeats = [], []
    for i, raw in enumerate(names):
        new = raw
        if not new:
            new = f"column_{i + 1}"
            while new in taken or new in seen:
                new += "_"
            blanks.append(new)
        if new in seen:
            k = 1
            while f"{raw}.{k}" in seen or f"{raw}.{k}" in taken:
                k += 1
            new = f"{raw}.{k}"
            repeats.append(f"{raw!r} → {new!r}")
        seen.add(new)
        result.append(new)
    if notes is not None:
        if blanks:
            notes.append(f"named {len(blanks)} blank column header(s): {', '.join(blanks[:5])}")
        if repeats:
            notes.append(f"renamed {len(repeats)} repeated column name(s): {', '.join(repeats[:5])}")
    return result


def _json_text(value: Any) -> Any:
    if isinstance(value, (list, dict, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return value if _is_missing(value) else str(value)


def _object_column(s: pd.Series) -> pd.Series:
    """Mixed Python objects (from JSON or Excel) → numbers when all are numbers, else strings."""
    s = s.map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)  # Parquet lists arrive as arrays
    values = s.dropna()
    if values.map(lambda v: isinstance(v, (list, dict, tuple))).any():
        return s.map(_json_text).astype("str")
    if len(values) and values.map(lambda v: isinstance(v, (bool, np.bool_))).all():
        return s.astype("boolean") if len(values) < len(s) else s.astype(bool)
    if len(values) and values.map(lambda v: isinstance(v, numbers.Number) and not isinstance(v, (bool, np.bool_))).all():
        return pd.to_numeric(s.map(lambda v: float(v) if isinstance(v, decimal.Decimal) else v), errors="coerce")
    if len(values) == 0:
        return s.astype("float64")
    return _clean_strings(s.map(lambda v: v if _is_missing(v) else v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)))
