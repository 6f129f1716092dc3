"""The README of an archive package: the study's counts and what each file is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import qdaconv
from qdaconv.figures import summary
from qdaconv.model import Project
from qdaconv.plugins.archive.codebook import md_cell
from qdaconv.redaction import Redaction

_FOLDERS = [
    ("original", "The file or folder the package was made from, byte for byte as it was given (with the "
                 "case variables table, when one was joined in)."),
    ("project", "The whole study as a REFI-QDA 1.5 project (.qdpx), checked against the official schema. "
                "Opens in ATLAS.ti, MAXQDA, NVivo, QualCoder and other REFI-QDA programs, and is read by "
                "`qdaconv`."),
    ("tables", "The study as tidy tables, one CSV file per table (UTF-8, with a header row), described by "
               "`datapackage.json` (a Frictionless Data Package: columns, types and keys). Readable by "
               "R, pandas, spreadsheets and `qdaconv`. PDFs, pictures, audio and video are not copied "
               "here: the `path` column of `sources.csv` names each one's file in the `.qdpx` (see "
               "*Media files*)."),
    ("sources", "Every transcript and other text as a plain file: UTF-8 `.txt` (with the `.docx` when "
                "the project has one); `.transcript.txt` files are the transcripts of audio and video "
                "recordings. PDFs, pictures, audio and video are in the `.qdpx` (see *Media files*)."),
    ("notes", "The notes, memos and microstories, one text file each."),
    ("codebook", "The codebook: `codebook.qdc` (REFI-QDA codebook exchange), and `codebook.md` and "
                 "`codebook.html` with the code tree, each code's definition and its counts."),
]
_TAG_FILES = [
    ("README.md", "This file."),
    ("bagit.txt", "Declares the package a BagIt 1.0 bag (RFC 8493)."),
    ("bag-info.txt", "Facts about the package: what it holds, the payload size, the software that made it."),
    ("manifest-sha256.txt", "The SHA-256 checksum of every file under `data/`."),
    ("tagmanifest-sha256.txt", "The SHA-256 checksums of the files at the top level."),
]


@dataclass(slots=True)
class MediaFile:
    """A PDF, picture, audio or video file, which the package holds once: where it is, and its size."""

    source: str
    kind: str
    where: str
    size: int


def _size(path: Path) -> str:
    return _bytes(path.stat().st_size)


def _bytes(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            if unit != "bytes":
                return f"{size:.1f} {unit}"
            return "1 byte" if size == 1 else f"{size} bytes"
        size /= 1024
    return f"{size} bytes"


def deidentified_text(redaction: Redaction) -> str:
    """The README's paragraph on a de-identified package: what was replaced, what was removed, what is not there."""
    fields = len({(item.kind, item.guid, item.field) for item in redaction.replacements})
    text = (f"This is a de-identified copy: the names and places on the depositor's list were replaced in every "
            f"text, name, description and value ({len(redaction.replacements)} replacements in {fields} places), "
            "and every coded excerpt was moved with its words. The original input is not included, and neither "
            "is the log of replacements.")
    if redaction.losses:
        text += " Removed because they cannot be redacted: " + "; ".join(
            f"{item.count} {item.what}" for item in redaction.losses) + "."
    return text


def readme_text(project: Project, src_name: str, src_title: str, data: Path,
                contents: dict[str, list[str]], media: list[MediaFile], deidentified: str | None = None) -> str:
    facts = summary(project)
    lines = [
        f"# {md_cell(project.name)}: archive package",
        "",
        f"This package holds the qualitative study *{md_cell(project.name)}* in open formats, for deposit "
        f"in a data repository. It was made by qdaconv {qdaconv.__version__} from `{md_cell(src_name)}` "
        f"({md_cell(src_title)}).",
        "",
    ]
    if deidentified:
        lines += [md_cell(deidentified), ""]
    if project.description:
        lines += [md_cell(project.description), ""]
    dates = [f"created {project.created.isoformat()}" if project.created else "",
             f"last modified {project.modified.isoformat()}" if project.modified else ""]
    if any(dates):
        lines += [f"The project was {' and '.join(d for d in dates if d)}.", ""]
    lines += ["## The study", "", "| | count |", "|---|---:|"]
    lines += [f"| {label} | {count} |" for label, count in facts.counts]
    lines += ["", "## What each file is", "", "| file or folder | what it is |", "|---|---|"]
    lines += [f"| `{name}` | {text} |" for name, text in _TAG_FILES]
    lines += [f"| `data/{folder}/` | {text} |" for folder, text in _FOLDERS if contents.get(folder)]
    lines += ["", "### Every file under `data/`", "", "| file | size |", "|---|---:|"]
    for folder, _text in _FOLDERS:
        for name in contents.get(folder, []):
            relative = f"{folder}/{name}"
            lines.append(f"| `data/{md_cell(relative)}` | {_size(data / relative)} |")
    if media:
        lines += ["", "### Media files", "",
                  "PDFs, pictures, audio and video can be large, so the package holds each once, in the "
                  "project file (a `.qdpx` is a zip: open it with any unzip tool). The original input keeps "
                  "its own copies, as it was given.", "",
                  "| source | kind | where | size |", "|---|---|---|---:|"]
        lines += [f"| {md_cell(item.source)} | {item.kind} | `{md_cell(item.where)}` | {_bytes(item.size)} |"
                  for item in media]
    lines += [
        "",
        "## Checking the package",
        "",
        "`qdaconv archive --verify PACKAGE` checks every checksum and that the project file and the tables "
        "still describe the same study. Any BagIt tool works too (for example `bagit.py --validate`), and "
        "in the package folder `sha256sum -c manifest-sha256.txt` checks the payload.",
        "",
    ]
    return "\n".join(lines)
