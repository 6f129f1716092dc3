"""Parsing of single transcript files (.txt, .docx, .vtt, .srt) into text, speaker turns and timings.

Every parser returns a `Transcript`: the plain text the model will hold (positions are code points
into it), the speaker turns found in it and the (position, milliseconds) timings it carries.
Plain-text files keep their text exactly as stored (BOM removed); subtitle files become one line
per turn, written "Speaker: text", so the turns stay readable in any program.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from qdaconv.errors import ReadError
from qdaconv.files import decode_guess
from qdaconv.safety import DAMAGED_PACKAGE_ERRORS

#: A clock time as transcription tools write it: [h:]mm:ss with optional fractions (. or ,).
_TIME = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
#: A speaker name: starts with a letter, at most 40 characters and four words, no colon.
_NAME = r"[^\W\d_][\w.'’\-]*(?: [\w.'’\-]+){0,3}"
#: "Name: text", "[00:01:02] Name: text", "Name (00:01:02): text" or tab-separated "Name<TAB>text".
_TURN_LINE = re.compile(
    rf"^[ \t]*(?:[\[(#]?(?P<lead>{_TIME})[\])#]?[ \t]+)?(?P<name>{_NAME})"
    rf"(?:[ \t]*[\[(](?P<trail>{_TIME})[\])])?(?:[ \t]*:[ \t]*|\t+)(?P<rest>.*?)\s*$"
)
#: f4's time mark, "#00:00:12-5#" (hours:minutes:seconds-tenths), set where a paragraph ends.
_F4_MARK = re.compile(r"#(?P<clock>\d{1,2}:\d{2}:\d{2})(?:[-.,](?P<fraction>\d{1,3}))?#")
_CUE_TIMING = re.compile(rf"^\s*(?P<start>{_TIME})\s*-->\s*(?P<end>{_TIME})")
_VOICE = re.compile(r"^\s*<v(?:\.[^ \t>]*)?[ \t]+(?P<name>[^>]+)>(?P<rest>.*)$")
_TAG = re.compile(r"</?[a-zA-Z][^>]*>|<\d[^>]*>")
_MAX_NAME = 40


@dataclass(slots=True)
class Turn:
    """One speaker turn: what the speaker said spans text[start:end]; times in ms when known."""

    speaker: str
    start: int
    end: int
    start_ms: int | None = None
    end_ms: int | None = None


@dataclass(slots=True)
class Transcript:
    """A parsed transcript file."""

    text: str
    turns: list[Turn] = field(default_factory=list)
    timings: list[tuple[int, int]] = field(default_factory=list)


def parse_time(value: str) -> int:
    """Milliseconds of a clock time such as 01:02:03.500, 02:03,5 or 2:03."""
    clock, _, fraction = value.replace(",", ".").partition(".")
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds * 1000 + int((fraction + "000")[:3])


def _f4_ms(found: re.Match[str]) -> int:
    """Milliseconds of an f4 time mark: its fraction is tenths ("-5"), or more digits of the second."""
    return parse_time(found["clock"] + ("." + found["fraction"] if found["fraction"] else ""))


def format_time(ms: int) -> str:
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"


def decode_file(path: Path, data: bytes) -> str:
    """The file's text: a BOM decides (UTF-8, UTF-16, UTF-32), else UTF-8; anything else is an error."""
    try:
        return decode_guess(data, fallback=None)[0]
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ReadError(path, "the file is not UTF-8 text", location=f"line {line}",
                        hint="save it as UTF-8 (most editors offer this under 'Save as')") from None


# ---------------------------------------------------------------- speaker lines in running text


def _speaker_lines(lines: list[str], speakers: frozenset[str] | None) -> dict[int, re.Match[str]]:
    """Line numbers that open a speaker turn, with their match.

    With `speakers` given only those names count. Otherwise a name counts when it opens at least
    two lines of the file: that keeps one-off header lines ("Date: 3 May") out of the turns.
    """
    matches = {}
    for number, line in enumerate(lines):
        found = _TURN_LINE.match(line.rstrip("\r\n"))
        if found and len(found["name"]) <= _MAX_NAME:
            matches[number] = found
    if speakers is not None:
        return {n: m for n, m in matches.items() if m["name"].strip() in speakers}
    counts = Counter(m["name"].strip() for m in matches.values())
    return {n: m for n, m in matches.items() if counts[m["name"].strip()] >= 2}


def looks_like_transcript(text: str) -> bool:
    """Whether a text shows what transcripts have and notes do not: a speaker opening two or more
    lines ("Name: ..."), or subtitle cue timings ("00:00:01,000 --> 00:00:03,000")."""
    lines = text.splitlines()
    return any(_CUE_TIMING.match(line) for line in lines) or bool(_speaker_lines(lines, None))


def parse_running_text(text: str, speakers: frozenset[str] | None = None) -> Transcript:
    """Turns of a text whose lines start with "Speaker: "; a turn runs until the next speaker line."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    opening = _speaker_lines(lines, speakers)
    starts = sorted(opening)
    transcript = Transcript(text)
    for index, number in enumerate(starts):
        found = opening[number]
        stop_line = starts[index + 1] if index + 1 < len(starts) else len(lines)
        start = offsets[number] + found.start("rest")
        if not found["rest"]:
            start = offsets[number + 1] if number + 1 < len(lines) else offsets[number] + len(lines[number])
        end = offsets[stop_line]
        while end > start and text[end - 1].isspace():
            end -= 1
        stamp = found["lead"] or found["trail"]
        start_ms = parse_time(stamp) if stamp else None
        transcript.turns.append(Turn(found["name"].strip(), start, max(start, end), start_ms))
        if start_ms is not None:
            transcript.timings.append((offsets[number], start_ms))
    _time_f4_marks(transcript)
    _close_turn_times(transcript.turns)
    return transcript


def _time_f4_marks(transcript: Transcript) -> None:
    """f4's time marks as timings, at the end of each mark (the text before it was said by then).

    A turn that ends with a mark ends at its time, and a turn without a time of its own begins at
    the time of the last mark before it: f4 sets a mark where each paragraph ends.
    """
    marks = [(found.end(), _f4_ms(found)) for found in _F4_MARK.finditer(transcript.text)]
    if not marks:
        return
    transcript.timings = sorted(transcript.timings + marks)
    ends = dict(marks)
    last_before = 0
    for turn in transcript.turns:
        while last_before < len(marks) and marks[last_before][0] <= turn.start:
            last_before += 1
        if turn.start_ms is None and last_before:
            turn.start_ms = marks[last_before - 1][1]
        if turn.end in ends:
            turn.end_ms = ends[turn.end]


def _close_turn_times(turns: list[Turn]) -> None:
    """A timed turn ends when the next timed turn begins."""
    for turn, following in zip(turns, turns[1:], strict=False):
        if turn.start_ms is not None and following.start_ms is not None and following.start_ms >= turn.start_ms:
            turn.end_ms = following.start_ms


# ---------------------------------------------------------------- subtitle files


@dataclass(slots=True)
class _Cue:
    start_ms: int
    end_ms: int
    lines: list[tuple[str | None, str]]  # (speaker or None, text) per payload line


def _clean_payload(text: str) -> str:
    return html.unescape(_TAG.sub("", text)).replace("\u00a0", " ").strip()


def _cue_lines(payload: list[str], voice_tags: bool) -> list[tuple[str | None, str]]:
    """(speaker, text) per payload line; a line without its own voice continues the previous one."""
    result: list[tuple[str | None, str]] = []
    voice: str | None = None
    for raw in payload:
        found = _VOICE.match(raw) if voice_tags else None
        if found:
            voice = _clean_payload(found["name"])
            raw = found["rest"]
        text = _clean_payload(raw)
        if text:
            result.append((voice, text))
    return result


def _cues(path: Path, text: str, voice_tags: bool) -> list[_Cue]:
    """The timed cues of a WebVTT or SubRip file, in file order; NOTE/STYLE/REGION blocks skipped."""
    cues: list[_Cue] = []
    blocks = re.split(r"\r?\n(?:[ \t]*\r?\n)+", text.strip())
    line_number = 1
    for block in blocks:
        lines = block.splitlines()
        timing_at = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing_at is not None and timing_at <= 1 and not lines[0].startswith(("NOTE", "STYLE", "REGION")):
            found = _CUE_TIMING.match(lines[timing_at])
            if not found:
                raise ReadError(path, f"cannot read the cue timing {lines[timing_at].strip()!r}",
                                location=f"line {line_number + timing_at}",
                                hint="write times as hh:mm:ss.mmm --> hh:mm:ss.mmm")
            cue = _Cue(parse_time(found["start"]), parse_time(found["end"]),
                       _cue_lines(lines[timing_at + 1:], voice_tags))
            if cue.lines:
                cues.append(cue)
        line_number += block.count("\n") + 2
    return cues


def _split_named(cues: list[_Cue], speakers: frozenset[str] | None) -> None:
    """Take "Name: text" prefixes of unvoiced cue lines as speakers (same rules as running text)."""
    candidates = [(cue, i) for cue in cues for i, (voice, _t) in enumerate(cue.lines) if voice is None]
    texts = [cue.lines[i][1] for cue, i in candidates]
    opening = _speaker_lines(texts, speakers)
    for number, found in opening.items():
        if found["rest"]:
            cue, i = candidates[number]
            cue.lines[i] = (found["name"].strip(), found["rest"])


def parse_subtitles(path: Path, text: str, speakers: frozenset[str] | None = None,
                    voice_tags: bool = True) -> Transcript:
    """A WebVTT or SubRip file as one line per turn; consecutive cues of one speaker share a line."""
    cues = _cues(path, text, voice_tags)
    _split_named(cues, speakers)
    transcript = Transcript("")
    parts: list[str] = []
    length = 0
    current: Turn | None = None
    for cue in cues:
        for line_index, (speaker, words) in enumerate(cue.lines):
            continues = current is not None and speaker is not None and speaker == current.speaker
            if continues:
                parts.append(" ")
                length += 1
            else:
                if parts:
                    parts.append("\n")
                    length += 1
                if speaker is not None:
                    prefix = f"{speaker}: "
                    parts.append(prefix)
                    length += len(prefix)
            if line_index == 0:
                transcript.timings.append((length, cue.start_ms))
            parts.append(words)
            length += len(words)
            if continues and current is not None:
                current.end, current.end_ms = length, cue.end_ms
            elif speaker is not None:
                current = Turn(speaker, length - len(words), length, cue.start_ms, cue.end_ms)
                transcript.turns.append(current)
            else:
                current = None
        transcript.timings.append((length, cue.end_ms))
    transcript.text = "".join(parts) + ("\n" if parts else "")
    return transcript


# ---------------------------------------------------------------- files


def docx_text(path: Path) -> str:
    """The text of a .docx: one line per paragraph, table rows as tab-separated cells, in body order."""
    try:
        import docx
    except ImportError:
        raise ReadError(path, "reading .docx transcripts needs python-docx",
                        hint="install it with: pip install 'qdaconv[docx]'") from None
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except DAMAGED_PACKAGE_ERRORS as exc:  # python-docx raises several unrelated types for a damaged package
        raise ReadError(path, f"not a readable Word document: {exc}",
                        hint="open and save it again in Word or LibreOffice") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = [cell.text.strip() for cell in row.cells]
                lines.append("\t".join(cell for cell in cells if cell))
        else:
            lines.append(block.text)
    return "\n".join(lines) + "\n"


def parse_file(path: Path, speakers: frozenset[str] | None = None) -> Transcript:
    """Read one transcript file by its extension."""
    suffix = path.suffix.lower()
    if suffix == ".docx":
        return parse_running_text(docx_text(path), speakers)
    text = decode_file(path, path.read_bytes())
    if suffix == ".vtt":
        if not text.lstrip().startswith("WEBVTT"):
            raise ReadError(path, "a WebVTT file must start with 'WEBVTT'", location="line 1")
        return parse_subtitles(path, text, speakers)
    if suffix == ".srt":
        return parse_subtitles(path, text, speakers, voice_tags=False)
    return parse_running_text(text, speakers)
