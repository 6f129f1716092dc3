"""The REFI reader on the tree the schema check left (validation) reads what it reads while streaming (convert):
the same model and the same notes, also for GUIDs in the forms the schema allows besides the usual one."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from qdaconv.model import Project
from qdaconv.plugins.refi.checks import check_file, schema
from qdaconv.plugins.refi.formats import read_project
from qdaconv.plugins.refi.reader import _UPPER_GUID, QdeReader, _usual_valid_guid
from qdaconv.validation.container import handing_over

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
PROJECTS = [FIXTURES / "study.qdpx", *sorted((FIXTURES / "edge").glob("*.qdpx"))]
_GUID_ATTRIBUTE = re.compile(r'(\b(?:guid|targetGUID|creatingUser|creatingUserGUID|modifyingUserGUID)=")'
                             r'([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})"')
#: GUIDs in forms the schema accepts: lower and mixed case, braces, white space around (the type is a token).
_FORMS = [str.lower, lambda g: g[:9] + g[9:].lower(), lambda g: "{" + g + "}", lambda g: "{" + g.lower() + "}",
          lambda g: " " + g, lambda g: g + "&#9;", lambda g: "&#10;" + g.lower() + " "]


def _rewritten(source: Path, target: Path) -> Path:
    """A copy of `source` whose GUIDs are written, in turn, in each of `_FORMS` or as they were."""
    count = 0

    def form(match: re.Match) -> str:
        nonlocal count
        count += 1
        forms = [lambda g: g, *_FORMS]
        return match.group(1) + forms[count % len(forms)](match.group(2)) + '"'

    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == "project.qde":
                data = _GUID_ATTRIBUTE.sub(form, data.decode("utf-8")).encode("utf-8")
            new.writestr(info, data)
    return target


def _both_ways(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Project, Project]:
    streamed = read_project(path)
    walked = []
    walk = QdeReader._walk_valid
    monkeypatch.setattr(QdeReader, "_walk_valid", lambda reader, root: walked.append(root) or walk(reader, root))
    with handing_over():
        assert not [issue for issue in check_file(path, "refi-qdpx") if issue.rule.startswith("REFI-XSD")]
        from_tree = read_project(path)
    assert len(walked) == 1  # the tree the check parsed was read, not the stream
    return streamed, from_tree


@pytest.mark.parametrize("project", PROJECTS, ids=lambda p: p.name)
def test_the_checked_tree_reads_as_the_stream_does(project, monkeypatch):
    streamed, from_tree = _both_ways(project, monkeypatch)
    assert from_tree == streamed
    assert from_tree.warnings == streamed.warnings


def test_guid_forms_the_schema_allows_are_noted_alike(tmp_path, monkeypatch):
    path = _rewritten(FIXTURES / "study.qdpx", tmp_path / "forms.qdpx")
    streamed, from_tree = _both_ways(path, monkeypatch)
    assert from_tree == streamed
    assert from_tree.warnings == streamed.warnings
    notes = {issue.message.split(" (")[0] for issue in from_tree.warnings if issue.rule == "REFI-GUID-FORM"}
    assert notes == {"GUIDs in lower case", "GUIDs in braces"}
    assert any(issue.rule == "REFI-ID-NOT-GUID" for issue in from_tree.warnings)  # kept with white space around


def test_the_cheap_guid_test_agrees_with_the_pattern_on_what_the_schema_accepts():
    guid = "0A1B2C3D-4E5F-6789-ABCD-EF0123456789"
    candidates = [guid, guid.lower(), guid[:20] + guid[20:].lower(), "01234567-8901-2345-6789-012345678901",
                  "{" + guid + "}", " " + guid, guid + " ", "\t" + guid + "\n", guid[:-1] + "g", guid + "0",
                  guid.replace("-", " ", 1), "{" + guid.lower() + "} "]
    validator = schema("Project")
    accepted = 0
    for value in candidates:
        root = etree.Element("{urn:QDA-XML:project:1.0}Project", name="p")
        etree.SubElement(etree.SubElement(root, "{urn:QDA-XML:project:1.0}Users"), "{urn:QDA-XML:project:1.0}User",
                         guid=value)
        if validator.validate(root):
            accepted += 1
            assert bool(_usual_valid_guid(value)) == bool(_UPPER_GUID.fullmatch(value)), repr(value)
    assert accepted == 9  # all but the three the pattern refuses
