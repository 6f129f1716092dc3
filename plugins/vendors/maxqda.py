"""MAXQDA: the coded segments export (xlsx or CSV) and the Code | Memo codebook table MAXQDA imports.

Verified headers: Document group, Document name, Code, Segment, Created by; the codebook's Code, Memo.
Code paths use `\\` in older versions and ` > ` in MAXQDA 24, whose export also has one 0/1 column per
code headed `Code: Parent > Child`. Begin, End (paragraph numbers, used only to search the text near
them), Comment, Color, Weight score, Area, Coverage %, Created, Modified by, Modified and the German
headers (Dokumentgruppe, Dokumentname, ...) are accepted by alias but not yet seen in a real file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from qdaconv.formats import Feature, Loss, Option
from qdaconv.model import Project, walk_codes

from .base import (
    CODABLE,
    SEGMENT_FEATURES,
    VENDOR_OPTIONS,
    CodebookFormat,
    VendorFormat,
    codable_cell,
    codebook_losses,
    has_themes,
    warn_dropped,
)
from .build import ProjectBuilder
from .tabular import (
    ExportColumn,
    Layout,
    Located,
    Pattern,
    cell_getter,
    cell_text,
    data_rows,
    parse_bool,
    parse_colour,
    parse_datetime,
    split_code_path,
    write_xlsx,
)

SEPARATORS = (" > ", "\\")

SEGMENTS = Layout(
    columns=(
        ExportColumn("group", ("Document group", "Dokumentgruppe", "Documentgroup")),
        ExportColumn("document", ("Document name", "Dokumentname", "Document", "Dokument"), required=True),
        ExportColumn("code", ("Code", "Kode"), required=True),
        ExportColumn("segment", ("Segment", "Segment text", "Text"), required=True),
        ExportColumn("begin", ("Begin", "Anfang", "Beginning", "Start")),
        ExportColumn("end", ("End", "Ende")),
        ExportColumn("weight", ("Weight score", "Gewicht", "Weight", "Gewichtungswert")),
        ExportColumn("comment", ("Comment", "Kommentar")),
        ExportColumn("color", ("Color", "Colour", "Farbe")),
        ExportColumn("area", ("Area", "Fläche")),
        ExportColumn("coverage", ("Coverage %", "Abdeckungsgrad %", "Coverage", "Abdeckung %")),
        ExportColumn("created_by", ("Created by", "Erstellt von", "Author", "Autor")),
        ExportColumn("created", ("Created", "Erstellt am", "Erstellt", "Creation date")),
        ExportColumn("modified_by", ("Modified by", "Geändert von")),
        ExportColumn("modified", ("Modified", "Geändert am", "Geändert")),
    ),
    patterns=(Pattern("onehot", re.compile(r"(?i)code\s*:\s*(.+)")),),
)

GERMAN_DOCUMENT = {"dokumentname", "dokument"}


def _paragraph(value: Any) -> int | None:
    text = cell_text(value)
    match = re.match(r"\s*(\d+)", text or "")
    return int(match.group(1)) if match else None


class MaxqdaSegments(VendorFormat):
    tool = "MAXQDA"
    capabilities = SEGMENT_FEATURES | {Feature.CODE_COLORS, Feature.SETS}
    layout = SEGMENTS
    fill_down = ("group", "document")

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        match = located.match
        german = match.header[match.index("document")].casefold() in GERMAN_DOCUMENT

        get = cell_getter(located, text=False)

        onehot = [(index, split_code_path(m.group(1), SEPARATORS)) for _, index, m in match.patterns]
        for _, path in onehot:
            if path:
                builder.code(path)
        weighted = 0
        for _number, row, _indent in data_rows(located, self.fill_down):
            document = builder.document(cell_text(get(row, "document")) or "")
            if group := cell_text(get(row, "group")):
                builder.add_to_set(group, document)
            paths = []
            if code_text := cell_text(get(row, "code")):
                paths.append(split_code_path(code_text, SEPARATORS))
            paths += [path for index, path in onehot if path and parse_bool(row[index]) and path not in paths]
            codes = [builder.applied(path) for path in paths if path]
            if colour := parse_colour(get(row, "color")):
                for code in codes[:1]:
                    code.color = code.color or colour
            weight = cell_text(get(row, "weight"))
            weighted += weight not in (None, "0", "100")
            builder.segment(
                document, cell_text(get(row, "segment")), codes,
                user=builder.user(cell_text(get(row, "created_by"))),
                created=parse_datetime(get(row, "created"), month_first=not german),
                modified_by=builder.user(cell_text(get(row, "modified_by"))),
                modified=parse_datetime(get(row, "modified"), month_first=not german),
                comment=cell_text(get(row, "comment")), paragraph=_paragraph(get(row, "begin")))
        warn_dropped(builder, "segment weight scores", weighted)


class MaxqdaSegmentsXlsx(MaxqdaSegments):
    name = "maxqda-segments-xlsx"
    title = "MAXQDA coded segments (Excel)"
    extensions = (".xlsx",)
    kinds = ("xlsx",)


class MaxqdaSegmentsCsv(MaxqdaSegments):
    name = "maxqda-segments-csv"
    title = "MAXQDA coded segments (CSV)"
    extensions = (".csv",)
    kinds = ("csv",)


CODEBOOK = Layout(
    columns=(
        ExportColumn("code", ("Code", "Kode", "Codes"), required=True),
        ExportColumn("memo", ("Memo", "Code memo", "Code-Memo")),
        ExportColumn("color", ("Color", "Colour", "Farbe")),
        CODABLE,
    ),
)


class MaxqdaCodebook(CodebookFormat):
    """The two-column table MAXQDA imports as a code system: the code's path and its memo."""

    name = "maxqda-codebook-xlsx"
    title = "MAXQDA codebook table (Code | Memo)"
    extensions = (".xlsx",)
    kinds = ("xlsx",)
    tool = "MAXQDA"
    layout = CODEBOOK
    capabilities = frozenset({Feature.CODES, Feature.CODE_TREE, Feature.DESCRIPTIONS})
    options = (*VENDOR_OPTIONS, Option("separator", "path separator written between parent and child codes",
                                          default="\\", read=False, write=True))

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        get = cell_getter(located, text=False)

        for _number, row, _indent in data_rows(located):
            path = split_code_path(cell_text(get(row, "code")) or "", SEPARATORS)
            if path:
                builder.code(path, description=cell_text(get(row, "memo")), color=parse_colour(get(row, "color")),
                             codable=codable_cell(get(row, "codable")))

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        separator = options.get("separator") or "\\"
        themes = has_themes(project)
        header = ("Code", "Memo", "Codable") if themes else ("Code", "Memo")
        rows = [(separator.join(entry.path), entry.code.description or "", "Yes" if entry.code.codable else "No")
                [: len(header)] for entry in walk_codes(project)]
        cleaned = write_xlsx(path, "Codes", header, rows)
        losses = codebook_losses(project, separator)
        if cleaned:
            losses.append(Loss("characters xlsx cannot hold removed", cleaned))
        return losses
