"""The lossless tidy tables: CSV files with datapackage.json (a folder or .csv.zip), or one .xlsx workbook.

Everything in the model goes into plain tables (codes, sources, segments, codings, cases, ...)
with GUIDs kept and files beside them, and comes back unchanged; see `schema` for the layout
and `frames` for the same tables as pandas DataFrames.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdaconv.formats import ALL_FEATURES, ZIP_LIMIT_OPTIONS, Format
from qdaconv.hookspecs import hookimpl
from qdaconv.model import Project
from qdaconv.safety import ZipLimits

from .build import build_project
from .csvfiles import CsvTablesReader, wide_csv_fields, write_csv_tables
from .sniff import sniff_csv_tables, sniff_workbook


class CsvTables(Format):
    name = "tables-csv"
    title = "Tidy tables: UTF-8 CSV files with datapackage.json, in a folder or .csv.zip (lossless)"
    extensions = (".csv.zip",)
    folder = True
    primary = True
    capabilities = ALL_FEATURES
    options = ZIP_LIMIT_OPTIONS

    def sniff(self, path: Path) -> float:
        return sniff_csv_tables(Path(path))

    def read(self, path: Path, **options: Any) -> Project:
        reader = CsvTablesReader(Path(path), ZipLimits.from_options(options))
        try:
            with wide_csv_fields():
                return build_project(reader)
        finally:
            reader.close()

    def write(self, project: Project, path: Path, **options: Any) -> None:
        write_csv_tables(project, Path(path))

    def to_frames(self, project: Project) -> dict[str, Any]:
        from .frames import project_to_frames  # loads pandas, so only when frames are asked for

        return project_to_frames(project)

    def from_frames(self, frames: Any) -> Project:
        from .frames import project_from_frames

        return project_from_frames(frames)


class XlsxTables(Format):
    name = "tables-xlsx"
    title = "Tidy tables: one Excel workbook, a sheet per table (lossless)"
    extensions = (".xlsx",)
    primary = True
    capabilities = ALL_FEATURES
    options = ZIP_LIMIT_OPTIONS

    def sniff(self, path: Path) -> float:
        return sniff_workbook(Path(path))

    def read(self, path: Path, **options: Any) -> Project:
        from .workbook import WorkbookReader  # loads openpyxl, so only when a workbook is read

        reader = WorkbookReader(Path(path), ZipLimits.from_options(options))
        try:
            return build_project(reader)
        finally:
            reader.close()

    def write(self, project: Project, path: Path, **options: Any) -> None:
        from .workbook import write_workbook  # loads openpyxl, so only when a workbook is written

        write_workbook(project, Path(path))


@hookimpl
def qdaconv_register_formats(register) -> None:
    register(CsvTables())
    register(XlsxTables())
