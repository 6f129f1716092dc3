"""The vendor exports against qdaconv's reading, with the spreadsheets opened by csv and openpyxl alone.

For each coded-segment layout: every row's codes (split as the program writes several in a cell)
are codings in the project, and every row's text is the text of a coded excerpt, both placed in
the documents (with the sources folder) and in stand-in sources made of the excerpts (without).
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import openpyxl
import pytest

import qdaconv
from qdaconv.model import coded_segments

VENDORS = Path(__file__).resolve().parent.parent / "fixtures" / "vendors"
SOURCES = str(VENDORS / "sources")

#: file -> (column of the codes, column of the text, how several codes share a cell)
LAYOUTS = {
    "atlasti-quotations.xlsx": ("Codes", "Quotation Content", "\n"),
    "atlasti-quotations-tab.csv": ("Codes", "Quotation Content", "\n"),
    "atlasti-quotations-semicolon.csv": ("Codes", "Quotation Content", "\n"),
    "maxqda-segments.xlsx": ("Code", "Segment", None),
    "maxqda24-segments.xlsx": ("Code", "Segment", None),
    "maxqda-segments-de.csv": ("Code", "Segment", None),
    "dedoose-excerpts.xlsx": ("Codes Applied Combined", "Excerpt Copy", ", "),
    "qualcoder-segments.csv": ("Codename", "Coded", None),
    "taguette-highlights.csv": ("tag", "content", None),
}


def rows_of(path: Path) -> list[dict[str, str]]:
    if path.suffix == ".xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        values = list(sheet.iter_rows(values_only=True))
        header = [str(h) for h in values[0]]
        return [{h: "" if v is None else str(v) for h, v in zip(header, row, strict=False)} for row in values[1:]]
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
    return list(csv.DictReader(text.splitlines(keepends=True), dialect=dialect))


def expected(name: str) -> tuple[int, Counter]:
    code_column, text_column, separator = LAYOUTS[name]
    codings, texts = 0, Counter()
    for row in rows_of(VENDORS / name):
        if row.get("Id", "").startswith(("avid:", "imid:")):
            continue  # QualCoder's codings of a whole picture or recording: no text (tested below)
        codes = [c for c in (row[code_column].split(separator) if separator else [row[code_column]]) if c.strip()]
        codings += len(codes)
        texts[" ".join(row[text_column].split())] += len(codes)
    return codings, texts


@pytest.mark.parametrize("placed", [True, False], ids=["with-sources", "stand-ins"])
@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_every_row_is_a_coding_of_its_text(name: str, placed: bool) -> None:
    codings, texts = expected(name)
    options = {"sources": SOURCES} if placed else {}
    segments = [s for s in coded_segments(qdaconv.read(VENDORS / name, **options)) if s.text is not None]
    found = Counter(" ".join(s.text.split()) for s in segments)
    assert len(segments) == codings
    assert found == texts


def test_qualcoder_media_rows_code_the_whole_file() -> None:
    media = [row for row in rows_of(VENDORS / "qualcoder-segments.csv") if row["Id"].startswith(("avid:", "imid:"))]
    project = qdaconv.read(VENDORS / "qualcoder-segments.csv", sources=SOURCES)
    whole = [s for s in coded_segments(project) if s.selection_guid is None]
    assert len(whole) == len(media) > 0
