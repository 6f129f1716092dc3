"""What the core owns for every plugin: the segment-case rule, text decoding, checked options,
staged side files, stale temporaries, and no process-wide side effects."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import warnings
import zipfile

import pytest
from conftest import FIXTURES, STUDY

import qdaconv
from qdaconv import api
from qdaconv.errors import FormatError, LossError
from qdaconv.files import decode_guess, decode_text
from qdaconv.model import Case, Code, Coding, Project, Selection, Source, coded_segments
from qdaconv.plugins.report import render_report
from qdaconv.plugins.report.stats import code_case_matrix
from qdaconv.values import css_color, normal_color, parse_bool

VENDORS = FIXTURES / "vendors"


def _g(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def case_rule_project() -> Project:
    """p1 names source one; p2 names one of its selections; p3 and p4 both name source two."""
    alpha, beta = Code(_g(1), "alpha"), Code(_g(2), "beta")
    one = Source(_g(10), name="one", plain_text="first part. second part.", selections=[
        Selection(_g(11), start=0, end=11, codings=[Coding(_g(12), alpha.guid)]),
        Selection(_g(13), start=12, end=24, codings=[Coding(_g(14), beta.guid)]),
    ])
    two = Source(_g(20), name="two", plain_text="third part", codings=[Coding(_g(21), beta.guid)], selections=[
        Selection(_g(22), start=0, end=5, codings=[Coding(_g(23), alpha.guid)]),
    ])
    cases = [Case(_g(30), "p1", source_refs=[one.guid]), Case(_g(31), "p2", selection_refs=[_g(13)]),
             Case(_g(32), "p3", source_refs=[two.guid]), Case(_g(33), "p4", source_refs=[two.guid.lower()])]
    return Project(name="cases", codes=[alpha, beta], sources=[one, two], cases=cases)


#: coding GUID -> the cases its segment belongs to, by the documented rule
EXPECTED_CASES = {_g(12): ("p1",), _g(14): ("p2",), _g(21): ("p3", "p4"), _g(23): ("p3", "p4")}


def test_segment_cases_follow_one_rule_in_the_api_the_tables_and_the_report(tmp_path):
    project = case_rule_project()
    names = {case.guid: case.name for case in project.cases}
    api_cases = {s.coding_guid: tuple(names[g] for g in s.case_guids) for s in coded_segments(project)}
    assert api_cases == EXPECTED_CASES
    assert {s.coding_guid: s.case for s in coded_segments(project)} == {k: v[0] for k, v in EXPECTED_CASES.items()}

    # the workbook: written, read back, and its analysis frame
    workbook = tmp_path / "cases.xlsx"
    qdaconv.write(project, workbook)
    frame = qdaconv.to_frames(qdaconv.read(workbook))["coded_segments"]
    assert dict(zip(frame["coding_guid"], frame["case"], strict=True)) == {k: v[0] for k, v in EXPECTED_CASES.items()}

    # the report: a coding counts once for each of its cases
    codes, case_names, matrix = code_case_matrix(project)
    cells = {(entry.code.name, case): count for entry, row in zip(codes, matrix, strict=True)
             for case, count in zip(case_names, row, strict=True) if count}
    assert cells == {("alpha", "p1"): 1, ("beta", "p2"): 1, ("alpha", "p3"): 1, ("alpha", "p4"): 1,
                     ("beta", "p3"): 1, ("beta", "p4"): 1}
    assert "p4" in render_report(project)


def test_a_selection_without_an_end_has_no_excerpt_anywhere():
    project = case_rule_project()
    project.sources[0].selections[0].end = None
    segment = next(s for s in coded_segments(project) if s.coding_guid == _g(12))
    assert segment.text is None and segment.start == 0
    frame = qdaconv.to_frames(project)["coded_segments"]
    assert frame.loc[frame["coding_guid"] == _g(12), "text"].isna().all()


# ---------------------------------------------------------------- text and values


def test_decoding_honours_byte_order_marks():
    text = "Grüße, 😟\r\nzweite Zeile"
    for encoding in ("utf-8-sig", "utf-16", "utf-16-be", "utf-32"):
        raw = text.encode(encoding)
        if encoding == "utf-16-be":
            raw = b"\xfe\xff" + raw
        assert decode_text(raw) == text
        assert decode_guess(raw)[0] == text
    assert decode_guess("café".encode("cp1252")) == ("café", "cp1252")
    with pytest.raises(UnicodeDecodeError):
        decode_guess("café".encode("cp1252"), fallback=None)


def test_a_utf16_source_given_with_sources_is_read_as_text(tmp_path, cli):
    sources = tmp_path / "sources"
    sources.mkdir()
    for path in (VENDORS / "sources").iterdir():
        (sources / path.name).write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    target = tmp_path / "out.qdpx"
    result = cli("convert", str(VENDORS / "maxqda-segments.xlsx"), str(target), "--option", f"sources={sources}")
    assert result.returncode == 0, result.stderr
    anna = next(s for s in qdaconv.read(target).sources if s.name == "Anna interview 1")
    assert anna.text == (VENDORS / "sources" / "Anna interview 1.txt").read_text(encoding="utf-8")
    assert anna.selections and all(anna.text[s.start:s.end] for s in anna.selections)
    assert "VENDOR-ENCODING" not in result.stderr


def test_one_yes_no_and_one_colour_parser():
    assert [parse_bool(w) for w in ("yes", "TRUE", "1", "x", "ja", "no", "0", "falsch", "maybe", "")] == \
        [True, True, True, True, True, False, False, False, None, None]
    assert parse_bool("yes", xsd=True) is None and parse_bool(" true ", xsd=True) is True
    assert normal_color("#3366cc") == ("#3366CC", None)
    assert normal_color("3366CC80")[0] == "#3366CC"
    assert normal_color("rgb(51, 102, 204)")[0] == normal_color("51;102;204")[0] == "#3366CC"
    assert css_color('red" onclick="x', "#FFFFFF") == "#FFFFFF"


# ---------------------------------------------------------------- options


def test_unknown_option_is_an_error_that_lists_the_valid_ones(tmp_path, cli):
    result = cli("convert", str(STUDY), str(tmp_path / "out.qdpx"), "--option", "profle=nvivo")
    assert result.returncode == 2
    assert "unknown option 'profle'" in result.stderr and "did you mean 'profile'" in result.stderr
    assert "positions" in result.stderr and "max_ratio" in result.stderr and "text_files" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out.qdpx").exists()


def test_ill_typed_option_is_a_clean_error(tmp_path, cli):
    result = cli("convert", str(STUDY), str(tmp_path / "out.qdpx"), "--option", "max_ratio=abc")
    assert result.returncode == 2
    assert "max_ratio='abc'" in result.stderr and "expected a number" in result.stderr
    assert "internal error" not in result.stderr


def test_reader_and_writer_options_go_to_their_own_side(tmp_path, monkeypatch):
    seen = {}
    registry = api._registry(None)
    qdpx, csv_tables = registry.get("refi-qdpx"), registry.get("tables-csv")
    read, write = type(qdpx).read, type(csv_tables).write

    def spy_read(self, path, **options):
        seen["read"] = options
        return read(self, path, **options)

    def spy_write(self, project, path, **options):
        seen["write"] = options
        return write(self, project, path, **options)

    monkeypatch.setattr(type(qdpx), "read", spy_read)
    monkeypatch.setattr(type(csv_tables), "write", spy_write)
    qdaconv.convert(STUDY, tmp_path / "tables", positions="codepoint", max_ratio="300")
    assert seen == {"read": {"positions": "codepoint", "max_ratio": 300.0}, "write": {}}
    with pytest.raises(FormatError, match="reader refi-qdpx or writer tables-csv"):
        qdaconv.convert(STUDY, tmp_path / "again", inline_text=True)


def test_named_flags_map_to_options(tmp_path, cli):
    result = cli("convert", str(STUDY), str(tmp_path / "nv.qdpx"), "--profile", "nvivo", "--positions", "auto")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "nv.qdpx") as archive:
        assert b"(positions: utf16" in archive.read("project.qde")
    helped = cli("convert", "--help")
    assert "--case-pattern" in helped.stdout and "--allow-external" in helped.stdout
    assert "transcripts-folder" in helped.stdout  # the flag says which format declares it


def test_formats_json_lists_each_formats_options(cli):
    rows = {row["name"]: row for row in json.loads(cli("formats", "--json").stdout)}
    options = {option["name"]: option for option in rows["refi-qdpx"]["options"]}
    assert options["max_ratio"]["type"] == "number" and options["max_ratio"]["read"] is True
    assert options["profile"]["write"] is True and options["profile"]["read"] is False
    assert {o["name"] for o in rows["transcripts-folder"]["options"]} == {"case_pattern", "case_variables", "speakers"}
    assert all({"name", "type", "default", "help", "read", "write"} <= set(o) for r in rows.values()
               for o in r["options"])


# ---------------------------------------------------------------- atomic writes


def test_a_failing_strict_qde_write_leaves_nothing(tmp_path):
    """The writer finds the loss (a character XML cannot hold) only while writing, after its files."""
    project = case_rule_project()
    project.codes[0].name = "alpha\x01"
    target = tmp_path / "out" / "project.qde"
    target.parent.mkdir()
    with pytest.raises(LossError, match="characters XML cannot hold"):
        qdaconv.write(project, target, strict=True, text_files=True)
    assert list(target.parent.iterdir()) == []
    qdaconv.write(project, target, text_files=True)
    assert sorted(p.name for p in target.parent.iterdir()) == ["project.qde", "sources"]
    assert len(list((target.parent / "sources").iterdir())) == 2


def test_a_qde_and_its_sources_are_committed_together_or_not_at_all(tmp_path, monkeypatch):
    project = case_rule_project()
    target = tmp_path / "project.qde"

    def fail(temporary, final):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(api, "commit_output", fail)
    with pytest.raises(qdaconv.WriteError, match="No space left"):
        qdaconv.write(project, target, text_files=True)
    assert list(tmp_path.iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.skipif(os.name != "posix", reason="processes are told apart by pid on POSIX systems only")
def test_stale_temporaries_of_dead_processes_are_removed_with_a_warning(tmp_path, cli):
    alive = api.temporary_path(tmp_path / "kept.qdpx")
    alive.write_bytes(b"mine, still being written")
    dead_pid = _dead_pid()
    stale_name = alive.name.replace(f"-{os.getpid()}-", f"-{dead_pid}-").replace("kept", "old")
    stale = tmp_path / stale_name
    stale.write_bytes(b"left by a killed conversion")
    stale_folder = tmp_path / stale_name.replace(".qdpx", ".qde")
    (stale_folder / "sources").mkdir(parents=True)
    foreign = tmp_path / ".qdaconv-notes.txt"
    foreign.write_text("not ours")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        qdaconv.write(case_rule_project(), tmp_path / "new.qdpx")
    assert not stale.exists() and not stale_folder.exists()
    assert alive.exists() and foreign.exists()
    messages = [str(w.message) for w in caught if issubclass(w.category, qdaconv.QdaconvWarning)]
    assert len(messages) == 2 and all(str(dead_pid) in m for m in messages)

    stale.write_bytes(b"again")
    result = cli("convert", str(STUDY), str(tmp_path / "cli.qdpx"))
    assert result.returncode == 0, result.stderr
    assert f"qdaconv: warning: removed {stale}" in result.stderr and not stale.exists()


# ---------------------------------------------------------------- no process-wide side effects


def test_importing_and_reading_tables_changes_nothing_for_the_process(tmp_path):
    script = f"""
import csv, gc
before = csv.field_size_limit()
import qdaconv, qdaconv.plugins.tables, qdaconv.plugins.refi
assert csv.field_size_limit() == before, "import"
project = qdaconv.read({str(STUDY)!r})
assert gc.isenabled(), "gc after a REFI read"
qdaconv.write(project, {str(tmp_path / 't.csv.zip')!r})
qdaconv.read({str(tmp_path / 't.csv.zip')!r})
assert csv.field_size_limit() == before, "read"
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert csv.field_size_limit() == 131072


def test_reading_an_export_twice_gives_the_same_guids():
    """Vendor exports have no GUIDs: they are made from what identifies each object in the export."""
    def guids(project: Project) -> list[str]:
        return [s.coding_guid for s in coded_segments(project)] + [s.source_guid for s in coded_segments(project)]

    path = VENDORS / "maxqda-segments.xlsx"
    first, second = qdaconv.read(path, sources=VENDORS / "sources"), qdaconv.read(path, sources=VENDORS / "sources")
    assert guids(first) == guids(second) and len(set(guids(first))) > 10
    assert qdaconv.diff(first, second).same


def test_the_open_zip_cache_is_bounded_and_closable(tmp_path):
    from qdaconv.files import close_open_zips, open_zips
    from qdaconv.model import Blob

    blobs = []
    for number in range(open_zips.keep + 4):
        path = tmp_path / f"z{number}.zip"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("a.txt", f"text {number}")
        blobs.append(Blob("a.txt", zip_path=str(path), member="a.txt"))
    assert [blob.read_bytes() for blob in blobs] == [f"text {n}".encode() for n in range(len(blobs))]
    assert len(open_zips.archives) == open_zips.keep
    close_open_zips()
    assert not open_zips.archives and blobs[0].read_bytes() == b"text 0"


def test_zip_names_lists_a_zip_once_and_again_when_it_changes(tmp_path):
    from qdaconv.files import zip_names

    path = tmp_path / "a.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", "<Project/>")
    assert zip_names(path) == ("project.qde",)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("sources/a.txt", "text")
    os.utime(path, ns=(1, 1))  # a file changed within the clock's tick is still seen anew: its size differs too
    assert zip_names(path) == ("project.qde", "sources/a.txt")
    (tmp_path / "b.qdpx").write_bytes(b"PK\x03\x04 not really a zip")
    assert zip_names(tmp_path / "b.qdpx") is None and zip_names(tmp_path) is None
    assert zip_names(tmp_path / "missing.zip") is None
