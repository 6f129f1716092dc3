"""NVivo: the codebook as a table (Name, Description, Files, References), read and written as xlsx.

NVivo's own codebook export is a Word document listing Name, Description, Files and References; the
spreadsheet layout is not verified. The reader takes the hierarchy from hierarchical names
(`Codes\\\\Parent\\Child`, `Nodes\\\\...` before NVivo 12), from a `Folder Location` or `Parent` column
(the Node Structure report, nvivotools' node CSV), or from nesting (cell indent or leading spaces).
The writer puts hierarchical names in Name, with Description, Files, References and Color.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdaconv.formats import Feature, Loss
from qdaconv.model import Project, guid_key, walk_codes

from .base import CODABLE, CodebookFormat, codable_cell, codebook_losses, coding_counts, has_themes
from .build import ProjectBuilder
from .tabular import ExportColumn, Layout, Located, cell_getter, data_rows, parse_colour, write_xlsx

ROOTS = {"codes", "nodes", "knoten", "codes & cases"}

LAYOUT = Layout(
    columns=(
        ExportColumn("name", ("Name", "Hierarchical Name", "Node", "Code Name", "Node Name", "Nodes", "Knoten"),
               required=True),
        ExportColumn("description", ("Description", "Beschreibung")),
        ExportColumn("files", ("Files", "Sources", "Dateien", "Quellen")),
        ExportColumn("references", ("References", "Coding References", "Referenzen")),
        ExportColumn("folder", ("Folder Location", "Folder", "Ordner")),
        ExportColumn("parent", ("Parent", "Parent Name", "Übergeordneter Code")),
        ExportColumn("color", ("Color", "Colour", "Farbe")),
        ExportColumn("aggregate", ("Aggregate", "Aggregiert")),
        ExportColumn("nickname", ("Nickname", "Kurzname")),
        ExportColumn("category", ("Category",)),
        CODABLE,
    ),
)


def hierarchical_path(text: str) -> tuple[str, ...]:
    """`Codes\\\\A\\B` -> (A, B): split at backslashes, the root folder dropped."""
    parts = [" ".join(part.split()) for part in text.split("\\") if part.strip()]
    if len(parts) > 1 and parts[0].casefold() in ROOTS:
        parts = parts[1:]
    return tuple(parts)


def leading_indent(text: str) -> int:
    """Nesting shown with leading spaces (two per level) or tabs."""
    stripped = text.lstrip(" \t")
    prefix = text[: len(text) - len(stripped)]
    return prefix.count("\t") + prefix.count(" ") // 2


class NvivoCodebook(CodebookFormat):
    name = "nvivo-codebook-xlsx"
    title = "NVivo codebook table (Name, Description, Files, References)"
    extensions = (".xlsx",)
    tool = "NVivo"
    layout = LAYOUT
    capabilities = frozenset({Feature.CODES, Feature.CODE_TREE, Feature.DESCRIPTIONS, Feature.CODE_COLORS})

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:

        get = cell_getter(located)

        stack: list[tuple[int, tuple[str, ...]]] = []  # (level, path) of the open ancestors
        by_name: dict[str, tuple[str, ...]] = {}
        pending: list[tuple[tuple[str, ...], list[Any]]] = []
        for _number, row, indent in data_rows(located):
            raw = get(row, "name")
            if raw is None:
                continue
            if "\\" in raw:
                path = hierarchical_path(raw)
            elif folder := get(row, "folder"):
                path = (*hierarchical_path(folder + "\\x")[:-1], raw.strip())
            elif parent := get(row, "parent"):
                path = (*(by_name.get(parent.strip()) or hierarchical_path(parent)), raw.strip())
            else:
                level = indent + leading_indent(raw)
                while stack and stack[-1][0] >= level:
                    stack.pop()
                path = (*(stack[-1][1] if stack else ()), raw.strip())
                stack.append((level, path))
            if not path:
                continue
            by_name.setdefault(path[-1], path)
            pending.append((path, row))
        for path, row in pending:
            builder.code(path, description=get(row, "description"), color=parse_colour(get(row, "color")),
                         codable=codable_cell(get(row, "codable")))

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        counts = coding_counts(project)
        header = ("Name", "Description", "Files", "References", "Color", "Codable")
        header = header if has_themes(project) else header[:-1]
        rows = []
        for entry in walk_codes(project):
            references, files = counts.get(guid_key(entry.code.guid), (0, 0))
            rows.append(("Codes\\\\" + "\\".join(entry.path), entry.code.description or "", files, references,
                         entry.code.color or "", "Yes" if entry.code.codable else "No")[: len(header)])
        cleaned = write_xlsx(path, "Codebook", header, rows)
        losses = codebook_losses(project, "\\")
        if cleaned:
            losses.append(Loss("characters xlsx cannot hold removed", cleaned))
        return losses
