"""The tidy tables against the study's XML, both opened without qdaconv (lxml, csv, openpyxl).

`qdaconv convert study.qdpx` to CSV and to Excel claims to be lossless. Here the tables are read
with the csv module and openpyxl and compared with the project.qde read with lxml: every coding
with its code, coder, selection and time; every selection with its positions and the excerpt its
positions give in the source's text; every code with its parent; every note link.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parent.parent
STUDY = ROOT / "fixtures" / "study.qdpx"


def key(guid: str | None) -> str:
    return (guid or "").strip().strip("{}").lower()


def when(value: object) -> datetime | None:
    if value in (None, ""):
        return None
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class StudyXml:
    """What the study says, read with lxml alone."""

    def __init__(self, path: Path) -> None:
        with zipfile.ZipFile(path) as archive:
            self.root = etree.fromstring(archive.read("project.qde"))
            texts = {name.split("/")[-1].lower(): archive.read(name).decode("utf-8-sig")
                     for name in archive.namelist() if name.startswith("sources/") and name.endswith(".txt")}
        self.codings: set[tuple] = set()
        self.selections: dict[str, tuple] = {}
        for source in self.root.iter("{*}TextSource"):
            text = texts.get(source.get("plainTextPath", "").removeprefix("internal://").lower(), "")
            for selection in source.iter("{*}PlainTextSelection"):
                start, end = int(selection.get("startPosition")), int(selection.get("endPosition"))
                self.selections[key(selection.get("guid"))] = (key(source.get("guid")), start, end, text[start:end])
                for coding in selection.iter("{*}Coding"):
                    code = coding.find("{*}CodeRef").get("targetGUID")
                    self.codings.add((key(coding.get("guid")), key(selection.get("guid")), key(code),
                                      key(coding.get("creatingUser")), when(coding.get("creationDateTime"))))
        self.codes = {key(code.get("guid")): (code.get("name"), key(code.getparent().get("guid"))
                                              if local(code.getparent().tag) == "Code" else "")
                      for code in self.root.iter("{*}Code")}
        self.note_refs = sum(1 for _ in self.root.iter("{*}NoteRef"))
        self.notes = sum(1 for _ in self.root.iterfind("{*}Notes/{*}Note"))


def tables_from_csv(path: Path) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(path) as archive:
        return {name[:-4]: list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
                for name in archive.namelist() if name.endswith(".csv")}


def tables_from_xlsx(path: Path) -> dict[str, list[dict[str, object]]]:
    book = openpyxl.load_workbook(path, read_only=True)
    tables = {}
    for sheet in book.worksheets:
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            continue
        tables[sheet.title] = [{str(h): ("" if v is None else v) for h, v in zip(header, row, strict=False)}
                               for row in rows]
    book.close()
    return tables


@pytest.fixture(scope="module")
def study() -> StudyXml:
    return StudyXml(STUDY)


@pytest.fixture(scope="module", params=["study.csv.zip", "study.xlsx"])
def tables(request, tmp_path_factory) -> dict[str, list[dict]]:
    target = tmp_path_factory.mktemp("tables") / request.param
    done = subprocess.run([sys.executable, "-m", "qdaconv", "convert", str(STUDY), str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return tables_from_csv(target) if request.param.endswith(".zip") else tables_from_xlsx(target)


def test_every_coding_with_its_code_coder_selection_and_time(study: StudyXml, tables) -> None:
    rows = {(key(r["guid"]), key(r["selection"]), key(r["code"]), key(r["coder"]), when(r["created"]))
            for r in tables["codings"]}
    assert len(tables["codings"]) == len(study.codings)
    assert rows == study.codings


def test_every_selection_with_its_positions_and_excerpt(study: StudyXml, tables) -> None:
    rows = {key(r["guid"]): (key(r["source"]), int(r["start"]), int(r["end"]), r["excerpt"])
            for r in tables["segments"] if r["kind"] == "PlainText"}
    assert rows == study.selections


def test_every_code_with_its_parent_and_every_note_link(study: StudyXml, tables) -> None:
    codes = {key(r["guid"]): (r["name"], key(r["parent"])) for r in tables["codes"]}
    # a parent may be written as a path of names; compare by GUID where it is one
    by_name = {name: guid for guid, (name, _parent) in study.codes.items()}
    resolved = {guid: (name, parent if parent in study.codes else by_name.get(str(parent).split(" > ")[-1], parent))
                for guid, (name, parent) in codes.items()}
    assert resolved == study.codes
    assert len(tables["note_links"]) == study.note_refs
    assert len(tables["notes"]) == study.notes
