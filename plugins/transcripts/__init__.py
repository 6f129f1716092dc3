"""The transcripts plugin: reads a folder of .txt, .docx, .vtt and .srt interview transcripts.

One source per transcript file; speaker turns kept as selections coded under a non-codable
"Speakers" code; cases and variables from a file-name pattern and an optional CSV; subtitle
timings become SyncPoints when an audio or video file of the same name sits beside the transcript.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdaconv.errors import ReadError
from qdaconv.formats import Feature, Format
from qdaconv.hookspecs import hookimpl
from qdaconv.model import Project
from qdaconv.plugins.transcripts.build import (
    TRANSCRIPT_SUFFIXES,
    CasePattern,
    FolderBuilder,
    is_listed,
)

__all__ = ["TranscriptsFolder"]


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
    options = {
        "case_pattern": 'file-name pattern naming the case and variables, e.g. "{case}_interview{wave}"',
        "case_variables": "CSV of case variables: first column the case name, one column per variable",
        "speakers": "comma-separated speaker names; by default a name opening two or more lines is a speaker",
    }

    def sniff(self, path: Path) -> float:
        try:
            if not path.is_dir():
                return 0.0
            names = [p for p in path.iterdir() if is_listed(p)]
        except OSError:
            return 0.0
        transcripts = [p for p in names if p.suffix.lower() in TRANSCRIPT_SUFFIXES]
        if not transcripts:
            return 0.0
        # a tables folder (datapackage.json) may hold a stray .txt: leave it to its own reader
        if any(p.name.lower() == "datapackage.json" for p in names):
            return 0.1
        return 0.6

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


def _speakers(value: Any) -> frozenset[str] | None:
    if not value:
        return None
    names = value.split(",") if isinstance(value, str) else list(value)
    return frozenset(name.strip() for name in names if name.strip())


@hookimpl
def qdaconv_register_formats(register) -> None:
    register(TranscriptsFolder())
