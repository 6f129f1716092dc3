"""f4 transcripts: the time marks f4 sets where each paragraph ends (`#00:00:12-5#`) become sync points."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

import qdaconv
from qdaconv.plugins.transcripts.parse import parse_running_text

F4_TEXT = ("I: Wie sind Sie zu dem Projekt gekommen? #00:00:05-2#\n\n"
           "B: Das war eigentlich Zufall. Ich habe jemanden getroffen. #00:00:32-8#\n\n"
           "I: Und dann? #00:00:35-0#\n\n"
           "B: Dann ging es los, und zwar schnell. #01:02:03-4#\n")
MARKS = [("#00:00:05-2#", 5_200), ("#00:00:32-8#", 32_800), ("#00:00:35-0#", 35_000), ("#01:02:03-4#", 3_723_400)]


@pytest.fixture
def f4_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "interviews"
    folder.mkdir()
    (folder / "interview1.txt").write_text(F4_TEXT, encoding="utf-8")
    (folder / "interview1.mp3").write_bytes(b"ID3" + bytes(200))
    (folder / "interview2.txt").write_text(F4_TEXT, encoding="utf-8")
    return folder


def test_marks_are_timings_at_their_end() -> None:
    parsed = parse_running_text(F4_TEXT)
    assert parsed.timings == [(F4_TEXT.index(mark) + len(mark), ms) for mark, ms in MARKS]
    assert [turn.speaker for turn in parsed.turns] == ["I", "B", "I", "B"]
    assert [turn.start_ms for turn in parsed.turns] == [None, 5_200, 32_800, 35_000]
    assert [turn.end_ms for turn in parsed.turns] == [ms for _mark, ms in MARKS]


def test_other_fractions_and_marks_inside_a_paragraph() -> None:
    text = "A: one #00:00:01-25# two #00:00:02.5#\nB: three #00:00:03#\nA: four\nB: five\n"
    parsed = parse_running_text(text)
    assert [ms for _position, ms in parsed.timings] == [1_250, 2_500, 3_000]
    assert parsed.turns[0].end_ms == 2_500 and parsed.turns[1].start_ms == 2_500


def test_a_recorded_f4_transcript_gets_sync_points(f4_folder: Path, tmp_path: Path) -> None:
    project = qdaconv.read(f4_folder)
    audio = next(source for source in project.sources if source.kind == "Audio")
    transcript = audio.transcripts[0]
    timed = [(point.position, point.timestamp) for point in transcript.sync_points if point.timestamp is not None]
    assert [(F4_TEXT.index(mark) + len(mark), ms) for mark, ms in MARKS] == [
        point for point in timed if point[0] in {F4_TEXT.index(m) + len(m) for m, _ in MARKS}]
    by_guid = {point.guid: point for point in transcript.sync_points}
    turns = transcript.selections
    assert [by_guid[turn.to_sync].timestamp for turn in turns] == [ms for _mark, ms in MARKS]
    assert [by_guid[turn.from_sync].timestamp for turn in turns] == [None, 5_200, 32_800, 35_000]
    assert turns[1].name == "B 00:00:05.200"
    target = tmp_path / "f4.qdpx"
    qdaconv.write(project, target)
    back = qdaconv.read(target)
    points = back.sources[0].transcripts[0].sync_points
    assert [(p.position, p.timestamp) for p in points] == [(p.position, p.timestamp) for p in transcript.sync_points]
    with zipfile.ZipFile(target) as archive:
        assert b'timeStamp="3723400"' in archive.read("project.qde")


def test_an_f4_transcript_without_recording_keeps_its_text_and_timed_turns(f4_folder: Path) -> None:
    project = qdaconv.read(f4_folder)
    text_source = next(source for source in project.sources if source.kind == "Text")
    assert text_source.text == F4_TEXT
    assert [selection.name for selection in text_source.selections] == [
        "I", "B 00:00:05.200", "I 00:00:32.800", "B 00:00:35.000"]
