"""Reading and writing vendor spreadsheets: CSV and xlsx rows, header matching with aliases, code paths.

Every vendor format goes through here, so encoding and delimiter sniffing, BOMs, title rows above the
header, blank rows and formula-looking cells are handled once. Spreadsheets are opened with openpyxl in
read-only mode with `data_only=True`: formulas are never evaluated, the values the writing program
stored are read instead.
"""

from __future__ import annotations

import csv
import functools
import io
import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from stat import S_ISREG
from typing import Any

from qdaconv import values as core_values
from qdaconv.errors import ReadError
from qdaconv.files import decode_guess, zip_names
from qdaconv.safety import DAMAGED_PACKAGE_ERRORS, ZipLimits, open_zip

#: Rows looked at when sniffing, and rows above the header that may hold a title.
PEEK_ROWS = 25
HEADER_SEARCH_ROWS = 10
#: Bytes of a CSV file read when sniffing.
PEEK_BYTES = 256 * 1024
#: First characters that make a spreadsheet program treat a cell as a formula.
FORMULA_STARTS = ("=", "+", "-", "@")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
#: Distinct expected columns a header row needs before a layout claims a file.
MIN_COLUMNS_FOUND = 2


# ----------------------------------------------------------------------------- reading tables


@dataclass(slots=True)
class Sheet:
    """The rows of one worksheet (or of a CSV file, whose `name` is None), cells as stored."""

    name: str | None
    rows: list[list[Any]]
    #: indentation level of the first cell of each row (xlsx alignment), for layouts that nest by indent
    indents: list[int] = field(default_factory=list)


@dataclass(slots=True)
class ExportTable:
    """A whole file read as sheets, with how it was decoded."""

    kind: str  # "xlsx" or "csv"
    sheets: list[Sheet]
    encoding: str | None = None
    delimiter: str | None = None


def is_xlsx(path: Path) -> bool:
    names = zip_names(path)
    return names is not None and "xl/workbook.xml" in names


def sniff_delimiter(text: str) -> str:
    """Comma, semicolon, tab or bar: the one the header line uses most, else csv.Sniffer's guess."""
    lines = [line for line in text.splitlines()[:HEADER_SEARCH_ROWS] if line.strip()]
    counts = {d: max((line.count(d) for line in lines), default=0) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: counts[d])
    if counts[best]:
        return best
    try:
        return csv.Sniffer().sniff(text[:PEEK_BYTES], delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _csv_table(path: Path, limit: int | None) -> ExportTable:
    with open(path, "rb") as stream:
        raw = stream.read(PEEK_BYTES if limit else -1)
    partial = bool(limit) and len(raw) == PEEK_BYTES
    text, encoding = decode_guess(raw, partial=partial)
    if partial:  # the last line of a peek may be cut short
        text = text[: text.rfind("\n") + 1] or text
    delimiter = sniff_delimiter(text)
    rows: list[list[Any]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter):
            rows.append([unneutralise(cell) for cell in row])
            if limit and len(rows) >= limit:
                break
    except csv.Error as exc:
        if not limit:
            raise ReadError(path, f"not readable as CSV: {exc}", location=f"line {len(rows) + 1}") from None
    return ExportTable("csv", [Sheet(None, rows)], encoding, delimiter)


def _indent(cell: Any) -> int:
    try:
        return int(cell.alignment.indent or 0)
    except AttributeError:  # empty cells in read-only sheets carry no style
        return 0


def _xlsx_table(path: Path, limit: int | None, limits: ZipLimits | None = None) -> ExportTable:
    import openpyxl  # heavy (it brings numpy): loaded only once an xlsx is really opened

    # member names, sizes and compression ratios are checked before openpyxl unpacks anything
    open_zip(path, limits).close()
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except DAMAGED_PACKAGE_ERRORS as exc:  # openpyxl raises many kinds for a damaged workbook
        raise _unreadable(path, exc) from None
    sheets: list[Sheet] = []
    try:
        for worksheet in workbook.worksheets:
            worksheet.reset_dimensions()  # exports often store wrong dimensions; read what is there
            rows: list[list[Any]] = []
            indents: list[int] = []
            for row in worksheet.iter_rows(max_row=limit):
                rows.append([cell.value for cell in row])
                indents.append(_indent(row[0]) if row else 0)
            sheets.append(Sheet(worksheet.title, rows, indents))
    except DAMAGED_PACKAGE_ERRORS as exc:  # the sheets are unpacked only now, so damage can show here too
        raise _unreadable(path, exc) from None
    finally:
        workbook.close()
    return ExportTable("xlsx", sheets)


def _unreadable(path: Path, exc: Exception) -> ReadError:
    return ReadError(path, f"not a readable xlsx workbook: {type(exc).__name__}: {exc}",
                     hint="open it in the spreadsheet program and save it again as .xlsx")


def read_table(path: Path, limit: int | None = None, limits: ZipLimits | None = None) -> ExportTable:
    """Every sheet of an xlsx workbook, or the one table of a CSV file; at most `limit` rows each.

    `limits` bound what an xlsx (a zip) may unpack to.
    """
    path = Path(path)
    if is_xlsx(path):
        return _xlsx_table(path, limit, limits)
    with open(path, "rb") as stream:
        head = stream.read(8)
    if head == OLE_MAGIC:
        raise ReadError(path, "an old binary Excel (.xls) workbook cannot be read",
                        hint="save it as .xlsx in the spreadsheet program")
    if head.startswith(b"PK"):
        raise ReadError(path, "a zip file that is not an xlsx workbook")
    return _csv_table(path, limit)


@functools.lru_cache(maxsize=16)
def _peek_cached(path: str, mtime: int, size: int) -> ExportTable | None:
    try:
        return read_table(Path(path), limit=PEEK_ROWS)
    except (ReadError, OSError, ValueError):
        return None


def peek_table(path: Path) -> ExportTable | None:
    """The first rows of every sheet, cached so that the vendor formats sniff a file once; None if unreadable."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    if not S_ISREG(status.st_mode):
        return None
    return _peek_cached(str(path), status.st_mtime_ns, status.st_size)


# ----------------------------------------------------------------------------- cells


def cell_text(value: Any) -> str | None:
    """A cell as text, None when empty; whole-number floats lose their '.0', dates are ISO."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return text if text.strip() else None


def normalise_header(value: Any) -> str:
    """The form headers are compared by: NFC, case-folded, single spaces, no BOM or trailing colon."""
    text = unicodedata.normalize("NFC", str(value or "")).replace("\ufeff", "").replace("\xa0", " ")
    text = " ".join(text.split()).casefold()
    return text.rstrip(":").strip()


def neutralise(text: str) -> str:
    """A CSV cell that a spreadsheet program will not take for a formula: a leading apostrophe is added.

    A value that already starts with an apostrophe before one of those characters gets one more,
    so that `unneutralise` gives every value back exactly.
    """
    if text.startswith(FORMULA_STARTS) or (text[:1] == "'" and text[1:2] in (*FORMULA_STARTS, "'")):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    if text[:1] == "'" and text[1:2] in (*FORMULA_STARTS, "'"):
        return text[1:]
    return text


def _as_text_if_formula(cell: Any) -> Any:
    """The cell, with text that looks like a formula stored as text, marked as such for Excel."""
    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_STARTS):
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


#: Characters XML 1.0 (and so xlsx) cannot hold.
ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def write_xlsx(path: Path, sheet_title: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write one sheet; returns how many cells lost characters that xlsx cannot hold."""
    # heavy (they bring numpy): loaded only when a workbook is written
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils.cell import get_column_letter

    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet_title)
    worksheet.append([_as_text_if_formula(WriteOnlyCell(worksheet, value=name)) for name in header])
    cleaned = 0
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, str) and ILLEGAL_XML.search(value):
                value = ILLEGAL_XML.sub("", value)
                cleaned += 1
            cells.append(_as_text_if_formula(WriteOnlyCell(worksheet, value=value)))
        worksheet.append(cells)
    for index, width in enumerate((60, 80), start=1):
        worksheet.column_dimensions[get_column_letter(index)].width = width
    workbook.save(path)
    return cleaned


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """UTF-8 with a BOM (so Excel reads it as UTF-8), comma-separated, formula-looking cells neutralised."""
    with open(path, "w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(header)
        for row in rows:
            writer.writerow([neutralise(cell) if isinstance(cell, str) else cell for cell in row])


# ----------------------------------------------------------------------------- header matching


@dataclass(frozen=True, slots=True)
class ExportColumn:
    """An expected column: a key, the header names it goes by (English first, then localised), and
    whether the layout needs it. `many` columns may repeat (QualCoder's Category columns)."""

    key: str
    aliases: tuple[str, ...]
    required: bool = False
    many: bool = False

    @property
    def label(self) -> str:
        return self.aliases[0]


@dataclass(frozen=True, slots=True)
class Pattern:
    """A family of columns recognised by a regular expression over the header (e.g. `Code: A > B`)."""

    key: str
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Layout:
    """The columns of one export layout. `open` layouts expect extra columns (descriptors, variables)."""

    columns: tuple[ExportColumn, ...]
    patterns: tuple[Pattern, ...] = ()
    open: bool = False

    def names(self) -> dict[str, ExportColumn]:
        return {normalise_header(alias): column for column in self.columns for alias in column.aliases}


@dataclass(slots=True)
class HeaderMatch:
    """Where each expected column sits in a header row, and what did not fit."""

    layout: Layout
    header: list[str]
    columns: dict[str, list[int]] = field(default_factory=dict)
    patterns: list[tuple[str, int, re.Match[str]]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[ExportColumn]:
        return [c for c in self.layout.columns if c.required and c.key not in self.columns]

    @property
    def found(self) -> int:
        """Distinct expected columns present; a family of pattern columns counts as one."""
        return len(self.columns) + bool(self.patterns)

    @property
    def convincing(self) -> bool:
        """Whether the row is evidence of the layout rather than a coincidence of common words.

        Every required column must be there, and at least MIN_COLUMNS_FOUND distinct expected ones:
        one matching word (`name`, `code`) is found in countless unrelated tables. Unless the layout
        is open (it expects extra columns), the cells it knows must not be outnumbered by those it
        does not: a table mostly about something else is not this export with a few columns added.
        """
        if self.missing or self.found < MIN_COLUMNS_FOUND:
            return False
        present = sum(1 for h in self.header if h)
        return self.layout.open or len(self.unknown) <= present - len(self.unknown)

    def score(self) -> float:
        """0 when the row is not convincing; else 0.3 to 0.95, growing with expected columns found
        and shrinking with columns the layout does not know."""
        if not self.convincing:
            return 0.0
        expected = len(self.layout.columns) + bool(self.layout.patterns)
        present = [h for h in self.header if h]
        known = 1.0
        if present:
            unknown_share = len(self.unknown) / len(present)
            known = 1.0 - (0.5 if self.layout.open else 1.0) * unknown_share
        return round(0.3 + 0.65 * (self.found / expected) * known, 6)

    def index(self, key: str) -> int | None:
        found = self.columns.get(key)
        return found[0] if found else None


def match_header(layout: Layout, row: Sequence[Any]) -> HeaderMatch:
    names = layout.names()
    header = [cell_text(cell) or "" for cell in row]
    match = HeaderMatch(layout, [h.strip().lstrip("\ufeff") for h in header])
    for index, raw in enumerate(match.header):
        if not raw:
            continue
        column = names.get(normalise_header(raw))
        if column is not None and (column.many or column.key not in match.columns):
            match.columns.setdefault(column.key, []).append(index)
            continue
        pattern = next(((p, m) for p in layout.patterns if (m := p.regex.fullmatch(raw.strip()))), None)
        if pattern is not None:
            match.patterns.append((pattern[0].key, index, pattern[1]))
        else:
            match.unknown.append(raw)
    return match


@dataclass(slots=True)
class Located:
    """The best header row found in a table for a layout."""

    sheet: Sheet
    row: int
    match: HeaderMatch

    @property
    def score(self) -> float:
        return self.match.score()

    @property
    def rank(self) -> tuple[float, bool, int]:
        """How well the row fits: by score, then (among rows that do not convince) the row with every
        required column, then the one with most expected columns, so that a reader told the format
        still finds a sparse header row."""
        return self.score, not self.match.missing, self.match.found


def cell_getter(located: Located, text: bool = True) -> Callable[[list[Any], str], Any]:
    """`get(row, key)`: the cell of a data row in the column the header matched for `key` (as text,
    or as the spreadsheet holds it with `text=False`); None when the export has no such column."""
    columns = {key: located.match.index(key) for key in located.match.columns}

    def get(row: list[Any], key: str) -> Any:
        index = columns.get(key)
        if index is None or index >= len(row):
            return None
        return cell_text(row[index]) if text else row[index]

    return get


def locate_header(table: ExportTable, layout: Layout) -> Located | None:
    """The sheet and header row (among the first non-blank rows) that fit the layout best."""
    best: Located | None = None
    for sheet in table.sheets:
        seen = 0
        for index, row in enumerate(sheet.rows):
            if not any(cell_text(cell) for cell in row):
                continue
            candidate = Located(sheet, index, match_header(layout, row))
            if best is None or candidate.rank > best.rank:
                best = candidate
            seen += 1
            if seen >= HEADER_SEARCH_ROWS:
                break
    return best


def data_rows(located: Located, fill_down: Iterable[str] = ()) -> Iterable[tuple[int, list[Any], int]]:
    """(1-based row number, cells, indent) for each non-blank row under the header.

    Cells of the `fill_down` columns left empty (merged cells, grouped reports) take the value above.
    """
    fill = [i for key in fill_down if (i := located.match.index(key)) is not None]
    last: dict[int, Any] = {}
    sheet = located.sheet
    for offset, row in enumerate(sheet.rows[located.row + 1:], start=located.row + 1):
        if not any(cell_text(cell) for cell in row):
            continue
        row = list(row) + [None] * (len(located.match.header) - len(row))
        for index in fill:
            if cell_text(row[index]) is None and index in last:
                row[index] = last[index]
            last[index] = row[index]
        indent = sheet.indents[offset] if offset < len(sheet.indents) else 0
        yield offset + 1, row, indent


# ----------------------------------------------------------------------------- values


def split_code_path(text: str, separators: Sequence[str]) -> tuple[str, ...]:
    """A code path split at the first of `separators` that occurs in it; parts trimmed, empties dropped."""
    for separator in separators:
        if separator in text:
            parts = text.split(separator)
            break
    else:
        parts = [text]
    return tuple(" ".join(part.split()) for part in parts if part.strip())


DATE_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
MONTH_FIRST = ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")
DAY_FIRST = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M",
             "%d/%m/%Y")


def parse_datetime(value: Any, month_first: bool = True) -> datetime | None:
    """A date cell as a datetime; None when empty or not recognised. Slashed dates are month first
    (US style, as Dedoose and English MAXQDA write them) unless `month_first` is False."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = cell_text(value)
    if text is None:
        return None
    text = text.strip()
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    slashed = MONTH_FIRST + DAY_FIRST if month_first else DAY_FIRST + MONTH_FIRST
    for pattern in DATE_FORMATS + slashed:
        try:
            return datetime.strptime(text, pattern)
        except ValueError:
            continue
    return None


def parse_bool(value: Any) -> bool | None:
    """A yes/no cell (an empty cell is no); None when it says neither."""
    text = cell_text(value)
    return False if not (text or "").strip() else core_values.parse_bool(text)


def parse_colour(value: Any) -> str | None:
    """`#RRGGBB` (upper case) from a colour cell in any notation the programs write; None otherwise."""
    return core_values.normal_color(cell_text(value))[0]
