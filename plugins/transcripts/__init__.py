"""The transcripts plugin: reads a folder of .txt, .docx, .vtt and .srt interview transcripts.

One source per transcript file; speaker turns kept as selections coded under a non-codable
"Speakers" code; cases and variables from a file-name pattern and an optional CSV; subtitle
timings become SyncPoints when an audio or video file of the same name sits beside the transcript.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdaconv.errors import ReadError
from qdaconv.files import decode_guess
from qdaconv.formats import Feature, Format, Option
from qdaconv.hookspecs import hookimpl
from qdaconv.model import Project
from qdaconv.plugins.transcripts.build import (
    TRANSCRIPT_SUFFIXES,
    CasePattern,
    FolderBuilder,
    is_listed,
)
from qdaconv.plugins.transcripts.parse import looks_like_transcript

__all__ = ["TranscriptsFolder"]

#: The sniff score of a folder whose files show speaker turns, cues or Word transcripts: above the
#: validator's PROBABLE_CLAIM (the folder is one project unless a file in it claims more), below its
#: CERTAIN_CLAIM (no marker file makes a folder of transcripts certain).
TRANSCRIPTS_CLAIM = 0.8
#: The score of a folder of plain texts that show none of that (notes, READMEs): still readable as
#: sources with --from, but too weak for the validator to take the folder for a project.
PLAIN_TEXT_CLAIM = 0.2
#: How many files, and how many bytes of each, the sniffer looks at.
SNIFF_FILES = 20
SNIFF_BYTES = 64 * 1024


class TranscriptsFolder(Format):
    name = "transcripts-folder"
    title = "Folder of interview transcripts (.txt, .docx, .vtt, .srt)"
    extensions = ()
    folder = True
    capabilities = frozenset({
        Feature.CODES, Feature.CODE_TREE, Feature.DESCRIPTIONS, Feature.VARIABLES, Feature.CASES,
        Feature.TEXT_SOURCES, Feature.RICH_TEXT, Feature.AUDIO_SOURCES, Feature.VIDEO_SOURCES,
        Feature.TRANSCRIPTS, Feature.TEXT_SELECTIONS, Feature.MEDIA_SELECTIONS, Feature.CODINGS,
    })
    options = (
        Option("case_pattern", 'file-name pattern naming the case and variables, e.g. "{case}_interview{wave}"',
               flag=True),
        Option("case_variables", "CSV of case variables: first column the case name, one column per variable",
               flag=True),
        Option("speakers", "comma-separated speaker names; by default a name opening two or more lines is a speaker"),
    )

    def sniff(self, path: Path) -> float:
        try:
            if not path.is_dir():
                return 0.0
            names = [p for p in path.iterdir() if is_listed(p)]
        except OSError:
            return 0.0
        transcripts = sorted((p for p in names if p.suffix.lower() in TRANSCRIPT_SUFFIXES),
                             key=lambda p: p.name.lower())
        if not transcripts:
            return 0.0
        # a tables folder (datapackage.json) may hold a stray .txt: leave it to its own reader
        if any(p.name.lower() == "datapackage.json" for p in names):
            return 0.1
        if any(_shows_turns(p) for p in transcripts[:SNIFF_FILES]):
            return TRANSCRIPTS_CLAIM
        return PLAIN_TEXT_CLAIM

    def read(self, path: Path, **options: Any) -> Project:
        path = Path(path)
        if not path.is_dir():
            raise ReadError(path, "not a folder", hint="pass the folder that holds the transcripts")
        pattern_text = options.get("case_pattern")
        pattern = CasePattern.compile(pattern_text, path) if pattern_text else None
        table = options.get("case_variables")
        builder = FolderBuilder(path, pattern, _speakers(options.get("speakers")))
        project = builder.build(Path(table) if table else None)
        if not project.sources:
            raise ReadError(path, "no .txt, .docx, .vtt or .srt transcripts in this folder")
        return project


def _shows_turns(path: Path) -> bool:
    """Whether a transcript file looks like one: a Word document, or a text with speaker turns or cues."""
    if path.suffix.lower() == ".docx":
        return True  # reading it is slow and needs python-docx; Word files in such a folder are transcripts
    try:
        with open(path, "rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except OSError:
        return False
    text, _encoding = decode_guess(head, partial=len(head) == SNIFF_BYTES)
    if len(head) == SNIFF_BYTES:  # the last line may be cut short
        text = text[: text.rfind("\n") + 1]
    return looks_like_transcript(text)


def _speakers(value: Any) -> frozenset[str] | None:
    if not value:
        return None
    names = value.split(",") if isinstance(value, str) else list(value)
    return frozenset(name.strip() for name in names if name.strip())


@hookimpl
def qdaconv_register_formats(register) -> None:
    register(TranscriptsFolder())
