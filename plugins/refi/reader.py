"""Reading QDA-XML (a Project or a CodeBook) into the model, streaming, tolerant of real tools' dialects.

The XML is read with lxml iterparse: each user, code book, variable, case, source, note, link,
set and graph is turned into model objects when its element ends, and the element is then
dropped, so memory holds the model and one source's subtree at a time. Whatever is unusual is
counted and reported once per kind as a warning on `Project.warnings`.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from lxml import etree

from qdaconv import progress
from qdaconv.errors import ReadError
from qdaconv.issues import Issue, info, warning
from qdaconv.model import (
    Case,
    Code,
    Coding,
    Edge,
    Graph,
    Link,
    Project,
    Selection,
    Set,
    Source,
    SyncPoint,
    User,
    Variable,
    VariableValue,
    Vertex,
    collector_paused,
    new_guid,
)
from qdaconv.plugins.refi import values
from qdaconv.plugins.refi.container import SourceFiles, take_parsed
from qdaconv.safety import guarded, iterparse, refuse_entities, xml_read_error

_AUTHORSHIP = {"creatingUser", "creationDateTime", "modifyingUser", "modifiedDateTime"}
_TEXT_ATTRS = {"guid", "name", "richTextPath", "plainTextPath", *_AUTHORSHIP}
_MEDIA_ATTRS = {"guid", "name", "path", "currentPath", *_AUTHORSHIP}
_RECT = {"firstX", "firstY", "secondX", "secondY"}
ATTRIBUTES: dict[str, set[str]] = {
    "Project": {"name", "origin", "creatingUserGUID", "creationDateTime", "modifyingUserGUID",
                "modifiedDateTime", "basePath"},
    "CodeBook": {"origin"},
    "User": {"guid", "name", "id"},
    "Code": {"guid", "name", "isCodable", "color"},
    "Case": {"guid", "name"},
    "Variable": {"guid", "name", "typeOfVariable"},
    "Set": {"guid", "name"},
    "TextSource": _TEXT_ATTRS, "Note": _TEXT_ATTRS, "Representation": _TEXT_ATTRS,
    "TextDescription": _TEXT_ATTRS, "Transcript": _TEXT_ATTRS,
    "PictureSource": _MEDIA_ATTRS, "PDFSource": _MEDIA_ATTRS, "AudioSource": _MEDIA_ATTRS,
    "VideoSource": _MEDIA_ATTRS,
    "PlainTextSelection": {"guid", "name", "startPosition", "endPosition", *_AUTHORSHIP},
    "PictureSelection": {"guid", "name", *_RECT, *_AUTHORSHIP},
    "PDFSelection": {"guid", "name", "page", *_RECT, *_AUTHORSHIP},
    "AudioSelection": {"guid", "name", "begin", "end", *_AUTHORSHIP},
    "VideoSelection": {"guid", "name", "begin", "end", *_AUTHORSHIP},
    "TranscriptSelection": {"guid", "name", "fromSyncPoint", "toSyncPoint", *_AUTHORSHIP},
    "SyncPoint": {"guid", "timeStamp", "position"},
    "Coding": {"guid", "creatingUser", "creationDateTime"},
    "Graph": {"guid", "name"},
    "Vertex": {"guid", "representedGUID", "name", *_RECT, "shape", "color"},
    "Edge": {"guid", "representedGUID", "name", "sourceVertex", "targetVertex", "color", "direction",
             "lineStyle"},
    "Link": {"guid", "name", "direction", "color", "originGUID", "targetGUID"},
}
_REF_ATTRS = {"targetGUID"}

MEDIA_KINDS = {"PictureSource": "Picture", "PDFSource": "PDF", "AudioSource": "Audio", "VideoSource": "Video"}
SELECTION_KINDS = {"PlainTextSelection": "PlainText", "PictureSelection": "Picture", "PDFSelection": "PDF",
                   "AudioSelection": "Audio", "VideoSelection": "Video", "TranscriptSelection": "Transcript"}
CONTAINERS = {"Users": "User", "Variables": "Variable", "Cases": "Case", "Sources": None, "Notes": "Note",
              "Links": "Link", "Sets": "Set", "Graphs": "Graph"}
_ITEMS = {"User", "Variable", "Case", "TextSource", *MEDIA_KINDS, "Note", "Link", "Set", "Graph"}
_TAGS = [f"{{*}}{name}" for name in (*_ITEMS, "Project", "CodeBook", "Codebook", "Description", "NoteRef")]
#: The usual GUID form (upper case, no braces): accepted at once, without the checks of other forms.
_UPPER_GUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
#: How many distinct dateTime values are remembered; codings made in one session share their times.
_DATES_KEPT = 4096
#: How many tags' local names are remembered (a QDA-XML document uses a few dozen).
_NAMES_KEPT = 1024


#: dialects the schema allows (GUIDs in lower case or braces): reported as information, not as problems
_NOTES_NOT_PROBLEMS = frozenset({"REFI-GUID-FORM"})


def _usual_valid_guid(value: str) -> bool:
    """`_UPPER_GUID.fullmatch` of a GUID attribute the XSD accepted, at a fraction of its cost (half a millisecond
    for the two thousand GUIDs of a study): the schema's pattern, matched once white space around the value is
    taken away (the type is a token), leaves only letter case, braces and that white space to tell, and 36
    characters hold neither."""
    return len(value) == 36 and value.upper() == value


class _Notes:
    """Unusual things seen while reading, counted by kind, each with a first example."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.examples: dict[tuple[str, str], str] = {}
        self.hints: dict[tuple[str, str], str | None] = {}

    def add(self, rule: str, what: str, example: str = "", hint: str | None = None) -> None:
        key = (rule, what)
        self.counts[key] += 1
        self.examples.setdefault(key, example)
        self.hints.setdefault(key, hint)

    def issues(self, file: str | None) -> list[Issue]:
        found = []
        for key, count in self.counts.items():
            rule, what = key
            example = self.examples[key]
            detail = f"{what} ({count}" + (f", e.g. {example}" if example else "") + ")"
            report = info if rule in _NOTES_NOT_PROBLEMS else warning
            found.append(report(rule, detail, hint=self.hints[key], file=file))
        return found


class QdeReader:
    """Reads one QDA-XML document; `files` resolves the source files it names."""

    def __init__(self, path: Path, files: SourceFiles, member: str | None = None) -> None:
        self.path = path
        self.files = files
        self.member = member
        self.notes = _Notes()
        self.project = Project()
        self.root: etree._Element | None = None
        self.root_kind = ""
        self.filled: set[str] = set()
        self._dates: dict[str, datetime] = {}
        self._names: dict[object, str] = {}
        #: The document passed the XSD (the check's tree): every attribute is one `ATTRIBUTES` allows.
        self.schema_valid = False
        #: Whether a GUID has the usual form, upper case without braces (see `_usual_valid_guid`).
        self._usual_guid: Callable[[str], object] = _UPPER_GUID.fullmatch

    # ------------------------------------------------------------------ driving the parse

    def read(self, stream: IO[bytes]) -> Project:
        """The project in `stream`; or in the tree the schema check parsed of the same document, when it left one
        (`take_parsed`): the same events walked over that tree, so the document is parsed once."""
        parsed = take_parsed(self.path, self.member)
        self.schema_valid = parsed is not None
        if self.schema_valid:
            self._usual_guid = _usual_valid_guid
        try:
            with collector_paused():
                if parsed is not None:
                    self._walk_valid(parsed)
                else:
                    events = iterparse(guarded(stream, self.path, self.member), events=("start", "end"), tag=_TAGS)
                    for event, element in events:
                        if self.root is None:
                            self._start_root(element)
                        elif event == "end":
                            self._end(element)
            if parsed is not None:  # a small document, walked at once: its progress is all or nothing
                progress.advance("reading", 1, 1)
        except etree.XMLSyntaxError as exc:
            raise xml_read_error(exc, self.path, self.member) from None
        if self.root is None:
            raise ReadError(self.path, "this is not a QDA-XML document: there is no Project or CodeBook root",
                            location=self.member, hint="pass a .qdpx, .qde or .qdc exported by a QDA program")
        return self.project

    def _walk_valid(self, root: etree._Element) -> None:
        """What the streamed events do, done on a schema-valid tree: the schemas put every item directly in its
        container and the project's own Description and NoteRefs after them, so visiting the containers' items,
        the code book and those in document order ends the same elements in the same order as the stream, without
        the start events and the end events of every selection's NoteRefs and Descriptions, which do nothing.

        A project's items are read in place: the tree is held whole anyway and freed at once after reading, which
        costs less than clearing and removing it item by item. (A code book's sets are removed as they end, as
        while streaming, since `_codebook` reads what is left of its <Sets>.)"""
        self._start_root(root)
        in_place = self.root_kind == "Project"
        for child in list(root):  # listed first: the project's own Description, NoteRefs and CodeBook are removed
            name = self._name(child.tag)
            if name in CONTAINERS:
                for item in child if in_place else list(child):
                    if not isinstance(item.tag, str):  # a comment or processing instruction
                        continue
                    if in_place:
                        self._item(self._name(item.tag), item)
                        self.filled.add(name)
                    else:
                        self._end(item)
            elif name in ("CodeBook", "Description", "NoteRef"):
                self._end(child)
        self._end(root)

    def _start_root(self, root: etree._Element) -> None:
        refuse_entities(root, self.path, self.member)
        name = values.local_name(root.tag)
        if root.getparent() is not None or name not in ("Project", "CodeBook", "Codebook"):
            raise ReadError(self.path, f"the root element is <{values.local_name(root.getroottree().getroot().tag)}>"
                            ", not a QDA-XML Project or CodeBook", location=self.member,
                            hint="pass a .qdpx, .qde or .qdc exported by a QDA program")
        self.root = root
        self.root_kind = "Project" if name == "Project" else "CodeBook"
        self._check_namespace(root)
        if name == "Codebook":
            self.notes.add("REFI-ELEMENT-NAME", "<Codebook> read as <CodeBook>")
        if self.root_kind == "Project":
            self._project_attributes(root)
        else:
            self.project.origin = root.get("origin")

    def _check_namespace(self, root: etree._Element) -> None:
        ns = values.namespace(root.tag)
        official = values.PROJECT_NS if self.root_kind == "Project" else values.CODEBOOK_NS
        if ns == official:
            return
        if values.NS_VARIANT.match(ns):
            what = f"namespace {ns!r} read as {official!r}"
        elif not ns:
            what = f"no namespace; read as {official!r}"
        else:
            what = f"unknown namespace {ns!r}; read as {official!r}"
        self.notes.add("REFI-NAMESPACE", what, hint="written back with the official namespace")

    def _end(self, element: etree._Element) -> None:
        name = self._name(element.tag)
        parent = element.getparent()
        if element is self.root:
            self._end_root(element)
            return
        if name in ("Description", "NoteRef"):
            if parent is self.root:
                self._project_child(name, element)
            return
        if name in ("CodeBook", "Codebook"):
            if name == "Codebook":
                self.notes.add("REFI-ELEMENT-NAME", "<Codebook> read as <CodeBook>")
            self.project.codes.extend(self._codebook(element))
        else:
            self._item(name, element)
            if parent is not None:
                self.filled.add(self._name(parent.tag))
        element.clear()
        if parent is not None:
            parent.remove(element)

    def _item(self, name: str, element: etree._Element) -> None:
        project = self.project
        if name == "User":
            project.users.append(self._user(element))
        elif name == "Variable":
            project.variables.append(self._variable(element))
        elif name == "Case":
            project.cases.append(self._case(element))
        elif name == "TextSource":
            project.sources.append(self._text_document(element, "Text"))
        elif name in MEDIA_KINDS:
            project.sources.append(self._media_source(element, MEDIA_KINDS[name]))
        elif name == "Note":
            project.notes.append(self._text_document(element, "Note"))
        elif name == "Link":
            project.links.append(self._link(element))
        elif name == "Set":
            project.sets.append(self._set(element))
        elif name == "Graph":
            project.graphs.append(self._graph(element))

    def _project_child(self, name: str, element: etree._Element) -> None:
        if name == "Description":
            self.project.description = element.text or ""
        else:
            self.project.note_refs.append(self._ref(element))
        element.clear()
        self.root.remove(element)

    def _end_root(self, root: etree._Element) -> None:
        if self.root_kind == "CodeBook":
            self.project.codes.extend(self._codebook(root))
            return
        for child in root:
            name = values.local_name(child.tag)
            if name in CONTAINERS and name not in self.filled and len(child) == 0:
                self.notes.add("REFI-EMPTY-CONTAINER", "empty container elements", f"<{name}/>",
                               "left out on writing: the schema requires at least one child")
            elif name not in CONTAINERS and name not in ("CodeBook", "Codebook") and isinstance(child.tag, str):
                self._unknown(child, "Project")

    # ------------------------------------------------------------------ attributes and values

    def _project_attributes(self, root: etree._Element) -> None:
        self._check_attributes(root, "Project")
        project = self.project
        project.name = root.get("name") or ""
        project.origin = root.get("origin")
        project.creating_user = self._guid_ref(root.get("creatingUserGUID"))
        project.created = self._datetime(root.get("creationDateTime"))
        project.modifying_user = self._guid_ref(root.get("modifyingUserGUID"))
        project.modified = self._datetime(root.get("modifiedDateTime"))
        project.base_path = root.get("basePath")
        self.files.base_path = project.base_path
        if root.get("name") is None:
            self.notes.add("REFI-REQUIRED", "a required attribute is missing", "Project@name")

    def _check_attributes(self, element: etree._Element, name: str) -> None:
        if self.schema_valid:  # the schemas declare no attribute that `ATTRIBUTES` lacks, and allow no other
            return
        allowed = ATTRIBUTES.get(name, _REF_ATTRS)
        keys = element.keys()
        if allowed.issuperset(keys):
            return
        for key in keys:
            if key not in allowed and not key.startswith("{"):
                self.notes.add("REFI-UNKNOWN-ATTRIBUTE", f"attribute {name}@{key} is not in the schema",
                               f"{key}={element.get(key)!r}", "dropped on reading")

    def _unknown(self, element: etree._Element, parent: str) -> None:
        if isinstance(element.tag, str):
            self.notes.add("REFI-UNKNOWN-ELEMENT", f"element <{values.local_name(element.tag)}> is not "
                           f"expected in <{parent}>", hint="dropped on reading")

    def _guid(self, element: etree._Element, name: str, attribute: str = "guid") -> str:
        value = element.get(attribute)
        if value is not None and self._usual_guid(value):
            return value
        if value is None or not value.strip():
            value = new_guid()
            self.notes.add("REFI-REQUIRED", "a required GUID is missing; a new one was made", f"{name}@{attribute}")
            return value
        self._check_guid(value)
        return value

    def _check_guid(self, value: str) -> None:
        if values.GUID.fullmatch(value):
            if value != value.upper():
                self.notes.add("REFI-GUID-FORM", "GUIDs in lower case", value,
                               "accepted; GUIDs are compared without regard to case and kept as read")
        elif values.BRACED_GUID.fullmatch(value):
            self.notes.add("REFI-GUID-FORM", "GUIDs in braces", value, "accepted and kept as read")
        else:
            self.notes.add("REFI-ID-NOT-GUID", "ids that are not GUIDs", repr(value),
                           "kept in the model; the writer replaces them with stable GUIDs")

    def _guid_ref(self, value: str | None) -> str | None:
        if value is not None and not self._usual_guid(value):
            self._check_guid(value)
        return value

    def _ref(self, element: etree._Element, attribute: str = "targetGUID") -> str:
        value = element.get(attribute)
        if value is None:
            for other in ("guid", "targetGUID"):
                if element.get(other) is not None:
                    self.notes.add("REFI-REF-FORM", f"<{values.local_name(element.tag)}> refers with "
                                   f"@{other} instead of @{attribute}")
                    return element.get(other)
            if (element.text or "").strip():
                self.notes.add("REFI-REF-FORM", f"<{values.local_name(element.tag)}> holds its GUID as text")
                return element.text.strip()
            self.notes.add("REFI-REQUIRED", "a reference without a target", values.local_name(element.tag))
            return ""
        return value

    def _datetime(self, value: str | None) -> datetime | None:
        if value is None:
            return None
        known = self._dates.get(value)
        if known is not None:
            return known
        try:
            parsed = values.parse_datetime(value)
        except ValueError:
            self.notes.add("REFI-BAD-VALUE", "unreadable dateTimes, dropped", repr(value))
            return None
        if parsed is None:
            return None
        if parsed.tzinfo is UTC:
            # Only values that need no note are remembered, so that notes still count every one.
            if len(self._dates) >= _DATES_KEPT:
                self._dates.clear()
            self._dates[value] = parsed
            return parsed
        if parsed.tzinfo is None:
            self.notes.add("REFI-DATETIME", "dateTimes without a time zone (taken as UTC)", value)
            return parsed.replace(tzinfo=UTC)
        elif parsed.utcoffset():
            self.notes.add("REFI-DATETIME", "dateTimes with an offset from UTC", value,
                           "written back in UTC")
        return parsed

    def _int(self, element: etree._Element, attribute: str, required: bool = True) -> int | None:
        raw = element.get(attribute)
        if raw is not None and raw.isdigit() and raw.isascii():  # the usual form, at once
            return int(raw)
        if raw is None:
            if required:
                self.notes.add("REFI-REQUIRED", "a required number is missing",
                               f"{values.local_name(element.tag)}@{attribute}")
            return None
        try:
            return values.parse_int(raw)
        except ValueError:
            self.notes.add("REFI-BAD-VALUE", "numbers that are not integers, dropped",
                           f"{values.local_name(element.tag)}@{attribute}={raw!r}")
            return None

    def _color(self, value: str | None) -> str | None:
        color, note = values.normal_color(value)
        if note:
            self.notes.add("REFI-COLOR", f"{note}s" if note != "unreadable colour" else "unreadable colours, dropped",
                           repr(value), "written as #RRGGBB")
        elif color is not None and value.strip() != color:
            self.notes.add("REFI-COLOR", "colours in lower case", repr(value), "written as #RRGGBB in upper case")
        return color

    def _authorship(self, target: Source | Selection, element: etree._Element) -> None:
        get = element.get
        target.creating_user = get("creatingUser")
        target.created = self._datetime(get("creationDateTime"))
        target.modifying_user = get("modifyingUser")
        target.modified = self._datetime(get("modifiedDateTime"))

    def _name(self, tag: object) -> str:
        """The local name of a tag, remembered (a document uses few); "" for comments and the like."""
        name = self._names.get(tag)
        if name is None:
            name = values.local_name(tag)
            if len(self._names) < _NAMES_KEPT:
                self._names[tag] = name
        return name

    # ------------------------------------------------------------------ objects

    def _user(self, element: etree._Element) -> User:
        self._check_attributes(element, "User")
        return User(self._guid(element, "User"), element.get("name"), element.get("id"))

    def _codebook(self, element: etree._Element) -> list[Code]:
        codes: list[Code] = []
        for child in element:
            name = values.local_name(child.tag)
            if name == "Codes":
                codes.extend(self._code(code) for code in self._children(child, "Code", "Codes"))
                if len(child) == 0:
                    self.notes.add("REFI-EMPTY-CONTAINER", "empty container elements", "<Codes/>",
                                   "left out on writing: the schema requires at least one child")
            elif name == "Code":
                self.notes.add("REFI-ELEMENT-ORDER", "<Code> directly in <CodeBook>, without <Codes>")
                codes.append(self._code(child))
            elif name == "Sets" and self.root_kind == "CodeBook":
                sets = [self._set(item) for item in self._children(child, "Set", "Sets")]
                self.project.sets.extend(sets)
                if not sets and "Sets" not in self.filled:  # sets read while streaming left it empty
                    self.notes.add("REFI-EMPTY-CONTAINER", "empty container elements", "<Sets/>",
                                   "left out on writing: the schema requires at least one child")
            else:
                self._unknown(child, "CodeBook")
        return codes

    def _children(self, element: etree._Element, wanted: str, parent: str) -> list[etree._Element]:
        found = []
        for child in element:
            if values.local_name(child.tag) == wanted:
                found.append(child)
            else:
                self._unknown(child, parent)
        return found

    def _code(self, element: etree._Element) -> Code:
        self._check_attributes(element, "Code")
        code = Code(self._guid(element, "Code"), element.get("name") or "")
        try:
            code.codable = values.parse_bool(element.get("isCodable"))
        except ValueError:
            self.notes.add("REFI-BAD-VALUE", "unreadable isCodable values, taken as true",
                           repr(element.get("isCodable")))
        if element.get("isCodable") is None:
            self.notes.add("REFI-REQUIRED", "codes without isCodable, taken as codable", code.name)
        code.color = self._color(element.get("color"))
        for child in element:
            name = self._name(child.tag)
            if name == "Description":
                code.description = child.text or ""
            elif name == "NoteRef":
                code.note_refs.append(self._ref(child))
            elif name == "Code":
                code.children.append(self._code(child))
            else:
                self._unknown(child, "Code")
        return code

    def _variable(self, element: etree._Element) -> Variable:
        self._check_attributes(element, "Variable")
        kind = element.get("typeOfVariable") or "Text"
        if kind not in values.ELEMENT_FOR_TYPE:
            self.notes.add("REFI-BAD-VALUE", "unknown variable types, read as Text", repr(kind))
            kind = "Text"
        variable = Variable(self._guid(element, "Variable"), element.get("name") or "", kind)
        for child in element:
            if values.local_name(child.tag) == "Description":
                variable.description = child.text or ""
            else:
                self._unknown(child, "Variable")
        return variable

    def _variable_value(self, element: etree._Element) -> VariableValue:
        value = VariableValue("")
        for child in element:
            name = self._name(child.tag)
            if name == "VariableRef":
                value.variable = self._ref(child)
            elif name in values.VALUE_ELEMENTS:
                value.type = values.VALUE_ELEMENTS[name]
                try:
                    value.value = values.parse_variable_value(value.type, child.text)
                except ValueError:
                    self.notes.add("REFI-BAD-VALUE", f"{name}s that are not valid, kept as text",
                                   repr(child.text), "written back as TextValue")
                    value.type, value.value = "Text", child.text or ""
            else:
                self._unknown(child, "VariableValue")
        return value

    def _case(self, element: etree._Element) -> Case:
        self._check_attributes(element, "Case")
        case = Case(self._guid(element, "Case"), element.get("name"))
        for child in element:
            name = self._name(child.tag)
            if name == "Description":
                case.description = child.text or ""
            elif name == "CodeRef":
                case.code_refs.append(self._ref(child))
            elif name == "VariableValue":
                case.variable_values.append(self._variable_value(child))
            elif name == "SourceRef":
                case.source_refs.append(self._ref(child))
            elif name == "SelectionRef":
                case.selection_refs.append(self._ref(child))
            else:
                self._unknown(child, "Case")
        return case

    def _owner(self, source: Source) -> str:
        label = source.kind if source.kind != "Text" else "text source"
        return f"{label} {source.name!r} ({source.guid})" if source.name else f"{label} {source.guid}"

    def _text_document(self, element: etree._Element, kind: str) -> Source:
        tag = self._name(element.tag)
        self._check_attributes(element, tag)
        source = Source(self._guid(element, tag), kind, name=element.get("name"),
                        plain_text_path=element.get("plainTextPath"), rich_text_path=element.get("richTextPath"))
        self._authorship(source, element)
        for child in element:
            self._text_child(source, child, tag)
        if source.plain_text is not None and source.plain_text_path:
            self.notes.add("REFI-TEXT-TWICE", "text documents with both PlainTextContent and plainTextPath",
                           self._owner(source), "the inline text is used")
        elif source.plain_text is None and not source.plain_text_path and kind != "Note":
            self.notes.add("REFI-NO-TEXT", "text documents with neither PlainTextContent nor plainTextPath",
                           self._owner(source))
        if source.plain_text_path or source.rich_text_path:  # a document held inline names no file to look for
            owner = self._owner(source)
            source.plain_file = self.files.locate(source.plain_text_path, owner)
            source.plain_text_path = self.files.canonical(source.plain_text_path, source.plain_file)
            source.rich_file = self.files.locate(source.rich_text_path, owner)
            source.rich_text_path = self.files.canonical(source.rich_text_path, source.rich_file)
        return source

    def _text_child(self, source: Source, child: etree._Element, tag: str) -> None:
        name = self._name(child.tag)
        if name == "PlainTextSelection":  # by far the most common, so tested first
            source.selections.append(self._selection(child, "PlainText", name))
        elif name == "Description":
            source.description = child.text or ""
        elif name == "PlainTextContent":
            source.plain_text = child.text or ""
        elif name == "Coding" and tag != "Transcript":
            source.codings.append(self._coding(child))
        elif name == "NoteRef":
            source.note_refs.append(self._ref(child))
        elif name == "VariableValue" and tag != "Transcript":
            source.variable_values.append(self._variable_value(child))
        elif name == "SyncPoint" and tag == "Transcript":
            source.sync_points.append(self._sync_point(child))
        elif name == "TranscriptSelection" and tag == "Transcript":
            source.selections.append(self._selection(child, "Transcript", name))
        else:
            self._unknown(child, tag)

    def _media_source(self, element: etree._Element, kind: str) -> Source:
        tag = self._name(element.tag)
        self._check_attributes(element, tag)
        source = Source(self._guid(element, tag), kind, name=element.get("name"), path=element.get("path"),
                        current_path=element.get("currentPath"))
        self._authorship(source, element)
        for child in element:
            name = self._name(child.tag)
            if name == "Description":
                source.description = child.text or ""
            elif name == "TextDescription" and kind == "Picture":
                source.text_description = self._text_document(child, "TextDescription")
            elif name == "Representation" and kind == "PDF":
                source.representation = self._text_document(child, "Representation")
            elif name == "Transcript" and kind in ("Audio", "Video"):
                source.transcripts.append(self._text_document(child, "Transcript"))
            elif SELECTION_KINDS.get(name) == kind:
                source.selections.append(self._selection(child, kind, name))
            elif name == "Coding":
                source.codings.append(self._coding(child))
            elif name == "NoteRef":
                source.note_refs.append(self._ref(child))
            elif name == "VariableValue":
                source.variable_values.append(self._variable_value(child))
            else:
                self._unknown(child, tag)
        if source.path is None:
            self.notes.add("REFI-NO-PATH", "media sources without a path", self._owner(source))
        source.file = self.files.locate(source.path, self._owner(source))
        source.path = self.files.canonical(source.path, source.file)
        return source

    def _selection(self, element: etree._Element, kind: str, tag: str) -> Selection:
        self._check_attributes(element, tag)
        selection = Selection(self._guid(element, tag), kind, name=element.get("name"))
        self._authorship(selection, element)
        if kind == "PlainText" and self.schema_valid:  # the schema's required integers
            selection.start, selection.end = int(element.get("startPosition")), int(element.get("endPosition"))
        elif kind == "PlainText":
            selection.start = self._int(element, "startPosition")
            selection.end = self._int(element, "endPosition")
        elif kind in ("Audio", "Video"):
            selection.start = self._int(element, "begin")
            selection.end = self._int(element, "end")
        elif kind == "Transcript":
            selection.from_sync = self._guid_ref(element.get("fromSyncPoint"))
            selection.to_sync = self._guid_ref(element.get("toSyncPoint"))
        else:
            if kind == "PDF":
                selection.page = self._int(element, "page")
            selection.first_x = self._int(element, "firstX")
            selection.first_y = self._int(element, "firstY")
            selection.second_x = self._int(element, "secondX")
            selection.second_y = self._int(element, "secondY")
        for child in element:
            name = self._name(child.tag)
            if name == "Coding":
                selection.codings.append(self._coding(child))
            elif name == "Description":
                selection.description = child.text or ""
            elif name == "NoteRef":
                selection.note_refs.append(self._ref(child))
            elif name == "Representation" and kind == "PDF":
                selection.representation = self._text_document(child, "Representation")
            else:
                self._unknown(child, tag)
        return selection

    def _sync_point(self, element: etree._Element) -> SyncPoint:
        self._check_attributes(element, "SyncPoint")
        return SyncPoint(self._guid(element, "SyncPoint"), self._int(element, "position", required=False),
                         self._int(element, "timeStamp", required=False))

    def _coding(self, element: etree._Element) -> Coding:
        self._check_attributes(element, "Coding")
        coding = Coding(self._guid(element, "Coding"), "", element.get("creatingUser"),
                        self._datetime(element.get("creationDateTime")))
        if self.schema_valid and len(element) == 1:  # the schema's one CodeRef, without NoteRefs: the usual coding
            coding.code = element[0].get("targetGUID")
            return coding
        for child in element:
            name = self._name(child.tag)
            if name == "CodeRef":
                coding.code = self._ref(child)
            elif name == "NoteRef":
                coding.note_refs.append(self._ref(child))
            else:
                self._unknown(child, "Coding")
        if not coding.code:
            self.notes.add("REFI-REQUIRED", "codings without a CodeRef", coding.guid)
        return coding

    def _set(self, element: etree._Element) -> Set:
        self._check_attributes(element, "Set")
        group = Set(self._guid(element, "Set"), element.get("name") or "")
        wanted = "guid" if self.root_kind == "CodeBook" else "targetGUID"
        members: dict[str, list[str]] = {"MemberCode": group.member_codes, "MemberSource": group.member_sources,
                                         "MemberNote": group.member_notes}
        for child in element:
            name = self._name(child.tag)
            if name == "Description":
                group.description = child.text or ""
            elif name in members and (self.root_kind == "Project" or name == "MemberCode"):
                members[name].append(self._ref(child, wanted))
            else:
                self._unknown(child, "Set")
        return group

    def _link(self, element: etree._Element) -> Link:
        self._check_attributes(element, "Link")
        link = Link(self._guid(element, "Link"), element.get("name"), element.get("direction"),
                    self._color(element.get("color")), self._guid_ref(element.get("originGUID")),
                    self._guid_ref(element.get("targetGUID")))
        for child in element:
            if values.local_name(child.tag) == "NoteRef":
                link.note_refs.append(self._ref(child))
            else:
                self._unknown(child, "Link")
        return link

    def _graph(self, element: etree._Element) -> Graph:
        self._check_attributes(element, "Graph")
        graph = Graph(self._guid(element, "Graph"), element.get("name"))
        for child in element:
            name = values.local_name(child.tag)
            if name == "Vertex":
                graph.vertices.append(self._vertex(child))
            elif name == "Edge":
                graph.edges.append(self._edge(child))
            else:
                self._unknown(child, "Graph")
        return graph

    def _vertex(self, element: etree._Element) -> Vertex:
        self._check_attributes(element, "Vertex")
        return Vertex(self._guid(element, "Vertex"), self._int(element, "firstX") or 0,
                      self._int(element, "firstY") or 0, self._int(element, "secondX", required=False),
                      self._int(element, "secondY", required=False),
                      self._guid_ref(element.get("representedGUID")), element.get("name"), element.get("shape"),
                      self._color(element.get("color")))

    def _edge(self, element: etree._Element) -> Edge:
        self._check_attributes(element, "Edge")
        return Edge(self._guid(element, "Edge"), self._guid(element, "Edge", "sourceVertex"),
                    self._guid(element, "Edge", "targetVertex"), self._guid_ref(element.get("representedGUID")),
                    element.get("name"), self._color(element.get("color")), element.get("direction"),
                    element.get("lineStyle"))

