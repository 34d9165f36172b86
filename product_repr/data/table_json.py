"""JSON and JSON Lines text → DataFrame, for ``tables.read_table``.

Accepted shapes: a list of objects; a list of lists (first list = header); a
list of plain values (one column); ``{"col": [...], ...}``; an object whose key
holds the list of records (``{"products": [...]}``); an object of objects.
Nested objects are flattened (``dims.w``). Anything else (a bare number or
string, mixed items) is a ``TableError`` that names the item and the way out.
"""
from __future__ import annotations

import json
import sys
from typing import Any

import pandas as pd

from product_repr.errors import TableError
from product_repr.data.table_formats import MAX_COLUMNS


def read_json_text(text: str, name: str, fmt: str, max_rows: int | None, notes: list[str]) -> tuple[pd.DataFrame, bool, str]:
    """Parse ``text`` as JSON (``fmt="json"``) or JSON Lines (``"jsonl"``).

    Returns (table, capped, format actually read); appends remarks to ``notes``.
    Raises TableError naming the line/item that is wrong, or saying the nesting is too deep.
    """
    try:
        return _read_json_text(text, name, fmt, max_rows, notes)
    except RecursionError as err:  # parsing or flattening objects nested thousands deep
        raise TableError(_too_deep(name)) from err


def _read_json_text(text: str, name: str, fmt: str, max_rows: int | None, notes: list[str]) -> tuple[pd.DataFrame, bool, str]:
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            if err.msg == "Extra data" and text.lstrip().startswith("{"):
                return read_json_lines(text, name, max_rows, notes)
            raise TableError(
                f"'{name}' is not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                "fix it there or export the table as CSV"
            ) from err
        records, columns = _json_to_records(data, name, notes)
        if columns is not None:
            df = pd.DataFrame(columns)
            capped = max_rows is not None and len(df) > max_rows
            return (df.iloc[:max_rows] if capped else df), capped, "json"
        capped = max_rows is not None and len(records) > max_rows
        return _records_frame(records[:max_rows] if capped else records, name), capped, "json"
    return read_json_lines(text, name, max_rows, notes)


def _too_deep(name: str) -> str:
    return (f"'{name}' is nested too deeply (more than {sys.getrecursionlimit():,} levels of objects or lists "
            "inside each other); write one flat record per product, or export the table as CSV")


def read_json_lines(text: str, name: str, max_rows: int | None, notes: list[str]) -> tuple[pd.DataFrame, bool, str]:
    """One JSON object per line; blank lines skipped. Returns (table, capped, "jsonl")."""
    records: list[Any] = []
    capped = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if max_rows is not None and len(records) >= max_rows:
            capped = True
            break
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise TableError(
                f"'{name}' line {number} is not valid JSON ({err.msg} at column {err.colno}); fix or delete that line"
            ) from err
        if not isinstance(item, dict):
            raise TableError(
                f"'{name}' line {number} is a {_json_kind(item)}, not an object; "
                'JSON Lines needs one object like {"title": ..., "price": ...} per line'
            )
        records.append(item)
    if not records:
        raise TableError(f"'{name}' has no JSON records; export the table again")
    return _records_frame(records, name), capped, "jsonl"


def _json_to_records(data: Any, name: str, notes: list[str]) -> tuple[list, dict | None]:
    """Return (records, None) or ([], columns) for column-oriented JSON."""
    if isinstance(data, list):
        if not data:
            raise TableError(f"'{name}' holds an empty list; export the table again with its rows")
        if all(isinstance(item, dict) for item in data):
            return data, None
        if all(isinstance(item, list) for item in data):
            notes.append("read a list of lists: the first list is taken as the header")
            header = [str(h) for h in data[0]]
            width = len(header)
            for i, row in enumerate(data[1:], start=2):
                if len(row) != width:
                    raise TableError(f"'{name}' row {i} has {len(row)} values but the first row has {width}; fix that row")
            return [dict(zip(header, row)) for row in data[1:]], None
        if all(not isinstance(item, (dict, list)) for item in data):
            notes.append("read a list of plain values as one column 'value'")
            return [{"value": item} for item in data], None
        bad = next(i for i, item in enumerate(data) if not isinstance(item, dict))
        raise TableError(
            f"'{name}' item {bad + 1} is a {_json_kind(data[bad])} among objects; every item must be an object like "
            '{"title": ..., "price": ...}'
        )
    if isinstance(data, dict):
        if not data:
            raise TableError(f"'{name}' holds an empty object; export the table again with its rows")
        lists = {k: v for k, v in data.items() if isinstance(v, list)}
        if lists and len(lists) == len(data) and all(not any(isinstance(x, (dict, list)) for x in v) for v in lists.values()):
            lengths = {len(v) for v in lists.values()}
            if len(lengths) > 1:
                raise TableError(
                    f"'{name}' has columns of different lengths ({', '.join(f'{k}: {len(v)}' for k, v in lists.items())}); "
                    "every column list must have one value per row"
                )
            return [], lists
        record_lists = {k: v for k, v in lists.items() if v and all(isinstance(x, dict) for x in v)}
        if record_lists:
            key = max(record_lists, key=lambda k: len(record_lists[k]))
            notes.append(f"read the {len(record_lists[key]):,} records under the key '{key}'")
            return record_lists[key], None
        if all(isinstance(v, dict) for v in data.values()):
            notes.append("read an object of objects: its keys became the column 'key'")
            return [{"key": k, **v} for k, v in data.items()], None
        notes.append("read a single JSON object as a one-row table")
        return [data], None
    raise TableError(
        f"'{name}' holds a single {_json_kind(data)} ({str(data)[:40]!r}), not a table; a table in JSON is a list "
        'of objects like [{"title": "Kettle", "price": 25}, ...]'
    )


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false value"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "list" if isinstance(value, list) else "object"


def _records_frame(records: list[dict], name: str) -> pd.DataFrame:
    width = len({k for r in records[:1000] for k in r})
    if width > MAX_COLUMNS:
        raise TableError(
            f"'{name}' has {width:,} fields, more than the {MAX_COLUMNS:,} columns this tool reads; "
            "keep the product attributes you need"
        )
    return pd.json_normalize(records, max_level=2)
