"""The workbook container: one .xlsx, a sheet per table plus a `files` sheet, through openpyxl.

Written in openpyxl's write-only mode and read in read-only mode, so large projects stream.
Texts are escaped twice over: the formula escape of `cells` (no cell can become a formula) and
OOXML's `_xHHHH_` escape for characters XML cannot hold, which Excel itself uses when it saves.
Files are kept in the `files` sheet in pieces that fit a cell: UTF-8 texts as text, so people
can read the transcripts, anything else as base64.
"""

from __future__ import annotations

import base64
import zipfile
from collections.abc import Iterator
from itertools import chain, islice
from pathlib import Path, PurePosixPath
from typing import Any

from lxml import etree
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import WorkbookAlreadySaved
from openpyxl.writer.excel import ExcelWriter

from qdaconv.errors import ReadError
from qdaconv.model import Blob, Project
from qdaconv.safety import DAMAGED_PACKAGE_ERRORS, ZipLimits, open_zip

from .cells import escape_text, ooxml_escape, ooxml_unescape, unescape_text, value_text
from .flatten import Flattener
from .rows import TableReader
from .schema import FILES_TABLE, Table

#: Excel's limit for one cell, in UTF-16 code units.
CELL_LIMIT = 32767
TEXT_PIECE = 4000  # code points; even escaped or astral, a piece stays under CELL_LIMIT
BINARY_PIECE = 24000  # bytes; 32,000 characters of base64
_WIDTH_SAMPLE = 200


# ---------------------------------------------------------------- writing


def _text_cell(value: str, derived: bool) -> str:
    cell = ooxml_escape(escape_text(value))
    if derived and len(cell.encode("utf-16-le")) // 2 > CELL_LIMIT:
        cell = cell[: CELL_LIMIT // 2 - 1] + "\u2026"  # a derived cell is for reading only; it may be cut
    return cell


def _cells(table: Table, row: list[Any]) -> list[Any]:
    cells: list[Any] = []
    for column, value in zip(table.columns, row, strict=True):
        if value is None:
            cells.append(None)
        elif column.type == "string":
            cells.append(_text_cell(value, column.derived))
        elif column.type == "any":
            cells.append(_text_cell(value_text(value), column.derived))
        elif column.type == "datetime":
            cells.append(value.isoformat())  # Excel dates hold no time zone; ISO text keeps it
        else:
            cells.append(value)
    return cells


def _width(table: Table, sample: list[list[Any]], index: int) -> float:
    column = table.columns[index]
    if column.name in ("guid", "parent") or column.name.endswith(("_guid",)):
        return 38
    longest = max((len(str(row[index])) for row in sample if row[index] is not None), default=0)
    cap = 80 if column.name in ("path", "code_path", "excerpt", "description", "name") else 50
    return max(len(column.name) + 2, min(longest + 2, cap))


def _write_sheet(workbook: Workbook, table: Table, rows: Iterator[list[Any]]) -> None:
    sheet = workbook.create_sheet(table.name)
    head = [_cells(table, row) for row in islice(rows, _WIDTH_SAMPLE)]
    for index in range(len(table.columns)):
        sheet.column_dimensions[get_column_letter(index + 1)].width = _width(table, head, index)
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    header = []
    for name in table.names:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    for cells in chain(head, (_cells(table, row) for row in rows)):
        sheet.append(cells)


def _file_pieces(files: dict[str, Blob]) -> Iterator[list[Any]]:
    for relative, blob in files.items():
        data = blob.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None:
            pieces = [text[i:i + TEXT_PIECE] for i in range(0, len(text), TEXT_PIECE)] or [""]
            for part, piece in enumerate(pieces, 1):
                yield [relative, part, "text", piece]
        else:
            pieces_b = [data[i:i + BINARY_PIECE] for i in range(0, len(data), BINARY_PIECE)] or [b""]
            for part, chunk in enumerate(pieces_b, 1):
                yield [relative, part, "base64", base64.b64encode(chunk).decode("ascii")]


def write_workbook(project: Project, path: Path) -> None:
    """Write the workbook through a zip this function owns, so that a failure (a full disk) closes it.

    Workbook.save leaves its zip open when writing fails; the zip then tries to finish itself when
    collected, fails again, and Python prints "Exception ignored in: ZipFile.__del__" with a traceback.
    """
    flat = Flattener(project)
    workbook = Workbook(write_only=True)
    archive = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    try:
        for table, rows in flat.tables():
            _write_sheet(workbook, table, rows)
        _write_sheet(workbook, FILES_TABLE, _file_pieces(flat.files))
        ExcelWriter(workbook, archive).save()  # writes every part, then closes the zip
    except BaseException:
        _discard(workbook)
        _abandon(archive)
        raise


def _abandon(archive: zipfile.ZipFile) -> None:
    """Close a zip whose writing failed; finishing it fails again on a full disk, and that is expected."""
    try:
        archive.close()
    except (OSError, ValueError):  # the file is removed by the caller; the first error is the one to report
        pass


def _discard(workbook: Workbook) -> None:
    """Finish the half-written sheets quietly, so their writers do not complain when collected."""
    for sheet in workbook.worksheets:
        try:
            sheet.close()
        except (*DAMAGED_PACKAGE_ERRORS, WorkbookAlreadySaved, etree.LxmlError):
            pass  # the sheet is being thrown away; only its clean-up is wanted


# ---------------------------------------------------------------- reading


class WorkbookReader(TableReader):
    """Typed rows from the sheets of a workbook opened read-only; formulas are read as their text."""

    def __init__(self, path: Path, limits: ZipLimits | None = None) -> None:
        super().__init__(path)
        open_zip(path, limits).close()  # the checks on size, ratio and member names, before openpyxl unpacks
        try:
            self.workbook = load_workbook(path, read_only=True, data_only=False, keep_links=False)
        except DAMAGED_PACKAGE_ERRORS as exc:  # openpyxl fails on damaged files in many ways
            raise _damaged(path, exc) from None
        self._files: dict[str, Blob] | None = None

    def close(self) -> None:
        self.workbook.close()

    def raw_rows(self, table: Table) -> Iterator[tuple[int, list[Any]]]:
        if table.name not in self.workbook.sheetnames:
            return
        try:
            sheet = self.workbook[table.name]
            sheet.reset_dimensions()  # trust the cells, not a dimension another program may have got wrong
            for number, cells in enumerate(sheet.iter_rows(values_only=True), 1):
                yield number, list(cells)
        except DAMAGED_PACKAGE_ERRORS as exc:  # as in __init__: a damaged sheet
            raise _damaged(self.path, exc, table.name) from None

    def decode(self, cell: Any) -> Any:
        if isinstance(cell, str):
            return unescape_text(ooxml_unescape(cell)) if cell else None
        return cell

    def place(self, table: str, number: int, column: str, index: int) -> str:
        cell = f"{get_column_letter(index + 1)}{number}" if index >= 0 else f"row {number}"
        return f"{table}!{cell} (column {column!r})"

    def blob(self, relative: str) -> Blob | None:
        if self._files is None:
            self._files = self._read_files()
        return self._files.get(relative)

    def _read_files(self) -> dict[str, Blob]:
        pieces: dict[str, list[bytes]] = {}
        for row in self.rows(FILES_TABLE):
            relative = row["file"]
            if relative is None:
                raise self.error(row, "file", "the file's path is missing")
            encoding = row["encoding"] or "text"
            data = row["data"] or ""
            if encoding == "text":
                try:
                    piece = data.encode("utf-8")
                except UnicodeEncodeError:
                    raise self.error(row, "data", "the piece holds characters UTF-8 cannot encode") from None
            elif encoding == "base64":
                try:
                    piece = base64.b64decode(data, validate=True)
                except ValueError:
                    raise self.error(row, "data", "the piece is not valid base64") from None
            else:
                raise self.error(row, "encoding", f"unknown encoding {encoding!r}", hint="text or base64")
            pieces.setdefault(relative, []).append(piece)
        return {relative: Blob(PurePosixPath(relative).name, data=b"".join(parts))
                for relative, parts in pieces.items()}


def _damaged(path: object, exc: Exception, sheet: str | None = None) -> ReadError:
    return ReadError(path, f"not a readable Excel workbook ({type(exc).__name__}: {exc})", location=sheet,
                     hint="the file is damaged; save it again from the spreadsheet program as .xlsx")

