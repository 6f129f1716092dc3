"""The CSV container: a folder (or a .csv.zip) of UTF-8 CSV tables, datapackage.json and a files/ folder."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from qdaconv.errors import ReadError
from qdaconv.files import ZipMemberStream
from qdaconv.model import Blob, Project
from qdaconv.safety import ZipLimits, open_zip, unsafe_name_reason

from .cells import text_writer, unescape_text
from .flatten import Flattener
from .rows import TableReader
from .schema import LAYOUT_VERSION, PROFILE, TABLES, Table

PACKAGE_FILE = "datapackage.json"
#: A cell of up to this many characters can be read (csv's own default, 128 KiB, is too small for texts).
MAX_CELL = 256 * 1024 * 1024
# Media and office files are compressed already; deflating them again costs time for nothing.
_STORED_SUFFIXES = frozenset({".mp4", ".m4a", ".mp3", ".mov", ".avi", ".wav", ".jpg", ".jpeg", ".png", ".gif",
                              ".docx", ".xlsx", ".zip", ".webm", ".ogg", ".flac"})


@contextmanager
def wide_csv_fields() -> Iterator[None]:
    """Let the csv module read cells of up to MAX_CELL characters while the block runs.

    The limit is the csv module's, shared by the whole process, so it is raised only for the
    read and put back afterwards rather than changed for everyone at import.
    """
    previous = csv.field_size_limit(MAX_CELL)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


# ---------------------------------------------------------------- writing


def datapackage(project: Project) -> dict[str, Any]:
    """The Frictionless Data Package that describes the tables, their columns and types."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", project.name.lower()).strip("-._") or "qda-project"
    return {
        "profile": "tabular-data-package",
        "name": slug,
        "title": project.name,
        "qdaconv": {"layout": PROFILE, "version": LAYOUT_VERSION},
        "resources": [_resource(table) for table in TABLES],
    }


def _resource(table: Table) -> dict[str, Any]:
    fields = []
    for column in table.columns:
        field: dict[str, Any] = {"name": column.name, "type": column.type}
        if column.description:
            field["description"] = column.description
        if column.type == "datetime":
            field["format"] = "any"
        if column.type == "boolean":
            field["trueValues"], field["falseValues"] = ["true"], ["false"]
        if column.derived:
            field["qdaconv:derived"] = True
        fields.append(field)
    return {
        "name": table.name, "path": f"{table.name}.csv", "profile": "tabular-data-resource",
        "description": table.description, "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
        "dialect": {"delimiter": ",", "quoteChar": '"', "doubleQuote": True, "lineTerminator": "\r\n",
                    "header": True},
        "schema": {"fields": fields, "missingValues": [""]},
    }


def _write_table(stream: IO[str], table: Table, rows: Iterator[list[Any]]) -> None:
    writer = csv.writer(stream)
    writer.writerow(table.names)
    writers = [text_writer(column.type) for column in table.columns]
    for row in rows:
        writer.writerow([None if value is None else write(value) for write, value in zip(writers, row, strict=True)])


def write_csv_tables(project: Project, path: Path) -> None:
    """Write the tables to `path`: a zip when the output's name ends in .zip, else a folder."""
    flat = Flattener(project)
    if path.name.lower().endswith(".zip"):  # the core's temporary name ends like the target's
        _write_zip(project, flat, path)
    else:
        _write_folder(project, flat, path)


def _write_folder(project: Project, flat: Flattener, path: Path) -> None:
    path.mkdir()
    for table, rows in flat.tables():
        with open(path / f"{table.name}.csv", "w", encoding="utf-8", newline="") as stream:
            _write_table(stream, table, rows)
    for relative, blob in flat.files.items():
        target = path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        with blob.open() as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
    (path / PACKAGE_FILE).write_text(json.dumps(datapackage(project), indent=2, ensure_ascii=False) + "\n",
                                     encoding="utf-8")


def _write_zip(project: Project, flat: Flattener, path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PACKAGE_FILE, json.dumps(datapackage(project), indent=2, ensure_ascii=False) + "\n")
        for table, rows in flat.tables():
            with archive.open(f"{table.name}.csv", "w") as raw:
                with io.TextIOWrapper(raw, encoding="utf-8", newline="") as stream:
                    _write_table(stream, table, rows)
        for relative, blob in flat.files.items():
            info = zipfile.ZipInfo(relative, date_time=(1980, 1, 1, 0, 0, 0))
            stored = PurePosixPath(relative).suffix.lower() in _STORED_SUFFIXES
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            large = blob.size is None or blob.size > (1 << 30)
            with blob.open() as source, archive.open(info, "w", force_zip64=large) as out:
                shutil.copyfileobj(source, out, 1 << 20)


# ---------------------------------------------------------------- reading


def _relative_reason(relative: str) -> str | None:
    return unsafe_name_reason(relative) if relative else "is empty"


class CsvTablesReader(TableReader):
    """Typed rows from a folder or a .csv.zip of tables."""

    def __init__(self, path: Path, limits: ZipLimits | None = None) -> None:
        super().__init__(path)
        self.folder = path if path.is_dir() else None
        self.zip = None if self.folder else open_zip(path, limits)
        self.members = frozenset(self.zip.names()) if self.zip else frozenset()
        self.prefix = package_prefix(sorted(self.members))
        if not any(self._exists(name) for name in [PACKAGE_FILE, *(f"{t.name}.csv" for t in TABLES)]):
            self.close()
            raise ReadError(path, "no tables here: neither datapackage.json nor any of the table CSV files",
                            hint="point to the folder (or .csv.zip) that holds codes.csv, sources.csv, ...")

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def _exists(self, relative: str) -> bool:
        if self.folder is not None:
            return (self.folder / relative).is_file()
        return self.prefix + relative in self.members

    @contextmanager
    def _open_text(self, relative: str) -> Iterator[IO[str]]:
        if self.folder is not None:
            raw: IO[bytes] = open(self.folder / relative, "rb")
        else:
            member = self.prefix + relative
            raw = io.BufferedReader(ZipMemberStream(self.zip.open(member), self.path, member), 1 << 16)
        with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
            yield text

    def raw_rows(self, table: Table) -> Iterator[tuple[int, list[Any]]]:
        relative = f"{table.name}.csv"
        if not self._exists(relative):
            return
        with self._open_text(relative) as stream:
            reader = csv.reader(stream, strict=True)
            number = 0
            try:
                for number, cells in enumerate(reader, 1):
                    yield number, cells
            except csv.Error as exc:
                raise ReadError(self.path, f"malformed CSV: {exc}", location=f"{self._member(relative)} row "
                                f"{number + 1}", hint="save the table again as CSV (UTF-8)") from None
            except UnicodeDecodeError:
                raise ReadError(self.path, "the table is not UTF-8 text", location=self._member(relative),
                                hint="save it again as CSV UTF-8") from None

    def _member(self, relative: str) -> str:
        return self.prefix + relative

    def decode(self, cell: Any) -> Any:
        return unescape_text(cell) if cell else None

    def place(self, table: str, number: int, column: str, index: int) -> str:
        return f"{self._member(table + '.csv')} row {number}, column {column!r}"

    def blob(self, relative: str) -> Blob | None:
        reason = _relative_reason(relative)
        if reason:
            raise ReadError(self.path, f"the file reference {relative!r} {reason}",
                            hint="files are referred to by a path inside the tables' folder, such as files/x.txt")
        name = PurePosixPath(relative).name
        if self.folder is not None:
            target = (self.folder / relative).resolve()
            if not target.is_relative_to(self.folder.resolve()) or not target.is_file():
                return None
            return Blob(name, file=str(target), size=target.stat().st_size)
        member = self.prefix + relative
        if member not in self.members:
            return None
        for _chunk in self.zip.chunks(member):
            pass  # unpacked once now, so a damaged member is a ReadError here and not later
        return Blob(name, zip_path=str(self.path), member=member, size=self.zip.getinfo(member).file_size)


def package_prefix(names: Sequence[str]) -> str:
    """The folder inside a zip that holds the tables: the top, or the one folder a zipped folder makes."""
    candidates = sorted((n for n in names if PurePosixPath(n).name == PACKAGE_FILE and n.count("/") <= 1),
                        key=lambda n: n.count("/"))
    if candidates:
        return candidates[0][: -len(PACKAGE_FILE)]
    tops = {n.split("/", 1)[0] + "/" for n in names if "/" in n and n.endswith(".csv") and n.count("/") == 1}
    return tops.pop() if len(tops) == 1 and not any(n.endswith(".csv") and "/" not in n for n in names) else ""

