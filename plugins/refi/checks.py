"""REFI-QDA checks on the file itself, which reading into the model cannot show: zip container, XSD, raw XML.

The REFI formats' `check()` method calls

    check_file(path: Path, fmt_name: str) -> list[Issue]

with `fmt_name` one of "refi-qdpx" (a zip holding project.qde and sources/), "refi-qde" or
"refi-qdc" (bare XML). It never raises for a bad file. Places are `member:line` inside a zip
and the line number for bare XML, so reports read like a compiler's.
"""

from __future__ import annotations

import re
import threading
import zipfile
from collections import defaultdict
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from lxml import etree

from qdaconv.errors import ReadError
from qdaconv.issues import Issue
from qdaconv.plugins.refi.container import IGNORED_NAMES, QDE_NAME, SOURCES_DIR, find_qde, split_path
from qdaconv.safety import SafeZip, open_zip, unsafe_name_reason, xml_parser
from qdaconv.validation.rules import RULES

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
        data = path.read_bytes()
    except OSError as exc:
        return [RULES["READ-FAILED"].issue(f"cannot read the file: {exc.strerror or exc}")]
    issues, _root = check_xml(data, member=None)
    return issues


# ------------------------------------------------------------------------------------ XSD schemas

_local = threading.local()  # lxml schema objects keep an error log, so each thread gets its own


def schema(root_name: str) -> etree.XMLSchema:
    """The official schema for a root element name ("Project" or "CodeBook"), parsed once per thread."""
    cache: dict[str, etree.XMLSchema] = _local.__dict__.setdefault("schemas", {})
    if root_name not in cache:
        file_name, _ns = _SCHEMA_FILES[root_name]
        data = resources.files("qdaconv.schemas").joinpath(file_name).read_bytes()
        cache[root_name] = etree.XMLSchema(etree.fromstring(data, xml_parser()))
    return cache[root_name]


# -------------------------------------------------------------------------------------- raw XML


def _place(member: str | None, line: int | None) -> str | None:
    if member and line:
        return f"{member}:{line}"
    return member or (str(line) if line else None)


def check_xml(data: bytes, member: str | None) -> tuple[list[Issue], etree._Element | None]:
    """Well-formedness, encoding, namespace and XSD issues of one QDA-XML document, and its root."""
    unsafe = [RULES["XML-UNSAFE"].issue("the XML declares entities in its DOCTYPE", place=_place(member, 1))]
    if _ENTITY_DECLARATION.search(data[:_PROLOG_BYTES]):
        return unsafe, None  # checked before parsing: libxml2 rejects some unexpanded uses as syntax errors
    try:
        root = etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else exc.lineno
        message = re.sub(r",? line \d+, column \d+$", "", exc.msg or str(exc))
        return [RULES["XML-MALFORMED"].issue(message, place=_place(member, line))], None
    issues: list[Issue] = []
    encoding = root.getroottree().docinfo.encoding or "UTF-8"
    if encoding.upper().replace("_", "-") not in ("UTF-8", "UTF8"):
        issues.append(RULES["REFI-ENCODING"].issue(f"the XML is encoded in {encoding}", place=member))
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.entities()):
        return [*issues, *unsafe], None
    issues += _schema_issues(root, member)
    issues += _path_issues(root, member)
    return issues, root


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


def _path_issues(root: etree._Element, member: str | None) -> list[Issue]:
    issues: list[Issue] = []
    for element in root.iter(etree.Element):
        for attribute in _PATH_ATTRIBUTES:
            reference = element.get(attribute)
            problem = _path_problem(reference) if reference else None
            if problem:
                issues.append(RULES["INTEROP-PATH"].issue(f"{attribute} {reference!r} {problem}",
                                                          place=_place(member, element.sourceline)))
        rich = element.get("richTextPath")
        if rich and not rich.lower().endswith(".docx"):
            issues.append(RULES["INTEROP-RICH-TEXT"].issue(f"richTextPath {rich!r} is not a .docx",
                                                           place=_place(member, element.sourceline)))
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
    issues += _location_issues(root, qname.namespace or expected, member)
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


def _location_issues(root: etree._Element, namespace: str, member: str | None) -> list[Issue]:
    location = root.get(_XSI_LOCATION)
    if not location:
        return []
    named = location.split()[0::2]
    if namespace in named:
        return []
    return [RULES["INTEROP-SCHEMA-LOCATION"].issue(
        f"xsi:schemaLocation names {', '.join(named)}, not the document's {namespace}",
        place=_place(member, root.sourceline))]


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
    issues = _damaged_members(archive, names, qde)
    if any(issue.rule == "ZIP-BROKEN" for issue in issues):
        return issues
    others = [n for n in names if n.lower().endswith(".qde") and n != qde]
    if others:
        issues.append(RULES["ZIP-MANY-QDE"].issue(f"besides {qde} the zip holds {', '.join(others)}",
                                                  place=others[0]))
    if qde != QDE_NAME:
        issues.append(RULES["INTEROP-QDE-NAME"].issue(f"the project XML is named {qde!r}", place=qde))
    issues += _name_issues(infos, qde)
    xml_issues, root = check_xml(archive.read(qde), member=qde)
    issues += xml_issues
    if root is not None:
        files = [n for n in names if not n.lower().endswith(".qde") and not _ignored(n)]
        issues += _reference_issues(root, files, qde)
    return issues


def _damaged_members(archive: SafeZip, names: list[str], qde: str) -> list[Issue]:
    """Read every member through (in chunks) so checksum and compression damage shows."""
    issues: list[Issue] = []
    for name in names:
        try:
            for _chunk in archive.chunks(name):
                pass
        except ReadError as exc:
            rule = RULES["ZIP-BROKEN" if name == qde else "ZIP-BAD-MEMBER"]
            issues.append(rule.issue(_read_error_text(exc, archive.path).removeprefix(f"{name}: "), place=name))
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
    """The file name a path refers to inside the zip, or None for an external file."""
    scheme, rest = split_path(reference)
    if scheme not in (None, "internal"):
        return None
    rest = rest.replace("\\", "/").lstrip("/")
    if rest.lower().startswith(SOURCES_DIR + "/"):
        rest = rest[len(SOURCES_DIR) + 1:]
    return rest or None


def _reference_issues(root: etree._Element, members: list[str], qde: str) -> list[Issue]:
    """Internal files named but absent, and files present but named by nothing."""
    by_name: dict[str, str] = {}
    for name in members:
        by_name.setdefault(name.lower(), name)
        by_name.setdefault(name.rsplit("/", 1)[-1].lower(), name)
    used: set[str] = set()
    issues: list[Issue] = []
    for element in root.iter(etree.Element):
        for attribute in _PATH_ATTRIBUTES:
            reference = element.get(attribute)
            wanted = _internal_name(reference) if reference else None
            if wanted is None:
                continue
            found = by_name.get(f"{SOURCES_DIR}/{wanted}".lower()) or by_name.get(wanted.lower())
            if found:
                used.add(found)
                continue
            owner = etree.QName(element).localname
            name = element.get("name")
            label = f'{owner} "{name}"' if name else owner
            issues.append(RULES["ZIP-MISSING-FILE"].issue(
                f"{label} names {attribute}={reference!r}, which is not in the zip",
                place=_place(qde, element.sourceline)))
    for name in members:
        if name not in used:
            issues.append(RULES["ZIP-UNREFERENCED"].issue(f"{name} is not named by the project", place=name))
    return issues
