"""Turning rows of a vendor export into a Project: codes from paths, users, documents, excerpt placement.

Coded-segment exports give an excerpt's text but no character offsets. When the text of the document is
available (the reader option `sources=FOLDER`, a folder of .txt files named like the documents), each
excerpt is looked up in it, nearest to the paragraph the export names, and becomes a PlainTextSelection
at the place found. Otherwise, and for excerpts that are not found, the document is represented by a
stand-in Text source whose text is its excerpts one after the other, separated by a blank line; the
selections point into that text. A stand-in says so in its description and in a reader warning, and
is named like the document (or "<document> [excerpts not found]" beside a real one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from qdaconv.errors import ReadError
from qdaconv.files import decode_guess
from qdaconv.issues import warning
from qdaconv.model import (
    Code,
    Coding,
    Project,
    Selection,
    Set,
    Source,
    User,
    Variable,
    VariableValue,
    stable_guid,
)

STANDIN_SEPARATOR = "\n\n"
NAME_LENGTH = 80


def excerpt_name(text: str) -> str:
    """A selection's name: its excerpt on one line, shortened with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= NAME_LENGTH else line[: NAME_LENGTH - 1] + "…"


def whitespace_pattern(excerpt: str) -> re.Pattern[str] | None:
    """The excerpt with any run of white space matching any other (line endings, double spaces)."""
    words = excerpt.split()
    if not words:
        return None
    return re.compile(r"\s+".join(re.escape(word) for word in words))


def paragraph_offsets(text: str) -> list[int]:
    """The code-point offset where each line (a paragraph, as QDA programs number them) starts."""
    offsets = [0]
    offsets.extend(match.end() for match in re.finditer(r"\r\n|\r|\n", text))
    return offsets


def read_source_text(path: Path) -> tuple[str, bool]:
    """A document's text as the model stores it (a BOM decides, else UTF-8), and whether it had to be
    read as Windows-1252."""
    text, encoding = decode_guess(path.read_bytes())
    return text, encoding == "cp1252"


@dataclass(slots=True)
class ExportDocument:
    """A document of the export as a source in the making."""

    name: str
    source: Source
    text: str | None = None  # the original text, when found in the sources folder
    parts: list[str] = field(default_factory=list)  # a stand-in's excerpts
    length: int = 0
    spans: dict[tuple[int, int], Selection] = field(default_factory=dict)
    by_text: dict[str, list[Selection]] = field(default_factory=dict)
    paragraphs: list[int] | None = None
    overflow: ExportDocument | None = None  # stand-in for excerpts not found in the original
    not_found: list[str] = field(default_factory=list)

    @property
    def standin(self) -> bool:
        return self.text is None

    def paragraph_offset(self, paragraph: int | None) -> int:
        if self.text is None or paragraph is None or paragraph < 1:
            return 0
        if self.paragraphs is None:
            self.paragraphs = paragraph_offsets(self.text)
        return self.paragraphs[min(paragraph, len(self.paragraphs)) - 1]


def _lacks(selection: Selection, codes: list[Code]) -> bool:
    held = {coding.code for coding in selection.codings}
    return not codes or not any(code.guid in held for code in codes)


class ProjectBuilder:
    """Collects codes, users, documents and segments, then hands over the finished Project."""

    def __init__(self, path: Path, tool: str, sources: str | Path | None = None,
                 category_codable: bool = True) -> None:
        self.path = Path(path)
        self.tool = tool
        self.project = Project(name=self.path.stem, origin=f"{tool} export ({self.path.name})")
        self.sources_dir = Path(sources) if sources else None
        if self.sources_dir is not None and not self.sources_dir.is_dir():
            raise ReadError(self.sources_dir, "the sources folder does not exist",
                            hint="pass sources=FOLDER with the documents' .txt files")
        self.category_codable = category_codable
        self.codes: dict[tuple[str, ...], Code] = {}
        self.users: dict[str, User] = {}
        self.documents: dict[str, ExportDocument] = {}
        self.sets: dict[str, Set] = {}
        self.variables: dict[str, Variable] = {}
        self.keyed: dict[str, Selection] = {}
        self._texts: dict[str, Path] | None = None
        self.whole_source = 0

    def guid(self, *parts: object) -> str:
        """The GUID of an object of the export, made from what identifies it there (a code's path, a
        document's name, a span), so that reading the same export twice gives the same GUIDs."""
        return stable_guid(self.tool, *parts)

    # ------------------------------------------------------------------ codes

    def code(self, path: tuple[str, ...], *, description: str | None = None, color: str | None = None,
             codable: bool | None = None) -> Code:
        """The code at `path`, created with its missing ancestors; given attributes are set on it."""
        if not path:
            raise ValueError("empty code path")
        code = self.codes.get(path)
        if code is None:
            siblings = self.project.codes if len(path) == 1 else self.code(path[:-1]).children
            code = Code(self.guid("code", *path), path[-1], codable=self.category_codable)
            siblings.append(code)
            self.codes[path] = code
        if description:
            code.description = description
        if color:
            code.color = color
        if codable is not None:
            code.codable = codable
        return code

    def applied(self, path: tuple[str, ...]) -> Code:
        """A code that the export shows applied to data, so it is codable whatever its level."""
        return self.code(path, codable=True)

    # ------------------------------------------------------------------ users, sets, variables

    def user(self, name: str | None) -> str | None:
        if not name or not name.strip():
            return None
        name = name.strip()
        if name not in self.users:
            self.users[name] = User(self.guid("user", name), name=name)
            self.project.users.append(self.users[name])
        return self.users[name].guid

    def add_to_set(self, name: str, document: ExportDocument) -> None:
        group = self.sets.get(name)
        if group is None:
            group = self.sets[name] = Set(self.guid("set", name), name)
            self.project.sets.append(group)
        if document.source.guid not in group.member_sources:
            group.member_sources.append(document.source.guid)

    def add_code_to_set(self, name: str, code: Code) -> None:
        group = self.sets.get(name)
        if group is None:
            group = self.sets[name] = Set(self.guid("set", name), name)
            self.project.sets.append(group)
        if code.guid not in group.member_codes:
            group.member_codes.append(code.guid)

    def set_variable(self, document: ExportDocument, name: str, value: str) -> None:
        variable = self.variables.get(name)
        if variable is None:
            variable = self.variables[name] = Variable(self.guid("variable", name), name)
            self.project.variables.append(variable)
        values = document.source.variable_values
        if not any(v.variable == variable.guid for v in values):
            values.append(VariableValue(variable.guid, "Text", value))

    # ------------------------------------------------------------------ documents

    def _text_files(self) -> dict[str, Path]:
        if self._texts is None:
            self._texts = {}
            if self.sources_dir is not None:
                for file in sorted(self.sources_dir.iterdir()):
                    if file.is_file() and file.suffix.lower() == ".txt":
                        self._texts.setdefault(file.name.casefold(), file)
                        self._texts.setdefault(file.stem.casefold(), file)
        return self._texts

    def _find_text(self, name: str) -> Path | None:
        files = self._text_files()
        key = name.strip().casefold()
        return files.get(key) or files.get(key + ".txt") or files.get(Path(key).stem)

    def document(self, name: str) -> ExportDocument:
        name = " ".join(name.split()) or "(no document)"
        document = self.documents.get(name)
        if document is not None:
            return document
        source = Source(self.guid("document", name), "Text", name=name)
        document = ExportDocument(name, source)
        file = self._find_text(name) if self.sources_dir is not None else None
        if file is not None:
            text, legacy = read_source_text(file)
            document.text = source.plain_text = text
            if legacy:
                self.warn("VENDOR-SOURCE-ENCODING", f"{file.name} is not UTF-8; read it as Windows-1252",
                          name)
        elif self.sources_dir is not None:
            self.warn("VENDOR-SOURCE-MISSING", f"no text file for document {name!r} in {self.sources_dir}",
                      name, hint="name the .txt file like the document; its excerpts make a stand-in text")
        self.documents[name] = document
        self.project.sources.append(source)
        return document

    def _overflow(self, document: ExportDocument) -> ExportDocument:
        if document.overflow is None:
            name = f"{document.name} [excerpts not found]"
            source = Source(self.guid("document", name), "Text", name=name)
            document.overflow = ExportDocument(name, source)
            self.project.sources.append(source)
        return document.overflow

    # ------------------------------------------------------------------ segments

    def segment(self, document: ExportDocument, excerpt: str | None, codes: list[Code], *,
                user: str | None = None, created: datetime | None = None, comment: str | None = None,
                paragraph: int | None = None, offset: int | None = None, key: str | None = None,
                modified_by: str | None = None, modified: datetime | None = None) -> Selection | None:
        """Record that `codes` were applied to `excerpt` of `document`.

        Rows of one selection (the same quotation or highlight id in `key`, or the same excerpt not
        yet holding these codes) become one selection with several codings. `paragraph` (1-based)
        or `offset` (code points) say where to look first. Without an excerpt the codes apply to
        the whole document.
        """
        if excerpt is None or not excerpt.strip():
            for code in codes:
                if not any(c.code == code.guid for c in document.source.codings):
                    guid = self.guid("coding", document.source.guid, code.guid)
                    document.source.codings.append(Coding(guid, code.guid, user, created))
                    self.whole_source += 1
            return None
        selection = self.keyed.get(key) if key else None
        if selection is None:
            hint = offset if offset is not None else document.paragraph_offset(paragraph)
            selection = self._locate(document, excerpt, codes, hint)
            if key:
                self.keyed[key] = selection
        for code in codes:
            if not any(c.code == code.guid for c in selection.codings):
                guid = self.guid("coding", selection.guid, code.guid)
                selection.codings.append(Coding(guid, code.guid, user, created))
        if comment and comment.strip() and comment not in (selection.description or ""):
            selection.description = "\n".join(filter(None, (selection.description, comment.strip())))
        selection.creating_user = selection.creating_user or user
        selection.created = selection.created or created
        selection.modifying_user = selection.modifying_user or modified_by
        selection.modified = selection.modified or modified
        return selection

    def _locate(self, document: ExportDocument, excerpt: str, codes: list[Code], start: int) -> Selection:
        if document.text is None:
            return self._standin(document, excerpt, codes)
        spans = self._occurrences(document.text, excerpt)
        if not spans:
            document.not_found.append(excerpt)
            return self._standin(self._overflow(document), excerpt, codes)
        ordered = sorted(spans, key=lambda span: (span[0] < start, span[0]))
        chosen = next((s for s in ordered if s not in document.spans or _lacks(document.spans[s], codes)),
                      ordered[0])
        if chosen not in document.spans:
            selection = Selection(self.guid("selection", document.source.guid, *chosen), "PlainText",
                                  name=excerpt_name(excerpt), start=chosen[0], end=chosen[1])
            document.spans[chosen] = selection
            document.source.selections.append(selection)
        return document.spans[chosen]

    @staticmethod
    def _occurrences(text: str, excerpt: str) -> list[tuple[int, int]]:
        needle = excerpt.strip()
        spans: list[tuple[int, int]] = []
        position = text.find(needle)
        while position >= 0:
            spans.append((position, position + len(needle)))
            position = text.find(needle, position + 1)
        if spans:
            return spans
        pattern = whitespace_pattern(needle)
        return [m.span() for m in pattern.finditer(text)] if pattern else []

    def _standin(self, document: ExportDocument, excerpt: str, codes: list[Code]) -> Selection:
        excerpt = excerpt.strip()
        for selection in document.by_text.get(excerpt, []):
            if _lacks(selection, codes):
                return selection
        start = document.length + (len(STANDIN_SEPARATOR) if document.parts else 0)
        document.parts.append(excerpt)
        document.length = start + len(excerpt)
        selection = Selection(self.guid("selection", document.source.guid, start, document.length), "PlainText",
                              name=excerpt_name(excerpt), start=start, end=document.length)
        document.by_text.setdefault(excerpt, []).append(selection)
        document.source.selections.append(selection)
        return selection

    # ------------------------------------------------------------------ finishing

    def warn(self, rule: str, message: str, place: str | None = None, hint: str | None = None) -> None:
        self.project.warnings.append(warning(rule, message, place, hint, file=str(self.path)))

    def _finish_standin(self, document: ExportDocument, why: str) -> None:
        document.source.plain_text = STANDIN_SEPARATOR.join(document.parts)
        document.source.description = (
            f"Stand-in built from the excerpts in the {self.tool} export, one after the other; "
            f"not the original document ({why})."
        )

    def finish(self) -> Project:
        standins = []
        for document in self.documents.values():
            if document.standin:
                self._finish_standin(document, "its text was not available")
                standins.append(document.name)
            if document.overflow is not None:
                self._finish_standin(document.overflow, "these excerpts were not found in it")
                first = excerpt_name(document.not_found[0])
                self.warn("VENDOR-EXCERPT-NOT-FOUND",
                          f"{len(document.not_found)} excerpt(s) not found in the text of {document.name!r} "
                          f"(first: {first!r}); kept in the stand-in source {document.overflow.name!r}",
                          document.name, hint="check that the .txt file is the version that was coded")
        if standins:
            shown = ", ".join(repr(n) for n in standins[:5]) + (" ..." if len(standins) > 5 else "")
            self.warn("VENDOR-TEXT-ONLY",
                      f"{len(standins)} document(s) without their text ({shown}): each is a stand-in source "
                      "made of its excerpts, and selections point into that, not into the original",
                      hint="pass sources=FOLDER with the documents as .txt files to place excerpts in them")
        if self.whole_source:
            self.warn("VENDOR-WHOLE-DOCUMENT",
                      f"{self.whole_source} coding(s) without an excerpt (media or empty segments) "
                      "apply to their whole document")
        return self.project


def resolve_parent_paths(rows: dict[str, tuple[str, str | None]], place: str) -> dict[str, tuple[str, ...]]:
    """Code paths from (name, parent id) by id, for layouts with a parent column; cycles are an error.

    A parent id that is not in the table makes its code a top-level code.
    """
    paths: dict[str, tuple[str, ...]] = {}

    def path_of(key: str, trail: tuple[str, ...]) -> tuple[str, ...]:
        if key in paths:
            return paths[key]
        if key in trail:
            raise ValueError(f"{place}: the parent column makes a cycle through {rows[key][0]!r}")
        name, parent = rows[key]
        prefix = path_of(parent, (*trail, key)) if parent and parent in rows and parent != key else ()
        paths[key] = (*prefix, name)
        return paths[key]

    for key in rows:
        path_of(key, ())
    return paths
