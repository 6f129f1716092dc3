"""QualCoder: the codebook CSV with `>>` paths and the coded segments CSV of its coding reports.

The segments layout is QualCoder's report export: `File/case, Coder, Coded, Id, Codename, Coded_Memo`,
then one `Category` column per level (the nearest category first) and optional `FileVar_<name>` and
`CaseVar_<name>` columns (read as variables of the document, under the name after the prefix). Coded
is the text, or `image` / `a/v` for media codings, which apply to the whole document here. Categories
are not codable in QualCoder and are read as codes with isCodable false. The codebook CSV layout
(a code path with `>>` between levels, Memo, Color) is accepted by alias and not yet verified.
"""

from __future__ import annotations

import re
from typing import Any

from qdaconv.formats import Feature

from .base import SEGMENT_FEATURES, CodebookFormat, VendorFormat
from .build import ProjectBuilder
from .tabular import (
    ExportColumn,
    Layout,
    Located,
    Pattern,
    cell_getter,
    cell_text,
    data_rows,
    parse_colour,
    split_code_path,
)

SEPARATORS = (">>",)
MEDIA = {"image", "a/v", "av", "audio", "video"}

CODEBOOK = Layout(
    columns=(
        ExportColumn("code", ("Codename", "Code", "Code name", "Code path", "Path"), required=True),
        ExportColumn("memo", ("Memo", "Description")),
        ExportColumn("color", ("Color", "Colour")),
        ExportColumn("kind", ("Type", "Kind")),
    ),
)


class QualcoderCodebook(CodebookFormat):
    name = "qualcoder-codebook-csv"
    title = "QualCoder codebook (CSV, `>>` paths)"
    extensions = (".csv",)
    kinds = ("csv",)
    tool = "QualCoder"
    layout = CODEBOOK
    category_codable = False

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        get = cell_getter(located)

        for _number, row, _indent in data_rows(located):
            path = split_code_path(get(row, "code") or "", SEPARATORS)
            if not path:
                continue
            category = (get(row, "kind") or "").casefold().startswith("cat")
            builder.code(path, description=get(row, "memo"), color=parse_colour(get(row, "color")),
                         codable=not category)


SEGMENTS = Layout(
    columns=(
        ExportColumn("file", ("File/case", "File", "Case", "Filename", "File name", "File/Case"), required=True),
        ExportColumn("coder", ("Coder",)),
        ExportColumn("coded", ("Coded", "Coded text"), required=True),
        ExportColumn("id", ("Id",)),
        ExportColumn("codename", ("Codename", "Code name", "Code"), required=True),
        ExportColumn("memo", ("Coded_Memo", "Coded memo", "Memo")),
        ExportColumn("category", ("Category",), many=True),
    ),
    patterns=(Pattern("filevar", re.compile(r"FileVar_(.+)")), Pattern("casevar", re.compile(r"CaseVar_(.+)"))),
)


class QualcoderSegments(VendorFormat):
    name = "qualcoder-segments-csv"
    title = "QualCoder coded segments (CSV report export)"
    extensions = (".csv",)
    kinds = ("csv",)
    tool = "QualCoder"
    layout = SEGMENTS
    capabilities = SEGMENT_FEATURES | {Feature.VARIABLES}
    category_codable = False
    fill_down = ("file",)

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        match = located.match
        categories = match.columns.get("category", [])
        variables = [(index, found.group(1)) for _key, index, found in match.patterns]

        get = cell_getter(located)

        for _number, row, _indent in data_rows(located, self.fill_down):
            document = builder.document(get(row, "file") or "")
            for index, name in variables:
                if (value := cell_text(row[index])) is not None:
                    builder.set_variable(document, name, value)
            parents = [" ".join(c.split()) for i in categories if (c := cell_text(row[i]))]
            name = get(row, "codename")
            codes = [builder.applied((*reversed(parents), " ".join(name.split())))] if name else []
            coded = get(row, "coded")
            excerpt = None if (coded or "").strip().casefold() in MEDIA else coded
            builder.segment(document, excerpt, codes, user=builder.user(get(row, "coder")),
                            comment=get(row, "memo"))
