"""The study as plain data: everything a REFI-QDA 1.5 project can say, and views named for researchers.

The classes are slotted dataclasses with no validation and no I/O of their own (the one exception
is `Blob`, which fetches a source file's bytes from where the reader found them, on demand).
Objects refer to each other by GUID strings kept exactly as read; `guid_key` gives the form to
compare them by, and `stable_guid` makes GUIDs from a program's own ids. `native` on an object
keeps what a program's own project says of it and REFI-QDA cannot (its ids, flags, extra
attributes), so that a program's project read and written back keeps them; other formats ignore it
and diff does not compare it. Text positions are Unicode code points into the source's text as stored
(BOM removed, line endings kept); media positions are milliseconds; picture and PDF
coordinates are pixels and points as in REFI-QDA.
"""

from __future__ import annotations

import gc
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from qdaconv.files import decode_text, open_zips

if TYPE_CHECKING:
    from qdaconv.issues import Issue

VariableType = Literal["Text", "Boolean", "Integer", "Float", "Date", "DateTime"]
VARIABLE_TYPES: tuple[str, ...] = ("Text", "Boolean", "Integer", "Float", "Date", "DateTime")
Value = str | bool | int | Decimal | date | datetime | None

#: Source kinds, named after their REFI-QDA elements. "Text", "PDF", "Picture", "Audio" and
#: "Video" are sources in the project's Sources; the others are text documents nested inside
#: sources ("Representation" of a PDF or PDF selection, "TextDescription" of a picture,
#: "Transcript" of audio or video) and "Note" for the project's notes (a note is a text source).
SOURCE_KINDS: tuple[str, ...] = ("Text", "PDF", "Picture", "Audio", "Video")
TEXT_KINDS: tuple[str, ...] = ("Text", "Note", "Representation", "TextDescription", "Transcript")
#: Selection kinds, named after their REFI-QDA elements without the "Selection" suffix.
SELECTION_KINDS: tuple[str, ...] = ("PlainText", "PDF", "Picture", "Audio", "Video", "Transcript")


def new_guid() -> str:
    """A new GUID in the upper-case form most QDA programs write."""
    return str(uuid.uuid4()).upper()


def guid_key(guid: str | None) -> str:
    """The form GUIDs are compared by: braces removed, lower case (REFI allows both variants)."""
    return (guid or "").strip().strip("{}").lower()


#: The namespace of GUIDs made from a program's own ids (see `stable_guid`).
_STABLE_NAMESPACE = uuid.UUID("6f1b3c2e-8a4d-5e0f-9b7a-2c1d4e5f6a7b")


def stable_guid(program: str, *parts: object) -> str:
    """A GUID derived from a program's own ids (`stable_guid("taguette", "highlight", 42)`).

    Formats that have no GUIDs of their own use it, so that two reads or two exports of the same
    project give the same GUIDs and can be compared or merged by GUID. Include everything that
    makes the id unique in the program (the project id for a database holding several).
    """
    name = "/".join([program, *(str(part) for part in parts)])
    return str(uuid.uuid5(_STABLE_NAMESPACE, name)).upper()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector within the block. The model holds no cycles, so building or checking one
    leaves nothing for it to find, and its passes over hundreds of thousands of new selections and codings,
    each walked again as it ages, took a fifth of a reader's time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(slots=True)
class Blob:
    """The bytes of one file that belongs to the project, kept where the reader found them.

    Exactly one of `data` (in memory), `zip_path` + `member` (inside a zip) or `file` (on disk)
    locates the bytes. They are read only when asked for, so media stay out of memory.
    """

    name: str
    data: bytes | None = None
    zip_path: str | None = None
    member: str | None = None
    file: str | None = None
    size: int | None = None

    def open(self) -> BinaryIO:
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.zip_path is not None and self.member is not None:
            return open_zips.open(self.zip_path, self.member)
        if self.file is not None:
            return open(self.file, "rb")
        raise ValueError(f"blob {self.name!r} has no location")

    def read_bytes(self) -> bytes:
        if self.data is not None:
            return self.data
        with self.open() as stream:
            return stream.read()

    @property
    def suffix(self) -> str:
        return Path(self.name).suffix


@dataclass(slots=True)
class User:
    guid: str
    name: str | None = None
    id: str | None = None
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Code:
    guid: str
    name: str
    codable: bool = True
    color: str | None = None
    description: str | None = None
    note_refs: list[str] = field(default_factory=list)
    children: list[Code] = field(default_factory=list)
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Variable:
    guid: str
    name: str
    type: str = "Text"
    description: str | None = None
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class VariableValue:
    """A typed value of a variable, on a case or on a source. `type` is the value element's type."""

    variable: str
    type: str = "Text"
    value: Value = None


@dataclass(slots=True)
class Coding:
    guid: str
    code: str
    creating_user: str | None = None
    created: datetime | None = None
    note_refs: list[str] = field(default_factory=list)
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class SyncPoint:
    guid: str
    position: int | None = None
    timestamp: int | None = None


@dataclass(slots=True)
class Selection:
    """A coded or annotated part of a source; which fields apply depends on `kind`.

    PlainText: `start`, `end` in code points, half-open. Audio, Video: `start`, `end` in ms.
    Picture: the rectangle `first_x`..`second_y`. PDF: `page` and the rectangle, with an
    optional `representation` (its text). Transcript: `from_sync`, `to_sync` (SyncPoint GUIDs).
    """

    guid: str
    kind: str = "PlainText"
    name: str | None = None
    description: str | None = None
    start: int | None = None
    end: int | None = None
    page: int | None = None
    first_x: int | None = None
    first_y: int | None = None
    second_x: int | None = None
    second_y: int | None = None
    from_sync: str | None = None
    to_sync: str | None = None
    representation: Source | None = None
    codings: list[Coding] = field(default_factory=list)
    note_refs: list[str] = field(default_factory=list)
    creating_user: str | None = None
    created: datetime | None = None
    modifying_user: str | None = None
    modified: datetime | None = None
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Source:
    """A source, a note, or a text document nested in a source; `kind` names which (see TEXT_KINDS).

    Text-like kinds carry their text inline (`plain_text`) or in a file (`plain_text_path` as
    written in the project, `plain_file` with the bytes); `rich_text_path`/`rich_file` is the
    styled DOCX. Media kinds carry `path`, `current_path` and `file`. A file that could not or
    may not be read (missing, or outside the project without permission) keeps its path and
    has no Blob.
    """

    guid: str
    kind: str = "Text"
    name: str | None = None
    description: str | None = None
    plain_text: str | None = None
    plain_text_path: str | None = None
    plain_file: Blob | None = None
    rich_text_path: str | None = None
    rich_file: Blob | None = None
    path: str | None = None
    current_path: str | None = None
    file: Blob | None = None
    representation: Source | None = None
    text_description: Source | None = None
    transcripts: list[Source] = field(default_factory=list)
    sync_points: list[SyncPoint] = field(default_factory=list)
    selections: list[Selection] = field(default_factory=list)
    codings: list[Coding] = field(default_factory=list)
    note_refs: list[str] = field(default_factory=list)
    variable_values: list[VariableValue] = field(default_factory=list)
    creating_user: str | None = None
    created: datetime | None = None
    modifying_user: str | None = None
    modified: datetime | None = None

    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def text(self) -> str | None:
        """The plain text in code points, decoded on each call; None when it is not available."""
        if self.plain_text is not None:
            return self.plain_text
        if self.plain_file is not None:
            return decode_text(self.plain_file.read_bytes())
        return None


@dataclass(slots=True)
class Case:
    guid: str
    name: str | None = None
    description: str | None = None
    code_refs: list[str] = field(default_factory=list)
    variable_values: list[VariableValue] = field(default_factory=list)
    source_refs: list[str] = field(default_factory=list)
    selection_refs: list[str] = field(default_factory=list)
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Set:
    guid: str
    name: str
    description: str | None = None
    member_codes: list[str] = field(default_factory=list)
    member_sources: list[str] = field(default_factory=list)
    member_notes: list[str] = field(default_factory=list)
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Link:
    guid: str
    name: str | None = None
    direction: str | None = None
    color: str | None = None
    origin: str | None = None
    target: str | None = None
    note_refs: list[str] = field(default_factory=list)
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Vertex:
    guid: str
    first_x: int = 0
    first_y: int = 0
    second_x: int | None = None
    second_y: int | None = None
    represented: str | None = None
    name: str | None = None
    shape: str | None = None
    color: str | None = None


@dataclass(slots=True)
class Edge:
    guid: str
    source_vertex: str
    target_vertex: str
    represented: str | None = None
    name: str | None = None
    color: str | None = None
    direction: str | None = None
    line_style: str | None = None


@dataclass(slots=True)
class Graph:
    guid: str
    name: str | None = None
    vertices: list[Vertex] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(slots=True)
class Project:
    """A whole study. A codebook (.qdc) reads as a Project with codes and sets only.

    `warnings` collects what a reader found unusual; it is not part of the study and diff ignores it.
    """

    name: str = "Untitled"
    origin: str | None = None
    creating_user: str | None = None
    created: datetime | None = None
    modifying_user: str | None = None
    modified: datetime | None = None
    base_path: str | None = None
    description: str | None = None
    users: list[User] = field(default_factory=list)
    codes: list[Code] = field(default_factory=list)
    variables: list[Variable] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    notes: list[Source] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    sets: list[Set] = field(default_factory=list)
    graphs: list[Graph] = field(default_factory=list)
    note_refs: list[str] = field(default_factory=list)
    native: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    warnings: list[Issue] = field(default_factory=list, compare=False, repr=False)


# ---------------------------------------------------------------- views, named for researchers


@dataclass(slots=True)
class CodeEntry:
    """A code with its place in the tree: parent GUID (None at the top), path of names, depth from 1."""

    code: Code
    parent: str | None
    path: tuple[str, ...]

    @property
    def depth(self) -> int:
        return len(self.path)


def walk_codes(project: Project) -> Iterator[CodeEntry]:
    """Every code in the tree, depth first, parents before children."""
    stack: list[tuple[Code, str | None, tuple[str, ...]]] = [(c, None, ()) for c in reversed(project.codes)]
    while stack:
        code, parent, prefix = stack.pop()
        path = (*prefix, code.name)
        yield CodeEntry(code, parent, path)
        stack.extend((child, code.guid, path) for child in reversed(code.children))


def code_index(project: Project) -> dict[str, CodeEntry]:
    """Code entries by guid_key."""
    return {guid_key(entry.code.guid): entry for entry in walk_codes(project)}


def themes(project: Project) -> list[CodeEntry]:
    """Themes: codes that group other codes and are not applied themselves (isCodable false)."""
    return [entry for entry in walk_codes(project) if not entry.code.codable and entry.code.children]


def transcripts(project: Project) -> list[Source]:
    """Interview transcripts: text sources, and the transcripts of audio and video sources."""
    found: list[Source] = []
    for source in project.sources:
        if source.kind == "Text":
            found.append(source)
        found.extend(source.transcripts)
    return found


def microstories(project: Project) -> list[Source]:
    """Microstories and memos: the project's notes (a note is a text source in REFI-QDA)."""
    return list(project.notes)


@dataclass(slots=True)
class DocumentEntry:
    """A source, note or nested text document with its place in the project.

    `role` is "source" or "note" at the top, else "representation", "text_description",
    "transcript" or "selection_representation"; `parent` is the GUID of the document that holds
    it (`holder` the document itself) and `selection` the GUID of the selection whose
    representation it is (`holder_selection` the selection itself); `top` is the source or note at
    the top of the nesting (the document itself at the top).
    """

    source: Source
    role: str
    parent: str | None = None
    selection: str | None = None
    top: Source | None = None
    holder: Source | None = None
    holder_selection: Selection | None = None


def walk_documents(project: Project) -> Iterator[DocumentEntry]:
    """Every note and source, each followed by the documents nested in it, depth first: the notes
    in their order, then the sources in theirs (the order writers store files in)."""
    stack = [DocumentEntry(source, "source", top=source) for source in reversed(project.sources)]
    stack += [DocumentEntry(note, "note", top=note) for note in reversed(project.notes)]
    while stack:
        entry = stack.pop()
        yield entry
        source, top = entry.source, entry.top
        nested = []
        if source.representation is not None:
            nested.append(DocumentEntry(source.representation, "representation", source.guid, top=top, holder=source))
        if source.text_description is not None:
            nested.append(DocumentEntry(source.text_description, "text_description", source.guid, top=top,
                                        holder=source))
        nested += [DocumentEntry(doc, "transcript", source.guid, top=top, holder=source) for doc in source.transcripts]
        nested += [DocumentEntry(sel.representation, "selection_representation", source.guid, sel.guid, top=top,
                                 holder=source, holder_selection=sel)
                   for sel in source.selections if sel.representation is not None]
        stack.extend(reversed(nested))


def walk_sources(project: Project) -> Iterator[Source]:
    """Every source and nested text document (representations, text descriptions, transcripts), in the order of
    `walk_documents`, without making its entries: readers and validation rules walk the sources often."""
    stack = [*reversed(project.sources), *reversed(project.notes)]
    while stack:
        source = stack.pop()
        yield source
        nested = [selection.representation for selection in source.selections if selection.representation is not None]
        if source.representation is not None or source.text_description is not None or source.transcripts:
            held = [document for document in (source.representation, source.text_description) if document is not None]
            nested = held + source.transcripts + nested
        stack.extend(reversed(nested))


def walk_selections(project: Project) -> Iterator[tuple[Source, Selection]]:
    for source in walk_sources(project):
        for selection in source.selections:
            yield source, selection


def walk_codings(project: Project) -> Iterator[tuple[Source, Selection | None, Coding]]:
    """Every coding with where it sits: on a selection, or on a whole source (selection None)."""
    for source in walk_sources(project):
        for coding in source.codings:
            yield source, None, coding
        for selection in source.selections:
            for coding in selection.codings:
                yield source, selection, coding


@dataclass(slots=True)
class Segment:
    """One coded excerpt as a researcher sees it: one coding, where it sits, its text and its cases.

    `start` and `end` are the selection's as stored (code points for text, milliseconds for audio
    and video; see `kind`); `text` is the excerpt of a text selection with both ends known.
    `case_guids` are the cases the segment belongs to (see `coded_segments`); `case` and
    `case_guid` name the first of them.
    """

    source: str
    source_guid: str
    selection_guid: str | None
    coding_guid: str
    code: str
    code_path: tuple[str, ...]
    text: str | None
    start: int | None
    end: int | None
    coder: str | None
    case: str | None
    case_guid: str | None = None
    case_guids: tuple[str, ...] = ()
    code_guid: str | None = None
    kind: str | None = None
    created: datetime | None = None
    source_name: str | None = None


def segment_cases(project: Project) -> tuple[dict[str, list[Case]], dict[str, list[Case]]]:
    """(cases by selection key, cases by source key), each list in the project's order of cases."""
    by_selection: dict[str, list[Case]] = {}
    by_source: dict[str, list[Case]] = {}
    for case in project.cases:
        for ref in dict.fromkeys(guid_key(ref) for ref in case.selection_refs):
            by_selection.setdefault(ref, []).append(case)
        for ref in dict.fromkeys(guid_key(ref) for ref in case.source_refs):
            by_source.setdefault(ref, []).append(case)
    return by_selection, by_source


def coded_segments(project: Project) -> list[Segment]:
    """Every coding as a Segment: source, code, excerpt, span, coder and cases; texts decoded once per source.

    The one rule for the cases of a segment, which the tables' analysis frame, the report and the
    API all follow: a segment belongs to the cases that name its selection (`Case.selection_refs`);
    when no case does (and for a whole-source coding), to the cases that name the document it is
    in (`Case.source_refs`): the source or note, or the nested transcript, representation or text
    description itself (a case that names an audio source does not take its transcript's codings:
    name the transcript or its selections for that). The first such case, in the project's order
    of cases, is `Segment.case`.
    """
    codes = code_index(project)
    users = {guid_key(u.guid): (u.name or u.id or u.guid) for u in project.users}
    by_selection, by_source = segment_cases(project)
    segments: list[Segment] = []
    for entry in walk_documents(project):
        source = entry.source
        top_cases = by_source.get(guid_key(source.guid), [])
        full: str | None = None
        decoded = False
        places: list[tuple[Selection | None, list[Coding]]] = [(None, source.codings)]
        places += [(selection, selection.codings) for selection in source.selections]
        for selection, codings in places:
            if not codings:
                continue
            text = None
            cases = top_cases
            if selection is not None:
                cases = by_selection.get(guid_key(selection.guid)) or top_cases
                if selection.kind == "PlainText" and selection.start is not None and selection.end is not None:
                    if not decoded:
                        full, decoded = source.text, True
                    text = full[selection.start:selection.end] if full is not None else None
            first = cases[0] if cases else None
            for coding in codings:
                code = codes.get(guid_key(coding.code))
                segments.append(Segment(
                    source=source.name or source.guid,
                    source_guid=source.guid,
                    selection_guid=selection.guid if selection else None,
                    coding_guid=coding.guid,
                    code=code.code.name if code else coding.code,
                    code_path=code.path if code else (coding.code,),
                    text=text,
                    start=selection.start if selection else None,
                    end=selection.end if selection else None,
                    coder=users.get(guid_key(coding.creating_user), coding.creating_user),
                    case=(first.name or first.guid) if first else None,
                    case_guid=first.guid if first else None,
                    case_guids=tuple(case.guid for case in cases),
                    code_guid=coding.code,
                    kind=selection.kind if selection else None,
                    created=coding.created,
                    source_name=source.name,
                ))
    return segments
