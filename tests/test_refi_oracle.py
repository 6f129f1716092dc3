"""An oracle for the REFI round trip that uses lxml and zipfile only, never qdaconv's reader.

`qdaconv convert IN OUT.qdpx` claims to keep everything. Here both files are opened as plain XML:
every element that has a GUID in the input must be in the output with the same element name and
every attribute the input gave it (GUID references compared without case or braces, times as
instants, colours without case), the children without GUIDs (references, descriptions, values)
must be the same, every text file must hold the same text, and every coded text span must cover
the same characters after the documented conversion of its unit into code points. The differences
that are allowed are listed below, each with its reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT.parent / "shared" / "samples"

#: attributes whose values are GUIDs, compared as GUIDs (case and braces are the writer's choice)
GUID_ATTRIBUTES = {"guid", "targetGUID", "creatingUser", "modifyingUser", "representedGUID", "sourceVertex",
                   "targetVertex", "originGUID", "destinationGUID"}
TIME_ATTRIBUTES = {"creationDateTime", "modifiedDateTime"}
POSITION_ATTRIBUTES = {"startPosition", "endPosition", "position"}
#: allowed differences, each with its reason
ALLOWED = {
    # the project's own origin names the program that wrote this copy
    ("Project", "origin"),
    # text and media files are renamed internal://<guid>.<ext> inside the new archive; their content
    # is compared below instead
    ("*", "plainTextPath"), ("*", "richTextPath"), ("*", "path"), ("*", "currentPath"),
    # a basePath names a folder on the exporting machine
    ("Project", "basePath"),
    # schema locations are rewritten to the official namespace
    ("Project", "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation"),
}
GUID_SHAPE = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def guid_of(value: str) -> str:
    return value.strip().strip("{}").lower()


def instant(value: str) -> datetime | str:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return value
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # REFI-QDA: times without a zone are UTC


def normal(name: str, attribute: str, value: str) -> object:
    if attribute in GUID_ATTRIBUTES:
        return guid_of(value)
    if attribute in TIME_ATTRIBUTES:
        return instant(value)
    if attribute == "color":
        return value.strip().upper()
    if attribute == "isCodable":
        return value.strip().lower() in ("true", "1")
    return value


class Opened:
    """A .qdpx or .qde as plain XML plus the bytes of its internal files."""

    def __init__(self, path: Path) -> None:
        self.files: dict[str, bytes] = {}
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                qde = next(n for n in names if n.lower().endswith(".qde") and "/" not in n)
                self.root = etree.fromstring(archive.read(qde), etree.XMLParser(resolve_entities=False))
                for name in names:
                    folder, _, base = name.rpartition("/")
                    if folder.lower() == "sources" and base:
                        self.files[base.lower()] = archive.read(name)
        else:
            self.root = etree.parse(str(path), etree.XMLParser(resolve_entities=False)).getroot()
        self.origin = self.root.get("origin") or ""
        self.by_guid: dict[tuple[str, str], etree._Element] = {}
        for element in self.root.iter("{*}*"):
            guid = element.get("guid")
            if guid is not None and local(element.tag) not in MEMBERS:
                self.by_guid.setdefault((local(element.tag), guid_of(guid)), element)

    def file_bytes(self, reference: str | None) -> bytes | None:
        if not reference or not reference.lower().startswith("internal://"):
            return None
        return self.files.get(reference[len("internal://"):].lower())

    def text_of(self, element: etree._Element) -> str | None:
        """The plain text of a text source (inline or its file), decoded as REFI-QDA says: UTF-8, BOM dropped."""
        inline = element.find("{*}PlainTextContent")
        if inline is not None:
            return inline.text or ""
        data = self.file_bytes(element.get("plainTextPath"))
        return None if data is None else data.decode("utf-8-sig", errors="replace")


def unit_of(origin: str) -> str:
    """The documented unit of a producing program (README, 'Position units')."""
    name = origin.strip().lower()
    if name.startswith("nvivo"):
        return "utf16"
    if name.startswith(("atlas.ti", "atlasti")):
        return "lf"
    return "codepoint"


def span(text: str, start: int, end: int, unit: str) -> str:
    """The characters from `start` to `end` counted in `unit`, computed independently of qdaconv."""
    if unit == "codepoint":
        return text[start:end]
    widths = []
    for index, char in enumerate(text):
        if unit == "utf16":
            widths.append(2 if ord(char) > 0xFFFF else 1)
        else:  # lf: the CR of a CRLF pair counts nothing
            widths.append(0 if char == "\r" and text[index + 1:index + 2] == "\n" else 1)
    position, begin, finish = 0, None, None
    for index, width in enumerate(widths):
        if begin is None and position >= start:
            begin = index
        if finish is None and position >= end:
            finish = index
        position += width
    begin = len(text) if begin is None else begin
    finish = len(text) if finish is None else finish
    return text[begin:finish]


SCHEMA = ROOT / "schemas" / "Project-mrt2019.xsd"
#: set members are references; some programs write the target as a guid attribute (read as targetGUID)
MEMBERS = {"MemberCode", "MemberSource", "MemberNote"}
_NOT_ALLOWED = re.compile(r"Element '(?:\{[^}]*\})?(\w+)', attribute '([^']+)': The attribute '[^']+' is not allowed")


def rejected_attributes(path: Path, root: etree._Element) -> set[tuple[str, str]]:
    """(element, attribute) pairs the official schema does not allow: readers report them
    (REFI-UNKNOWN-ATTRIBUTE) and no REFI-QDA file can carry them on, so their loss is allowed."""
    text = etree.tostring(root).decode("utf-8")
    text = re.sub(r'xmlns="urn:QDA-XML:project:[^"]*"', 'xmlns="urn:QDA-XML:project:1.0"', text, count=1)
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    schema.validate(etree.fromstring(text.encode("utf-8")))
    return {match.groups() for error in schema.error_log if (match := _NOT_ALLOWED.search(error.message))}


def plain_children(element: etree._Element) -> Counter:
    """The element's direct children that have no GUID, with their attributes and text."""
    found: Counter = Counter()
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = local(child.tag)
        if child.get("guid") is not None and name not in MEMBERS:
            continue
        if name == "PlainTextContent":
            continue  # compared as text
        attributes = {"targetGUID" if key == "guid" else key: str(normal(name, key, value))
                      for key, value in child.attrib.items()}
        text = (child.text or "").strip()
        if name.endswith(("Ref", "Member", "MemberCode", "MemberSource", "MemberNote")) and GUID_SHAPE.match(text) \
                and "targetGUID" not in attributes:
            attributes["targetGUID"], text = guid_of(text), ""  # a reference written as text (REFI-REF-FORM)
        inner = tuple(sorted(plain_children(child).items()))
        found[(name, tuple(sorted(attributes.items())), text, inner)] += 1
    return found


def differences(before: Opened, after: Opened, rejected: set[tuple[str, str]] = frozenset()) -> list[str]:
    problems: list[str] = []
    unit = unit_of(before.origin)
    for (name, guid), element in before.by_guid.items():
        if not GUID_SHAPE.match(element.get("guid", "")):
            continue  # ids that are not GUIDs are replaced by GUIDs (INTEROP-GUID-FORMAT)
        other = after.by_guid.get((name, guid))
        if other is None:
            problems.append(f"<{name} guid={guid}> is missing")
            continue
        for attribute, value in element.attrib.items():
            if (name, attribute) in ALLOWED or ("*", attribute) in ALLOWED or attribute in POSITION_ATTRIBUTES \
                    or (name, attribute) in rejected:
                continue
            kept = other.get(attribute)
            if kept is None and value.strip():  # an empty value holds nothing to lose
                problems.append(f"<{name} guid={guid}> lost {attribute}={value!r}")
            elif kept is not None and normal(name, attribute, value) != normal(name, attribute, kept):
                problems.append(f"<{name} guid={guid}> {attribute}: {value!r} became {other.get(attribute)!r}")
        if plain_children(element) != plain_children(other):
            problems.append(f"<{name} guid={guid}> children differ: {plain_children(element) - plain_children(other)}"
                            f" lost, {plain_children(other) - plain_children(element)} added")
        if element.get("plainTextPath") or element.find("{*}PlainTextContent") is not None:
            if before.text_of(element) is not None and before.text_of(element) != after.text_of(other):
                problems.append(f"<{name} guid={guid}> text differs")
        for attribute in ("richTextPath", "path"):
            data = before.file_bytes(element.get(attribute))
            if data is not None and data != after.file_bytes(other.get(attribute)):
                problems.append(f"<{name} guid={guid}> file of {attribute} differs")
        if name == "PlainTextSelection":
            parent_before, parent_after = element.getparent(), other.getparent()
            text_before, text_after = before.text_of(parent_before), after.text_of(parent_after)
            if text_before and text_after is not None and element.get("startPosition") and element.get("endPosition"):
                was = span(text_before, int(element.get("startPosition")), int(element.get("endPosition")), unit)
                now = text_after[int(other.get("startPosition")):int(other.get("endPosition"))]
                if was != now:
                    problems.append(f"<{name} guid={guid}> covers {now[:30]!r}, not {was[:30]!r}")
    return problems


def _inputs() -> list[Path]:
    found = sorted((ROOT / "fixtures").glob("*.qdpx")) + sorted((ROOT / "fixtures" / "edge").glob("*.qdpx"))
    if SAMPLES.exists():
        found += sorted(p for p in SAMPLES.rglob("*") if p.suffix in (".qdpx", ".qde"))
    return found


@pytest.mark.parametrize("source", _inputs(), ids=lambda p: p.name)
def test_conversion_keeps_every_element_attribute_and_span(source: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.qdpx"
    done = subprocess.run([sys.executable, "-m", "qdaconv", "convert", str(source), str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    before = Opened(source)
    problems = differences(before, Opened(target), rejected_attributes(source, before.root))
    assert problems == [], f"{len(problems)} differences, first: " + "; ".join(problems[:8])


def test_the_oracle_sees_a_dropped_attribute(tmp_path: Path) -> None:
    """The oracle itself can fail: a copy without one coding's date is caught."""
    study = ROOT / "fixtures" / "study.qdpx"
    damaged = tmp_path / "damaged.qdpx"
    with zipfile.ZipFile(study) as original, zipfile.ZipFile(damaged, "w") as copy:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "project.qde":
                data = re.sub(rb'(<Coding [^>]*?) creationDateTime="[^"]*"', rb"\1", data, count=1)
            copy.writestr(item, data)
    problems = differences(Opened(study), Opened(damaged))
    assert len(problems) == 1 and "lost creationDateTime" in problems[0]
