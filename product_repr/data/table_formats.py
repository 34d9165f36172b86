"""Telling what a file is from its first bytes: format, text encoding, delimiter.

Pure functions over a byte/text sample, used by ``tables.read_table``. A file
that is plainly not a table (an image, a PDF, an archive, binary noise) is
refused here with a ``TableError`` that says what it looks like.
"""
from __future__ import annotations

import codecs
import csv
import io
import re

from product_repr.errors import TableError

#: Bytes looked at to decide format, encoding and delimiter.
SAMPLE_BYTES = 64 * 1024

#: More columns than this is refused: a catalog is rows of products, not a matrix of pixels.
MAX_COLUMNS = 5000

_DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_CODE = re.compile(r"^\s*[+-]?0\d+\s*$")

# (magic prefix, what it is, the way out)
_NOT_TABLES = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "upload the table itself (CSV, Excel, Parquet or JSON)"),
    (b"\xff\xd8\xff", "a JPEG image", "upload the table itself (CSV, Excel, Parquet or JSON)"),
    (b"GIF87a", "a GIF image", "upload the table itself (CSV, Excel, Parquet or JSON)"),
    (b"GIF89a", "a GIF image", "upload the table itself (CSV, Excel, Parquet or JSON)"),
    (b"%PDF", "a PDF document", "export the table from its source as CSV or Excel"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Excel .xls (or other Office) file", "save it from Excel as .xlsx or CSV"),
    (b"Rar!", "a RAR archive", "extract the table and upload it"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract the table and upload it"),
    (b"\xfd7zXZ\x00", "an xz-compressed file", "decompress it, or compress the CSV with gzip (.csv.gz)"),
    (b"\x28\xb5\x2f\xfd", "a zstd-compressed file", "decompress it, or compress the CSV with gzip (.csv.gz)"),
    (b"\x7fELF", "a program (ELF executable)", "upload the table itself"),
    (b"MZ\x90\x00", "a Windows program", "upload the table itself"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table from it as CSV"),
)


def sniff_format(head: bytes, name: str, *, shown_name: str | None = None) -> str:
    """Decide the format from the first bytes (content first, name second).

    Returns one of ``"parquet"``, ``"xlsx"``, ``"json"``, ``"jsonl"``, ``"csv"``.
    Raises ``TableError`` for images, documents, archives and binary data.
    """
    shown = shown_name or name
    lower = name.lower()
    for magic, what, way_out in _NOT_TABLES:
        if what and head.startswith(magic):
            raise TableError(f"'{shown}' looks like {what}, not a table; {way_out}")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        raise TableError(f"'{shown}' looks like a WebP image, not a table; upload the table itself")
    if head.startswith(b"BZh") and head[4:10] == b"1AY&SY":
        raise TableError(f"'{shown}' is bzip2-compressed; decompress it, or compress the CSV with gzip (.csv.gz)")
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        if b"opendocument.spreadsheet" in head[:200]:
            raise TableError(f"'{shown}' is an OpenDocument spreadsheet (.ods); save it as .xlsx or CSV")
        if b"xl/" in head or b"[Content_Types].xml" in head or lower.endswith((".xlsx", ".xlsm")):
            return "xlsx"
        raise TableError(
            f"'{shown}' is a ZIP archive, not a table; extract the table from it and upload that file"
        )
    encoding, _ = detect_encoding(head)
    text, _ = decode_text(head, encoding, partial=True)
    if looks_binary(text):
        hint = " (it is named .parquet but lacks the Parquet signature: the file is damaged)" if lower.endswith(".parquet") else ""
        raise TableError(
            f"'{shown}' looks like binary data, not a text table{hint}; upload a CSV, Excel, Parquet or JSON file"
        )
    start = text.lstrip("\ufeff \t\r\n")
    if re.match(r"<(!doctype html|html|\?xml|svg)", start, re.IGNORECASE):
        what = "a web page (HTML)" if re.match(r"<(!doctype html|html)", start, re.IGNORECASE) else "an XML/SVG file"
        raise TableError(
            f"'{shown}' looks like {what}, not a table; download the table itself (CSV, Excel, Parquet or JSON), "
            "not the page that links to it"
        )
    if lower.endswith((".jsonl", ".ndjson")) and start.startswith("{"):
        return "jsonl"
    if start.startswith("[") or start.startswith("{") or lower.endswith((".json", ".jsonl", ".ndjson")):
        return "json"
    return "csv"


def looks_binary(text: str) -> bool:
    """True when a decoded sample is mostly not text.

    More than 5% control characters other than NUL (and at least 8 of them),
    or more than 25% NULs (a few stray NUL bytes in a text table are tolerated
    and removed later).
    """
    if not text:
        return False
    sample = text[:8192]
    nul = sample.count("\x00")
    bad = sum(
        1 for ch in sample if (0 < ord(ch) < 32 and ch not in "\t\n\r\f\v") or 0x7F <= ord(ch) < 0xA0 or ch == "\ufffd"
    )
    return (bad > 0.05 * len(sample) and bad >= 8) or nul > 0.25 * len(sample)


def detect_encoding(head: bytes) -> tuple[str, str | None]:
    """Return (codec name, a note for the user or None) for a byte sample.

    BOMs decide first (UTF-8-BOM, UTF-16 LE/BE, UTF-32); UTF-16 without a BOM is
    recognised by its pattern of NUL bytes; then UTF-8; else Windows-1252,
    falling back to Latin-1 (which decodes anything).
    """
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None
    if head.startswith(codecs.BOM_UTF32_LE) or head.startswith(codecs.BOM_UTF32_BE):
        return "utf-32", "read as UTF-32"
    if head.startswith(codecs.BOM_UTF16_LE) or head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", "read as UTF-16"
    sample = head[:4096]
    if len(sample) >= 8:
        odd_nul = sample[1::2].count(0) / max(1, len(sample[1::2]))
        even_nul = sample[0::2].count(0) / max(1, len(sample[0::2]))
        if odd_nul > 0.4 and even_nul < 0.05:
            return "utf-16-le", "read as UTF-16 (no byte-order mark)"
        if even_nul > 0.4 and odd_nul < 0.05:
            return "utf-16-be", "read as UTF-16 (no byte-order mark)"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8", None
    except UnicodeDecodeError:
        pass
    try:
        head.decode("cp1252")
        return "cp1252", "not UTF-8; read as Windows-1252 (Latin-1)"
    except UnicodeDecodeError:
        return "latin-1", "not UTF-8; read as Latin-1"


def decode_text(data: bytes, encoding: str, *, partial: bool = False) -> tuple[str, str | None]:
    """Decode bytes; on failure fall back to Windows-1252, then Latin-1.

    ``partial`` ignores a multi-byte character cut at the end of a sample.
    Returns (text, note or None); the note says which fallback was used.
    """
    try:
        if partial:
            return codecs.getincrementaldecoder(encoding)().decode(data, final=False), None
        return data.decode(encoding), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), f"not valid {encoding}; read as Windows-1252 (Latin-1)"
    except UnicodeDecodeError:
        return data.decode("latin-1"), f"not valid {encoding}; read as Latin-1"


def sniff_delimiter(text: str, name: str, *, truncated: bool = False) -> tuple[str, list[str], str | None]:
    """Pick the delimiter among , ; tab | from a text sample.

    The winner splits the header into the most fields while most sampled
    records have that same count (quotes respected). Returns (delimiter, the
    header fields, a note or None). With no delimiter at all the table is one
    column, read with a separator that never occurs.
    """
    text = text.lstrip("\ufeff").replace("\x00", "")
    lines = text.splitlines(keepends=True)
    if truncated and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut sample is incomplete
    sample = "".join(lines[:200])
    preferred = "\t" if name.lower().endswith((".tsv", ".tab")) else ","
    order = [preferred] + [d for d in _DELIMITERS if d != preferred]
    best: tuple[float, int, str, list[str]] | None = None
    for sep in order:
        if sep not in sample:
            continue
        records = _records(sample, sep)
        if not records:
            continue
        header = records[0]
        width = len(header)
        if width < 2:
            continue
        body = records[1:] or records
        agree = sum(1 for r in body if len(r) == width) / len(body)
        score = (agree, width, sep, header)
        if agree >= 0.8 and (best is None or (score[0], score[1]) > (best[0], best[1])):
            best = score
        elif best is None and agree >= 0.5 and sep == preferred:
            best = score
    if best is not None:
        _, _, sep, header = best
        return sep, header, None
    first = sample.splitlines()[0] if sample.strip() else ""
    if any(d in first for d in _DELIMITERS) and len(lines) > 1:
        # The header splits but the rows disagree: let the parser report the first bad line.
        sep = max(_DELIMITERS, key=lambda d: first.count(d))
        records = _records(sample, sep)
        return sep, records[0] if records else first.split(sep), None
    return "\x1f", [first.strip()], "no delimiter found (, ; tab |): read as a single column"


def leading_zero_columns(text: str, sep: str, *, truncated: bool = False) -> set[int]:
    """Positions of columns whose sampled values include a digit code with a leading zero ("0042")."""
    text = text.lstrip("\ufeff").replace("\x00", "")
    lines = text.splitlines(keepends=True)
    if truncated and len(lines) > 1:
        lines = lines[:-1]
    found: set[int] = set()
    for row in _records("".join(lines), sep)[1:]:
        for i, value in enumerate(row):
            if _CODE.match(value):
                found.add(i)
    return found


def _records(sample: str, sep: str) -> list[list[str]]:
    records = []
    try:
        for row in csv.reader(io.StringIO(sample), delimiter=sep):
            if row:
                records.append(row)
    except csv.Error:
        pass
    return records


def delimiter_name(sep: str) -> str:
    """'comma', 'semicolon', 'tab' or 'pipe'."""
    return _NAMES.get(sep, repr(sep))

