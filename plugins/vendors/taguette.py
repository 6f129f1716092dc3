"""Taguette: the codebook (CSV, which Taguette also imports, and Excel) and the highlights (CSV and Excel).

Verified: codebook `tag, description, number of highlights, number of documents` (older versions
without the last column; Taguette's importer takes the name from `tag`, `name` or `path`), highlights
`id, document, tag, content` with one row per tag of a highlight (newer versions add `tag_parent`,
`tag_full_path`, `tag_description`). The Excel exports (Taguette 1.5's `export.py`) have the same
columns, on a sheet named `codebook` or `highlights`, ids written as text. Taguette tags are flat
names: qdaconv reads ` > ` inside a tag as a path and writes a code's path joined with it (reader and
writer option `separator`, `none` for flat).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from qdaconv.formats import Feature, Loss, Option
from qdaconv.model import Project, guid_key, walk_codes

from .base import (
    CODABLE,
    SEGMENT_FEATURES,
    VENDOR_OPTIONS,
    CodebookFormat,
    VendorFormat,
    codable_cell,
    codebook_losses,
    coding_counts,
    has_themes,
)
from .build import ProjectBuilder
from .tabular import ExportColumn, Layout, Located, cell_getter, data_rows, split_code_path, write_csv, write_xlsx

DEFAULT_SEPARATOR = " > "
SEPARATOR_OPTION = Option("separator", "text between parent and child in a tag name ('none' keeps tags flat)",
                          default=DEFAULT_SEPARATOR, write=True)


def separator_of(options: dict[str, Any]) -> str | None:
    value = options.get("separator", DEFAULT_SEPARATOR)
    return None if value in (None, "", "none") else str(value)


def tag_path(tag: str, separator: str | None) -> tuple[str, ...]:
    return split_code_path(tag, (separator,)) if separator else (" ".join(tag.split()),)


CODEBOOK = Layout(
    columns=(
        ExportColumn("tag", ("tag", "name", "path"), required=True),
        ExportColumn("description", ("description",)),
        ExportColumn("highlights", ("number of highlights",)),
        ExportColumn("documents", ("number of documents",)),
        CODABLE,
    ),
)


class TaguetteCodebook(CodebookFormat):
    name = "taguette-codebook-csv"
    title = "Taguette codebook (CSV)"
    extensions = (".csv",)
    kinds = ("csv",)
    tool = "Taguette"
    layout = CODEBOOK
    capabilities = frozenset({Feature.CODES, Feature.CODE_TREE, Feature.DESCRIPTIONS})
    options = (*VENDOR_OPTIONS, SEPARATOR_OPTION)

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        separator = separator_of(options)

        get = cell_getter(located)

        for _number, row, _indent in data_rows(located):
            path = tag_path(get(row, "tag") or "", separator)
            if path and path[0]:
                builder.code(path, description=get(row, "description"), codable=codable_cell(get(row, "codable")))

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        separator = separator_of(options) or DEFAULT_SEPARATOR
        write_csv(path, *codebook_rows(project, separator))
        return codebook_losses(project, separator)


def codebook_rows(project: Project, separator: str) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
    """The header and rows of Taguette's codebook export (plus `codable` when some codes are themes)."""
    counts = coding_counts(project)
    header = ("tag", "description", "number of highlights", "number of documents", "codable")
    header = header if has_themes(project) else header[:-1]
    rows = []
    for entry in walk_codes(project):
        highlights, documents = counts.get(guid_key(entry.code.guid), (0, 0))
        rows.append((separator.join(entry.path), entry.code.description or "", highlights, documents,
                     "yes" if entry.code.codable else "no")[: len(header)])
    return header, rows


#: Taguette's workbook always names the tag column `tag` (`name` and `path` are only its CSV importer's).
CODEBOOK_XLSX = Layout(columns=(ExportColumn("tag", ("tag",), required=True), *CODEBOOK.columns[1:]))


class TaguetteCodebookXlsx(TaguetteCodebook):
    """Taguette's codebook export as a workbook: the CSV's columns on a sheet named `codebook`."""

    name = "taguette-codebook-xlsx"
    title = "Taguette codebook (Excel)"
    extensions = (".xlsx",)
    kinds = ("xlsx",)
    layout = CODEBOOK_XLSX

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        separator = separator_of(options) or DEFAULT_SEPARATOR
        cleaned = write_xlsx(path, "codebook", *codebook_rows(project, separator))
        losses = codebook_losses(project, separator)
        if cleaned:
            losses.append(Loss("characters xlsx cannot hold removed", cleaned))
        return losses


HIGHLIGHTS = Layout(
    columns=(
        ExportColumn("id", ("id",), required=True),
        ExportColumn("document", ("document",), required=True),
        ExportColumn("tag", ("tag",), required=True),
        ExportColumn("content", ("content",), required=True),
        ExportColumn("parent", ("tag_parent",)),
        ExportColumn("full_path", ("tag_full_path",)),
        ExportColumn("description", ("tag_description",)),
    ),
)


class TaguetteHighlights(VendorFormat):
    name = "taguette-highlights-csv"
    title = "Taguette highlights (CSV)"
    extensions = (".csv",)
    kinds = ("csv",)
    tool = "Taguette"
    layout = HIGHLIGHTS
    capabilities = SEGMENT_FEATURES - {Feature.USERS, Feature.AUTHORSHIP}
    options = (*VENDOR_OPTIONS, replace(SEPARATOR_OPTION, write=False))

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        separator = separator_of(options)

        get = cell_getter(located)

        for _number, row, _indent in data_rows(located):
            document = builder.document(get(row, "document") or "")
            tag = get(row, "full_path") or get(row, "tag")
            codes = []
            if tag:
                path = tag_path(tag, separator)
                if (parent := get(row, "parent")) and not get(row, "full_path"):
                    path = (*tag_path(parent, separator), *path)
                codes.append(builder.code(path, description=get(row, "description"), codable=True))
            builder.segment(document, get(row, "content"), codes, key=f"highlight {get(row, 'id')}")


class TaguetteHighlightsXlsx(TaguetteHighlights):
    """Taguette's highlights export as a workbook: the CSV's columns on a sheet named `highlights`."""

    name = "taguette-highlights-xlsx"
    title = "Taguette highlights (Excel)"
    extensions = (".xlsx",)
    kinds = ("xlsx",)
