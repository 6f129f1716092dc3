"""REFI-QDA file checks (container, schema, raw XML), the samples' verdicts, and the mutated study."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from qdaconv.issues import Severity
from qdaconv.plugins.refi.checks import check_file
from qdaconv.validation import RULES, validate

NS = "urn:QDA-XML:project:1.0"
CODE = "8D4E3C6A-0F2B-4A5E-9C11-2B6F0E7A1D01"
SOURCE = "5A0C1D2E-3F40-4B51-8C62-7D8E9FA0B1C2"
SOURCE_2 = "6B1D2E3F-4051-4C62-9D73-8E9FA0B1C2D3"

PROJECT_XML = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="{NS}" name="tiny" origin="hand">
  <CodeBook><Codes><Code guid="{CODE}" name="trust" isCodable="true"/></Codes></CodeBook>
  <Sources>
    <TextSource guid="{SOURCE}" name="one" plainTextPath="internal://{SOURCE}.txt">
      <PlainTextSelection guid="1A2B3C4D-5E6F-4071-8293-A4B5C6D7E8F9" startPosition="0" endPosition="5">
        <Coding guid="2B3C4D5E-6F70-4182-93A4-B5C6D7E8F9A0"><CodeRef targetGUID="{CODE}"/></Coding>
      </PlainTextSelection>
    </TextSource>
    <TextSource guid="{SOURCE_2}" name="two" plainTextPath="internal://{SOURCE_2}.txt"
                richTextPath="internal://{SOURCE_2}.docx"/>
  </Sources>
</Project>
"""

GOOD_MEMBERS = {
    "project.qde": PROJECT_XML,
    f"sources/{SOURCE}.txt": "Trust came first.\n",
    f"sources/{SOURCE_2}.txt": "Then the plan.\n",
    f"sources/{SOURCE_2}.docx": "PK-not-really-a-docx",
}


def make_qdpx(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def rules(issues) -> set[str]:
    return {issue.rule for issue in issues}


def test_good_archive(tmp_path):
    assert check_file(make_qdpx(tmp_path / "a.qdpx", GOOD_MEMBERS), "refi-qdpx") == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda m: m.pop(f"sources/{SOURCE}.txt"), {"ZIP-MISSING-FILE"}),
    (lambda m: m.update({"sources/extra.pdf": b"%PDF"}), {"ZIP-UNREFERENCED"}),
    (lambda m: m.update({f"sources/{SOURCE.lower()}.TXT": "x"}), {"ZIP-NAME-CLASH", "ZIP-UNREFERENCED"}),
    (lambda m: m.update({"sources/sub/a.txt": "x"}), {"ZIP-SOURCES-FOLDER", "ZIP-UNREFERENCED"}),
    (lambda m: m.update({"Project.qde": m.pop("project.qde")}), {"INTEROP-QDE-NAME"}),
    (lambda m: m.update({"old.qde": PROJECT_XML}), {"ZIP-MANY-QDE"}),
    (lambda m: m.pop("project.qde"), {"ZIP-NO-QDE"}),
    (lambda m: m.update({"project.qde": PROJECT_XML[:400]}), {"XML-MALFORMED"}),
    (lambda m: m.update({"project.qde": PROJECT_XML.replace("</Sources>", "</Sources><Sets/>")}), {"REFI-XSD"}),
    (lambda m: m.update({"project.qde": PROJECT_XML.replace(NS, "urn:QDA-XML:project:0:10")}),
     {"REFI-XSD-NAMESPACE"}),
    (lambda m: m.update({"project.qde": PROJECT_XML.replace(NS, "urn:example")}), {"REFI-XSD-NAMESPACE"}),
    (lambda m: m.update({"project.qde": PROJECT_XML.replace("utf-8", "iso-8859-1")}), {"REFI-ENCODING"}),
    (lambda m: m.update({f"Sources/{k[8:]}": m.pop(k) for k in list(m) if k.startswith("sources/")}),
     {"INTEROP-SOURCES-CASE"}),
    (lambda m: m.update({"sources/.root": "", "sources/.DS_Store": "x"}), set()),
    (lambda m: m.update({"project.qde": PROJECT_XML.replace(f"internal://{SOURCE}", f"{SOURCE}")}),
     {"INTEROP-PATH"}),
    (lambda m: m.update({"project.qde": PROJECT_XML.replace(f"internal://{SOURCE}", f"internal://sources/{SOURCE}")}),
     {"INTEROP-PATH"}),
    (lambda m: m.update({"project.qde": PROJECT_XML.replace(f"{SOURCE_2}.docx", f"{SOURCE_2}.txt")}),
     {"INTEROP-RICH-TEXT", "ZIP-UNREFERENCED"}),
])
def test_container_defects(tmp_path, change, expected):
    members = dict(GOOD_MEMBERS)
    change(members)
    assert rules(check_file(make_qdpx(tmp_path / "a.qdpx", members), "refi-qdpx")) == expected


def test_missing_file_names_the_source_and_line(tmp_path):
    members = dict(GOOD_MEMBERS)
    del members[f"sources/{SOURCE}.txt"]
    [issue] = check_file(make_qdpx(tmp_path / "a.qdpx", members), "refi-qdpx")
    assert issue.place == "project.qde:5" and 'TextSource "one"' in issue.message


def test_schema_errors_carry_the_schema_message_line_and_a_hint(tmp_path):
    xml = PROJECT_XML.replace('name="trust"', 'name="trust" color="red" email="x"')
    issues = check_file(make_qdpx(tmp_path / "a.qdpx", {**GOOD_MEMBERS, "project.qde": xml}), "refi-qdpx")
    assert {i.rule for i in issues} == {"REFI-XSD"} and len(issues) == 2
    assert all(i.place == "project.qde:3" for i in issues)
    assert any("'email'" in i.message and "not allowed" in i.message and i.hint for i in issues)


def test_variant_namespace_is_checked_as_1_0(tmp_path):
    xml = PROJECT_XML.replace(NS, "urn:QDA-XML:project:0:10").replace('isCodable="true"', "")
    issues = check_file(make_qdpx(tmp_path / "a.qdpx", {**GOOD_MEMBERS, "project.qde": xml}), "refi-qdpx")
    assert [i.rule for i in issues] == ["REFI-XSD-NAMESPACE", "REFI-XSD"]
    assert "isCodable" in issues[1].message


def test_broken_and_unsafe_zips(tmp_path):
    path = make_qdpx(tmp_path / "a.qdpx", GOOD_MEMBERS)
    data = path.read_bytes()
    (tmp_path / "cut.qdpx").write_bytes(data[: len(data) // 2])
    assert rules(check_file(tmp_path / "cut.qdpx", "refi-qdpx")) == {"ZIP-BROKEN"}
    (tmp_path / "text.qdpx").write_text("not a zip")
    assert rules(check_file(tmp_path / "text.qdpx", "refi-qdpx")) == {"ZIP-BROKEN"}
    evil = make_qdpx(tmp_path / "evil.qdpx", {**GOOD_MEMBERS, "../escape.txt": "x", "/abs.txt": "y"})
    issues = check_file(evil, "refi-qdpx")
    assert rules(issues) == {"ZIP-UNSAFE"} and len(issues) == 2


XXE = ('<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
       f'<Project xmlns="{NS}" name="&secret;"/>')
LAUGHS = ('<?xml version="1.0"?><!DOCTYPE CodeBook [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
          '<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="8D4E3C6A-0F2B-4A5E-9C11-2B6F0E7A1D01" '
          'name="&b;" isCodable="true"/></Codes></CodeBook>')


def test_entity_declarations_are_refused_unexpanded(tmp_path):
    (tmp_path / "xxe.qde").write_text(XXE)
    (tmp_path / "laughs.qdc").write_text(LAUGHS)
    xxe = check_file(make_qdpx(tmp_path / "xxe.qdpx", {"project.qde": XXE}), "refi-qdpx")
    assert rules(xxe) == {"XML-UNSAFE"} and xxe[0].place == "project.qde:1"
    for path, fmt in ((tmp_path / "xxe.qde", "refi-qde"), (tmp_path / "laughs.qdc", "refi-qdc")):
        issues = check_file(path, fmt)
        assert rules(issues) == {"XML-UNSAFE"} and "root:x" not in str(issues)
    report = validate(tmp_path / "xxe.qde")
    assert report.rule_ids() == {"XML-UNSAFE"}  # fatal: the reader is not even asked


def test_damaged_member(tmp_path):
    path = make_qdpx(tmp_path / "a.qdpx", {**GOOD_MEMBERS, "sources/big.txt": "abcdefgh" * 5000})
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo("sources/big.txt")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 10
    data[start:start + 20] = bytes(20)  # damage the compressed bytes
    path.write_bytes(bytes(data))
    issues = check_file(path, "refi-qdpx")
    assert "ZIP-BAD-MEMBER" in rules(issues)
    assert next(i for i in issues if i.rule == "ZIP-BAD-MEMBER").place == "sources/big.txt"


def test_bare_xml(tmp_path):
    (tmp_path / "p.qde").write_text(PROJECT_XML)
    assert check_file(tmp_path / "p.qde", "refi-qde") == []  # internal files cannot be checked without the zip
    (tmp_path / "c.qdc").write_text('<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes/><Sets/></CodeBook>')
    issues = check_file(tmp_path / "c.qdc", "refi-qdc")
    assert rules(issues) == {"REFI-XSD"} and len(issues) == 2 and issues[0].place == "1"
    (tmp_path / "x.qdc").write_text("<CodeBook")
    assert rules(check_file(tmp_path / "x.qdc", "refi-qdc")) == {"XML-MALFORMED"}


# ---------------------------------------------------------------------------------- the samples

#: What each sample must get, from its README: (valid, error rules expected, a text the report must show).
SAMPLE_VERDICTS = {
    "ATLAS.ti/atlas-mac8.4-standard-project.qde": (True, set(), None),
    "ATLAS.ti/atlas-win23.2-target.qdpx": (True, set(), None),
    "ATLAS.ti/atlas-win23.4-codebook.qdc": (True, set(), None),
    "MAXQDA/maxqda24-icls.qdpx": (True, set(), None),
    "MastodonMoodBoard/example-codebook.qdc": (False, {"REFI-XSD"}, "The value 'c001' is not accepted"),
    "NVivo/nvivo-mac15.0-qc-project.qdpx": (True, set(), None),
    "NVivo/nvivo-win12.6-oltas.qdpx": (True, set(), None),
    "OpenQDA/openqda-early-export.qde": (False, {"REFI-XSD", "GUID-DUPLICATE"},
                                         "The attribute 'creatingUserId' is not allowed"),
    "Taguette/taguette-1.4.1-codebook.qdc": (False, {"REFI-XSD"}, "'{urn:QDA-XML:codebook:1.0}Sets': Missing child"),
    "f4/f4-2025.2.9-project.qde": (True, set(), None),
    "no-origin/refi-spec-annexA1-codebook.qdc": (True, set(), None),
    "qc/qc-1.3.2-demo.qdpx": (True, set(), None),
    "Transana/transana-3.22b2-spec-annexA3.qde": (False, {"REFI-XSD-NAMESPACE", "REFI-XSD"}, "project:0:10"),
}
#: The README's schema error counts for the invalid samples.
SCHEMA_ERRORS = {"MastodonMoodBoard/example-codebook.qdc": 44, "OpenQDA/openqda-early-export.qde": 8,
                 "Taguette/taguette-1.4.1-codebook.qdc": 1, "Transana/transana-3.22b2-spec-annexA3.qde": 43}
FORMATS = {".qdpx": "refi-qdpx", ".qde": "refi-qde", ".qdc": "refi-qdc"}


def test_every_sample_has_a_verdict(samples_dir):
    found = {str(p.relative_to(samples_dir)) for p in samples_dir.rglob("*") if p.suffix in FORMATS}
    assert found == set(SAMPLE_VERDICTS)


@pytest.mark.parametrize("name", sorted(SAMPLE_VERDICTS))
def test_sample_file_checks(samples_dir, name):
    """The container and schema layers alone give the README's schema verdicts and error counts."""
    path = samples_dir / name
    issues = check_file(path, FORMATS[path.suffix])
    errors = [i for i in issues if i.severity is Severity.ERROR]
    assert {i.rule for i in errors} == {r for r in SAMPLE_VERDICTS[name][1] if r.startswith(("REFI", "ZIP", "XML"))}
    assert sum(i.rule == "REFI-XSD" for i in errors) == SCHEMA_ERRORS.get(name, 0)


@pytest.mark.parametrize("name", sorted(SAMPLE_VERDICTS))
def test_sample_verdicts(samples_dir, name):
    """Every layer together: each sample gets its README verdict and names its actual problem."""
    valid, error_rules, shown = SAMPLE_VERDICTS[name]
    report = validate(samples_dir / name)
    assert report.format == FORMATS[Path(name).suffix]
    assert report.valid is valid, [str(i) for i in report.issues if i.severity is Severity.ERROR][:5]
    assert report.rule_ids(Severity.ERROR) == error_rules
    if shown:
        assert any(shown in issue.message for issue in report.issues)


def test_sample_warnings_name_the_known_quirks(samples_dir):
    def warned(name: str) -> set[str]:
        return validate(samples_dir / name).rule_ids(Severity.WARNING)

    assert "INTEROP-SOURCES-CASE" in warned("NVivo/nvivo-win12.6-oltas.qdpx")
    assert "INTEROP-EMPTY-TEXT" in warned("NVivo/nvivo-mac15.0-qc-project.qdpx")
    assert "INTEROP-PATH" in warned("qc/qc-1.3.2-demo.qdpx")
    assert "INTEROP-SCHEMA-LOCATION" in warned("ATLAS.ti/atlas-win23.4-codebook.qdc")
    # the reader reports zone-less times itself (REFI-DATETIME) and reads them as UTC
    assert {"INTEROP-NAIVE-TIME", "REFI-DATETIME"} & warned("Transana/transana-3.22b2-spec-annexA3.qde")
    assert "GUID-SHARED" in warned("ATLAS.ti/atlas-mac8.4-standard-project.qde")


# ------------------------------------------------------------------------- the mutated study


def _qde_name(archive: zipfile.ZipFile) -> str:
    return next(n for n in archive.namelist() if n.lower().endswith(".qde"))


def rewrite(study: Path, target: Path, edit_xml=None, drop: str | None = None) -> Path:
    """A copy of the study with its project XML edited (a function of the root) or a member dropped."""
    with zipfile.ZipFile(study) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        qde = _qde_name(source)
        for info in source.infolist():
            data = source.read(info)
            if info.filename == drop:
                continue
            if info.filename == qde and edit_xml is not None:
                root = etree.fromstring(data)
                edited = edit_xml(root, source) if edit_xml is both_text_and_path else edit_xml(root)
                data = edited if isinstance(edited, bytes) else etree.tostring(root, xml_declaration=True,
                                                                                encoding="UTF-8")
            out.writestr(info, data)
    return target


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def all_guid_refs(root) -> str:
    return " ".join(v for el in root.iter() for k, v in el.attrib.items() if k != "guid")


def dangling_code_ref(root) -> None:
    root.find(f".//{q('CodeRef')}").set("targetGUID", "00000000-0000-4000-8000-00000000DEAD")


def duplicate_guid(root) -> None:
    referenced = all_guid_refs(root).lower()
    selections = root.findall(f".//{q('PlainTextSelection')}")
    free = next(s for s in selections if s.get("guid").lower() not in referenced)
    other = next(s for s in selections if s is not free)
    free.set("guid", other.get("guid"))


def selection_past_the_end(root) -> None:
    selection = root.find(f".//{q('PlainTextSelection')}")
    selection.set("endPosition", "99999999")


def both_text_and_path(root, archive: zipfile.ZipFile) -> None:
    source = root.find(f".//{q('TextSource')}")
    member = "sources/" + source.get("plainTextPath").split("://")[-1]
    content = etree.Element(q("PlainTextContent"))
    content.text = archive.read(member).decode("utf-8-sig")  # the same text, inline as well
    description = source.find(q("Description"))
    source.insert(1 if description is not None else 0, content)


def wrong_variable_type(root) -> None:
    for variable in root.iter(q("Variable")):
        if variable.get("typeOfVariable") == "Integer":
            variable.set("typeOfVariable", "Boolean")
            return
    raise AssertionError("the study has no Integer variable")


def truncated_xml(root) -> bytes:
    data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return data[: len(data) // 2]


MUTATIONS = {
    "dangling-code-ref": (dict(edit_xml=dangling_code_ref), {"REF-DANGLING"}),
    "duplicate-guid": (dict(edit_xml=duplicate_guid), {"GUID-DUPLICATE"}),
    "selection-past-end": (dict(edit_xml=selection_past_the_end), {"POS-OUT-OF-RANGE"}),
    "both-text-and-path": (dict(edit_xml=both_text_and_path), {"TEXT-BOTH"}),
    "wrong-variable-type": (dict(edit_xml=wrong_variable_type), {"VAR-TYPE"}),
    "truncated-xml": (dict(edit_xml=truncated_xml), {"XML-MALFORMED"}),
}


@pytest.fixture
def study(study_path) -> Path:
    if not study_path.exists():
        pytest.fail("fixtures/study.qdpx is missing: run fixtures/make_study.py")
    return study_path


def test_the_study_is_valid(study):
    report = validate(study)
    assert report.format == "refi-qdpx"
    assert report.valid, [str(i) for i in report.issues][:5]
    own = [str(i) for i in report.issues if i.rule in RULES]  # the reader's notes may remain
    assert own == []


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_mutated_study(study, tmp_path, name):
    change, expected = MUTATIONS[name]
    report = validate(rewrite(study, tmp_path / f"{name}.qdpx", **change))
    found = {i.rule for i in report.issues if i.severity is not Severity.INFO and i.rule in RULES}
    assert found == expected, [str(i) for i in report.issues][:5]  # the reader's own notes aside


def test_mutated_study_missing_file(study, tmp_path):
    with zipfile.ZipFile(study) as archive:
        member = next(n for n in archive.namelist() if re.match(r"sources/.+\.txt$", n, re.IGNORECASE))
    report = validate(rewrite(study, tmp_path / "missing.qdpx", drop=member))
    assert report.rule_ids(Severity.ERROR) == {"ZIP-MISSING-FILE"}
    assert member.split("/")[-1] in report.issues[0].message


def test_mutated_study_broken_zip(study, tmp_path):
    data = study.read_bytes()
    (tmp_path / "broken.qdpx").write_bytes(data[: len(data) - 200])  # the central directory is cut off
    report = validate(tmp_path / "broken.qdpx")
    assert report.rule_ids() == {"ZIP-BROKEN"}
