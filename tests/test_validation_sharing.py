"""Validation parses a .qdpx's project XML once and inflates each member once: the container check
hands its tree and the members it inflated to the reader of the same file, and no verdict changes."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from qdaconv.plugins.refi import checks
from qdaconv.plugins.refi.checks import check_file
from qdaconv.plugins.refi.container import take_inflated, take_parsed
from qdaconv.plugins.refi.reader import ATTRIBUTES
from qdaconv.validation import validate
from qdaconv.validation.container import handing_over

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"
PROJECTS = [FIXTURES / "study.qdpx", *sorted((FIXTURES / "edge").glob("*.qdpx"))]


def _verdicts(path: Path) -> list[tuple[str, str, str, str | None, str | None]]:
    return [(i.rule, i.severity.value, i.message, i.place, i.hint) for i in validate(path).issues]


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_sharing_changes_no_verdict(project, monkeypatch):
    shared = _verdicts(project)
    monkeypatch.setattr(checks, "keep_parsed", lambda *args: None)
    monkeypatch.setattr(checks, "keep_inflated", lambda *args: None)
    assert _verdicts(project) == shared


def test_the_reader_takes_the_tree_the_check_parsed_once(tmp_path):
    path = shutil.copyfile(FIXTURES / "study.qdpx", tmp_path / "study.qdpx")
    with handing_over():
        assert check_file(path, "refi-qdpx") == []
        root = take_parsed(path, "project.qde")
        assert root is not None and root.tag == "{urn:QDA-XML:project:1.0}Project"
        assert take_parsed(path, "project.qde") is None


def test_nothing_is_kept_outside_one_files_validation(tmp_path):
    path = shutil.copyfile(FIXTURES / "study.qdpx", tmp_path / "study.qdpx")
    assert check_file(path, "refi-qdpx") == []
    with handing_over():
        assert take_parsed(path, "project.qde") is None


def test_a_file_changed_after_the_check_is_read_again(tmp_path):
    path = shutil.copyfile(FIXTURES / "study.qdpx", tmp_path / "study.qdpx")
    names = [n for n in zipfile.ZipFile(path).namelist() if n.startswith("sources/")]
    with handing_over():
        check_file(path, "refi-qdpx")
        status = os.stat(path)
        os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
        assert take_parsed(path, "project.qde") is None
        assert take_inflated(path, names[0]) is None


def test_only_sound_members_are_handed_over(tmp_path):
    """A member whose checksum fails is reported and left for the reader to fail on, as before."""
    good, bad = "sources/good.txt", "sources/bad.txt"
    path = tmp_path / "damaged.qdpx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("project.qde", zipfile.ZipFile(FIXTURES / "study.qdpx").read("project.qde"))
        archive.writestr(good, "sound text\n")
        archive.writestr(bad, "DAMAGED TEXT\n")
    data = path.read_bytes()
    at = data.index(b"DAMAGED TEXT")
    path.write_bytes(data[:at] + b"X" + data[at + 1:])  # the stored bytes no longer match the CRC
    with handing_over():
        rules = [issue.rule for issue in check_file(path, "refi-qdpx")]
        assert "ZIP-BAD-MEMBER" in rules
        assert take_inflated(path, bad) is None
        assert take_inflated(path, good) == b"sound text\n"
        assert take_inflated(path, good) is None  # given once


@pytest.mark.parametrize("xsd", ["Project-mrt2019.xsd", "Codebook.xsd"])
def test_the_reader_notes_no_attribute_a_schema_allows(xsd):
    """On the check's schema-valid tree the reader skips its unknown-attribute notes: that holds only while
    every attribute the schema declares for an element is one the reader knows for it, and no other is allowed."""
    schema_ns = "{http://www.w3.org/2001/XMLSchema}"
    root = etree.parse(str(SCHEMAS / xsd)).getroot()
    assert next(root.iter(f"{schema_ns}anyAttribute"), None) is None
    types = {t.get("name"): t for t in root.iter(f"{schema_ns}complexType") if t.get("name")}

    def declared(complex_type: etree._Element) -> set[str]:  # every attribute within, bases included
        names = {a.get("name") for a in complex_type.iter(f"{schema_ns}attribute") if a.get("name")}
        for extension in complex_type.iter(f"{schema_ns}extension"):
            base = types.get(extension.get("base", "").rpartition(":")[2])
            if base is not None:
                names |= declared(base)
        return names

    checked = 0
    for element in root.iter(f"{schema_ns}element"):
        name = element.get("name")
        complex_type = (types.get(element.get("type", "").rpartition(":")[2]) if element.get("type")
                        else element.find(f"{schema_ns}complexType"))
        if name in ATTRIBUTES and complex_type is not None:
            assert declared(complex_type) <= ATTRIBUTES[name], name
            checked += 1
    assert checked >= 3


def test_path_uses_of_a_valid_tree_come_in_the_order_their_elements_end():
    """As while streaming: a representation or transcript before the source that holds it, in document order
    otherwise, whatever the nesting."""
    ns = checks.PROJECT_NS
    root = etree.fromstring(f"""<Project xmlns="{ns}"><Sources>
        <TextSource name="a" plainTextPath="internal://a.txt"/>
        <PDFSource name="b" path="internal://b.pdf"><Representation name="b-text" plainTextPath="internal://b.txt"/>
          <PDFSelection><Representation name="b-area" plainTextPath="internal://b2.txt"/></PDFSelection>
        </PDFSource>
        <AudioSource name="c" path="internal://c.mp3"><Transcript name="c-1" plainTextPath="internal://c1.txt"/>
          <Transcript name="c-2" plainTextPath="internal://c2.txt"/></AudioSource>
        <PictureSource name="d" path="internal://d.png"><TextDescription name="d-text"
          plainTextPath="internal://d.txt"/></PictureSource>
        </Sources><Notes><Note name="e" plainTextPath="internal://e.txt"/></Notes></Project>""")
    names = [use.name for use in checks._uses_in(root, valid=True)]
    assert names == ["a", "b-text", "b-area", "b", "c-1", "c-2", "c", "d-text", "d", "e"]
    assert names == [element.get("name") for _event, element in
                     etree.iterwalk(root, events=("end",), tag=checks._PATH_TAGS)]
