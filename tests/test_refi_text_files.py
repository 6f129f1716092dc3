"""Texts in a written .qdpx: every transcript a file in sources/ as real exporters store them, no text file
qdaconv writes starting with a byte order mark, and files copied as they are keeping their positions."""

from __future__ import annotations

import zipfile
from pathlib import Path

from conftest import FIXTURES
from lxml import etree

import qdaconv
from qdaconv.model import Project, Selection, Source, decode_text

NS = {"q": "urn:QDA-XML:project:1.0"}
UTF8_BOM = b"\xef\xbb\xbf"


def written(path: Path) -> tuple[etree._Element, dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return (etree.fromstring(archive.read("project.qde")),
                {name: archive.read(name) for name in archive.namelist() if name.startswith("sources/")})


def test_a_transcripts_folder_stores_each_transcript_as_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "interviews"
    folder.mkdir()
    (folder / "anna.txt").write_bytes(UTF8_BOM + "Interviewer: How did it start?\nAnna: Slowly, with “trust”.\n"
                                      "Interviewer: And now?\nAnna: Better 🎉.\n".encode())
    (folder / "neil.txt").write_text("Interviewer: Hello.\nNeil: Hi.\nInterviewer: Bye.\nNeil: Bye.\n",
                                     encoding="utf-16")
    (folder / "rachel.vtt").write_text("WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Rachel>We met weekly.\n\n"
                                       "00:00:03.000 --> 00:00:05.500\n<v Interviewer>Why?\n", encoding="utf-8")
    (folder / "rachel.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + bytes(100))
    project = qdaconv.read(folder)
    target = tmp_path / "study.qdpx"
    report = qdaconv.write(project, target)
    assert report.lossless, report.summary()
    root, files = written(target)
    assert root.find(".//q:PlainTextContent", NS) is None
    documents = root.findall("q:Sources/q:TextSource", NS) + root.findall(".//q:Transcript", NS)
    assert len(documents) == 3
    by_guid = {source.guid: source for source in project.sources}
    by_guid.update({t.guid: t for source in project.sources for t in source.transcripts})
    for element in documents:
        guid = element.get("guid")
        assert element.get("plainTextPath") == f"internal://{guid}.txt"  # named by GUID
        data = files[f"sources/{guid}.txt"]
        assert not data.startswith(UTF8_BOM) and data.decode("utf-8") == by_guid[guid].text
    assert qdaconv.diff(project, qdaconv.read(target)).same
    qde = tmp_path / "unpacked" / "study.qde"
    qde.parent.mkdir()
    qdaconv.write(project, qde)
    beside = {path.name for path in (qde.parent / "sources").iterdir()}
    assert {f"{element.get('guid')}.txt" for element in documents} <= beside
    assert qdaconv.diff(project, qdaconv.read(qde)).same


def test_notes_stay_as_the_project_holds_them(tmp_path: Path) -> None:
    project = qdaconv.read(FIXTURES / "study.qdpx")
    target = tmp_path / "copy.qdpx"
    qdaconv.write(project, target)
    root, _files = written(target)
    notes = root.findall("q:Notes/q:Note", NS)
    assert sum(note.find("q:PlainTextContent", NS) is not None for note in notes) == 27
    assert sum(note.get("plainTextPath") is not None for note in notes) == 26


def test_no_text_file_qdaconv_writes_starts_with_a_byte_order_mark(tmp_path: Path) -> None:
    text = "\ufeffAnna: a text that begins with U+FEFF"
    project = Project(name="feff", sources=[
        Source("00000000-0000-4000-8000-000000000001", "Text", "feff", plain_text=text,
               selections=[Selection("00000000-0000-4000-8000-000000000002", start=1, end=5)]),
        Source("00000000-0000-4000-8000-000000000003", "Text", "plain", plain_text="Neil: plain")])
    target = tmp_path / "out.qdpx"
    report = qdaconv.write(project, target)
    assert report.lossless, report.summary()  # kept inline, where it is exact
    root, files = written(target)
    assert files and not any(data.startswith(UTF8_BOM) for data in files.values())
    back = qdaconv.read(target)
    assert back.sources[0].text == text and back.sources[0].text[1:5] == "Anna"
    assert qdaconv.diff(project, back).same
    package = tmp_path / "package"
    from qdaconv.plugins.archive import make_package

    make_package(target, package)
    texts = [p for p in (package / "data" / "sources").rglob("*.txt")]
    assert texts and not any(p.read_bytes().startswith(UTF8_BOM) for p in texts)


def test_a_file_with_a_bom_copied_as_it_is_keeps_positions_in_code_points_without_it(tmp_path: Path) -> None:
    """REFI counts code points of the text; the BOM is not part of the text (NVivo for Windows writes one)."""
    source_path = FIXTURES / "edge" / "unicode.qdpx"
    original = qdaconv.read(source_path)
    text_source = original.sources[0]
    raw = text_source.plain_file.read_bytes()
    assert raw.startswith(UTF8_BOM)
    target = tmp_path / "copy.qdpx"
    qdaconv.write(original, target)
    root, files = written(target)
    element = root.find(f"q:Sources/q:TextSource[@guid='{text_source.guid}']", NS)
    copied = files["sources/" + element.get("plainTextPath").removeprefix("internal://")]
    assert copied == raw  # the bytes as they were, BOM included
    text = decode_text(copied)
    expected = {s.guid: text_source.text[s.start:s.end] for s in text_source.selections}
    for selection in element.iterfind("q:PlainTextSelection", NS):
        start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
        assert text[start:end] == expected[selection.get("guid")]
    assert qdaconv.diff(original, qdaconv.read(target)).same
