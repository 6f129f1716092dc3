"""ATLAS.ti: the Quotation Manager export and the Code Manager export, as xlsx or CSV.

Verified quotation columns: ID (`1:5`), Document, Document Groups, Reference (`62 - 62`, paragraphs),
Codes (several in one cell, one per line), Comment. Quotation Content, Created by, Created, Modified
and the Code Manager's columns (Code, Comment, Groundedness, Density, Groups, Colour, Created,
Modified, Author) are accepted by alias but not verified. CSV files come comma, semicolon or tab
separated, in UTF-8 or Windows-1252. ATLAS.ti codes are flat; with the reader option
`colon_tree=true`, a `Prefix: name` code becomes `name` under a parent code `Prefix`.
"""

from __future__ import annotations

import re
from typing import Any

from qdaconv.formats import CODEBOOK_FEATURES, Feature, Option

from .base import SEGMENT_FEATURES, VENDOR_OPTIONS, CodebookFormat, VendorFormat, split_cell
from .build import ProjectBuilder
from .tabular import ExportColumn, Layout, Located, cell_getter, cell_text, data_rows, parse_colour, parse_datetime

COLON_OPTION = Option("colon_tree", "read `Prefix: name` codes as `name` under a parent code `Prefix` "
                      "(default: flat)", bool, False)

QUOTATIONS = Layout(
    columns=(
        ExportColumn("id", ("ID", "Quotation ID", "Zitat-ID"), required=True),
        ExportColumn("document", ("Document", "Dokument", "Primary Document", "Document Name"), required=True),
        ExportColumn("groups", ("Document Groups", "Document Group", "Dokumentgruppen")),
        ExportColumn("reference", ("Reference", "Referenz", "Position")),
        ExportColumn("codes", ("Codes", "Kodes", "Code"), required=True),
        ExportColumn("content", ("Quotation Content", "Content", "Quotation", "Text", "Zitatinhalt", "Inhalt")),
        ExportColumn("name", ("Name", "Quotation Name", "Zitatname")),
        ExportColumn("comment", ("Comment", "Kommentar")),
        ExportColumn("created_by", ("Created by", "Author", "Erstellt von", "Autor")),
        ExportColumn("created", ("Created", "Creation Date", "Erstellt")),
        ExportColumn("modified_by", ("Modified by", "Geändert von")),
        ExportColumn("modified", ("Modified", "Geändert")),
        ExportColumn("density", ("Density", "Dichte")),
        ExportColumn("number_codes", ("Number of Codes", "Anzahl Codes")),
    ),
)

DOCUMENT_PREFIX = re.compile(r"^[DP]\s?\d+\s*:\s*")


def code_path(name: str, colon_tree: bool) -> tuple[str, ...]:
    if colon_tree and ":" in name:
        prefix, _, rest = name.partition(":")
        if prefix.strip() and rest.strip():
            return (prefix.strip(), rest.strip())
    return (name,)


def _paragraph(reference: str | None) -> int | None:
    match = re.match(r"\s*(\d+)", reference or "")
    return int(match.group(1)) if match else None


class AtlasQuotations(VendorFormat):
    name = "atlasti-quotations"
    title = "ATLAS.ti quotation manager export"
    extensions = (".xlsx", ".csv")
    tool = "ATLAS.ti"
    layout = QUOTATIONS
    capabilities = SEGMENT_FEATURES | {Feature.SETS}
    options = (*VENDOR_OPTIONS, COLON_OPTION)
    fill_down = ("document", "groups")

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        colon_tree = bool(options.get("colon_tree"))

        get = cell_getter(located)

        for _number, row, _indent in data_rows(located, self.fill_down):
            name = get(row, "document") or ""
            document = builder.document(DOCUMENT_PREFIX.sub("", name))
            for group in split_cell(get(row, "groups")):
                builder.add_to_set(group, document)
            codes = [builder.applied(code_path(c, colon_tree)) for c in split_cell(get(row, "codes"))]
            excerpt = get(row, "content") or (get(row, "name") or "").rstrip("…").rstrip(".") or None
            builder.segment(
                document, excerpt, codes, key=get(row, "id"),
                user=builder.user(get(row, "created_by")),
                created=parse_datetime(get(row, "created")),
                modified_by=builder.user(get(row, "modified_by")),
                modified=parse_datetime(get(row, "modified")),
                comment=get(row, "comment"), paragraph=_paragraph(get(row, "reference")))


CODES = Layout(
    columns=(
        ExportColumn("code", ("Code", "Name", "Kode", "Codes"), required=True),
        ExportColumn("comment", ("Comment", "Kommentar", "Description")),
        ExportColumn("groundedness", ("Groundedness", "Grounded", "Fundierung")),
        ExportColumn("density", ("Density", "Dichte")),
        ExportColumn("groups", ("Groups", "Code Groups", "Codegruppen", "Gruppen")),
        ExportColumn("color", ("Colour", "Color", "Farbe")),
        ExportColumn("created", ("Created", "Erstellt")),
        ExportColumn("modified", ("Modified", "Geändert")),
        ExportColumn("author", ("Author", "Created by", "Autor")),
    ),
)

BRACKETED = re.compile(r"\[([^\]]+)\]")


def code_groups(cell: str | None) -> list[str]:
    """Groups one per line, or each in brackets (`[Group A] [Group B]`)."""
    if cell and BRACKETED.search(cell):
        return [" ".join(g.split()) for g in BRACKETED.findall(cell)]
    return split_cell(cell)


class AtlasCodes(CodebookFormat):
    name = "atlasti-codes"
    title = "ATLAS.ti code manager export"
    extensions = (".xlsx", ".csv")
    tool = "ATLAS.ti"
    layout = CODES
    capabilities = CODEBOOK_FEATURES | {Feature.SETS}
    options = (*VENDOR_OPTIONS, COLON_OPTION)

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        colon_tree = bool(options.get("colon_tree"))

        get = cell_getter(located, text=False)

        for _number, row, _indent in data_rows(located):
            name = cell_text(get(row, "code"))
            if name is None:
                continue
            code = builder.code(code_path(" ".join(name.split()), colon_tree),
                                description=cell_text(get(row, "comment")), color=parse_colour(get(row, "color")))
            for group in code_groups(cell_text(get(row, "groups"))):
                builder.add_code_to_set(group, code)
