"""REFI-QDA checks on the file itself, which reading into the model cannot show: zip container, XSD, raw XML.

The REFI formats' `check()` method calls

    check_file(path: Path, fmt_name: str) -> list[Issue]

with `fmt_name` one of "refi-qdpx" (a zip holding project.qde and sources/), "refi-qde" or
"refi-qdc" (bare XML). It never raises for a bad file. Places are `member:line` inside a zip
and the line number for bare XML, so reports read like a compiler's. A schema-valid document is
checked while it streams (`qdaconv.validation.schema.stream_check`); any other is parsed whole, so
every error is listed with its line.
"""

from __future__ import annotations

import re
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from lxml import etree

from qdaconv import progress
from qdaconv.errors import ReadError
from qdaconv.issues import Issue
from qdaconv.plugins.refi.container import (
    IGNORED_NAMES,
    INFLATED_BUDGET,
    PARSE_WHOLE_BYTES,
    QDE_NAME,
    SOURCES_DIR,
    Members,
    find_qde,
    keep_inflated,
    keep_parsed,
    split_path,
)
from qdaconv.safety import SafeZip, open_zip, unsafe_name_reason, xml_parser
from qdaconv.validation.rules import RULES
from qdaconv.validation.schema import load_schema, stream_check

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
_SCHEMA_FILES = {"Project": ("Project-mrt2019.xsd", PROJECT_NS), "CodeBook": ("Codebook.xsd", CODEBOOK_NS)}
_VARIANT_NS = re.compile(r"^urn:QDA-XML:(project|codebook):", re.IGNORECASE)
_XSI_LOCATION = "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"
#: Beyond this many schema errors in one file, the rest are counted, not listed.
MAX_SCHEMA_ISSUES = 100
#: REFI-QDA 8.5: internal files are limited to this size.
MAX_INTERNAL_SIZE = 2_147_483_647
_PATH_ATTRIBUTES = ("plainTextPath", "richTextPath", "path")
_ENTITY_DECLARATION = re.compile(rb"<!DOCTYPE[^>\[]*\[[^\]]*<!ENTITY", re.IGNORECASE)
_PROLOG_BYTES = 1 << 20


def check_file(path: Path, fmt_name: str) -> list[Issue]:
    """Container (for .qdpx), schema and raw-XML issues of a REFI-QDA file."""
    path = Path(path)
    if fmt_name == "refi-qdpx":
        return check_container(path)
    try:
        issues, _uses = check_document(lambda: open(path, "rb"), None, "CodeBook" if fmt_name == "refi-qdc"
                                       else "Project", path.stat().st_size,
                                       lambda root: keep_parsed(path, None, root))
    except OSError as exc:
        return [RULES["READ-FAILED"].issue(f"cannot read the file: {exc.strerror or exc}")]
    return issues


# ------------------------------------------------------------------------------------ XSD schemas

def schema(root_name: str) -> etree.XMLSchema:
    """The official schema for a root element name ("Project" or "CodeBook")."""
    return load_schema(_SCHEMA_FILES[root_name][0])


# -------------------------------------------------------------------------------------- raw XML


def _place(member: str | None, line: int | None) -> str | None:
    if member and line:
        return f"{member}:{line}"
    return member or (str(line) if line else None)


@dataclass(slots=True)
class PathUse:
    """A path attribute of an element: where it is and what it names."""

    owner: str  # the element's local name
    name: str | None  # its name attribute
    line: int | None
    attribute: str
    reference: str


def _uses_of(element: etree._Element) -> list[PathUse]:
    return [PathUse(etree.QName(element).localname, element.get("name"), element.sourceline, attribute, reference)
            for attribute in _PATH_ATTRIBUTES if (reference := element.get(attribute))]


def _uses_in(root: etree._Element, valid: bool = False) -> list[PathUse]:
    """The path attributes of a document: in a schema-valid one only `_PATH_TAGS` can carry them, and they
    are listed as those elements end, as while streaming; in any other, every element is looked at."""
    if valid and etree.QName(root).namespace == PROJECT_NS:
        return [use for element in _in_end_order(root.iter(_PATH_TAGS)) for use in _uses_of(element)]
    return [use for element in root.iter(etree.Element) for use in _uses_of(element)]


def _in_end_order(elements: Iterable[etree._Element]) -> list[etree._Element]:
    """Elements given in document order, put in the order they end: each after those nested in it. (A walk
    of end events over the whole tree, `etree.iterwalk`, does the same at six times the cost.)"""
    ordered: list[etree._Element] = []
    open_: list[etree._Element] = []
    for element in elements:
        ancestors = set(element.iterancestors()) if open_ else ()
        while open_ and open_[-1] not in ancestors:
            ordered.append(open_.pop())
        open_.append(element)
    ordered.extend(reversed(open_))
    return ordered


#: The elements that can carry a path attribute in a schema-valid document (cleared as they end).
_PATH_TAGS = tuple(f"{{{PROJECT_NS}}}{name}" for name in (
    "TextSource", "PDFSource", "PictureSource", "AudioSource", "VideoSource", "Note", "Representation",
    "TextDescription", "Transcript"))


def check_document(open_stream: Callable[[], IO[bytes]], member: str | None, kind: str, size: int | None = None,
                   keep: Callable[[etree._Element], None] | None = None
                   ) -> tuple[list[Issue], list[PathUse] | None]:
    """The issues of one QDA-XML document and its path attributes (None when it could not be parsed).

    A document of known size up to `PARSE_WHOLE_BYTES` is parsed whole by `check_xml` (one parse
    and a tree validation cost less than validating while streaming), and when it is schema-valid
    in the official namespace its tree is given to `keep`, for the reader. A larger document in the
    official namespace is checked while streaming, in bounded memory, when it is schema-valid;
    anything else is parsed whole by `check_xml`, which lists every problem with its line.
    """
    expected = f"{{{_SCHEMA_FILES[kind][1]}}}{kind}"
    if size is None or size > PARSE_WHOLE_BYTES:
        uses: list[PathUse] = []
        with open_stream() as stream:
            result = stream_check(stream, schema(kind), _PATH_TAGS, [expected],
                                  lambda element: uses.extend(_uses_of(element)), size)
        if result.valid and not result.entities and result.root_tag == expected:
            issues = _encoding_issues(result.encoding, member)
            issues += _location_issues(result.root_attributes or {}, _SCHEMA_FILES[kind][1], member,
                                       result.root_line)
            return issues + _path_issues(uses, member), uses
    with open_stream() as stream:
        data = progress.counted(stream, "checking the schema", size).read()
    issues, root, found = check_xml(data, member)
    if root is not None and keep is not None and root.tag == expected \
            and not any(issue.rule.startswith("REFI-XSD") for issue in issues):
        keep(root)
    return issues, found


def _encoding_issues(encoding: str | None, member: str | None) -> list[Issue]:
    encoding = encoding or "UTF-8"
    if encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        return [RULES["REFI-ENCODING"].issue(f"the XML is encoded in {encoding}", place=member)]
    return []


def check_xml(data: bytes, member: str | None
              ) -> tuple[list[Issue], etree._Element | None, list[PathUse] | None]:
    """Well-formedness, encoding, namespace and XSD issues of one QDA-XML document, its root and its path
    attributes (root and paths None when it could not be parsed)."""
    unsafe = [RULES["XML-UNSAFE"].issue("the XML declares entities in its DOCTYPE", place=_place(member, 1))]
    if _ENTITY_DECLARATION.search(data[:_PROLOG_BYTES]):
        return unsafe, None, None  # checked before parsing: libxml2 rejects some unexpanded uses as syntax errors
    try:
        root = etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else exc.lineno
        message = re.sub(r",? line \d+, column \d+$", "", exc.msg or str(exc))
        return [RULES["XML-MALFORMED"].issue(message, place=_place(member, line))], None, None
    issues = _encoding_issues(root.getroottree().docinfo.encoding, member)
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.entities()):
        return [*issues, *unsafe], None, None
    schema_issues = _schema_issues(root, member)
    issues += schema_issues
    uses = _uses_in(root, valid=not any(issue.rule.startswith("REFI-XSD") for issue in schema_issues))
    issues += _path_issues(uses, member)
    return issues, root, uses


def _path_problem(reference: str) -> str | None:
    """Why a strict reader would fail on a file path, or None for the forms REFI-QDA 8.3 shows."""
    if "\\" in reference:
        return "uses backslashes"
    scheme, _sep, rest = reference.partition("://")
    if not _sep:
        return "has no internal://, relative:// or absolute:// scheme"
    if scheme.lower() == "internal" and "/" in rest.strip("/"):
        return "names a folder after internal:// (write internal://<file name>)"
    return None


def _path_issues(uses: Iterable[PathUse], member: str | None) -> list[Issue]:
    issues: list[Issue] = []
    for use in uses:
        problem = _path_problem(use.reference)
        if problem:
            issues.append(RULES["INTEROP-PATH"].issue(f"{use.attribute} {use.reference!r} {problem}",
                                                      place=_place(member, use.line)))
        if use.attribute == "richTextPath" and not use.reference.lower().endswith(".docx"):
            issues.append(RULES["INTEROP-RICH-TEXT"].issue(f"richTextPath {use.reference!r} is not a .docx",
                                                           place=_place(member, use.line)))
    return issues


def _schema_issues(root: etree._Element, member: str | None) -> list[Issue]:
    qname = etree.QName(root)
    if qname.localname not in _SCHEMA_FILES:
        return [RULES["REFI-XSD"].issue(f"the root element is <{qname.localname}>, not <Project> or <CodeBook>",
                                        place=_place(member, root.sourceline))]
    _file, expected = _SCHEMA_FILES[qname.localname]
    issues: list[Issue] = []
    if qname.namespace != expected:
        found = f"namespace {qname.namespace!r}" if qname.namespace else "no namespace"
        issues.append(RULES["REFI-XSD-NAMESPACE"].issue(f"<{qname.localname}> is in {found}, not {expected!r}",
                                                    place=_place(member, root.sourceline)))
        if not qname.namespace or not _VARIANT_NS.match(qname.namespace):
            return issues  # not QDA-XML at all: schema messages would only repeat this
    issues += _location_issues(dict(root.attrib), qname.namespace or expected, member, root.sourceline)
    if qname.namespace != expected:
        root = _renamed(root, qname.namespace, expected)  # type: ignore[arg-type]
    validator = schema(qname.localname)
    try:
        if validator.validate(root):
            return issues
    except etree.LxmlError as exc:  # libxml2 gives up on some documents instead of listing errors
        return [*issues, RULES["REFI-XSD"].issue(f"the schema check could not finish: {exc}",
                                                 place=_place(member, root.sourceline))]
    errors = list(validator.error_log)
    for error in errors[:MAX_SCHEMA_ISSUES]:
        issues.append(RULES["REFI-XSD"].issue(error.message, place=_place(member, error.line),
                                              hint=_xsd_hint(error.message)))
    if len(errors) > MAX_SCHEMA_ISSUES:
        issues.append(RULES["REFI-XSD"].issue(f"and {len(errors) - MAX_SCHEMA_ISSUES} more schema errors",
                                              place=member))
    return issues


def _renamed(root: etree._Element, old: str, new: str) -> etree._Element:
    """The tree with its elements moved from namespace `old` to `new`, in place; line numbers are kept."""
    prefix, replacement = f"{{{old}}}", f"{{{new}}}"
    for element in root.iter(etree.Element):
        if element.tag.startswith(prefix):
            element.tag = replacement + element.tag[len(prefix):]
    return root


def _location_issues(attributes: dict[str, str], namespace: str, member: str | None, line: int | None
                     ) -> list[Issue]:
    location = attributes.get(_XSI_LOCATION)
    if not location:
        return []
    named = location.split()[0::2]
    if namespace in named:
        return []
    return [RULES["INTEROP-SCHEMA-LOCATION"].issue(
        f"xsi:schemaLocation names {', '.join(named)}, not the document's {namespace}",
        place=_place(member, line))]


_HINTS = (
    ("Missing child element(s)", "an empty list element is not allowed: leave the element out when it has "
                                 "no children (Taguette writes an empty <Sets/>)"),
    ("[0-9a-fA-F]{8}", "GUIDs look like 3F2504E0-4F89-11D3-9A0C-0305E82C3301; replace the other ids"),
    ("#([A-Fa-f0-9]{6}", "write colours as #RRGGBB"),
    ("is not allowed", "the schema does not define this attribute: remove it, or keep the data in a "
                       "Description"),
    ("This element is not expected", "check the element's name, letter case and position: the schema "
                                     "fixes the order of children"),
    ("is not a valid value of the atomic type 'xs:dateTime'", "write date-times as 2024-05-01T10:00:00Z"),
    ("is not a valid value of the atomic type 'xs:integer'", "positions and coordinates are whole numbers"),
)


def _xsd_hint(message: str) -> str | None:
    return next((hint for needle, hint in _HINTS if needle in message), None)


# ------------------------------------------------------------------------------------- container


def check_container(path: Path) -> list[Issue]:
    """The .qdpx zip: readable, safe, one project.qde, a flat sources/ folder, files referenced and present."""
    try:
        with zipfile.ZipFile(path) as raw:
            infos = [info for info in raw.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        return [RULES["ZIP-BROKEN"].issue(f"not a readable zip file ({exc})")]
    except OSError as exc:
        return [RULES["READ-FAILED"].issue(f"cannot read the file: {exc.strerror or exc}")]
    unsafe = [RULES["ZIP-UNSAFE"].issue(f"the member name {info.filename!r} {reason}", place=info.filename)
              for info in infos if (reason := unsafe_name_reason(info.filename))]
    if unsafe:
        return unsafe
    try:
        archive = open_zip(path)
    except ReadError as exc:
        return [RULES["ZIP-UNSAFE"].issue(_read_error_text(exc, path), place=exc.location)]
    with archive:
        return _check_open_container(archive, infos)


def _read_error_text(exc: ReadError, path: Path) -> str:
    text = str(exc).removeprefix(f"{path}:").removeprefix(f"{exc.location}:" if exc.location else "")
    text = text.removeprefix(f"{path}").lstrip(": ")
    return text.removesuffix(f" ({exc.hint})") if exc.hint else text


def _check_open_container(archive: SafeZip, infos: list[zipfile.ZipInfo]) -> list[Issue]:
    names = [info.filename for info in infos]
    try:
        qde, _note = find_qde(names)
    except LookupError as exc:
        return [RULES["ZIP-NO-QDE"].issue(str(exc))]
    size = archive.getinfo(qde).file_size
    try:  # the project XML is checked while it streams; damage to it shows there too
        xml_issues, uses = check_document(lambda: archive.open(qde), qde, "Project", size,
                                          lambda root: keep_parsed(archive.path, qde, root))
        broken = None
    except ReadError as exc:
        xml_issues, uses = [], None
        broken = RULES["ZIP-BROKEN"].issue(_read_error_text(exc, archive.path).removeprefix(f"{qde}: "), place=qde)
    # a project XML too large to parse whole is read while streaming, in memory no higher than convert's:
    # the members are not held through that read, but inflated again when the reader needs them
    damaged = _damaged_members(archive, [n for n in names if n != qde], INFLATED_BUDGET if size <= PARSE_WHOLE_BYTES
                               else 0)
    if broken is not None:
        return sorted([broken, *damaged], key=lambda issue: names.index(issue.place))  # type: ignore[arg-type]
    issues = damaged
    others = [n for n in names if n.lower().endswith(".qde") and n != qde]
    if others:
        issues.append(RULES["ZIP-MANY-QDE"].issue(f"besides {qde} the zip holds {', '.join(others)}",
                                                  place=others[0]))
    if qde != QDE_NAME:
        issues.append(RULES["INTEROP-QDE-NAME"].issue(f"the project XML is named {qde!r}", place=qde))
    issues += _name_issues(infos, qde)
    issues += xml_issues
    if uses is not None:
        files = [n for n in names if not n.lower().endswith(".qde") and not _ignored(n)]
        issues += _reference_issues(uses, files, qde)
    return issues


def _damaged_members(archive: SafeZip, names: list[str], room: int) -> list[Issue]:
    """Read every member through (in chunks) so checksum and compression damage shows. The sound ones, up
    to `room` bytes in all, are left for the reader (`keep_inflated`), which need not inflate them again."""
    issues: list[Issue] = []
    kept: dict[str, bytes] = {}
    for name in names:
        chunks: list[bytes] | None = [] if archive.getinfo(name).file_size <= room else None
        try:
            for chunk in archive.chunks(name):
                if chunks is not None:
                    chunks.append(chunk)
        except ReadError as exc:
            rule = RULES["ZIP-BAD-MEMBER"]
            issues.append(rule.issue(_read_error_text(exc, archive.path).removeprefix(f"{name}: "), place=name))
            continue
        if chunks is not None:
            kept[name] = b"".join(chunks)
            room -= len(kept[name])
    keep_inflated(archive.path, kept)
    return issues


def _ignored(name: str) -> bool:
    return name.rsplit("/", 1)[-1].lower() in IGNORED_NAMES or name.startswith("__MACOSX/")


def _name_issues(infos: Iterable[zipfile.ZipInfo], qde: str) -> list[Issue]:
    issues: list[Issue] = []
    by_lower: dict[str, list[str]] = defaultdict(list)
    folder_names: set[str] = set()
    for info in infos:
        name = info.filename
        by_lower[name.lower()].append(name)
        if info.file_size > MAX_INTERNAL_SIZE:
            issues.append(RULES["ZIP-FILE-TOO-LARGE"].issue(f"{name} is {info.file_size:,} bytes", place=name))
        if name.lower().endswith(".qde") or _ignored(name):
            continue  # extra .qde files are ZIP-MANY-QDE
        parts = name.split("/")
        if len(parts) == 2 and parts[0].lower() == SOURCES_DIR:
            folder_names.add(parts[0])
        else:
            where = "in a subfolder of sources/" if parts[0].lower() == SOURCES_DIR else "outside sources/"
            issues.append(RULES["ZIP-SOURCES-FOLDER"].issue(f"{name} is {where}", place=name))
    for clash in (group for group in by_lower.values() if len(group) > 1):
        issues.append(RULES["ZIP-NAME-CLASH"].issue(f"{' and '.join(clash)} differ only in letter case",
                                                    place=clash[0]))
    for folder in sorted(folder_names - {SOURCES_DIR}):
        issues.append(RULES["INTEROP-SOURCES-CASE"].issue(f"the sources folder is named {folder}/",
                                                          place=f"{folder}/"))
    return issues


def _internal_name(reference: str) -> str | None:
    """The path a reference names inside the zip (without its scheme), or None for an external file."""
    scheme, rest = split_path(reference)
    if scheme not in (None, "internal"):
        return None
    return rest.replace("\\", "/").lstrip("/") or None


def _reference_issues(uses: list[PathUse], files: list[str], qde: str) -> list[Issue]:
    """Internal files named but absent, and files present but named by nothing."""
    members = Members(files)
    used: set[str] = set()
    issues: list[Issue] = []
    for use in uses:
        wanted = _internal_name(use.reference)
        if wanted is None:
            continue
        found = members.find(wanted)
        if found:
            used.add(found)
            continue
        label = f'{use.owner} "{use.name}"' if use.name else use.owner
        issues.append(RULES["ZIP-MISSING-FILE"].issue(
            f"{label} names {use.attribute}={use.reference!r}, which is not in the zip", place=_place(qde, use.line)))
    for name in files:
        if name not in used:
            issues.append(RULES["ZIP-UNREFERENCED"].issue(f"{name} is not named by the project", place=name))
    return issues
