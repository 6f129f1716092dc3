"""Dedoose: the excerpts export (DedooseChartExcerpts_*.xlsx) and the codes export (DedooseCodesExport_*).

Verified excerpt columns: Media Title (Document Title in older files), Excerpt Range, Excerpt Creator,
Excerpt Date (M/D/YYYY), Excerpt Copy, Resource Creator, Resource Date, Codes Applied Combined, then
per code `Code: <Parent\\Child> Applied` (True/False), `... Range` and `... Weight`. Other columns are
descriptors and become source variables. The codes export (Id, Parent Id, Depth, Title, Description,
Weighted, Weight Minimum/Maximum/Default, Applications) nests codes by parent id. Code weights are
not carried by the model; a warning counts them.
"""

from __future__ import annotations

import re
from typing import Any

from qdaconv.errors import ReadError
from qdaconv.formats import CODEBOOK_FEATURES, Feature

from .base import SEGMENT_FEATURES, CodebookFormat, VendorFormat, split_cell, warn_dropped
from .build import ProjectBuilder, resolve_parent_paths
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
)

EXCERPTS = Layout(
    columns=(
        ExportColumn("media", ("Media Title", "Document Title", "Media"), required=True),
        ExportColumn("range", ("Excerpt Range", "Range")),
        ExportColumn("creator", ("Excerpt Creator",)),
        ExportColumn("date", ("Excerpt Date",)),
        ExportColumn("copy", ("Excerpt Copy", "Excerpt Text", "Excerpt"), required=True),
        ExportColumn("resource_creator", ("Resource Creator",)),
        ExportColumn("resource_date", ("Resource Date",)),
        ExportColumn("combined", ("Codes Applied Combined", "Codes Applied")),
        ExportColumn("memo", ("Excerpt Memo", "Memo")),
    ),
    patterns=(Pattern("code", re.compile(r"(?i)code\s*:\s*(.+?)\s+(applied|range|weight)")),),
    open=True,
)

RANGE = re.compile(r"(?:.*:\s*)?(\d+)\s*-\s*(\d+)\s*$")


def range_start(text: str | None) -> int | None:
    """The first character offset of an Excerpt Range (`Page 2: 120-250` or `120-250`)."""
    match = RANGE.match(text or "")
    return int(match.group(1)) if match else None


def descriptor_name(header: str) -> str:
    """A descriptor column's name without the `.1` that tools add to repeated headers."""
    return re.sub(r"\.\d+$", "", header.strip())


class DedooseExcerpts(VendorFormat):
    name = "dedoose-excerpts"
    title = "Dedoose excerpts export"
    extensions = (".xlsx", ".csv")
    tool = "Dedoose"
    layout = EXCERPTS
    capabilities = SEGMENT_FEATURES | {Feature.VARIABLES}
    fill_down = ("media",)

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        match = located.match
        applied: list[tuple[int, tuple[str, ...]]] = []
        weights: list[int] = []
        for _key, index, found in match.patterns:
            path = split_code_path(found.group(1), ("\\",))
            builder.code(path)
            if found.group(2).casefold() == "applied":
                applied.append((index, path))
            elif found.group(2).casefold() == "weight":
                weights.append(index)
        known = {i for indexes in match.columns.values() for i in indexes} | {i for _, i, _ in match.patterns}
        descriptors = [(i, descriptor_name(h)) for i, h in enumerate(match.header) if h and i not in known]

        get = cell_getter(located)

        weighted = 0
        for _number, row, _indent in data_rows(located, self.fill_down):
            document = builder.document(get(row, "media") or "")
            source = document.source
            source.creating_user = source.creating_user or builder.user(get(row, "resource_creator"))
            source.created = source.created or parse_datetime(get(row, "resource_date"))
            for index, name in descriptors:
                if (value := cell_text(row[index])) is not None:
                    builder.set_variable(document, name, value)
            if applied:
                codes = [builder.applied(path) for index, path in applied if parse_bool(row[index])]
            else:  # only leaf titles, comma-joined: a title holding a comma splits wrongly
                codes = [builder.applied((title,)) for title in split_cell(get(row, "combined"), (",",))]
            weighted += sum(cell_text(row[index]) is not None for index in weights)
            builder.segment(document, get(row, "copy"), codes,
                            user=builder.user(get(row, "creator")), created=parse_datetime(get(row, "date")),
                            comment=get(row, "memo"), offset=range_start(get(row, "range")))
        warn_dropped(builder, "code weights", weighted)


CODES = Layout(
    columns=(
        ExportColumn("id", ("Id", "Code Id"), required=True),
        ExportColumn("parent", ("Parent Id", "ParentId", "Parent"), required=True),
        ExportColumn("depth", ("Depth",)),
        ExportColumn("title", ("Title", "Code", "Name"), required=True),
        ExportColumn("description", ("Description",)),
        ExportColumn("weighted", ("Weighted",)),
        ExportColumn("weight_min", ("Weight Minimum", "Weight Min")),
        ExportColumn("weight_max", ("Weight Maximum", "Weight Max")),
        ExportColumn("weight_default", ("Weight Default",)),
        ExportColumn("applications", ("Applications",)),
        ExportColumn("color", ("Color", "Colour")),
    ),
)


class DedooseCodes(CodebookFormat):
    name = "dedoose-codes"
    title = "Dedoose codes export"
    extensions = (".xlsx", ".csv")
    tool = "Dedoose"
    layout = CODES
    capabilities = CODEBOOK_FEATURES

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        get = cell_getter(located)

        rows: dict[str, tuple[str, str | None]] = {}
        details: dict[str, list[Any]] = {}
        weighted = 0
        for _number, row, _indent in data_rows(located):
            key, title = get(row, "id"), get(row, "title")
            if key is None or title is None:
                continue
            rows[key] = (" ".join(title.split()), get(row, "parent"))
            details[key] = row
            weighted += bool(parse_bool(get(row, "weighted")))
        try:
            paths = resolve_parent_paths(rows, located.sheet.name or "table")
        except ValueError as exc:
            raise ReadError(builder.path, str(exc), hint="fix the Parent Id column") from None
        for key, path in paths.items():
            row = details[key]
            builder.code(path, description=get(row, "description"), color=parse_colour(get(row, "color")))
        warn_dropped(builder, "weighted codes' weight ranges", weighted)
