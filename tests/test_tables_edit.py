"""Tables edited by hand come back as exactly those edits; bad edits and hostile files are clear errors."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from test_tables import full_project, g

import qdaconv
from qdaconv.errors import ReadError
from qdaconv.model import guid_key, walk_codes


def _workbook(tmp_path: Path) -> Path:
    target = tmp_path / "study.xlsx"
    qdaconv.write(full_project(), target)
    return target


def _rows(sheet) -> list[list]:
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def _column(sheet, name: str) -> int:
    return [cell.value for cell in sheet[1]].index(name) + 1


def test_workbook_edits_come_back_as_exactly_those_changes(tmp_path):
    original = full_project()
    target = _workbook(tmp_path)
    workbook = openpyxl.load_workbook(target)
    # add a code: no GUID, its parent given by path
    workbook["codes"].append([None, "honest broker", "Connecting", None, True, "#123456", "in vivo"])
    # recode a segment: the code given by its path
    codings = workbook["codings"]
    row = next(r for r in range(2, codings.max_row + 1) if codings.cell(r, 1).value == g(42))
    codings.cell(row, _column(codings, "code"), "Connecting > with purpose")
    # rename a case
    cases = workbook["cases"]
    row = next(r for r in range(2, cases.max_row + 1) if cases.cell(r, 2).value == "Neil")
    cases.cell(row, 2, "Neil B.")
    workbook.save(target)

    back = qdaconv.read(target)
    changes = qdaconv.diff(original, back).changes
    summary = sorted((c.kind, c.action, tuple(sorted(c.fields))) for c in changes)
    assert summary == [("case", "changed", ("name",)), ("code", "added", ()), ("coding", "changed", ("code",))]
    new = next(e for e in walk_codes(back) if e.code.name == "honest broker")
    assert new.path == ("Connecting", "honest broker")
    assert re.fullmatch(r"[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[0-9A-F]{4}-[0-9A-F]{12}", new.code.guid)
    assert new.code.color == "#123456" and new.code.description == "in vivo"
    recoded = back.sources[0].selections[0].codings[1]
    assert recoded.guid == g(42) and guid_key(recoded.code) == guid_key(g(12))
    assert back.cases[1].name == "Neil B."


def test_csv_edits_come_back_too(tmp_path):
    original = full_project()
    folder = tmp_path / "study"
    qdaconv.write(original, folder)
    with open(folder / "codes.csv", "a", encoding="utf-8", newline="") as stream:
        # no GUID and no parent: the path column alone places it
        csv.writer(stream).writerow(["", "distance", "", "Connecting > relational > distance", "", "", ""])
    with open(folder / "codings.csv", encoding="utf-8", newline="") as stream:
        rows = list(csv.reader(stream))
    code = rows[0].index("code")
    rows[2][code] = ""  # an empty code falls back to the code_path column
    rows[2][rows[0].index("code_path")] = "+plus"
    with open(folder / "codings.csv", "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows(rows)
    back = qdaconv.read(folder)
    summary = sorted((c.kind, c.action) for c in qdaconv.diff(original, back).changes)
    assert summary == [("code", "added"), ("coding", "changed")]
    added = next(e for e in walk_codes(back) if e.code.name == "distance")
    assert added.path == ("Connecting", "relational", "distance") and added.code.codable is True


@pytest.mark.parametrize(("sheet", "column", "value", "message"), [
    ("codings", "code", "Connecting > nothing", "no code has the GUID, path or name 'Connecting > nothing'"),
    ("codings", "source", "no such interview", "no source or note has the GUID or name"),
    ("codings", "selection", g(999), "no selection has the GUID"),
    ("codes", "parent", "Nowhere", "no code has the GUID, path or name 'Nowhere'"),
    ("codes", "codable", "perhaps", "expected true or false"),
    ("segments", "start", "ten", "expected a whole number"),
    ("values", "owner", "Nobody", "no case has the GUID or name 'Nobody'"),
    ("sources", "text_file", "files/missing.txt", "the file 'files/missing.txt' is not there"),
])
def test_a_broken_reference_names_sheet_row_and_column(tmp_path, sheet, column, value, message):
    target = _workbook(tmp_path)
    workbook = openpyxl.load_workbook(target)
    cell = workbook[sheet].cell(3, _column(workbook[sheet], column))
    cell.value = value
    workbook.save(target)
    with pytest.raises(ReadError) as caught:
        qdaconv.read(target)
    text = str(caught.value)
    assert message in text
    assert f"{sheet}!{cell.coordinate} (column {column!r})" in text


def test_csv_errors_name_file_row_and_column(tmp_path):
    folder = tmp_path / "study"
    qdaconv.write(full_project(), folder)
    with open(folder / "case_members.csv", "a", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerow(["Anna", "code", "Not > A code", ""])
    with open(folder / "case_members.csv", encoding="utf-8", newline="") as stream:
        last = sum(1 for _ in csv.reader(stream))
    with pytest.raises(ReadError, match=rf"case_members.csv row {last}, column 'member'"):
        qdaconv.read(folder)


def test_codes_whose_parents_loop_are_refused(tmp_path):
    target = _workbook(tmp_path)
    workbook = openpyxl.load_workbook(target)
    codes = workbook["codes"]
    codes.cell(2, 3, g(11).lower())  # Connecting under its own child
    workbook.save(target)
    with pytest.raises(ReadError, match="loop"):
        qdaconv.read(target)


# ---------------------------------------------------------------- hostile input


def test_a_file_reference_cannot_leave_the_folder(tmp_path):
    folder = tmp_path / "study"
    qdaconv.write(full_project(), folder)
    (tmp_path / "secret.txt").write_text("private")
    text = (folder / "sources.csv").read_text(encoding="utf-8")
    first = re.search(r"files/[^,]+\.txt", text).group()
    (folder / "sources.csv").write_text(text.replace(first, "../secret.txt", 1), encoding="utf-8")
    with pytest.raises(ReadError, match=r"climbs out"):
        qdaconv.read(folder)


def test_a_link_out_of_the_folder_is_not_followed(tmp_path):
    folder = tmp_path / "study"
    qdaconv.write(full_project(), folder)
    (tmp_path / "secret.txt").write_text("private")
    victim = next((folder / "files").glob("*.txt"))
    victim.unlink()
    victim.symlink_to(tmp_path / "secret.txt")
    with pytest.raises(ReadError, match="is not there"):
        qdaconv.read(folder)


def test_a_zip_with_escaping_members_is_refused(tmp_path):
    source = tmp_path / "good.csv.zip"
    qdaconv.write(full_project(), source)
    hostile = tmp_path / "bad.csv.zip"
    with zipfile.ZipFile(source) as good, zipfile.ZipFile(hostile, "w") as bad:
        for info in good.infolist():
            bad.writestr(info, good.read(info))
        bad.writestr("../escape.txt", "x")
    with pytest.raises(ReadError, match="unsafe member name"):
        qdaconv.read(hostile, "tables-csv")


def test_a_workbook_that_unpacks_to_far_more_than_its_size_is_refused(tmp_path):
    target = _workbook(tmp_path)
    with zipfile.ZipFile(target, "a", zipfile.ZIP_DEFLATED) as workbook:
        workbook.writestr("xl/padding.bin", bytes(4 * 1024 * 1024))
    with pytest.raises(ReadError, match="compressed more than"):
        qdaconv.read(target, "tables-xlsx")


def test_a_folder_without_tables_is_a_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ReadError, match="no tables here"):
        qdaconv.read(tmp_path, "tables-csv")
