"""The transcripts-folder reader: .txt, .docx, .vtt and .srt files into sources, speaker turns, cases, variables."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest
from lxml import etree

import qdaconv
from qdaconv.errors import ReadError
from qdaconv.model import guid_key, walk_codes
from qdaconv.plugins.transcripts import TranscriptsFolder
from qdaconv.plugins.transcripts.parse import parse_running_text, parse_time
from qdaconv.validation import CERTAIN_CLAIM, PROBABLE_CLAIM

ROOT = Path(__file__).resolve().parent.parent
PATTERN = "{case}_interview{wave}"

TXT = (
    "Interview with Anna, wave 1\n"
    "Date: 3 May 2021\n"
    "\n"
    "Interviewer: How did the programme start?\n"
    "Anna: With a meeting — we called me the “honest broker”.\n"
    "It went on for hours. 🙂\n"
    "\n"
    "Interviewer: And then?\n"
    "Anna: Then the work began.\n"
)
VTT = (
    "WEBVTT\n\n"
    "NOTE recorded on site\n\n"
    "1\n00:00:01.000 --> 00:00:04.000\n<v Interviewer>What changed?</v>\n\n"
    "2\n00:00:04.500 --> 00:00:07.000 align:start\n<v.loud Neil>Trust &amp; money.\n\n"
    "00:00:07.000 --> 00:00:09.250\n<v Neil>Mostly <i>trust</i>.\n\n"
    "00:00:10.000 --> 00:00:12.000\n<v Interviewer>Thank you.\n"
)
SRT = (
    "1\n00:00:01,000 --> 00:00:03,000\nInterviewer: Hello Rachel.\n\n"
    "2\n00:00:03,500 --> 00:00:06,000\nRachel: Hello.\n\n"
    "3\n00:00:06,000 --> 00:00:08,000\nInterviewer: Tell me about the trust.\n\n"
    "4\n00:00:08,000 --> 00:00:09,000\nRachel: It is changing.\n"
)
CASES_CSV = "participant,role,age,lead\nanna,D,51,true\nneil,PM,40,false\nrachel,PM,,false\n"


def _docx(path: Path) -> None:
    docx = pytest.importorskip("docx")
    document = docx.Document()
    document.add_paragraph("Interview with Anna, wave 2")
    document.add_paragraph("Interviewer: What is different now?")
    document.add_paragraph("Anna: The vision is shared.")
    table = document.add_table(rows=2, cols=2)
    for row, (who, said) in zip(table.rows, [("Interviewer", "Who shares it?"), ("Anna", "Everyone, at last.")],
                                strict=True):
        row.cells[0].text, row.cells[1].text = who, said
    document.save(str(path))


@pytest.fixture
def interviews(tmp_path: Path) -> Path:
    folder = tmp_path / "interviews"
    folder.mkdir()
    (folder / "anna_interview1.txt").write_text(TXT, encoding="utf-8")
    _docx(folder / "anna_interview2.docx")
    (folder / "neil_interview1.vtt").write_text(VTT, encoding="utf-8")
    (folder / "neil_interview1.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A ")
    (folder / "rachel_interview1.srt").write_text(SRT, encoding="utf-8")
    (folder / ".DS_Store").write_bytes(b"\x00")
    (tmp_path / "cases.csv").write_text(CASES_CSV, encoding="utf-8")
    return folder


def _read(folder: Path, **options):
    return qdaconv.read(folder, case_pattern=PATTERN, case_variables=str(folder.parent / "cases.csv"), **options)


def _turns(project, document) -> list[tuple[str, str]]:
    """(speaker, what was said) per turn of a text source or media transcript."""
    codes = {guid_key(e.code.guid): e.code.name for e in walk_codes(project)}
    text = document.text
    found = []
    positions = {guid_key(p.guid): p.position for p in document.sync_points}
    for selection in document.selections:
        if selection.kind == "PlainText":
            start, end = selection.start, selection.end
        else:
            start, end = positions[guid_key(selection.from_sync)], positions[guid_key(selection.to_sync)]
        found.append((codes[guid_key(selection.codings[0].code)], text[start:end]))
    return found


def test_detected_and_read_with_sources_turns_cases_and_variables(interviews: Path) -> None:
    assert qdaconv.detect(interviews).name == "transcripts-folder"
    project = _read(interviews)
    by_name = {source.name: source for source in project.sources}
    assert sorted(by_name) == ["anna_interview1", "anna_interview2", "neil_interview1", "rachel_interview1"]
    assert [by_name[n].kind for n in sorted(by_name)] == ["Text", "Text", "Audio", "Text"]

    txt = by_name["anna_interview1"]
    assert txt.text == TXT  # the text is kept as stored
    assert _turns(project, txt) == [
        ("Interviewer", "How did the programme start?"),
        ("Anna", "With a meeting — we called me the “honest broker”.\nIt went on for hours. 🙂"),
        ("Interviewer", "And then?"),
        ("Anna", "Then the work began."),
    ]
    assert _turns(project, by_name["anna_interview2"]) == [
        ("Interviewer", "What is different now?"), ("Anna", "The vision is shared."),
        ("Interviewer", "Who shares it?"), ("Anna", "Everyone, at last.")]
    assert by_name["anna_interview2"].rich_file is not None

    audio = by_name["neil_interview1"]
    assert audio.file is not None and audio.file.name == "neil_interview1.m4a"
    [transcript] = audio.transcripts
    assert transcript.text == ("Interviewer: What changed?\nNeil: Trust & money. Mostly trust.\n"
                               "Interviewer: Thank you.\n")
    assert _turns(project, transcript) == [("Interviewer", "What changed?"), ("Neil", "Trust & money. Mostly trust."),
                                  ("Interviewer", "Thank you.")]
    stamps = {p.position: p.timestamp for p in transcript.sync_points}
    assert stamps[transcript.text.index("Trust")] == 4500
    assert stamps[transcript.text.index(" Mostly") + 1] == 7000
    assert stamps[transcript.text.index("\nInterviewer: Thank")] == 9250

    assert _turns(project, by_name["rachel_interview1"])[1] == ("Rachel", "Hello.")

    speakers = next(e.code for e in walk_codes(project) if e.code.name == "Speakers")
    assert not speakers.codable
    assert sorted(c.name for c in speakers.children) == ["Anna", "Interviewer", "Neil", "Rachel"]

    cases = {case.name: case for case in project.cases}
    assert sorted(cases) == ["anna", "neil", "rachel"]
    assert sorted(cases["anna"].source_refs) == sorted([txt.guid, by_name["anna_interview2"].guid])
    variables = {v.name: v for v in project.variables}
    assert {name: v.type for name, v in variables.items()} == {
        "wave": "Integer", "role": "Text", "age": "Integer", "lead": "Boolean"}
    # anna has two waves, so the wave describes each source rather than the case
    wave = variables["wave"].guid
    assert [(v.type, v.value) for v in by_name["anna_interview2"].variable_values if v.variable == wave] == [
        ("Integer", 2)]
    values = {v.variable: v.value for v in cases["anna"].variable_values}
    assert values == {variables["role"].guid: "D", variables["age"].guid: 51, variables["lead"].guid: True}
    assert variables["age"].guid not in {v.variable for v in cases["rachel"].variable_values}


def test_becomes_a_schema_valid_qdpx(interviews: Path, tmp_path: Path) -> None:
    target = tmp_path / "study.qdpx"
    qdaconv.write(_read(interviews), target, "refi-qdpx")
    schema = etree.XMLSchema(etree.parse(str(ROOT / "schemas" / "Project-mrt2019.xsd")))
    with zipfile.ZipFile(target) as archive:
        qde = next(n for n in archive.namelist() if n.lower().endswith(".qde"))
        document = etree.fromstring(archive.read(qde))
        names = archive.namelist()
    assert schema.validate(document), schema.error_log
    ns = {"q": "urn:QDA-XML:project:1.0"}
    assert len(document.findall(".//q:TextSource", ns)) == 3
    assert len(document.findall(".//q:AudioSource/q:Transcript/q:SyncPoint", ns)) >= 6
    assert len(document.findall(".//q:Case", ns)) == 3
    assert any(name.lower().endswith(".m4a") for name in names)
    back = qdaconv.read(target)
    assert sorted(s.name for s in back.sources) == sorted(s.name for s in _read(interviews).sources)


def test_reading_twice_gives_the_same_guids(interviews: Path) -> None:
    first, second = _read(interviews), _read(interviews)
    assert [s.guid for s in first.sources] == [s.guid for s in second.sources]
    assert [sel.guid for s in first.sources for sel in s.selections] == [
        sel.guid for s in second.sources for sel in s.selections]


def test_files_that_miss_the_pattern_are_kept_with_a_warning(interviews: Path) -> None:
    (interviews / "focus group.txt").write_text("A: one\nB: two\nA: three\nB: four\n", encoding="utf-8")
    project = _read(interviews)
    assert "focus group" in {s.name for s in project.sources}
    assert any(w.rule == "TRANSCRIPTS-NO-CASE" and "focus group.txt" in w.message for w in project.warnings)


def test_explicit_speakers_override_the_two_lines_rule() -> None:
    text = "Moderator: welcome\nP1: hi\nModerator: go on\nNote: not a speaker\nNote: still not\n"
    assert {t.speaker for t in parse_running_text(text).turns} == {"Moderator", "Note"}
    assert {t.speaker for t in parse_running_text(text, frozenset({"Moderator", "P1"})).turns} == {"Moderator", "P1"}


def test_timed_text_lines() -> None:
    text = "[00:00:05] Ann: hi\n[00:01:02.5] Bob: yes\nBob (1:00:00): no\n(1:00:09) Ann: bye\n"
    turns = parse_running_text(text).turns
    assert [(t.speaker, t.start_ms, t.end_ms) for t in turns] == [
        ("Ann", 5000, 62500), ("Bob", 62500, 3600000), ("Bob", 3600000, 3609000), ("Ann", 3609000, None)]
    assert [text[t.start:t.end] for t in turns] == ["hi", "yes", "no", "bye"]
    assert parse_time("01:02,25") == 62250


def test_a_docx_without_python_docx_names_the_extra(interviews: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "docx", None)  # makes `import docx` fail
    with pytest.raises(ReadError, match=r"qdaconv\[docx\]"):
        TranscriptsFolder().read(interviews)


@pytest.mark.parametrize(("name", "content", "message"), [
    ("bad.txt", b"Ann: caf\xe9\nBob: ok\n", "line 1"),
    ("bad.vtt", b"WEBVTT\n\n00:00:01.000 --> soon\nAnn: hi\n", "line 3"),
    ("bad2.vtt", b"no header\n", "WEBVTT"),
])
def test_bad_files_are_clear_read_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(ReadError, match=message) as caught:
        TranscriptsFolder().read(tmp_path)
    assert name in str(caught.value)


def test_bad_options_are_clear_errors(interviews: Path, tmp_path: Path) -> None:
    with pytest.raises(ReadError, match=r"\{case\}"):
        qdaconv.read(interviews, "transcripts-folder", case_pattern="{person}_{wave}")
    (tmp_path / "ragged.csv").write_text("case,role\nanna\n", encoding="utf-8")
    with pytest.raises(ReadError, match="line 2"):
        qdaconv.read(interviews, "transcripts-folder", case_pattern=PATTERN,
                     case_variables=str(tmp_path / "ragged.csv"))


def test_sniff(tmp_path: Path, interviews: Path) -> None:
    fmt = TranscriptsFolder()
    assert PROBABLE_CLAIM < fmt.sniff(interviews) < CERTAIN_CLAIM
    assert fmt.sniff(tmp_path / "cases.csv") == 0.0
    empty = tmp_path / "empty"
    empty.mkdir()
    assert fmt.sniff(empty) == 0.0
    assert fmt.sniff(tmp_path / "missing") == 0.0


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir()
    for file_name, text in files.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    return folder


def test_sniff_scores_a_folder_by_what_its_files_look_like(tmp_path: Path) -> None:
    fmt = TranscriptsFolder()
    notes = {"ideas.txt": "Ideas for wave 2.\nNote: ask about trust.\n", "todo.txt": "Book the room.\n"}
    plain = fmt.sniff(_folder(tmp_path, "notes", notes))
    assert 0 < plain < PROBABLE_CLAIM  # still readable when named, never taken for transcripts unasked
    for name, files in {
        "turns": {**notes, "anna.txt": TXT},  # one file with repeated speakers is enough
        "subtitles": {"neil.vtt": VTT},
        "subtitles-as-text": {"rachel.txt": SRT},  # cue timings, whatever the ending
    }.items():
        assert PROBABLE_CLAIM < fmt.sniff(_folder(tmp_path, name, files)) < CERTAIN_CLAIM, name
    utf16 = _folder(tmp_path, "utf16", {})
    (utf16 / "anna.txt").write_bytes(TXT.encode("utf-16"))
    word = _folder(tmp_path, "word", {})
    _docx(word / "anna.docx")
    assert fmt.sniff(utf16) > PROBABLE_CLAIM and fmt.sniff(word) > PROBABLE_CLAIM


def test_a_folder_of_notes_is_still_read_as_plain_sources(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "notes", {"ideas.txt": "Ideas for wave 2.\n", "todo.txt": "Book the room.\n"})
    assert qdaconv.detect(folder).name == "transcripts-folder"
    project = qdaconv.read(folder, "transcripts-folder")
    assert [s.name for s in project.sources] == ["ideas", "todo"] and not project.codes


def test_cli_convert(interviews: Path, tmp_path: Path, cli) -> None:
    target = tmp_path / "out.qdpx"
    done = cli("convert", str(interviews), str(target), "--case-pattern", PATTERN,
               "--case-variables", str(tmp_path / "cases.csv"))
    assert done.returncode == 0, done.stderr
    assert [c.name for c in qdaconv.read(target).cases] == ["anna", "neil", "rachel"]
    failed = cli("convert", str(interviews), str(tmp_path / "x.qdpx"), "--case-pattern", "{who}")
    assert failed.returncode == 2 and "{case}" in failed.stderr and "Traceback" not in failed.stderr
