"""The tidy tables (CSV folder, .csv.zip, xlsx): exact round trips of every model field, samples, the study."""

from __future__ import annotations

import csv
import dataclasses
import json
import zipfile
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from conftest import FIXTURES, SAMPLES

import qdaconv
from qdaconv.formats import ALL_FEATURES
from qdaconv.model import (
    Blob,
    Case,
    Code,
    Coding,
    Edge,
    Graph,
    Link,
    Project,
    Selection,
    Set,
    Source,
    SyncPoint,
    User,
    Variable,
    VariableValue,
    Vertex,
)
from qdaconv.registry import default_registry

UTC = UTC
CEST = timezone(timedelta(hours=2))
NOTE = "8D2A8E0B-1C2D-4E5F-8A9B-0C1D2E3F4A5B"
NOTE2 = "{9e3b9f1c-2d3e-4f60-9bac-1d2e3f4a5b6c}"
PDF_SEL = "95916796-D0A0-4B49-80B0-5A5C8B94AE13"  # shared by a PDF selection and a text selection, as ATLAS.ti does


def g(n: int) -> str:
    """A GUID-shaped id, distinct per n."""
    return f"00000000-0000-4000-8000-{n:012d}"


def full_project() -> Project:
    """A project that uses every kind of object and field the model has, with the awkward values too."""
    anna, neil = User(g(1), "Anna", "anna"), User(g(2), None, "u2")
    connecting = Code(g(10), "Connecting", codable=False, color="#AA3300", description="", note_refs=[NOTE])
    relational = Code(g(11).lower(), "relational", description="=SUM(A1)")
    purpose = Code("{" + g(12) + "}", "with purpose", color="#00ff00")
    practice = Code(g(13), "'quoted' and -dash", description="@mention\r\nsecond line")
    connecting.children = [relational, purpose, practice]
    tricky = Code(g(14), "+plus", description="tab\tinside _x000D_ literal")
    codes = [connecting, tricky, Code(g(15), "")]

    variables = [Variable(g(20), "role"), Variable(g(21), "consent", "Boolean"), Variable(g(22), "wave", "Integer"),
                 Variable(g(23), "score", "Float", "a decimal"), Variable(g(24), "born", "Date"),
                 Variable(g(25), "interviewed", "DateTime")]
    values = [VariableValue(g(20), "Text", "Director"), VariableValue(g(21), "Boolean", False),
              VariableValue(g(22), "Integer", -3), VariableValue(g(23), "Float", Decimal("2.50")),
              VariableValue(g(24), "Date", date(1970, 1, 31)),
              VariableValue(g(25), "DateTime", datetime(2019, 3, 1, 9, 30, 5, 123456, tzinfo=CEST)),
              VariableValue(g(20), "Text", ""), VariableValue(g(22), "Integer", None)]

    text = "Interviewer: Hello \u201cAnna\u201d \U0001F600\r\nAnna: We connect.\r\n"
    raw = b"\xef\xbb\xbf" + text.encode("utf-8")
    interview = Source(
        g(30), "Text", "Anna 1", "first interview", plain_text_path="internal://" + g(30) + ".txt",
        plain_file=Blob("sources/" + g(30) + ".txt", data=raw), rich_text_path="internal://" + g(31) + ".docx",
        rich_file=Blob("sources/" + g(31) + ".docx", data=b"PK\x03\x04 docx bytes \x00\xff"),
        note_refs=[NOTE, NOTE2], variable_values=values[:3],
        creating_user=g(1), created=datetime(2024, 5, 31, 14, 3, tzinfo=UTC), modifying_user=g(2),
        modified=datetime(2024, 6, 1, 8, 0))
    interview.selections = [
        Selection(g(40), "PlainText", "hello", None, 13, 25, creating_user=g(1),
                  created=datetime(2024, 6, 2, tzinfo=UTC), note_refs=[NOTE],
                  codings=[Coding(g(41), g(11).lower(), g(1), datetime(2024, 6, 2, 1, tzinfo=UTC), [NOTE2]),
                           Coding(g(42), g(13), g(2)),
                           Coding(g(43), "DEADBEEF-0000-4000-8000-000000000000")]),
        Selection(g(44), "PlainText", "", "", 0, 0),
    ]
    interview.codings = [Coding(g(45), g(14), None, None)]

    representation = Source(g(51), "Representation", "report.txt", plain_text="The report's text, inline.",
                            plain_text_path=None)
    representation.selections = [Selection(PDF_SEL, "PlainText", start=4, end=10,
                                           codings=[Coding(g(52), g(12))])]
    pdf = Source(g(50), "PDF", "report", path="internal://" + g(50) + ".pdf",
                 current_path="absolute:///C:/data/report.pdf",
                 file=Blob("sources/" + g(50) + ".pdf", data=b"%PDF-1.4 binary \x00\x01"),
                 representation=representation)
    pdf_rep = Source(g(54), "Representation", plain_text="boxed text")
    pdf.selections = [Selection(PDF_SEL, "PDF", "box", page=2, first_x=10, first_y=20, second_x=300, second_y=400,
                                representation=pdf_rep, codings=[Coding(g(53), g(10))])]

    picture = Source(g(60), "Picture", "photo", path="internal://" + g(60) + ".png",
                     file=Blob("photo.png", data=b"\x89PNG\r\n\x1a\n"),
                     text_description=Source(g(61), "TextDescription", "caption", plain_text="A ward at night."))
    picture.selections = [Selection(g(62), "Picture", first_x=0, first_y=0, second_x=5, second_y=5)]

    transcript = Source(g(71), "Transcript", "Audio transcript", plain_text_path="internal://" + g(71) + ".txt",
                        plain_file=Blob("t.txt", data=b"00:00 Hello.\n00:05 Bye.\n"))
    transcript.sync_points = [SyncPoint(g(72), 0, 0), SyncPoint(g(73), 12, 5000), SyncPoint(g(74), None, None)]
    transcript.selections = [Selection(g(75), "Transcript", from_sync=g(72), to_sync=g(73),
                                       codings=[Coding(g(76), g(11).lower())])]
    audio = Source(g(70), "Audio", "recording", path="relative:///audio/rec.m4a", transcripts=[transcript])
    audio.selections = [Selection(g(77), "Audio", start=1000, end=2500)]
    second = Source(g(79), "Transcript", "second transcript", plain_text="")
    video = Source(g(78), "Video", "video", path="internal://" + g(78) + ".mp4",
                   file=Blob("v.mp4", data=bytes(range(256)) * 40), transcripts=[second],
                   variable_values=[VariableValue(g(21), "Boolean", True), VariableValue(g(99), "Text", "dangling")])
    video.selections = [Selection(g(80), "Video", start=0, end=10, modifying_user=g(2),
                                  modified=datetime(2020, 1, 1, tzinfo=UTC))]

    notes = [Source(NOTE, "Note", "microstory", plain_text="Anna connects =people=.\n", description=None,
                    creating_user=g(1)),
             Source(NOTE2, "Note", "memo", plain_text_path="internal://" + g(90) + ".txt",
                    plain_file=Blob(g(90) + ".txt", data=b"-memo text\n"))]
    cases = [Case(g(100), "Anna", "a director", code_refs=[g(10)], variable_values=values,
                  source_refs=[g(30), g(70)], selection_refs=[g(40)]),
             Case(g(101), "Neil"), Case(g(102), None, "")]
    sets = [Set(g(110), "Interviews", "first wave", member_codes=[g(11).lower()], member_sources=[g(30), g(50)],
                member_notes=[NOTE]), Set(g(111), "empty set")]
    links = [Link(g(120), "leads to", "OneWay", "#123456", g(11).lower(), g(12), [NOTE]), Link(g(121))]
    graphs = [Graph(g(130), "Connecting", [Vertex(g(131), 0, 0, 100, 50, g(10), "Connecting", "Rectangle", "#FF0000"),
                                           Vertex(g(132), -5, 7)],
                    [Edge(g(133), g(131), g(132), None, "part of", None, "OneWay", "dotted")]),
              Graph(g(134))]
    return Project(
        name="Study =1", origin="qdaconv test", creating_user=g(1), created=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        modifying_user=g(2), modified=datetime(2024, 2, 3), base_path="", description="-",
        users=[anna, neil], codes=codes, variables=variables, cases=cases,
        sources=[interview, pdf, picture, audio, video], notes=notes, links=links, sets=sets, graphs=graphs,
        note_refs=[NOTE2, NOTE])


def exact(obj: Any) -> Any:
    """A comparable form that keeps everything the model says: order, None vs '', value types, bytes.

    Blobs compare by their bytes (not by where they are); datetimes by their ISO text, so the
    offset counts; every value carries its type name, so True is not 1 and Decimal is not float.
    """
    if isinstance(obj, Blob):
        return ("Blob", obj.read_bytes())
    if dataclasses.is_dataclass(obj):
        return (type(obj).__name__,
                tuple((f.name, exact(getattr(obj, f.name))) for f in dataclasses.fields(obj) if f.name != "warnings"))
    if isinstance(obj, list):
        return [exact(item) for item in obj]
    if isinstance(obj, (datetime, date)):
        return (type(obj).__name__, obj.isoformat())
    return (type(obj).__name__, obj)


def first_difference(a: Any, b: Any, where: str = "") -> str | None:
    """Where two `exact` forms first differ, for a readable assertion message."""
    if type(a) is not type(b):
        return f"{where}: {a!r} != {b!r}"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{where}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{where}[{i}]" if not (isinstance(x, tuple) and len(x) == 2
                                                                    and isinstance(x[0], str)) else f"{where}.{x[0]}")
            if found:
                return found
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


# ---------------------------------------------------------------- round trips

CONTAINERS = {"folder": ("out", "tables-csv"), "csv.zip": ("out.csv.zip", "tables-csv"),
              "xlsx": ("out.xlsx", "tables-xlsx")}


def round_trip(project: Project, tmp_path: Path, container: str) -> Project:
    name, fmt = CONTAINERS[container]
    tmp_path.mkdir(parents=True, exist_ok=True)
    target = tmp_path / name
    report = qdaconv.write(project, target)  # the format is chosen by the path, as for a user
    assert report.lossless, report.summary()
    assert qdaconv.detect(target).name == fmt
    return qdaconv.read(target)


def assert_exact(a: Project, b: Project) -> None:
    result = qdaconv.diff(a, b)
    assert result.same, result.render_text()
    left, right = exact(a), exact(b)
    assert left == right, first_difference(left, right)


@pytest.mark.parametrize("container", CONTAINERS)
def test_every_model_field_comes_back_exactly(container, tmp_path):
    project = full_project()
    back = round_trip(project, tmp_path, container)
    assert_exact(project, back)
    assert not back.warnings


def test_the_exact_comparison_sees_small_changes():
    a, b = full_project(), full_project()
    b.sources[0].variable_values[1].value = 0  # False -> 0: equal in Python, not in the model
    assert exact(a) != exact(b)
    b = full_project()
    b.cases[2].description = None  # "" -> None
    assert exact(a) != exact(b)
    b = full_project()
    b.created = b.created.astimezone(CEST)  # the same instant, another offset
    assert exact(a) != exact(b)


def test_frames_round_trip_exactly():
    project = full_project()
    frames = qdaconv.to_frames(project)
    assert_exact(project, qdaconv.from_frames(frames))


def _qdpx_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".qdpx", ".qde", ".qdc"))


def _sample_ids():
    return [p.relative_to(SAMPLES).as_posix() for p in _qdpx_files(SAMPLES)] if SAMPLES.is_dir() else []


@pytest.mark.parametrize("sample", _sample_ids())
def test_samples_round_trip_through_both_containers(sample, samples_dir, tmp_path):
    original = qdaconv.read(samples_dir / sample)
    for container in ("csv.zip", "xlsx"):
        assert_exact(original, round_trip(original, tmp_path / container.replace(".", "-"), container))


def test_the_study_round_trips_and_converts_back_to_refi(study_path, tmp_path):
    original = qdaconv.read(study_path)
    for container in CONTAINERS:
        folder = tmp_path / container.replace(".", "-")
        back = round_trip(original, folder, container)
        assert_exact(original, back)
        qdaconv.write(back, folder / "again.qdpx")
        assert qdaconv.diff(original, qdaconv.read(folder / "again.qdpx")).same


def test_the_edge_fixtures_round_trip(tmp_path):
    for fixture in sorted((FIXTURES / "edge").glob("*.qdpx")):
        original = qdaconv.read(fixture)
        for container in CONTAINERS:
            assert_exact(original, round_trip(original, tmp_path / fixture.stem, container))


# ---------------------------------------------------------------- the containers themselves


def test_registry_defaults_to_the_tables(tmp_path):
    registry = default_registry()
    assert registry.for_target(tmp_path / "study.xlsx").name == "tables-xlsx"
    assert registry.for_target(tmp_path / "study.csv.zip").name == "tables-csv"
    assert registry.for_target(tmp_path / "study").name == "tables-csv"
    for name in ("tables-csv", "tables-xlsx"):
        assert registry.get(name).capabilities == ALL_FEATURES


def test_csv_folder_layout_and_datapackage(tmp_path):
    target = tmp_path / "study"
    qdaconv.write(full_project(), target)
    package = json.loads((target / "datapackage.json").read_text(encoding="utf-8"))
    assert package["qdaconv"]["layout"] == "qdaconv-tables"
    for resource in package["resources"]:
        with open(target / resource["path"], encoding="utf-8", newline="") as stream:
            header = next(csv.reader(stream))
        assert header == [field["name"] for field in resource["schema"]["fields"]]
        assert resource["encoding"] == "utf-8"
    with open(target / "sources.csv", encoding="utf-8", newline="") as stream:
        rows = list(csv.DictReader(stream))
    interview = next(row for row in rows if row["name"] == "Anna 1")
    assert (target / interview["text_file"]).read_bytes().startswith(b"\xef\xbb\xbf")  # the bytes as they were
    assert interview["text_length"] == str(len(full_project().sources[0].text))
    assert (target / interview["rich_file"]).read_bytes() == b"PK\x03\x04 docx bytes \x00\xff"
    with open(target / "codes.csv", encoding="utf-8", newline="") as stream:
        codes = list(csv.DictReader(stream))
    assert [c["path"] for c in codes][:3] == ["Connecting", "Connecting > relational", "Connecting > with purpose"]


def test_a_zipped_folder_reads_too(tmp_path):
    folder = tmp_path / "study"
    qdaconv.write(full_project(), folder)
    archive = tmp_path / "mine.csv.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in folder.rglob("*"):
            if path.is_file():
                out.write(path, "study/" + path.relative_to(folder).as_posix())
    assert qdaconv.detect(archive).name == "tables-csv"
    assert_exact(full_project(), qdaconv.read(archive))


def test_workbook_has_frozen_headers_and_a_sheet_per_table(tmp_path):
    target = tmp_path / "study.xlsx"
    qdaconv.write(full_project(), target)
    workbook = openpyxl.load_workbook(target)
    assert workbook.sheetnames[:3] == ["project", "users", "codes"]
    assert workbook.sheetnames[-1] == "files"
    codes = workbook["codes"]
    assert codes.freeze_panes == "A2"
    assert codes["A1"].font.b
    header = [cell.value for cell in codes[1]]
    assert header == ["guid", "name", "parent", "path", "codable", "color", "description"]
    assert codes.column_dimensions["D"].width >= len("Connecting > with purpose")
    assert codes["E2"].value is False and codes["E2"].data_type == "b"


# ---------------------------------------------------------------- formulas and escapes

RISKY = ["=1+1", "+1", "-x", "@SUM(A1)", "'quoted", "''", "", "\tTAB", "-5", "=HYPERLINK(\"http://x\")"]


@pytest.mark.parametrize("container", CONTAINERS)
def test_formula_like_texts_come_back_unchanged(container, tmp_path):
    project = Project(name="=cmd|' /C calc'!A0", codes=[Code(g(i), text, description=text)
                                                       for i, text in enumerate(RISKY)])
    back = round_trip(project, tmp_path, container)
    assert [(c.name, c.description) for c in back.codes] == [(t, t) for t in RISKY]
    assert back.name == project.name


def test_no_cell_in_the_workbook_is_a_formula(tmp_path):
    project = Project(name="=1+1", codes=[Code(g(i), text) for i, text in enumerate(RISKY)])
    target = tmp_path / "risky.xlsx"
    qdaconv.write(project, target)
    workbook = openpyxl.load_workbook(target)
    kinds = {cell.data_type for sheet in workbook for row in sheet.iter_rows() for cell in row}
    assert "f" not in kinds
    names = [row[1] for row in workbook["codes"].iter_rows(min_row=2, values_only=True)]
    assert names[0] == "'=1+1" and names[4] == "''quoted" and names[6] == "'"


def test_csv_cells_that_could_run_are_escaped(tmp_path):
    target = tmp_path / "study"
    qdaconv.write(Project(codes=[Code(g(i), text) for i, text in enumerate(RISKY)]), target)
    with open(target / "codes.csv", encoding="utf-8", newline="") as stream:
        names = [row["name"] for row in csv.DictReader(stream)]
    for name in names:
        assert not name.startswith(("=", "+", "@", "\t")), name
    assert "-5" in names  # a negative number cannot run, and stays a number for R and pandas


def test_a_formula_typed_into_a_sheet_is_read_as_its_text(tmp_path):
    target = tmp_path / "study.xlsx"
    qdaconv.write(full_project(), target)
    workbook = openpyxl.load_workbook(target)
    workbook["codes"]["G2"] = "=1+1"  # a real formula cell, as a user would type it
    workbook.save(target)
    assert openpyxl.load_workbook(target)["codes"]["G2"].data_type == "f"
    back = qdaconv.read(target)
    assert back.codes[0].description == "=1+1"


# ---------------------------------------------------------------- the command line


def test_cli_converts_to_the_workbook_and_back(cli, tmp_path):
    source = tmp_path / "study.qdpx"
    qdaconv.write(full_project(), source)
    done = cli("convert", str(source), str(tmp_path / "study.xlsx"))
    assert done.returncode == 0, done.stderr
    done = cli("convert", str(tmp_path / "study.xlsx"), str(tmp_path / "tables"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "tables" / "datapackage.json").is_file()
    done = cli("convert", str(tmp_path / "tables"), str(tmp_path / "back.qdpx"))
    assert done.returncode == 0, done.stderr
    done = cli("diff", str(source), str(tmp_path / "back.qdpx"))
    assert done.returncode == 0, done.stdout + done.stderr
