"""Validation: Issue and Severity, the rule catalogue, validate() for one file and validate_many() for archives.

A file is checked in layers, each a function returning Issues: the format's own file check
(`Format.check`: container and schema), the reader's warnings, the integrity rules on the model
(references, GUIDs, text and positions, variables), the interoperability rules (what other
programs trip on), and the rules plugins add through `qdaconv_validate_project`. The model layers
know no format, so they apply to every readable file. `validate` never raises for a bad file:
whatever goes wrong becomes an error Issue in the Report.
"""

from __future__ import annotations

import glob
import json
import os
import re
import zipfile
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qdaconv.errors import QdaconvError
from qdaconv.issues import Issue, Severity
from qdaconv.model import (
    VARIABLE_TYPES,
    Project,
    Selection,
    Source,
    VariableValue,
    decode_text,
    guid_key,
    walk_codes,
)

if TYPE_CHECKING:
    from qdaconv.formats import Format
    from qdaconv.registry import Registry


# ------------------------------------------------------------------------------------ the catalogue


@dataclass(slots=True, frozen=True)
class Rule:
    """A rule of the catalogue.

    `fatal`: after it the file cannot be read, so later layers are skipped. `supersedes`: reader
    warnings that say the same thing; when this rule fires they are left out of the report.
    """

    id: str
    severity: Severity
    meaning: str
    fix: str
    layer: str = ""
    fatal: bool = False
    supersedes: tuple[str, ...] = ()

    def issue(self, message: str, place: str | None = None, hint: str | None = None) -> Issue:
        """An Issue of this rule; the hint defaults to the rule's fix."""
        return Issue(self.id, self.severity, message, place=place, hint=hint or self.fix)


E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: note (info)
_CATALOGUE: list[Rule] = [
    # run: the file could not be checked
    Rule("READ-FAILED", E, "The file could not be read; the reader's message says what and where.",
         "Repair the file or export it again from the program that made it.", "run"),
    Rule("FORMAT-UNKNOWN", E, "No installed format recognises the file.",
         "Check that it is a QDA export of a format `qdaconv formats` lists.", "run", fatal=True),
    Rule("CHECK-FAILED", E, "The format's own file check stopped unexpectedly.",
         "Report it to the format plugin's authors, with the file if you can.", "run"),
    Rule("PLUGIN-FAILED", E, "A plugin's validation rules stopped unexpectedly.",
         "Report it to the plugin's authors, or block the plugin with QDACONV_DISABLE_PLUGINS.", "run"),
    Rule("WORKER-CRASHED", E, "The process validating this file died or failed; the other files are unaffected.",
         "Validate the file alone to see the failure; it may be too large for the memory available.", "run"),
    # container: the .qdpx zip
    Rule("ZIP-BROKEN", E, "The zip cannot be opened, or the project XML inside it is damaged.",
         "The file is truncated or not a .qdpx; copy or export it again.", "container", fatal=True),
    Rule("ZIP-UNSAFE", E, "The zip could harm the machine that unpacks it: escaping or duplicate names, "
         "links, or sizes beyond the limits (a zip bomb).",
         "Do not unpack it; re-create the archive from the program that made the project.", "container",
         fatal=True),
    Rule("ZIP-BAD-MEMBER", E, "A file inside the zip is damaged (its checksum or compression is wrong).",
         "Export the project again; the named file cannot be recovered from this copy.", "container"),
    Rule("ZIP-NO-QDE", E, "The zip holds no project XML (.qde), or several that cannot be told apart.",
         "A .qdpx must contain one project.qde at its top level.", "container", fatal=True),
    Rule("ZIP-MANY-QDE", E, "The zip holds more than one .qde; programs may read a different one.",
         "Keep only project.qde in the archive.", "container"),
    Rule("ZIP-MISSING-FILE", E, "The project names an internal file that is not in the zip.",
         "Add the file under sources/ or export the project again.", "container",
         supersedes=("REFI-FILE-MISSING",)),
    Rule("ZIP-UNREFERENCED", W, "A file in the zip is not named by the project; programs ignore it.",
         "Remove it, or reference it from the source it belongs to.", "container",
         supersedes=("REFI-UNUSED-FILE",)),
    Rule("ZIP-NAME-CLASH", E, "Two files in the zip differ only in letter case; on Windows and macOS one "
         "overwrites the other.", "Rename one of them (and its reference).", "container"),
    Rule("ZIP-SOURCES-FOLDER", W, "A file lies outside the flat sources/ folder that REFI-QDA 8.1 prescribes.",
         "Put source files directly in sources/, without subfolders.", "container"),
    Rule("ZIP-FILE-TOO-LARGE", W, "A file inside the zip is larger than 2,147,483,647 bytes (REFI-QDA 8.5).",
         "Keep large media outside the archive with a relative:// path.", "container"),
    # schema: the XML against the official XSDs
    Rule("XML-MALFORMED", E, "The XML is not well formed (truncated, or not XML).",
         "Export the file again; the line named is where parsing stopped.", "schema", fatal=True),
    Rule("XML-UNSAFE", E, "The XML declares entities in a DOCTYPE (an entity bomb, or an external entity that "
         "reads local files); qdaconv neither expands nor reads it.",
         "Do not open the file in other programs either; QDA-XML never needs entity declarations.", "schema",
         fatal=True),
    Rule("REFI-XSD-NAMESPACE", E, "The root element is not in the QDA-XML 1.0 namespace, so the schema "
         "rejects the whole file; it was then checked as if it were in 1.0.",
         "Write xmlns=\"urn:QDA-XML:project:1.0\" (or urn:QDA-XML:codebook:1.0 for a codebook).", "schema",
         supersedes=("REFI-NAMESPACE",)),
    Rule("REFI-XSD", E, "The XML breaks the official REFI-QDA schema; the schema's message and line are given.",
         "Fix the element or attribute named; see the hint for common causes.", "schema"),
    Rule("REFI-ENCODING", W, "The XML is not encoded in UTF-8, which REFI-QDA 5.1 requires.",
         "Save the XML as UTF-8.", "schema"),
    # integrity: on the model, for every format
    Rule("GUID-DUPLICATE", E, "Two objects of the same kind share a GUID, so references to it are ambiguous.",
         "Give one of them a new GUID.", "integrity"),
    Rule("GUID-SHARED", W, "Objects of different kinds share a GUID (ATLAS.ti does this for a PDF quotation "
         "and its text); a Link or graph vertex to it is ambiguous.",
         "Give one of them a new GUID if programs mix them up.", "integrity"),
    Rule("REF-DANGLING", E, "A reference points to a GUID that no object in the project has.",
         "Point it to an existing object, or remove the reference.", "integrity"),
    Rule("REF-WRONG-KIND", E, "A reference points to an object of the wrong kind (a case's source to a code).",
         "Point it to an object of the kind named.", "integrity"),
    Rule("REF-USER", W, "A creating or modifying user is not among the project's users; the authorship is lost.",
         "Add the user to Users, or remove the attribute.", "integrity"),
    Rule("TEXT-BOTH", E, "A text has both inline PlainTextContent and a plainTextPath; REFI-QDA requires one.",
         "Keep one: the file under sources/ (usual) or the inline content.", "integrity",
         supersedes=("REFI-TEXT-TWICE",)),
    Rule("TEXT-NONE", W, "A text source has neither inline text nor a text file; REFI-QDA requires one.",
         "Add the plain text, or a plainTextPath to a .txt file.", "integrity", supersedes=("REFI-NO-TEXT",)),
    Rule("TEXT-UNAVAILABLE", N, "The text of a source could not be read, so its positions were not checked.",
         "Validate the .qdpx that contains the text files, or fix the path.", "integrity"),
    Rule("POS-OUT-OF-RANGE", E, "A selection breaks 0 <= start <= end <= text length (or a media selection "
         "has negative or reversed times or coordinates).",
         "Fix the positions; text positions count Unicode code points from 0.", "integrity"),
    Rule("POS-CORNERS", W, "A picture selection's corners are swapped: REFI-QDA puts the upper-left corner "
         "first and the lower-right second.", "Swap the coordinates.", "integrity"),
    Rule("SYNC-OUT-OF-RANGE", E, "A transcript sync point lies outside its transcript's text, or before time 0.",
         "Fix the sync point's position or timestamp.", "integrity"),
    Rule("VAR-TYPE", E, "A variable value is not of its variable's type, or a variable has an unknown type.",
         "Store the value in the variable's type (Text, Boolean, Integer, Float, Date, DateTime).",
         "integrity"),
    # interoperability: what other programs trip on
    Rule("INTEROP-QDE-NAME", W, "The project XML in the zip is not named project.qde; some programs "
         "refuse the file.", "Rename it to project.qde.", "interoperability", supersedes=("REFI-QDE-NAME",)),
    Rule("INTEROP-SOURCES-CASE", W, "The sources folder is not named sources/ in lower case (NVivo writes "
         "Sources/); ATLAS.ti reportedly rejects it.", "Rename the folder to sources/.", "interoperability",
         supersedes=("REFI-PATH-VARIANT",)),
    Rule("INTEROP-SCHEMA-LOCATION", W, "xsi:schemaLocation names another namespace than the document's.",
         "Remove xsi:schemaLocation or make it match the xmlns.", "interoperability"),
    Rule("INTEROP-PATH", W, "A file path does not use the internal://, relative:/// or absolute:/// forms "
         "(no scheme, a folder after internal://, or backslashes); strict readers fail on it.",
         "Write internal://<guid>.<ext> for files in sources/.", "interoperability",
         supersedes=("REFI-PATH-VARIANT",)),
    Rule("INTEROP-RICH-TEXT", W, "A richTextPath points to a file that is not a .docx; ATLAS.ti rejects it.",
         "Give the styled text as DOCX, or leave richTextPath out.", "interoperability"),
    Rule("INTEROP-POS-UNIT", W, "The positions of a source fit its text much better when read in another unit "
         "(UTF-16 units, CRLF as one, bytes) than in code points.",
         "Convert the positions to code points (qdaconv's readers do this by origin).", "interoperability"),
    Rule("INTEROP-SPLIT-WORD", W, "Coded excerpts start or end inside a word: often a sign of shifted "
         "positions.", "Check the excerpts in the program that made the file.", "interoperability"),
    Rule("INTEROP-EXCERPT-NAME", W, "Selections are named after their excerpts, but some names do not match "
         "the text at their positions: shifted positions or a changed text.",
         "Check those selections' positions against the text.", "interoperability"),
    Rule("INTEROP-EMPTY", W, "An empty set or graph; some programs drop it or fail on it.",
         "Remove it, or give it members.", "interoperability"),
    Rule("INTEROP-EMPTY-TEXT", W, "A source's plain text is empty although it has a text file (NVivo for "
         "Mac 15 exports these); its codings cannot be placed.",
         "Export the plain text again.", "interoperability"),
    Rule("INTEROP-COLOR", W, "A colour is not written #RRGGBB.", "Write colours as #RRGGBB.",
         "interoperability"),
    Rule("INTEROP-NAIVE-TIME", W, "Dates with a time but no time zone; programs read them in their own zone.",
         "Write times in UTC with a trailing Z.", "interoperability"),
    Rule("INTEROP-GUID-FORMAT", W, "Ids that are not GUIDs; REFI-QDA programs reject them.",
         "Replace them by GUIDs (qdaconv convert can do this).", "interoperability",
         supersedes=("REFI-ID-NOT-GUID",)),
    Rule("INTEROP-UNCODABLE", W, "Codings apply codes marked not codable (isCodable false); some programs "
         "drop them.", "Make the codes codable, or move the codings to codable codes.", "interoperability"),
]
del E, W, N

#: The rule catalogue by id (plugins' rules are theirs to document).
RULES: dict[str, Rule] = {rule.id: rule for rule in _CATALOGUE}
#: Prefixes only the catalogue uses, where an unknown id must be a typo (REFI- is shared with the reader).
_PREFIXES = frozenset(rule_id.split("-")[0] for rule_id in RULES) - {"REFI"}


def rules_table() -> str:
    """The catalogue as a Markdown table (the README's rule reference)."""
    lines = ["| rule | layer | severity | what it means | how to fix it |", "|---|---|---|---|---|"]
    for rule in _CATALOGUE:
        lines.append(f"| `{rule.id}` | {rule.layer} | {rule.severity.value} | {rule.meaning} | {rule.fix} |")
    return "\n".join(lines)


def rule_matcher(selection: Iterable[str] | None) -> Callable[[str], bool]:
    """A predicate for rule ids chosen by ids or prefixes (`REF-`, `REF`, `ZIP-MISSING-FILE`).

    An entry that names no catalogue rule is an error when its prefix is one of qdaconv's own
    (a typo would otherwise pass everything); other prefixes may be plugins' rules.
    """
    if selection is None:
        return lambda _rule: True
    wanted = [entry.strip().upper() for entry in selection if entry.strip()]
    for entry in wanted:
        if entry.rstrip("-").split("-")[0] in _PREFIXES and not any(_selects(entry, r) for r in RULES):
            raise QdaconvError(f"unknown rule {entry!r}; rules are listed in the README "
                               f"(prefixes: {', '.join(sorted(_PREFIXES))})")
    return lambda rule: any(_selects(entry, rule) for entry in wanted)


def _selects(entry: str, rule: str) -> bool:
    stem = entry if entry.endswith("-") else entry + "-"
    return rule == entry or rule.startswith(stem)


# ------------------------------------------------------------------------------------------ reports


@dataclass(slots=True)
class Report:
    """What validation found in one file."""

    file: str
    format: str | None
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(issue.severity is Severity.ERROR for issue in self.issues)

    @property
    def warnings(self) -> int:
        return sum(issue.severity is Severity.WARNING for issue in self.issues)

    @property
    def valid(self) -> bool:
        return self.errors == 0

    def passes(self, strict: bool = False) -> bool:
        """Valid, and under `strict` free of warnings too."""
        return self.valid and not (strict and self.warnings)

    def rule_ids(self, severity: Severity | None = None) -> set[str]:
        return {i.rule for i in self.issues if severity is None or i.severity is severity}

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "valid": self.valid, "errors": self.errors,
                "warnings": self.warnings, "issues": [issue.as_dict() for issue in self.issues]}


def exit_status(reports: Iterable[Report], strict: bool = False) -> int:
    """0 when every file passes, 1 when any has errors (or, under `strict`, warnings)."""
    return 0 if all(report.passes(strict) for report in reports) else 1


# ------------------------------------------------------------------------------------- one file


def _registry() -> Registry:
    from qdaconv.registry import default_registry

    return default_registry()


def validate(path: str | os.PathLike, fmt: str | None = None, *, rules: Iterable[str] | None = None,
             registry: Registry | None = None, **options: Any) -> Report:
    """Check one file in every layer and return its Report; a bad file never raises.

    `fmt` names the format (detected from the content when None); `rules` keeps only the
    issues of those rule ids or prefixes; `options` go to the reader.
    """
    keep = rule_matcher(rules)
    path = Path(path)
    report = Report(str(path), None)
    found = list(_layers(path, fmt, registry, report, options))
    superseded = {old for issue in found if issue.rule in RULES for old in RULES[issue.rule].supersedes}
    report.issues = [issue for issue in found if keep(issue.rule) and issue.rule not in superseded]
    for issue in report.issues:
        issue.file = report.file
    order = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}
    report.issues.sort(key=lambda issue: order[issue.severity])
    return report


def _layers(path: Path, fmt: str | None, registry: Registry | None, report: Report,
            options: dict[str, Any]) -> Iterator[Issue]:
    """Every layer's issues in turn; stops after a fatal one."""
    if not path.exists():
        yield RULES["READ-FAILED"].issue("no such file or folder", hint="check the path")
        return
    registry = registry or _registry()
    try:
        found = registry.get(fmt) if fmt else registry.detect(path)
    except QdaconvError as exc:
        yield RULES["FORMAT-UNKNOWN"].issue(_strip_path(str(exc), path))
        return
    report.format = found.name
    checked = _format_check(found, path, options)
    yield from checked
    if any(issue.rule in RULES and RULES[issue.rule].fatal for issue in checked):
        return
    project, issues = _read(found, path, registry, options)
    yield from issues
    if project is None:
        return
    yield from project.warnings
    yield from model_issues(project)
    yield from plugin_issues(project, registry)


def _strip_path(message: str, path: Path) -> str:
    return message.removeprefix(f"{path}: ")


def _format_check(fmt: Format, path: Path, options: dict[str, Any]) -> list[Issue]:
    try:
        return list(fmt.check(path, **options))
    except Exception as exc:  # a plugin's bug must become a finding, not stop the batch
        return [RULES["CHECK-FAILED"].issue(f"the {fmt.name} check failed: {type(exc).__name__}: {exc}")]


def _read(fmt: Format, path: Path, registry: Registry, options: dict[str, Any]) -> tuple[Project | None,
                                                                                         list[Issue]]:
    from qdaconv.api import read
    from qdaconv.errors import ReadError

    rule = RULES["READ-FAILED"]
    try:
        return read(path, fmt.name, registry=registry, **options), []
    except ReadError as exc:
        message = _strip_path(str(exc), path)
        if exc.location:
            message = message.removeprefix(f"{path}:{exc.location}: ").removeprefix(f"{exc.location}: ")
        if exc.hint:
            message = message.removesuffix(f" ({exc.hint})")
        return None, [rule.issue(message, place=exc.location, hint=exc.hint)]
    except QdaconvError as exc:
        return None, [rule.issue(_strip_path(str(exc), path))]
    except Exception as exc:  # a reader's bug on a strange file is still a finding about that file
        return None, [rule.issue(f"the {fmt.name} reader failed: {type(exc).__name__}: {exc}",
                                 hint="the file may be damaged; please report the failure with the file")]


def plugin_issues(project: Project, registry: Registry | None = None) -> list[Issue]:
    """The issues plugins' `qdaconv_validate_project` hooks return, each plugin isolated from the others."""
    manager = (registry or _registry()).manager
    issues: list[Issue] = []
    for impl in manager.hook.qdaconv_validate_project.get_hookimpls():
        try:
            found = impl.function(project=project) or []
        except Exception as exc:
            issues.append(RULES["PLUGIN-FAILED"].issue(
                f"plugin {impl.plugin_name!r} failed: {type(exc).__name__}: {exc}"))
            continue
        for issue in found:
            if isinstance(issue, Issue):
                issues.append(issue)
            else:
                issues.append(RULES["PLUGIN-FAILED"].issue(
                    f"plugin {impl.plugin_name!r} returned {type(issue).__name__}, not an Issue"))
    return issues


# --------------------------------------------------------------------------- model: where things are

_ELEMENT = {"Text": "TextSource", "PDF": "PDFSource", "Picture": "PictureSource", "Audio": "AudioSource",
            "Video": "VideoSource", "Note": "Note", "Representation": "Representation",
            "TextDescription": "TextDescription", "Transcript": "Transcript"}
_SOURCE_ELEMENTS = frozenset(_ELEMENT.values()) - {"Note"}
_SELECTION_ELEMENTS = frozenset(f"{kind}Selection" for kind in
                                ("PlainText", "PDF", "Picture", "Audio", "Video", "Transcript"))


def _label(element: str, name: str | None, guid: str) -> str:
    return f'{element} "{name}"' if name else f"{element} {guid}"


@dataclass(slots=True)
class _Located:
    """A source or nested text document with its readable place in the project."""

    source: Source
    place: str
    parent: Source | None


def _located_sources(project: Project) -> Iterator[_Located]:
    """Every source, note and nested text document, with a place such as `TextSource "Anna 1"`."""
    stack: list[_Located] = [
        _Located(s, _label(_ELEMENT.get(s.kind, s.kind), s.name, s.guid), None)
        for s in reversed([*project.sources, *project.notes])
    ]
    while stack:
        item = stack.pop()
        yield item
        nested = [item.source.representation, item.source.text_description, *item.source.transcripts]
        nested += [selection.representation for selection in item.source.selections]
        for doc in reversed([d for d in nested if d is not None]):
            place = f"{item.place}/{_label(_ELEMENT.get(doc.kind, doc.kind), doc.name, doc.guid)}"
            stack.append(_Located(doc, place, item.source))


def _selection_place(located: _Located, selection: Selection) -> str:
    return f"{located.place}/{_label(selection.kind + 'Selection', selection.name, selection.guid)}"


class _Index:
    """Every object with a GUID, by guid_key: the element names and places found under that key."""

    def __init__(self, project: Project) -> None:
        self.objects: dict[str, list[tuple[str, str]]] = defaultdict(list)
        self.located = list(_located_sources(project))
        self.code_entries = list(walk_codes(project))
        self.codes = {guid_key(entry.code.guid): entry.code for entry in self.code_entries}
        for user in project.users:
            self._add(user.guid, "User", _label("User", user.name, user.guid))
        for entry in self.code_entries:
            self._add(entry.code.guid, "Code", f'Code "{" > ".join(entry.path)}"')
        for variable in project.variables:
            self._add(variable.guid, "Variable", _label("Variable", variable.name, variable.guid))
        for case in project.cases:
            self._add(case.guid, "Case", _label("Case", case.name, case.guid))
        for item in self.located:
            self._add_source(item)
        for group in project.sets:
            self._add(group.guid, "Set", _label("Set", group.name, group.guid))
        for link in project.links:
            self._add(link.guid, "Link", _label("Link", link.name, link.guid))
        for graph in project.graphs:
            graph_place = _label("Graph", graph.name, graph.guid)
            self._add(graph.guid, "Graph", graph_place)
            for vertex in graph.vertices:
                self._add(vertex.guid, "Vertex", f"{graph_place}/{_label('Vertex', vertex.name, vertex.guid)}")
            for edge in graph.edges:
                self._add(edge.guid, "Edge", f"{graph_place}/{_label('Edge', edge.name, edge.guid)}")

    def _add(self, guid: str, element: str, place: str) -> None:
        if guid_key(guid):
            self.objects[guid_key(guid)].append((element, place))

    def _add_source(self, item: _Located) -> None:
        source = item.source
        self._add(source.guid, _ELEMENT.get(source.kind, source.kind), item.place)
        for coding in source.codings:
            self._add(coding.guid, "Coding", f"{item.place}/Coding {coding.guid}")
        for point in source.sync_points:
            self._add(point.guid, "SyncPoint", f"{item.place}/SyncPoint {point.guid}")
        for selection in source.selections:
            place = _selection_place(item, selection)
            self._add(selection.guid, selection.kind + "Selection", place)
            for coding in selection.codings:
                self._add(coding.guid, "Coding", f"{place}/Coding {coding.guid}")

    def elements(self, guid: str | None) -> list[str]:
        return [element for element, _place in self.objects.get(guid_key(guid), [])]


# ---------------------------------------------------------------------------- model: integrity


def model_issues(project: Project) -> list[Issue]:
    """The integrity and interoperability rules on the model, which apply to every format."""
    index = _Index(project)
    with _Texts() as texts:
        return [*integrity_issues(project, index, texts), *interop_issues(project, index, texts)]


class _Texts:
    """Source texts decoded once per validation, each zip opened once (a Blob reopens it on each read)."""

    def __init__(self) -> None:
        self._cache: dict[int, str | None] = {}
        self._zips: dict[str, zipfile.ZipFile] = {}

    def get(self, source: Source) -> str | None:
        if id(source) not in self._cache:
            try:
                self._cache[id(source)] = self._read(source)
            except Exception:  # an unreadable file is reported by the container layer
                self._cache[id(source)] = None
        return self._cache[id(source)]

    def _read(self, source: Source) -> str | None:
        blob = source.plain_file
        if source.plain_text is not None or blob is None or blob.data is not None or blob.zip_path is None \
                or blob.member is None:
            return source.text
        if blob.zip_path not in self._zips:
            self._zips[blob.zip_path] = zipfile.ZipFile(blob.zip_path)
        return decode_text(self._zips[blob.zip_path].read(blob.member))

    def __enter__(self) -> _Texts:
        return self

    def __exit__(self, *exc: object) -> None:
        for archive in self._zips.values():
            archive.close()


def integrity_issues(project: Project, index: _Index, texts: _Texts) -> list[Issue]:
    return [*_guid_issues(index), *_reference_issues(project, index), *_text_issues(index, texts),
            *_variable_issues(project, index)]


def _guid_issues(index: _Index) -> list[Issue]:
    issues: list[Issue] = []
    for key, found in index.objects.items():
        if len(found) < 2:
            continue
        counts = Counter(element for element, _place in found)
        places = ", ".join(place for _element, place in found[:4]) + (" ..." if len(found) > 4 else "")
        if any(count > 1 for count in counts.values()):
            element = next(e for e, c in counts.items() if c > 1)
            issues.append(RULES["GUID-DUPLICATE"].issue(
                f"GUID {key} is used by {counts[element]} {element} objects: {places}", place=found[0][1]))
        else:
            issues.append(RULES["GUID-SHARED"].issue(
                f"GUID {key} is shared by {' and '.join(counts)}: {places}", place=found[0][1]))
    return issues


@dataclass(slots=True)
class _Ref:
    guid: str | None
    expected: frozenset[str] | None  # element names allowed; None: any object
    what: str
    place: str


def _references(project: Project, index: _Index) -> Iterator[_Ref]:
    """Every GUID reference of the project except users, with the kinds it may point to."""
    code, note, variable = frozenset({"Code"}), frozenset({"Note"}), frozenset({"Variable"})
    for ref in project.note_refs:
        yield _Ref(ref, note, "note reference", "Project")
    for entry in index.code_entries:
        for ref in entry.code.note_refs:
            yield _Ref(ref, note, "note reference", f'Code "{" > ".join(entry.path)}"')
    for case in project.cases:
        place = _label("Case", case.name, case.guid)
        yield from (_Ref(ref, code, "code", place) for ref in case.code_refs)
        yield from (_Ref(ref, _SOURCE_ELEMENTS, "source", place) for ref in case.source_refs)
        yield from (_Ref(ref, _SELECTION_ELEMENTS, "selection", place) for ref in case.selection_refs)
        yield from (_Ref(v.variable, variable, "variable", place) for v in case.variable_values)
    for item in index.located:
        yield from _source_references(item, note, code, variable)
    for group in project.sets:
        place = _label("Set", group.name, group.guid)
        yield from (_Ref(ref, code, "member code", place) for ref in group.member_codes)
        yield from (_Ref(ref, _SOURCE_ELEMENTS, "member source", place) for ref in group.member_sources)
        yield from (_Ref(ref, note, "member note", place) for ref in group.member_notes)
    for link in project.links:
        place = _label("Link", link.name, link.guid)
        yield _Ref(link.origin, None, "origin", place)
        yield _Ref(link.target, None, "target", place)
        yield from (_Ref(ref, note, "note reference", place) for ref in link.note_refs)
    for graph in project.graphs:
        place = _label("Graph", graph.name, graph.guid)
        for vertex in graph.vertices:
            if vertex.represented:
                yield _Ref(vertex.represented, None, "represented object", f"{place}/Vertex {vertex.guid}")
        for edge in graph.edges:
            if edge.represented:
                yield _Ref(edge.represented, None, "represented object", f"{place}/Edge {edge.guid}")


def _source_references(item: _Located, note: frozenset[str], code: frozenset[str],
                       variable: frozenset[str]) -> Iterator[_Ref]:
    source = item.source
    yield from (_Ref(ref, note, "note reference", item.place) for ref in source.note_refs)
    yield from (_Ref(v.variable, variable, "variable", item.place) for v in source.variable_values)
    for coding in source.codings:
        yield _Ref(coding.code, code, "code", f"{item.place}/Coding {coding.guid}")
        yield from (_Ref(ref, note, "note reference", f"{item.place}/Coding {coding.guid}")
                    for ref in coding.note_refs)
    for selection in source.selections:
        place = _selection_place(item, selection)
        yield from (_Ref(ref, note, "note reference", place) for ref in selection.note_refs)
        for coding in selection.codings:
            yield _Ref(coding.code, code, "code", f"{place}/Coding {coding.guid}")
            yield from (_Ref(ref, note, "note reference", f"{place}/Coding {coding.guid}")
                        for ref in coding.note_refs)


def _reference_issues(project: Project, index: _Index) -> list[Issue]:
    issues: list[Issue] = []
    for ref in _references(project, index):
        found = index.elements(ref.guid)
        if not found:
            issues.append(RULES["REF-DANGLING"].issue(
                f"the {ref.what} {ref.guid or '(empty)'} is not in the project", place=ref.place))
        elif ref.expected is not None and not ref.expected.intersection(found):
            kinds = " or ".join(sorted(ref.expected)) if len(ref.expected) < 3 else "a " + ref.what
            issues.append(RULES["REF-WRONG-KIND"].issue(
                f"the {ref.what} {ref.guid} is a {'/'.join(sorted(set(found)))}, not {kinds}", place=ref.place))
    issues += _graph_edge_issues(project)
    issues += _user_issues(project, index)
    return issues


def _graph_edge_issues(project: Project) -> list[Issue]:
    issues: list[Issue] = []
    for graph in project.graphs:
        vertices = {guid_key(v.guid) for v in graph.vertices}
        for edge in graph.edges:
            for end, guid in (("source", edge.source_vertex), ("target", edge.target_vertex)):
                if guid_key(guid) not in vertices:
                    issues.append(RULES["REF-DANGLING"].issue(
                        f"the {end} vertex {guid} is not a vertex of this graph",
                        place=f"{_label('Graph', graph.name, graph.guid)}/Edge {edge.guid}"))
    return issues


def _user_issues(project: Project, index: _Index) -> list[Issue]:
    """Dangling users, one issue per missing user with how often and where first."""
    uses: dict[str, list[str]] = defaultdict(list)

    def note(guid: str | None, place: str) -> None:
        if guid and "User" not in index.elements(guid):
            uses[guid].append(place)

    note(project.creating_user, "Project")
    note(project.modifying_user, "Project")
    for item in index.located:
        note(item.source.creating_user, item.place)
        note(item.source.modifying_user, item.place)
        for coding in item.source.codings:
            note(coding.creating_user, f"{item.place}/Coding {coding.guid}")
        for selection in item.source.selections:
            place = _selection_place(item, selection)
            note(selection.creating_user, place)
            note(selection.modifying_user, place)
            for coding in selection.codings:
                note(coding.creating_user, f"{place}/Coding {coding.guid}")
    return [RULES["REF-USER"].issue(f"user {guid} is not in Users ({len(places)} "
                                    f"reference{'s' if len(places) > 1 else ''})", place=places[0])
            for guid, places in uses.items()]


def _text_issues(index: _Index, texts: _Texts) -> list[Issue]:
    issues: list[Issue] = []
    for item in index.located:
        source = item.source
        if source.kind in _ELEMENT and source.kind not in ("PDF", "Picture", "Audio", "Video"):
            issues += _text_presence(item)
        text = texts.get(source)
        plain = [s for s in source.selections if s.kind == "PlainText"]
        if text is None and (plain or source.sync_points) and source.plain_text_path:
            issues.append(RULES["TEXT-UNAVAILABLE"].issue(
                f"the text at {source.plain_text_path} could not be read; "
                f"{len(plain)} selection(s) and {len(source.sync_points)} sync point(s) not checked against it",
                place=item.place))
        for selection in source.selections:
            problem = _position_problem(selection, text)
            if problem:
                issues.append(RULES["POS-OUT-OF-RANGE"].issue(problem, place=_selection_place(item, selection)))
            elif _swapped_corners(selection):
                corners = (selection.first_x, selection.first_y, selection.second_x, selection.second_y)
                issues.append(RULES["POS-CORNERS"].issue(f"the corners (x1, y1, x2, y2) are {corners}",
                                                         place=_selection_place(item, selection)))
        issues += _sync_issues(item, text)
    return issues


def _text_presence(item: _Located) -> list[Issue]:
    source = item.source
    has_file = bool(source.plain_text_path) or source.plain_file is not None
    if source.plain_text is not None and has_file:
        where = source.plain_text_path or source.plain_file.name  # type: ignore[union-attr]
        return [RULES["TEXT-BOTH"].issue(f"has PlainTextContent and also the text file {where}",
                                         place=item.place)]
    if source.plain_text is None and not has_file:
        return [RULES["TEXT-NONE"].issue("has neither PlainTextContent nor a plainTextPath", place=item.place)]
    return []


def _position_problem(selection: Selection, text: str | None) -> str | None:
    """Why a selection's extent is impossible, or None."""
    if selection.kind in ("PlainText", "Audio", "Video"):
        start, end = selection.start, selection.end
        unit = "" if selection.kind == "PlainText" else " ms"
        if start is None or end is None:
            return "has no start or end position"
        if start < 0:
            return f"starts before the beginning ({start}{unit})"
        if end < start:
            return f"ends ({end}{unit}) before it starts ({start}{unit})"
        if selection.kind == "PlainText" and text is not None and end > len(text):
            return f"ends at {end}, past the end of the text ({len(text)} characters)"
    elif selection.kind in ("Picture", "PDF"):
        corners = (selection.first_x, selection.first_y, selection.second_x, selection.second_y)
        if any(value is not None and value < 0 for value in corners):
            return f"has a negative coordinate {corners}"
        if selection.kind == "PDF" and selection.page is not None and selection.page < 0:
            return f"is on page {selection.page}"
    return None


def _swapped_corners(selection: Selection) -> bool:
    corners = (selection.first_x, selection.first_y, selection.second_x, selection.second_y)
    return selection.kind == "Picture" and None not in corners and (
        corners[2] < corners[0] or corners[3] < corners[1])  # type: ignore[operator]


def _sync_issues(item: _Located, text: str | None) -> list[Issue]:
    issues: list[Issue] = []
    points = {}
    for point in item.source.sync_points:
        points[guid_key(point.guid)] = point
        place = f"{item.place}/SyncPoint {point.guid}"
        if point.position is not None and (point.position < 0 or (text is not None and point.position > len(text))):
            length = f" (the text has {len(text)} characters)" if text is not None else ""
            issues.append(RULES["SYNC-OUT-OF-RANGE"].issue(f"position {point.position} is outside the text{length}",
                                                           place=place))
        if point.timestamp is not None and point.timestamp < 0:
            issues.append(RULES["SYNC-OUT-OF-RANGE"].issue(f"timestamp {point.timestamp} ms is before 0",
                                                           place=place))
    for selection in item.source.selections:
        if selection.kind != "Transcript":
            continue
        place = _selection_place(item, selection)
        ends = []
        for end, guid in (("from", selection.from_sync), ("to", selection.to_sync)):
            point = points.get(guid_key(guid))
            if point is None:
                issues.append(RULES["REF-DANGLING"].issue(
                    f"the {end} sync point {guid or '(none)'} is not a sync point of this transcript", place=place))
            ends.append(point)
        if None not in ends and _sync_reversed(ends[0], ends[1]):  # type: ignore[arg-type]
            issues.append(RULES["POS-OUT-OF-RANGE"].issue("ends at a sync point before the one it starts at",
                                                          place=place))
    return issues


def _sync_reversed(first, last) -> bool:
    for attribute in ("position", "timestamp"):
        a, b = getattr(first, attribute), getattr(last, attribute)
        if a is not None and b is not None and b < a:
            return True
    return False


def _value_fits(value: VariableValue) -> bool:
    """Whether the Python value is of the value's declared type (None is an empty value)."""
    item, kind = value.value, value.type
    if item is None:
        return True
    if kind == "Boolean":
        return isinstance(item, bool)
    if kind == "Integer":
        return isinstance(item, int) and not isinstance(item, bool)
    if kind == "Float":
        return isinstance(item, (Decimal, float, int)) and not isinstance(item, bool)
    if kind == "DateTime":
        return isinstance(item, datetime)
    if kind == "Date":
        return isinstance(item, date) and not isinstance(item, datetime)
    return isinstance(item, str)


def _variable_issues(project: Project, index: _Index) -> list[Issue]:
    rule = RULES["VAR-TYPE"]
    issues: list[Issue] = []
    variables = {guid_key(v.guid): v for v in project.variables}
    for variable in project.variables:
        if variable.type not in VARIABLE_TYPES:
            issues.append(rule.issue(f"has the unknown type {variable.type!r}",
                                     place=_label("Variable", variable.name, variable.guid)))
    holders = [(_label("Case", c.name, c.guid), c.variable_values) for c in project.cases]
    holders += [(item.place, item.source.variable_values) for item in index.located]
    for place, values in holders:
        for value in values:
            variable = variables.get(guid_key(value.variable))
            if variable is None:
                continue  # a dangling reference, reported by REF-DANGLING
            name = variable.name or variable.guid
            if value.type != variable.type and variable.type in VARIABLE_TYPES:
                issues.append(rule.issue(f"a {value.type} value {value.value!r} for {variable.type} variable "
                                         f"{name!r}", place=place))
            elif not _value_fits(value):
                issues.append(rule.issue(f"the value {value.value!r} of {name!r} is not a valid {value.type}",
                                         place=place))
    return issues


# ------------------------------------------------------------------------ model: interoperability

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_GUID = re.compile(r"^(\{)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?(1)\})$")
_MIN_SPANS = 8  # below this, a unit or excerpt-name verdict is guesswork


def interop_issues(project: Project, index: _Index, texts: _Texts) -> list[Issue]:
    return [*_span_issues(index, texts), *_empty_issues(project, index, texts),
            *_color_issues(project, index), *_naive_time_issues(project, index), *_guid_format_issues(index),
            *_uncodable_issues(index)]


def _span_issues(index: _Index, texts: _Texts) -> list[Issue]:
    """Word splits, excerpt names and position units, judged per source on its valid text selections."""
    from qdaconv.positions import matches_name, on_word_boundaries

    issues: list[Issue] = []
    named: list[tuple[_Located, Selection, bool]] = []
    for item in index.located:
        text = texts.get(item.source)
        if not text:
            continue
        spans = [s for s in item.source.selections if s.kind == "PlainText" and s.start is not None
                 and s.end is not None and 0 <= s.start <= s.end <= len(text)]
        if not spans:
            continue
        split = [s for s in spans if not on_word_boundaries(text, s.start, s.end)]  # type: ignore[arg-type]
        verdicts = [(s, matches_name(text, s.start, s.end, s.name)) for s in spans]  # type: ignore[arg-type]
        if (split or any(v is False for _s, v in verdicts)) and len(spans) >= _MIN_SPANS:
            other = _other_unit(text, spans)
            if other is not None:
                unit, fit, fit_as_points = other
                issues.append(RULES["INTEROP-POS-UNIT"].issue(
                    f"{fit} of {len(spans)} excerpts fit the text when positions are read as {unit} units, "
                    f"{fit_as_points} as code points", place=item.place))
                continue  # the splits and names below follow from the unit
        if split:
            first = split[0]
            issues.append(RULES["INTEROP-SPLIT-WORD"].issue(
                f"{len(split)} of {len(spans)} excerpts start or end inside a word, e.g. "
                f"{_excerpt(text, first.start, first.end)!r}",  # type: ignore[arg-type]
                place=_selection_place(item, first)))
        named += [(item, selection, verdict) for selection, verdict in verdicts if verdict is not None]
    issues += _excerpt_name_issues(named)
    return issues


def _other_unit(text: str, spans: list[Selection]) -> tuple[str, int, int] | None:
    """The unit other than code points that the spans clearly fit better, if any, with how many
    spans fit in it and how many as code points.

    Only units that count this text differently are compared (no astral character: UTF-16 units
    are code points; no CRLF: CRLF-as-one is code points), so an identical reading can never win.
    Selection names weigh in only when, in some unit, they are excerpts of the text: names that are
    labels (a speaker's name on each turn) match no unit but by chance, where a shifted span happens
    to start at the label, and such coincidences are no evidence; word boundaries alone decide then.
    """
    from qdaconv.positions import GUESS_UNITS, PositionMap, Span, guess_unit

    candidates = [u for u in GUESS_UNITS if u == "codepoint" or not PositionMap(text, u).identity]
    if len(candidates) == 1:
        return None
    names = any(_names_are_excerpts(_name_verdicts(text, spans, unit)) for unit in candidates)
    guess = guess_unit([Span(text, s.start, s.end, s.name if names else None) for s in spans],  # type: ignore[arg-type]
                       candidates=candidates)
    if not guess.changed:
        return None
    return guess.unit, _fitting(text, spans, guess.unit, names), _fitting(text, spans, "codepoint", names)


def _name_verdicts(text: str, spans: list[Selection], unit: str) -> list[bool | None]:
    """Per span read in `unit`: whether its name matches its text (None: the name is no excerpt)."""
    from qdaconv.positions import PositionMap, matches_name

    mapping = PositionMap(text, unit)
    return [matches_name(text, mapping.to_codepoint(s.start), mapping.to_codepoint(s.end), s.name)  # type: ignore[arg-type]
            for s in spans]


def _names_are_excerpts(verdicts: Iterable[bool | None]) -> bool:
    """Whether selection names are excerpts of their text: enough of them match, and most do."""
    judged = [v for v in verdicts if v is not None]
    matching = sum(judged)
    return matching >= _MIN_SPANS // 2 and matching * 2 >= len(judged)


def _fitting(text: str, spans: list[Selection], unit: str, names: bool) -> int:
    """How many spans, read in `unit`, keep words whole (and, with `names`, match their excerpt name)."""
    from qdaconv.positions import PositionMap, on_word_boundaries

    mapping = PositionMap(text, unit)
    verdicts = _name_verdicts(text, spans, unit) if names else [None] * len(spans)
    return sum(on_word_boundaries(text, mapping.to_codepoint(s.start), mapping.to_codepoint(s.end))  # type: ignore[arg-type]
               and verdict is not False for s, verdict in zip(spans, verdicts, strict=True))


def _excerpt(text: str, start: int, end: int, width: int = 40) -> str:
    excerpt = text[start:end]
    return excerpt if len(excerpt) <= width else excerpt[:width] + "…"


def _excerpt_name_issues(named: list[tuple[_Located, Selection, bool]]) -> list[Issue]:
    """Names that look like excerpts but do not match, once most named selections do match."""
    if not _names_are_excerpts(verdict for _item, _selection, verdict in named):
        return []  # the names are labels, not excerpts
    by_source: dict[int, list[tuple[_Located, Selection]]] = defaultdict(list)
    for item, selection, verdict in named:
        if not verdict:
            by_source[id(item)].append((item, selection))
    issues = []
    for wrong in by_source.values():
        item, selection = wrong[0]
        issues.append(RULES["INTEROP-EXCERPT-NAME"].issue(
            f"{len(wrong)} selection name(s) do not match the text at their positions, e.g. {selection.name!r}",
            place=_selection_place(item, selection)))
    return issues


def _empty_issues(project: Project, index: _Index, texts: _Texts) -> list[Issue]:
    rule = RULES["INTEROP-EMPTY"]
    issues = [rule.issue("the set has no members", place=_label("Set", group.name, group.guid))
              for group in project.sets
              if not (group.member_codes or group.member_sources or group.member_notes)]
    issues += [rule.issue("the graph has no vertices", place=_label("Graph", graph.name, graph.guid))
               for graph in project.graphs if not graph.vertices]
    for item in index.located:
        source = item.source
        if source.kind in ("Text", "Transcript", "Representation") and source.plain_file is not None:
            text = texts.get(source)
            if text is not None and not text.strip():
                issues.append(RULES["INTEROP-EMPTY-TEXT"].issue(
                    f"the text file {source.plain_file.name} is empty", place=item.place))
    return issues


def _color_issues(project: Project, index: _Index) -> list[Issue]:
    colored: list[tuple[str | None, str]] = [
        (e.code.color, f'Code "{" > ".join(e.path)}"') for e in index.code_entries]
    colored += [(link.color, _label("Link", link.name, link.guid)) for link in project.links]
    for graph in project.graphs:
        colored += [(v.color, f"Graph {graph.guid}/Vertex {v.guid}") for v in graph.vertices]
        colored += [(e.color, f"Graph {graph.guid}/Edge {e.guid}") for e in graph.edges]
    return [RULES["INTEROP-COLOR"].issue(f"colour {color!r} is not #RRGGBB", place=place)
            for color, place in colored if color is not None and not _COLOR.match(color)]


def _naive_time_issues(project: Project, index: _Index) -> list[Issue]:
    places: list[str] = []

    def note(value: object, place: str) -> None:
        if isinstance(value, datetime) and value.tzinfo is None:
            places.append(place)

    for attribute in ("created", "modified"):
        note(getattr(project, attribute), "Project")
    for item in index.located:
        note(item.source.created, item.place)
        note(item.source.modified, item.place)
        for coding in item.source.codings:
            note(coding.created, item.place)
        for selection in item.source.selections:
            for value in (selection.created, selection.modified, *(c.created for c in selection.codings)):
                note(value, _selection_place(item, selection))
        for value in item.source.variable_values:
            note(value.value, item.place)
    for case in project.cases:
        for value in case.variable_values:
            note(value.value, _label("Case", case.name, case.guid))
    if not places:
        return []
    return [RULES["INTEROP-NAIVE-TIME"].issue(f"{len(places)} date-time(s) have no time zone", place=places[0])]


def _guid_format_issues(index: _Index) -> list[Issue]:
    bad = [(key, found[0][1]) for key, found in index.objects.items() if not _GUID.match(key)]
    if not bad:
        return []
    examples = ", ".join(repr(key) for key, _place in bad[:3])
    return [RULES["INTEROP-GUID-FORMAT"].issue(f"{len(bad)} id(s) are not GUIDs, e.g. {examples}",
                                               place=bad[0][1])]


def _uncodable_issues(index: _Index) -> list[Issue]:
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for item in index.located:
        codings = [(c, f"{item.place}/Coding {c.guid}") for c in item.source.codings]
        codings += [(c, f"{_selection_place(item, s)}/Coding {c.guid}")
                    for s in item.source.selections for c in s.codings]
        for coding, place in codings:
            code = index.codes.get(guid_key(coding.code))
            if code is not None and not code.codable:
                counts[code.name] += 1
                first.setdefault(code.name, place)
    return [RULES["INTEROP-UNCODABLE"].issue(f"{count} coding(s) apply the code {name!r}, which is not codable",
                                             place=first[name]) for name, count in counts.items()]


# ------------------------------------------------------------------------------------- many files


#: A folder format's sniff score from which its claim on a folder wins outright (the tables' marker).
CERTAIN_CLAIM = 0.9
#: The score from which a claim wins when nothing in the folder is claimed as strongly by a file format.
PROBABLE_CLAIM = 0.5


class _Walk:
    """Finds what to validate in a folder: whole projects in folder formats, and files with known endings.

    A folder is one item when a folder format claims it with a certain score, or with a probable
    one that no file anywhere beneath it beats (a transcripts folder holding a case-variables CSV
    is still one project; a folder holding a README.txt and a .qdpx is not). Any other folder is
    walked: its files with a known ending are items, and its subfolders are judged the same way.
    Hidden files and folders are skipped.
    """

    def __init__(self, registry: Registry) -> None:
        readers = [fmt for fmt in registry if fmt.can_read]
        self.folder_formats = [fmt for fmt in readers if fmt.folder]
        self.readers = readers
        self.suffixes = tuple({suffix.lower() for fmt in readers for suffix in fmt.extensions})
        self._file_scores: dict[Path, float] = {}

    def items(self, folder: Path) -> list[Path]:
        claim = self._claim(folder)
        if claim >= CERTAIN_CLAIM or (claim >= PROBABLE_CLAIM and not self._beaten(folder, claim)):
            return [folder]
        found: list[Path] = []
        for entry in sorted(self._entries(folder)):
            found += self.items(entry) if entry.is_dir() else [entry]
        return found

    def _entries(self, folder: Path) -> Iterator[Path]:
        """The visible subfolders (not through links, which may loop), and the visible files with a known ending."""
        try:
            entries = list(folder.iterdir())
        except OSError:  # an unreadable folder holds nothing we can validate
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir() and not entry.is_symlink():
                yield entry
            elif entry.is_file() and entry.name.lower().endswith(self.suffixes):
                yield entry

    def _files_beneath(self, folder: Path) -> Iterator[Path]:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            yield from (Path(root) / name for name in sorted(files)
                        if not name.startswith(".") and name.lower().endswith(self.suffixes))

    def _beaten(self, folder: Path, claim: float) -> bool:
        return any(self._file_score(path) >= claim for path in self._files_beneath(folder))

    def _claim(self, folder: Path) -> float:
        return max((_score(fmt, folder) for fmt in self.folder_formats), default=0.0)

    def faint_claim(self, folder: Path) -> Format | None:
        """The folder format that claims `folder`, but too weakly to make it a project, if one does."""
        scores = [(score, fmt) for fmt in self.folder_formats if 0 < (score := _score(fmt, folder)) < PROBABLE_CLAIM]
        return max(scores, key=lambda pair: pair[0])[1] if scores else None

    def _file_score(self, path: Path) -> float:
        if path not in self._file_scores:
            self._file_scores[path] = max((_score(fmt, path) for fmt in self.readers), default=0.0)
        return self._file_scores[path]


def _score(fmt: Format, path: Path) -> float:
    try:
        return float(fmt.sniff(path))
    except Exception:  # sniff must never raise; a broken one only loses its vote
        return 0.0


def expand_paths(args: Iterable[str | os.PathLike], registry: Registry | None = None) -> list[Path]:
    """The files and folder-format projects named by files, folders and globs.

    A folder is searched as `_Walk` describes; a folder that is itself a project (a tables
    folder, a transcripts folder) is one item. Raises QdaconvError for an argument that matches
    nothing, so a typo is not a silent pass.
    """
    walk: _Walk | None = None
    paths: dict[Path, None] = {}
    for arg in args:
        text = os.fspath(arg)
        path = Path(text)
        if path.is_file():
            matches = [path]
        elif path.is_dir():
            walk = walk or _Walk(registry or _registry())
            matches = walk.items(path)
            if not matches:
                endings = ", ".join(sorted(walk.suffixes)) or "none"
                message = f"{text}: the folder holds no project or file qdaconv can read (known endings: {endings})"
                if (faint := walk.faint_claim(path)) is not None:
                    message += (f"; it resembles the {faint.name} format only faintly: if it is one, "
                                f"pass --from {faint.name} to info or convert")
                raise QdaconvError(message)
        elif glob.has_magic(text):
            matches = [Path(p) for p in sorted(glob.glob(text, recursive=True)) if Path(p).is_file()]
            if not matches:
                raise QdaconvError(f"{text}: the pattern matches no file")
        else:
            raise QdaconvError(f"{text}: no such file or folder")
        paths.update(dict.fromkeys(matches))
    return list(paths)


def _validate_job(path: str, rules: list[str] | None) -> Report:
    """One file's validation as a worker runs it: nothing escapes but a Report."""
    try:
        return validate(path, rules=rules)
    except Exception as exc:
        return _crashed(path, f"validation failed: {type(exc).__name__}: {exc}")


def _crashed(path: str, message: str) -> Report:
    issue = RULES["WORKER-CRASHED"].issue(message)
    issue.file = path
    return Report(path, None, [issue])


def validate_many(paths: Iterable[str | os.PathLike], *, jobs: int | None = None,
                  rules: Iterable[str] | None = None, executor: str = "process", scheduler: str | None = None,
                  progress: Callable[[Report], None] | None = None) -> list[Report]:
    """Validate many files in parallel; Reports come back in the order of `paths`.

    `executor="process"` uses `jobs` local worker processes (default: the CPU count; 1 runs in
    this process). A worker that dies costs only the file it was on. `executor="dask"` sends the
    same per-file job to a Dask cluster at `scheduler` (a local one when None); the files must be
    readable at the same paths on the workers. `progress` is called with each Report as it is done.
    """
    names = [os.fspath(p) for p in paths]
    rule_list = list(rules) if rules is not None else None
    rule_matcher(rule_list)  # an unknown rule is a usage error before any work starts
    results: list[Report | None] = [None] * len(names)

    def deliver(position: int, report: Report) -> None:
        results[position] = report
        if progress is not None:
            progress(report)

    if executor == "dask":
        _run_dask(names, rule_list, jobs, scheduler, deliver)
    elif executor == "process":
        jobs = jobs or os.cpu_count() or 1
        if jobs == 1 or len(names) <= 1:
            for position, name in enumerate(names):
                deliver(position, _validate_job(name, rule_list))
        else:
            _run_pool(names, rule_list, jobs, deliver)
    else:
        raise QdaconvError(f"unknown executor {executor!r}; use 'process' or 'dask'")
    return [report for report in results if report is not None]


def _run_pool(names: list[str], rules: list[str] | None, jobs: int,
              deliver: Callable[[int, Report], None]) -> None:
    """A process pool with a bounded number of files in flight; after a crash, suspects run one by one."""
    queue = deque(range(len(names)))
    suspects: deque[int] = deque()
    window = jobs * 4
    while queue or suspects:
        if suspects:
            position = suspects.popleft()
            with ProcessPoolExecutor(max_workers=1) as pool:
                deliver(position, _result(pool.submit(_validate_job, names[position], rules), names[position]))
            continue
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            in_flight: dict[Future, int] = {}
            try:
                while queue or in_flight:
                    while queue and len(in_flight) < window:
                        position = queue.popleft()
                        in_flight[pool.submit(_validate_job, names[position], rules)] = position
                    done, _running = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        position = in_flight.pop(future)
                        if isinstance(future.exception(), BrokenProcessPool):
                            suspects.append(position)
                        else:
                            deliver(position, _result(future, names[position]))
            except BrokenProcessPool:
                pass
            suspects.extend(in_flight.values())


def _result(future: Future, name: str) -> Report:
    try:
        return future.result()
    except BrokenProcessPool:
        return _crashed(name, "the worker process died while validating this file (out of memory, or a crash "
                              "in a native library)")
    except Exception as exc:
        return _crashed(name, f"the worker failed: {type(exc).__name__}: {exc}")


def _run_dask(names: list[str], rules: list[str] | None, jobs: int | None, scheduler: str | None,
              deliver: Callable[[int, Report], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise QdaconvError("the dask executor needs the optional extra: pip install 'qdaconv[dask]'") from None
    if scheduler:
        client = Client(scheduler)
    else:
        client = Client(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1)
    with client:
        window = max(8, 4 * sum(client.nthreads().values()))
        positions: dict[Future, int] = {}
        pending = iter(range(len(names)))
        finished = as_completed()

        def submit_next() -> None:
            position = next(pending, None)
            if position is not None:
                future = client.submit(_validate_job, names[position], rules, pure=False)
                positions[future] = position
                finished.add(future)

        for _ in range(window):
            submit_next()
        for future in finished:
            position = positions.pop(future)
            try:
                report = future.result()
            except Exception as exc:  # a lost worker, or a job that could not run there
                report = _crashed(names[position], f"the Dask task failed: {type(exc).__name__}: {exc}")
            future.release()
            deliver(position, report)
            submit_next()


# ----------------------------------------------------------------------------------------- output


def summary_line(reports: Iterable[Report]) -> str:
    """`N files checked: V valid, E with errors, W with warnings`."""
    reports = list(reports)
    valid = sum(report.valid for report in reports)
    with_warnings = sum(bool(report.warnings) for report in reports)
    noun = "file" if len(reports) == 1 else "files"
    return (f"{len(reports)} {noun} checked: {valid} valid, {len(reports) - valid} with errors, "
            f"{with_warnings} with warnings")


def render_text(reports: Iterable[Report]) -> str:
    """Compiler-style lines (`file:place: error RULE: message (hint)`), file by file, then the summary."""
    reports = list(reports)
    lines = [str(issue) for report in reports for issue in report.issues]
    return "\n".join([*lines, summary_line(reports)])


def render_json(reports: Iterable[Report]) -> str:
    """A JSON array with one object per file: file, format, valid, counts and the issues."""
    return json.dumps([report.as_dict() for report in reports], indent=2, ensure_ascii=False)


def render_junit(reports: Iterable[Report], strict: bool = False) -> str:
    """JUnit XML for CI dashboards: one testcase per file, failing on errors (and warnings under `strict`)."""
    from lxml import etree

    reports = list(reports)
    failing = [report for report in reports if not report.passes(strict)]
    suites = etree.Element("testsuites", name="qdaconv validate", tests=str(len(reports)),
                           failures=str(len(failing)), errors="0")
    suite = etree.SubElement(suites, "testsuite", name="qdaconv validate", tests=str(len(reports)),
                             failures=str(len(failing)), errors="0", skipped="0")
    for report in reports:
        case = etree.SubElement(suite, "testcase", classname=f"qdaconv.validate.{report.format or 'unknown'}",
                                name=report.file)
        counted = [i for i in report.issues if i.severity is Severity.ERROR or (strict and i.severity is
                                                                                 Severity.WARNING)]
        if counted:
            failure = etree.SubElement(case, "failure", type=counted[0].rule,
                                       message=f"{report.errors} error(s), {report.warnings} warning(s)")
            failure.text = "\n".join(str(issue) for issue in counted)
        failed = {id(issue) for issue in counted}
        others = [str(issue) for issue in report.issues if id(issue) not in failed]
        if others:
            etree.SubElement(case, "system-out").text = "\n".join(others)
    return etree.tostring(suites, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")
