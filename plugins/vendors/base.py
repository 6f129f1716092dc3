"""The Format base shared by the vendor exports: sniffing by header row, layout checks, clear rejections."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from qdaconv.errors import ReadError
from qdaconv.formats import CODEBOOK_FEATURES, ZIP_LIMIT_OPTIONS, Feature, Format, Loss, Option
from qdaconv.issues import warning
from qdaconv.model import Project, walk_codes
from qdaconv.safety import ZipLimits

from .build import ProjectBuilder
from .tabular import ExportColumn, ExportTable, Layout, Located, locate_header, parse_bool, peek_table, read_table

SOURCES_OPTION = Option("sources", "folder of the documents as .txt files named like them; excerpts are placed "
                        "in that text (without it, each document becomes a stand-in made of its excerpts; "
                        "codebooks have no documents and leave it unused)")
#: What every vendor reader takes, so one set of options serves a folder of different exports.
VENDOR_OPTIONS = (*ZIP_LIMIT_OPTIONS, SOURCES_OPTION)

#: What a coded-segment export can hold at most; each format narrows it.
SEGMENT_FEATURES = frozenset({
    Feature.USERS, Feature.CODES, Feature.CODE_TREE, Feature.TEXT_SOURCES, Feature.TEXT_SELECTIONS,
    Feature.CODINGS, Feature.SOURCE_CODINGS, Feature.DESCRIPTIONS, Feature.AUTHORSHIP,
})


class VendorFormat(Format):
    """A vendor's spreadsheet or CSV export, recognised by its header row (never by extension alone).

    Subclasses set `layout`, `tool`, `kinds` (the table kinds they read: "xlsx", "csv") and implement
    `parse(located, builder, options)`.
    """

    layout: Layout
    tool: str = ""
    options = VENDOR_OPTIONS
    keeps_guids = False
    kinds: tuple[str, ...] = ("xlsx", "csv")
    #: columns whose empty cells repeat the value above (merged cells, grouped reports)
    fill_down: tuple[str, ...] = ()
    #: whether the parents implied by a code path can be applied (False for QualCoder categories)
    category_codable: bool = True

    def sniff(self, path: Path) -> float:
        table = peek_table(path)  # a file it cannot peek at is not one (the registry sees to errors)
        if table is None or table.kind not in self.kinds:
            return 0.0
        located = locate_header(table, self.layout)
        return located.score if located is not None else 0.0

    def locate(self, path: Path, limits: ZipLimits | None = None) -> tuple[ExportTable, Located]:
        """The table and its header row; a file of another layout is rejected with what is wrong."""
        table = read_table(path, limits=limits)
        if table.kind not in self.kinds:
            wanted = " or ".join(self.kinds)
            raise ReadError(path, f"{self.title} is read from {wanted}, not {table.kind}",
                            hint=self._looks_like_hint(path))
        located = locate_header(table, self.layout)
        if located is None:
            raise ReadError(path, "the file has no rows")
        if located.match.missing:
            raise ReadError(path, self._mismatch(located), location=_header_place(located),
                            hint=self._looks_like_hint(path))
        return table, located

    def _mismatch(self, located: Located) -> str:
        header = [h for h in located.match.header if h]
        if header and all(set(h) <= {"?", " ", "\ufffd"} for h in header):
            return ("the header row is unreadable (only question marks): the program saved it in an "
                    "encoding that lost its letters; export again as UTF-8")
        missing = ", ".join(repr(c.label) for c in located.match.missing)
        text = f"not a {self.title}: missing column(s) {missing}"
        if located.match.unknown:
            shown = located.match.unknown[:6]
            extra = ", ".join(repr(u) for u in shown) + (" ..." if len(located.match.unknown) > 6 else "")
            text += f"; unexpected column(s) {extra}"
        return text

    def _looks_like_hint(self, path: Path) -> str:
        other = looks_like(path, exclude=self.name)
        if other is None:
            return f"expected the header row of the {self.tool} export described in `qdaconv formats`"
        return f"it looks like {other.title}: pass --from {other.name}"

    def read(self, path: Path, **options: Any) -> Project:
        table, located = self.locate(path, ZipLimits.from_options(options))
        builder = ProjectBuilder(path, self.tool, options.get("sources"), self.category_codable)
        if table.encoding == "cp1252":
            builder.warn("VENDOR-ENCODING", "the file is not UTF-8; read it as Windows-1252",
                         hint="check accented letters; export as UTF-8 if the program offers it")
        self.parse(located, builder, options)
        return builder.finish()

    def parse(self, located: Located, builder: ProjectBuilder, options: dict[str, Any]) -> None:
        raise NotImplementedError


def _header_place(located: Located) -> str:
    row = located.row + 1
    return f"{located.sheet.name}!row {row}" if located.sheet.name else f"row {row}"


def looks_like(path: Path, exclude: str) -> Format | None:
    """The readable format (other than `exclude`) that sniffs `path` best, if any does."""
    from qdaconv.registry import default_registry

    scores = [(score, fmt) for score, fmt in default_registry().sniff_scores(path) if fmt.name != exclude]
    return max(scores, key=lambda pair: pair[0])[1] if scores else None


class CodebookFormat(VendorFormat):
    """A vendor codebook table: codes with their place in the tree, descriptions and maybe colours."""

    capabilities = CODEBOOK_FEATURES


#: Whether a code can be applied. No vendor table has it; qdaconv's codebook writers add the column
#: only when some codes are themes (isCodable false), and their readers take it back.
CODABLE = ExportColumn("codable", ("Codable", "isCodable", "Is codable"))


def has_themes(project: Project) -> bool:
    return any(not entry.code.codable for entry in walk_codes(project))


def codable_cell(value: Any) -> bool | None:
    """True, False, or None (not stated: keep the default) from a Codable cell."""
    if value is None or not str(value).strip():
        return None
    return parse_bool(value)


def codebook_losses(project: Project, separator: str | None) -> list[Loss]:
    """What a codebook table loses beyond its capabilities: names holding the path separator."""
    clashing = [e.code.name for e in walk_codes(project) if separator and separator in e.code.name]
    if not clashing:
        return []
    return [Loss("code names containing the path separator", len(clashing),
                 f"{separator!r} in {clashing[0]!r}; they will read back split")]


def coding_counts(project: Project) -> dict[str, tuple[int, int]]:
    """(codings, distinct sources) per code GUID key, for the count columns some codebooks carry."""
    from qdaconv.model import guid_key, walk_codings

    counts: dict[str, list[Any]] = {}
    for source, _selection, coding in walk_codings(project):
        entry = counts.setdefault(guid_key(coding.code), [0, set()])
        entry[0] += 1
        entry[1].add(source.guid)
    return {key: (n, len(sources)) for key, (n, sources) in counts.items()}


def split_cell(value: str | None, separators: Iterable[str] = ("\n",)) -> list[str]:
    """The items of a cell that holds several (codes on separate lines); blanks dropped."""
    if not value:
        return []
    items = [value.replace("\r\n", "\n").replace("\r", "\n")]
    for separator in separators:
        items = [part for item in items for part in item.split(separator)]
    return [" ".join(item.split()) for item in items if item.strip()]


def warn_dropped(builder: ProjectBuilder, what: str, count: int, hint: str | None = None) -> None:
    if count:
        builder.project.warnings.append(
            warning("VENDOR-NOT-CARRIED", f"{count} {what} not carried by the model", hint=hint,
                    file=str(builder.path)))
