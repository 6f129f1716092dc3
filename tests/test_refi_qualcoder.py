"""`--profile qualcoder`: what QualCoder's REFI import needs, stored so, with the study itself unchanged.

QualCoder takes notes only from files (plainTextPath), reads text files as plain UTF-8 (a byte
order mark becomes a character of the text, moving every excerpt by one) and its own export stops
on a source without a name. These tests read the written files the way QualCoder does.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from conftest import SAMPLES, STUDY
from lxml import etree

import qdaconv
from qdaconv.model import Blob, Project, Selection, Source, walk_sources
from qdaconv.registry import default_registry

NS = {"q": "urn:QDA-XML:project:1.0"}
SAMPLE_FILES = sorted(p for p in SAMPLES.glob("*/*") if p.suffix in (".qdpx", ".qde")) if SAMPLES.is_dir() else []
SOURCE_TAGS = ("TextSource", "PDFSource", "PictureSource", "AudioSource", "VideoSource")


def qualcoder_copy(project: Project, target: Path) -> qdaconv.formats.LossReport:
    return qdaconv.write(project, target, "refi-qdpx", profile="qualcoder")


def members(path: Path) -> tuple[etree._Element, dict[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        root = etree.fromstring(archive.read("project.qde"))
        files = {name: archive.read(name) for name in archive.namelist() if name.startswith("sources/")}
    return root, files


def file_of(element: etree._Element, files: dict[str, bytes]) -> bytes | None:
    reference = element.get("plainTextPath") or ""
    return files.get("sources/" + reference.removeprefix("internal://")) if reference.startswith("internal://") \
        else None


def assert_taken_whole_by_qualcoder(original: Project, target: Path) -> None:
    """Every note a file, no BOM, every source named, excerpts exact when the files are read as plain UTF-8."""
    root, files = members(target)
    annotated = {ref.get("targetGUID") for ref in root.iterfind("q:Sources/q:TextSource/q:NoteRef", NS)}
    for note in root.iterfind("q:Notes/q:Note", NS):
        if note.get("guid") in annotated and note.find("q:PlainTextSelection", NS) is not None:
            # QualCoder takes it as an annotation of the text, whose words it reads only from inside
            assert note.find("q:PlainTextContent", NS) is not None and not note.get("plainTextPath")
        else:
            assert note.find("q:PlainTextContent", NS) is None and note.get("plainTextPath"), note.get("guid")
        assert (note.get("name") or "").strip(), note.get("guid")
    for tag in SOURCE_TAGS:
        for source in root.iterfind(f"q:Sources/q:{tag}", NS):
            assert (source.get("name") or "").strip(), source.get("guid")
    assert root.find("q:Sources//q:PlainTextContent", NS) is None
    for name, data in files.items():
        if name.endswith(".txt"):
            assert not data.startswith(b"\xef\xbb\xbf"), name
    texts = {element.get("guid"): file_of(element, files) for element in root.iter()
             if element.get("plainTextPath")}
    starts = {element.get("guid"): (int(element.get("startPosition")), int(element.get("endPosition")))
              for element in root.iter(f"{{{NS['q']}}}PlainTextSelection")}
    origin = root.get("origin") or ""
    for source in walk_sources(original):
        text = source.text
        raw = texts.get(source.guid)
        if text is None or raw is None:
            continue
        fulltext, crlf_as = as_qualcoder_reads(raw, origin)
        line_ends = text.replace("\r\n", "\n").replace("\r", "\n")
        assert fulltext == (line_ends.replace("\n", crlf_as) if crlf_as == "\n " else line_ends), source.guid
        for selection in source.selections:
            if selection.kind == "PlainText":
                start, end = starts[selection.guid]
                excerpt = text[selection.start:selection.end].replace("\r\n", crlf_as)
                assert fulltext[start:end] == excerpt, (source.guid, selection.guid)


def as_qualcoder_reads(raw: bytes, origin: str) -> tuple[str, str]:
    """A text file as QualCoder's REFI import reads it, and what a CRLF of the original becomes in it.

    It opens the file as UTF-8 text (a BOM would stay as a character; line ends become LF) and,
    when the file's first line end is CRLF and the origin does not name ATLAS.ti, puts a space after
    every LF so that each line end still counts two.
    """
    first_line = raw.split(b"\n", 1)[0]
    add_ending = len(first_line) < len(raw) and first_line.endswith(b"\r") and "ATLAS" not in origin
    text = raw.decode("utf-8", errors="replace").replace("\r\n", "\n").replace("\r", "\n")
    return (text.replace("\n", "\n "), "\n ") if add_ending else (text, "\n")


def assert_only_names_added(original: Project, back: Project) -> None:
    result = qdaconv.diff(original, back)
    for change in result.changes:
        assert change.kind in ("source", "note") and change.action == "changed", str(change)
        assert set(change.fields) == {"name"}, str(change)
        old, new = change.fields["name"]
        assert not (old or "").strip() and new, str(change)


def test_the_study_is_taken_whole(tmp_path: Path) -> None:
    study = qdaconv.read(STUDY)
    assert sum(note.plain_text is not None for note in study.notes) == 27  # half the notes are inline
    target = tmp_path / "for-qualcoder.qdpx"
    report = qualcoder_copy(study, target)
    assert report.lossless, report.summary()
    assert_taken_whole_by_qualcoder(study, target)
    root, _files = members(target)
    assert len(root.findall("q:Notes/q:Note[@plainTextPath]", NS)) == 53
    back = qdaconv.read(target)
    assert qdaconv.diff(study, back).same
    assert all(issue.severity.name != "ERROR" for issue in default_registry().get("refi-qdpx").check(target))


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda p: p.name)
def test_real_exports_are_taken_whole(sample: Path, tmp_path: Path) -> None:
    original = qdaconv.read(sample)
    target = tmp_path / "for-qualcoder.qdpx"
    report = qualcoder_copy(original, target)
    assert_taken_whole_by_qualcoder(original, target)
    back = qdaconv.read(target)
    assert_only_names_added(original, back)
    nameless = [s for s in (*original.sources, *original.notes) if not (s.name or "").strip()]
    named = [item for item in report.items if "named after their file" in item.what]
    assert (named[0].count if named else 0) == len(nameless)
    checks = default_registry().get("refi-qdpx").check(target)  # .qde samples come without their files
    assert not [issue for issue in checks if issue.severity.name == "ERROR" and issue.rule != "ZIP-MISSING-FILE"]


def test_a_byte_order_mark_is_left_out_and_positions_stay(tmp_path: Path) -> None:
    """NVivo for Windows writes its texts with a BOM and CRLF; QualCoder would count the BOM."""
    sample = SAMPLES / "NVivo" / "nvivo-win12.6-oltas.qdpx"
    if not sample.is_file():
        pytest.skip("../shared/samples is not present")
    with zipfile.ZipFile(sample) as archive:
        assert any(archive.read(n).startswith(b"\xef\xbb\xbf") for n in archive.namelist() if n.endswith(".txt"))
    original = qdaconv.read(sample)
    standard, qualcoder = tmp_path / "standard.qdpx", tmp_path / "qualcoder.qdpx"
    qdaconv.write(original, standard)
    qualcoder_copy(original, qualcoder)
    _root, kept = members(standard)
    _root, stripped = members(qualcoder)
    text_names = [name for name in kept if name.endswith(".txt")]
    assert text_names and all(kept[name].startswith(b"\xef\xbb\xbf") for name in text_names)  # copied as it is
    assert all(stripped[name] == kept[name][3:] for name in text_names)
    assert_taken_whole_by_qualcoder(original, qualcoder)
    assert qdaconv.diff(qdaconv.read(standard), qdaconv.read(qualcoder)).same


def test_sources_are_named_after_their_file_else_kind_and_number(tmp_path: Path) -> None:
    project = Project(name="nameless")
    project.sources = [
        Source("00000000-0000-4000-8000-000000000001", "Text", plain_text="from a file",
               plain_text_path="internal://board_2017.txt"),
        Source("00000000-0000-4000-8000-000000000002", "Text", name="Text 2", plain_text="named already"),
        Source("00000000-0000-4000-8000-000000000003", "Text", plain_text="inline, nameless",
               selections=[Selection("00000000-0000-4000-8000-000000000009", start=0, end=6)]),
        Source("00000000-0000-4000-8000-000000000004", "Text", name="  ", plain_text="a blank name",
               plain_text_path="internal://00000000-0000-4000-8000-000000000004.txt"),
    ]
    project.notes = [Source("00000000-0000-4000-8000-000000000005", "Note", plain_text="a memo")]
    target = tmp_path / "named.qdpx"
    report = qualcoder_copy(project, target)
    root, _files = members(target)
    names = [element.get("name") for element in root.iterfind("q:Sources/q:TextSource", NS)]
    assert names == ["board_2017", "Text 2", "Text 3", "Text 4"]
    assert root.find("q:Notes/q:Note", NS).get("name") == "Note 1"
    (item,) = report.items
    assert item.count == 4 and "'board_2017'" in item.detail and "'Note 1'" in item.detail
    assert_only_names_added(project, qdaconv.read(target))
    clash = Project(sources=[Source("00000000-0000-4000-8000-000000000001", "Text", plain_text="x"),
                             Source("00000000-0000-4000-8000-000000000002", "Text", name="text 1", plain_text="y")])
    qualcoder_copy(clash, tmp_path / "clash.qdpx")
    root, _files = members(tmp_path / "clash.qdpx")
    assert [e.get("name") for e in root.iterfind("q:Sources/q:TextSource", NS)] == ["Text 1 (2)", "text 1"]


def test_the_standard_profile_names_nothing(tmp_path: Path) -> None:
    project = Project(sources=[Source("00000000-0000-4000-8000-000000000001", "Text", plain_text="x")])
    report = qdaconv.write(project, tmp_path / "plain.qdpx")
    root, _files = members(tmp_path / "plain.qdpx")
    assert report.lossless and root.find("q:Sources/q:TextSource", NS).get("name") is None


def test_a_text_that_begins_with_u_feff_stays_inline_and_is_reported(tmp_path: Path) -> None:
    text = "\ufeffInterviewer: hello"
    project = Project(sources=[Source("00000000-0000-4000-8000-000000000001", "Text", "zwnbsp", plain_text=text,
                                      selections=[Selection("00000000-0000-4000-8000-000000000002",
                                                            start=1, end=12)])])
    report = qualcoder_copy(project, tmp_path / "q.qdpx")
    assert [item.what for item in report.items] == [
        "texts that begin with U+FEFF, kept inline (a file would read it as a byte order mark)"]
    assert qdaconv.diff(project, qdaconv.read(tmp_path / "q.qdpx")).same


def test_the_profile_cannot_be_combined_with_inline_text(tmp_path: Path) -> None:
    with pytest.raises(qdaconv.errors.WriteError, match="qualcoder"):
        qdaconv.write(qdaconv.read(STUDY), tmp_path / "x.qde", profile="qualcoder", inline_text="1")
    assert list(tmp_path.iterdir()) == []


def test_the_cli_takes_the_profile(cli, tmp_path: Path) -> None:
    target = tmp_path / "out.qdpx"
    done = cli("convert", str(STUDY), str(target), "--profile", "qualcoder")
    assert done.returncode == 0, done.stderr
    assert_taken_whole_by_qualcoder(qdaconv.read(STUDY), target)


def test_a_qde_with_its_sources_folder_follows_the_profile_too(tmp_path: Path) -> None:
    study = qdaconv.read(STUDY)
    target = tmp_path / "study.qde"
    qdaconv.write(study, target, profile="qualcoder")
    root = etree.parse(str(target)).getroot()
    notes = root.findall("q:Notes/q:Note", NS)
    assert len(notes) == 53 and root.find(".//q:PlainTextContent", NS) is None
    for element in root.iter():
        reference = element.get("plainTextPath")
        if reference:
            data = (tmp_path / "sources" / reference.removeprefix("internal://")).read_bytes()
            assert not data.startswith(b"\xef\xbb\xbf")
    assert qdaconv.diff(study, qdaconv.read(target)).same


def test_crlf_texts_from_atlas_ti_are_counted_as_qualcoder_will(tmp_path: Path) -> None:
    """QualCoder takes a CRLF as one character when the origin names ATLAS.ti, and as two otherwise."""
    text = "Interviewer: how did it start?\r\nAnna: we met weekly.\r\nInterviewer: why?\r\nAnna: trust.\r\n"
    spans = [(text.index(words), text.index(words) + len(words)) for words in ("we met weekly", "trust")]
    for origin in ("ATLAS.ti 23.2.3.27778", "NVivo for Windows 12.6"):
        project = Project(name="crlf", origin=origin, sources=[Source(
            "00000000-0000-4000-8000-000000000001", "Text", "Anna", plain_file=Blob("a.txt", data=text.encode()),
            plain_text_path="internal://a.txt",
            selections=[Selection(f"00000000-0000-4000-8000-00000000001{n}", start=start, end=end)
                        for n, (start, end) in enumerate(spans)])])
        target = tmp_path / f"{origin.split()[0]}.qdpx"
        qualcoder_copy(project, target)
        assert_taken_whole_by_qualcoder(project, target)
        assert qdaconv.diff(project, qdaconv.read(target)).same


def test_notes_qualcoder_takes_as_annotations_stay_inline(tmp_path: Path) -> None:
    """QualCoder's own export writes an annotation as a note with a selection, referred to by its text."""
    annotation = Source("00000000-0000-4000-8000-000000000002", "Note", "memo on trust", plain_text="why trust?",
                        selections=[Selection("00000000-0000-4000-8000-000000000003", start=6, end=11)])
    in_a_file = Source("00000000-0000-4000-8000-000000000004", "Note", "journal",
                       plain_file=Blob("j.txt", data=b"a journal entry"), plain_text_path="internal://j.txt")
    project = Project(name="annotated", sources=[Source(
        "00000000-0000-4000-8000-000000000001", "Text", "Anna", plain_text="Anna: trust grew.",
        note_refs=[annotation.guid, in_a_file.guid])], notes=[annotation, in_a_file])
    target = tmp_path / "annotated.qdpx"
    qualcoder_copy(project, target)
    root, _files = members(target)
    notes = {note.get("guid"): note for note in root.iterfind("q:Notes/q:Note", NS)}
    assert notes[annotation.guid].findtext("q:PlainTextContent", namespaces=NS) == "why trust?"
    assert notes[in_a_file.guid].get("plainTextPath") == "internal://j.txt"
    assert_taken_whole_by_qualcoder(project, target)
    assert qdaconv.diff(project, qdaconv.read(target)).same
