"""REFI-QDA formats: lossless round trips of every element, schema validity, profiles, codebooks."""

from __future__ import annotations

import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest
from lxml import etree

import qdaconv
from qdaconv.formats import CODEBOOK_FEATURES
from qdaconv.model import (
    Blob,
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
    walk_selections,
)
from qdaconv.plugins.refi.container import qde_bytes

G = "{:08X}-0000-4000-8000-{:012X}"


def guid(n: int, kind: int = 0) -> str:
    return G.format(kind, n)


TEXT = "Interviewer: How did it start?\r\nAnna: We met 😀 every week; “trust” grew.\r\nEnd."


def schema(root: str) -> etree.XMLSchema:
    name = "Project-mrt2019.xsd" if root == "Project" else "Codebook.xsd"
    with resources.as_file(resources.files("qdaconv.schemas") / name) as path:
        return etree.XMLSchema(etree.parse(str(path)))


def assert_valid(xml: bytes) -> etree._Element:
    root = etree.fromstring(xml)
    xsd = schema(etree.QName(root).localname)
    assert xsd.validate(root), xsd.error_log
    return root


def full_project() -> Project:
    """A project that uses every element and attribute QDA-XML 1.0 defines."""
    at = datetime(2023, 5, 1, 9, 30, tzinfo=UTC)
    u1, u2 = guid(1, 1), guid(2, 1)
    child = Code(guid(2, 2), "trust", color="#00FF00", description="Trust between leaders")
    codes = [Code(guid(1, 2), "Connecting", codable=False, color="#FF0000", description="Theme",
                  note_refs=[guid(1, 9)], children=[child]), Code(guid(3, 2), "adapting")]
    variables = [Variable(guid(i, 3), kind, kind, f"a {kind} variable") for i, kind in enumerate(
        ["Text", "Boolean", "Integer", "Float", "Date", "DateTime"], 1)]
    values = [VariableValue(guid(1, 3), "Text", "Director"), VariableValue(guid(2, 3), "Boolean", True),
              VariableValue(guid(3, 3), "Integer", 3), VariableValue(guid(4, 3), "Float", Decimal("2.50")),
              VariableValue(guid(5, 3), "Date", date(2022, 1, 2)), VariableValue(guid(6, 3), "DateTime", at)]
    start = TEXT.index("We met")
    end = TEXT.index("grew") + 4
    text = Source(guid(1, 4), "Text", "Anna interview 1", description="first interview",
                  plain_text_path=f"internal://{guid(1, 4)}.txt",
                  plain_file=Blob(f"{guid(1, 4)}.txt", data=b"\xef\xbb\xbf" + TEXT.encode()),
                  rich_text_path=f"internal://{guid(1, 4)}.docx",
                  rich_file=Blob(f"{guid(1, 4)}.docx", data=b"PK fake docx"),
                  creating_user=u1, created=at, modifying_user=u2, modified=at,
                  variable_values=[VariableValue(guid(1, 3), "Text", "on the source")],
                  note_refs=[guid(1, 9)], codings=[Coding(guid(9, 5), guid(3, 2), u1, at)])
    text.selections.append(Selection(guid(1, 5), "PlainText", "We met", "a span", start, end,
                                     codings=[Coding(guid(1, 6), guid(2, 2), u1, at, [guid(1, 9)]),
                                              Coding(guid(2, 6), guid(3, 2), u2, at)],
                                     note_refs=[guid(1, 9)], creating_user=u1, created=at,
                                     modifying_user=u2, modified=at))
    representation = Source(guid(2, 4), "Representation", "pdf text", plain_text="Page one text.")
    representation.selections.append(Selection(guid(2, 5), "PlainText", start=5, end=8,
                                               codings=[Coding(guid(3, 6), guid(2, 2))]))
    pdf = Source(guid(3, 4), "PDF", "report.pdf", path=f"internal://{guid(3, 4)}.pdf",
                 current_path="absolute:///C:/data/report.pdf", file=Blob("r.pdf", data=b"%PDF-1.4 fake"),
                 representation=representation)
    pdf.selections.append(Selection(guid(4, 5), "PDF", page=0, first_x=1, first_y=2, second_x=30, second_y=40,
                                    representation=Source(guid(5, 4), "Representation", plain_text="Page"),
                                    codings=[Coding(guid(4, 6), guid(2, 2))]))
    picture = Source(guid(4, 4), "Picture", "photo.jpg", path=f"internal://{guid(4, 4)}.jpg",
                     file=Blob("p.jpg", data=b"\xff\xd8\xff fake jpeg"),
                     text_description=Source(guid(6, 4), "TextDescription", plain_text="A whiteboard"))
    picture.selections.append(Selection(guid(5, 5), "Picture", first_x=0, first_y=0, second_x=10, second_y=10,
                                        codings=[Coding(guid(5, 6), guid(3, 2))]))
    transcript = Source(guid(7, 4), "Transcript", "transcript", plain_text="Hello 😀 there and more",
                        sync_points=[SyncPoint(guid(1, 7), 0, 0), SyncPoint(guid(2, 7), 8, 1500)],
                        note_refs=[guid(1, 9)])
    transcript.selections.append(Selection(guid(6, 5), "Transcript", from_sync=guid(1, 7), to_sync=guid(2, 7),
                                           codings=[Coding(guid(6, 6), guid(2, 2))]))
    audio = Source(guid(8, 4), "Audio", "talk.m4a", path=f"internal://{guid(8, 4)}.m4a",
                   file=Blob("a.m4a", data=b"fake audio"), transcripts=[transcript])
    audio.selections.append(Selection(guid(7, 5), "Audio", start=100, end=2500))
    video = Source(guid(9, 4), "Video", "meeting.mp4", path="relative:///media/meeting.mp4")
    video.selections.append(Selection(guid(8, 5), "Video", start=0, end=900, codings=[Coding(guid(7, 6), guid(3, 2))]))
    note = Source(guid(1, 9), "Note", "microstory", plain_text="Anna and Neil built trust.", creating_user=u1)
    file_note = Source(guid(2, 9), "Note", "memo", plain_text_path=f"internal://{guid(2, 9)}.txt",
                       plain_file=Blob("m.txt", data="Memo ✓".encode()))
    return Project(
        name="Full", origin="qdaconv tests", creating_user=u1, created=at, modifying_user=u2, modified=at,
        description="Every element", users=[User(u1, "Ann", "AN"), User(u2, "Bo")], codes=codes,
        variables=variables,
        cases=[Case(guid(1, 8), "Anna", "a director", [guid(2, 2)], values, [guid(1, 4)], [guid(1, 5)])],
        sources=[text, pdf, picture, audio, video], notes=[note, file_note],
        links=[Link(guid(1, 10), "grounds", "OneWay", "#123456", guid(1, 9), guid(1, 5), [guid(2, 9)])],
        sets=[Set(guid(2, 10), "Pair", "the pair", [guid(2, 2)], [guid(1, 4)], [guid(1, 9)])],
        graphs=[Graph(guid(3, 10), "Themes", [Vertex(guid(4, 10), 0, 0, 50, 20, guid(1, 2), "C", "Oval", "#ABCDEF"),
                                              Vertex(guid(5, 10), 60, 0)],
                      [Edge(guid(6, 10), guid(4, 10), guid(5, 10), guid(2, 2), "e", "#000000", "OneWay", "dashed")])],
        note_refs=[guid(2, 9)],
    )


def write_read(project: Project, target: Path, **options) -> Project:
    qdaconv.write(project, target, **options)
    return qdaconv.read(target, **options)


def test_every_element_survives_a_qdpx_round_trip(tmp_path):
    project = full_project()
    back = write_read(project, tmp_path / "full.qdpx")
    result = qdaconv.diff(project, back)
    assert result.same, result.render_text()
    # the video lies outside (relative path, no file) and one selection has two codings
    assert {w.rule for w in back.warnings} == {"REFI-FILE-MISSING", "REFI-MULTI-CODING"}
    with zipfile.ZipFile(tmp_path / "full.qdpx") as archive:
        names = archive.namelist()
        assert names[0] == "project.qde"
        assert f"sources/{guid(1, 4)}.txt" in names and f"sources/{guid(3, 4)}.pdf" in names
        assert archive.read(f"sources/{guid(1, 4)}.txt").startswith(b"\xef\xbb\xbf")  # bytes kept as they were
        root = assert_valid(archive.read("project.qde"))
    assert root.nsmap[None] == "urn:QDA-XML:project:1.0"
    assert [etree.QName(child).localname for child in root] == [
        "Users", "CodeBook", "Variables", "Cases", "Sources", "Notes", "Links", "Sets", "Graphs", "Description",
        "NoteRef"]


def test_qde_writes_the_xml_with_its_files_beside_it(tmp_path):
    project = full_project()
    back = write_read(project, tmp_path / "full.qde")
    assert qdaconv.diff(project, back).same
    assert (tmp_path / "sources" / f"{guid(1, 4)}.txt").is_file()
    assert_valid((tmp_path / "full.qde").read_bytes())


def test_qde_inline_text_is_one_self_contained_file(tmp_path):
    project = full_project()
    report = qdaconv.write(project, tmp_path / "one.qde", inline_text=True)
    assert not (tmp_path / "sources").exists()
    assert "rich-text, PDF and media files" in report.summary()
    root = assert_valid((tmp_path / "one.qde").read_bytes())
    contents = [el.text for el in root.iter("{*}PlainTextContent")]
    assert TEXT in contents
    back = qdaconv.read(tmp_path / "one.qde")
    assert back.sources[0].text == TEXT


def test_qdpx_to_qde_to_qdpx_keeps_everything(tmp_path):
    original = write_read(full_project(), tmp_path / "a.qdpx")
    (tmp_path / "x").mkdir()
    middle = write_read(original, tmp_path / "x" / "a.qde")
    final = write_read(middle, tmp_path / "b.qdpx")
    assert qdaconv.diff(original, final).same


def test_codebook_round_trip_keeps_codes_and_code_sets(tmp_path):
    project = full_project()
    report = qdaconv.write(project, tmp_path / "book.qdc")
    assert_valid((tmp_path / "book.qdc").read_bytes())
    book = qdaconv.read(tmp_path / "book.qdc")
    assert qdaconv.detect(tmp_path / "book.qdc").name == "refi-qdc"
    result = qdaconv.diff(project, book, features=CODEBOOK_FEATURES)
    assert all(change.kind != "code" for change in result.changes), result.render_text()
    assert book.sets[0].member_codes == [guid(2, 2)] and not book.sets[0].member_sources
    assert "sources" in report.summary() or "text sources" in report.summary()
    # a project made from a codebook is a valid project with the codes only
    back = write_read(book, tmp_path / "codes.qdpx")
    assert [c.name for c in back.codes] == ["Connecting", "adapting"]
    assert_valid(qde_bytes(tmp_path / "codes.qdpx")[0])


@pytest.mark.parametrize(("profile", "expected"), [
    ("standard", TEXT.index("We met")), ("nvivo", TEXT.index("We met")),
    ("maxqda", TEXT.index("We met")), ("atlasti", TEXT.index("We met") - 1)])
def test_profiles_count_positions_like_the_tool(tmp_path, profile, expected):
    project = full_project()
    target = tmp_path / f"{profile}.qdpx"
    back = write_read(project, target, profile=profile)
    root = assert_valid(qde_bytes(target)[0])
    selection = next(el for el in root.iter("{*}PlainTextSelection") if el.get("name") == "We met")
    assert int(selection.get("startPosition")) == expected
    end = TEXT.index("grew") + 4
    if profile == "nvivo":
        assert int(selection.get("endPosition")) == end + 1  # the emoji is two UTF-16 units
    # the file says which unit it used, so reading it back gives the same code points
    assert qdaconv.diff(project, back).same


def test_nvivo_origin_means_utf16_positions(tmp_path):
    project = full_project()
    project.origin = "NVivo 14"
    target = tmp_path / "nvivo.qdpx"
    qdaconv.write(project, target, profile="nvivo")
    root = etree.fromstring(qde_bytes(target)[0])
    assert root.get("origin") == "NVivo 14"  # written in NVivo's own unit, nothing to mark
    back = qdaconv.read(target)
    assert qdaconv.diff(project, back).same
    assert any(w.rule == "REFI-POSITIONS" for w in back.warnings)
    forced = qdaconv.read(target, positions="codepoint")
    selection = next(sel for _, sel in walk_selections(forced) if sel.name == "We met")
    assert selection.end == TEXT.index("grew") + 5


def test_standard_write_of_an_nvivo_project_marks_its_origin(tmp_path):
    project = full_project()
    project.origin = "NVivo 14"
    target = tmp_path / "std.qdpx"
    back = write_read(project, target)
    origin = etree.fromstring(qde_bytes(target)[0]).get("origin")
    assert origin.startswith("qdaconv ") and "positions: codepoint" in origin and "NVivo 14" in origin
    assert back.origin == "NVivo 14" and qdaconv.diff(project, back).same


def test_non_guid_ids_are_replaced_consistently(tmp_path):
    project = Project(name="ids", codes=[Code("c001", "one"), Code("c002", "two")],
                      sets=[Set("s1", "group", member_codes=["c001"])])
    report = qdaconv.write(project, tmp_path / "ids.qdpx")
    assert "not GUIDs" in report.summary()
    root = assert_valid(qde_bytes(tmp_path / "ids.qdpx")[0])
    code_guid = next(root.iter("{*}Code")).get("guid")
    assert next(root.iter("{*}MemberCode")).get("targetGUID") == code_guid


def test_naive_and_offset_times_are_written_in_utc(tmp_path):
    project = full_project()
    project.created = datetime(2020, 1, 1, 12, 0)
    project.modified = datetime.fromisoformat("2020-01-01T12:00:00+02:00")
    qdaconv.write(project, tmp_path / "t.qdpx")
    root = etree.fromstring(qde_bytes(tmp_path / "t.qdpx")[0])
    assert root.get("creationDateTime") == "2020-01-01T12:00:00Z"
    assert root.get("modifiedDateTime") == "2020-01-01T10:00:00Z"


def test_large_files_go_beside_the_archive(tmp_path):
    project = full_project()
    target = tmp_path / "big.qdpx"
    qdaconv.write(project, target, max_internal_size=12)
    root = assert_valid(qde_bytes(target)[0])
    pdf = next(root.iter("{*}PDFSource"))
    assert pdf.get("path").startswith("relative:///") and root.get("basePath")
    assert (tmp_path / pdf.get("path").removeprefix("relative:///")).read_bytes() == b"%PDF-1.4 fake"
    back = qdaconv.read(target)
    assert back.sources[1].file.read_bytes() == b"%PDF-1.4 fake"


def test_sniffing_uses_the_content_not_the_name(tmp_path):
    qdaconv.write(full_project(), tmp_path / "p.qdpx")
    (tmp_path / "p.qdpx").rename(tmp_path / "p.zip")
    assert qdaconv.detect(tmp_path / "p.zip").name == "refi-qdpx"
    qdaconv.write(full_project(), tmp_path / "p.qde", inline_text=True)
    (tmp_path / "p.qde").rename(tmp_path / "p.xml")
    assert qdaconv.detect(tmp_path / "p.xml").name == "refi-qde"


DIALECT_QDE = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:0:10" name="old" origin="Some tool 1.0" creationDateTime="2019-03-01T10:00:00">
<CodeBook><Codes><Code guid="{7A2B2B61-5F8A-4C8E-9B1E-0A0B0C0D0E0F}" name="c" isCodable="true" color="#f0a"/>
</Codes></CodeBook>
<Sources>
<TextSource guid="11111111-2222-4333-8444-555555555555" name="here" plainTextPath="here.txt">
<PlainTextSelection guid="21111111-2222-4333-8444-555555555555" startPosition="0" endPosition="5">
<Coding guid="31111111-2222-4333-8444-555555555555"><CodeRef targetGUID="{7A2B2B61-5F8A-4C8E-9B1E-0A0B0C0D0E0F}"/>
</Coding></PlainTextSelection></TextSource>
<TextSource guid="41111111-2222-4333-8444-555555555555" name="gone" plainTextPath="internal://gone.txt"/>
<AudioSource guid="51111111-2222-4333-8444-555555555555" name="beside" path="relative:///beside.m4a"/>
</Sources><Sets/></Project>"""


def test_dialects_are_read_with_warnings_and_written_standard(tmp_path):
    path = tmp_path / "export.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("Old Project.qde", DIALECT_QDE)
        archive.writestr("Sources/here.txt", "Hello world")
    (tmp_path / "beside.m4a").write_bytes(b"audio")
    project = qdaconv.read(path)
    rules = {w.rule for w in project.warnings}
    assert {"REFI-QDE-NAME", "REFI-NAMESPACE", "REFI-GUID-FORM", "REFI-COLOR", "REFI-DATETIME",
            "REFI-PATH-VARIANT", "REFI-FILE-MISSING", "REFI-EMPTY-CONTAINER"} <= rules
    missing = next(w for w in project.warnings if w.rule == "REFI-FILE-MISSING")
    assert "'gone'" in missing.message
    here = project.sources[0]
    assert here.text == "Hello world" and here.plain_text_path == "internal://here.txt"
    assert project.codes[0].color == "#FF00AA" and project.created.tzinfo is UTC
    # the audio file sits in the folder of the .qdpx, so it is read without permission
    assert project.sources[2].file is not None
    (tmp_path / "out").mkdir()
    qdaconv.write(project, tmp_path / "out" / "std.qdpx")
    root = assert_valid(qde_bytes(tmp_path / "out" / "std.qdpx")[0])
    assert root.get("creationDateTime") == "2019-03-01T10:00:00Z"
    with zipfile.ZipFile(tmp_path / "out" / "std.qdpx") as archive:
        assert "project.qde" in archive.namelist() and "sources/here.txt" in archive.namelist()


def test_files_outside_the_project_folder_need_permission(tmp_path):
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "talk.m4a").write_bytes(b"audio bytes")
    (tmp_path / "project").mkdir()
    qde = tmp_path / "project" / "p.qde"
    qde.write_text('<Project xmlns="urn:QDA-XML:project:1.0" name="p"><Sources>'
                   '<AudioSource guid="51111111-2222-4333-8444-555555555555" name="talk" '
                   'path="relative:///../media/talk.m4a"/></Sources></Project>')
    kept = qdaconv.read(qde)
    assert kept.sources[0].file is None and kept.sources[0].path == "relative:///../media/talk.m4a"
    assert any(w.rule == "REFI-FILE-EXTERNAL" and "talk" in w.message for w in kept.warnings)
    allowed = qdaconv.read(qde, allow_external=True)
    assert allowed.sources[0].file.read_bytes() == b"audio bytes"


def test_qde_written_beside_its_input_leaves_the_input_files_intact(tmp_path, study_path):
    """A .qde's files live in sources/ beside it: writing another .qde there must not clobber them."""
    first = tmp_path / "first.qde"
    qdaconv.convert(study_path, first)
    before = {p.name: p.read_bytes() for p in (tmp_path / "sources").iterdir()}
    qdaconv.convert(first, tmp_path / "second.qde")
    assert {p.name: p.read_bytes() for p in (tmp_path / "sources").iterdir()} == before
    assert qdaconv.diff(qdaconv.read(first), qdaconv.read(tmp_path / "second.qde")).same


def test_qde_refuses_to_replace_other_files_in_sources(tmp_path, study_path):
    qdaconv.convert(study_path, tmp_path / "first.qde")
    victim = next((tmp_path / "sources").iterdir())
    victim.write_bytes(b"someone else's file")
    with pytest.raises(qdaconv.WriteError, match="already exists with other content"):
        qdaconv.convert(study_path, tmp_path / "second.qde")
    assert victim.read_bytes() == b"someone else's file"
    assert not (tmp_path / "second.qde").exists()
