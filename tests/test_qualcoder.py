"""QualCoder projects: the schema QualCoder creates, every database version, the study and back, safety."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURES, STUDY

import qdaconv
from qdaconv.errors import ReadError
from qdaconv.model import walk_codes, walk_codings, walk_selections

QC = FIXTURES / "qualcoder"
V1, V17 = QC / "interviews-v1.qda", QC / "interviews-v17.qda"

#: The tables and columns, in order, that QualCoder's MainWindow.new_project() (src/qualcoder/__main__.py)
#: creates at database version v17, with coder_names from App.update_coder_names(); read from its source.
NEW_PROJECT_SCHEMA = {
    "project": ["databaseversion", "date", "memo", "about", "bookmarkfile", "bookmarkpos", "codername",
                "recently_used_codes", "avbookmarkfile", "avbookmarkmsec", "avbookmarktextpos"],
    "source": ["id", "name", "fulltext", "mediapath", "memo", "owner", "date", "av_text_id", "risid"],
    "code_image": ["imid", "id", "x1", "y1", "width", "height", "cid", "memo", "date", "owner", "important",
                   "pdf_page"],
    "code_av": ["avid", "id", "pos0", "pos1", "cid", "memo", "date", "owner", "important"],
    "annotation": ["anid", "fid", "pos0", "pos1", "memo", "owner", "date"],
    "attribute_type": ["name", "date", "owner", "memo", "caseOrFile", "valuetype"],
    "attribute": ["attrid", "name", "attr_type", "value", "id", "date", "owner"],
    "case_text": ["id", "caseid", "fid", "pos0", "pos1", "owner", "date", "memo"],
    "cases": ["caseid", "name", "memo", "owner", "date"],
    "code_cat": ["catid", "name", "owner", "date", "memo", "supercatid"],
    "code_text": ["ctid", "cid", "fid", "seltext", "pos0", "pos1", "owner", "date", "memo", "avid", "important"],
    "code_name": ["cid", "name", "memo", "catid", "owner", "date", "color", "supercid"],
    "journal": ["jid", "name", "jentry", "date", "owner"],
    "stored_sql": ["title", "description", "grouper", "ssql"],
    "graph": ["grid", "name", "description", "date", "scene_width", "scene_height"],
    "gr_cdct_text_item": ["gtextid", "grid", "x", "y", "supercatid", "catid", "cid", "font_size", "bold",
                          "isvisible", "displaytext"],
    "gr_case_text_item": ["gcaseid", "grid", "x", "y", "caseid", "font_size", "bold", "color", "displaytext"],
    "gr_file_text_item": ["gfileid", "grid", "x", "y", "fid", "font_size", "bold", "color", "displaytext"],
    "gr_free_text_item": ["gfreeid", "grid", "freetextid", "x", "y", "free_text", "font_size", "bold", "color",
                          "tooltip", "ctid", "memo_ctid", "memo_imid", "memo_avid"],
    "gr_cdct_line_item": ["glineid", "grid", "fromcatid", "fromcid", "tocatid", "tocid", "color", "linewidth",
                          "linetype", "isvisible", "label", "arrow_mode"],
    "gr_free_line_item": ["gflineid", "grid", "fromfreetextid", "fromcatid", "fromcid", "fromcaseid", "fromfileid",
                          "fromimid", "fromavid", "tofreetextid", "tocatid", "tocid", "tocaseid", "tofileid",
                          "toimid", "toavid", "color", "linewidth", "linetype", "label", "arrow_mode"],
    "gr_memo_item": ["gmemoid", "grid", "memo_source_type", "memo_source_id", "x", "y", "color", "font_size"],
    "gr_pix_item": ["grpixid", "grid", "imid", "x", "y", "px", "py", "w", "h", "filepath", "tooltip", "pdf_page"],
    "gr_av_item": ["gr_avid", "grid", "avid", "x", "y", "pos0", "pos1", "filepath", "tooltip", "color"],
    "ris": ["risid", "tag", "longtag", "value"],
    "manage_files_display": ["mfid", "name", "tblrows", "tblcolumns", "owner"],
    "files_filter": ["filterid", "name", "filter", "owner"],
    "coder_names": ["name", "visibility"],
}
VIEWS = {"code_image_visible", "code_text_visible", "code_av_visible", "annotation_visible"}
#: The unique constraints QualCoder relies on (duplicate names are refused by the database itself).
UNIQUE = {"source": ["name"], "code_name": ["name"], "code_cat": ["name"], "cases": ["name"], "journal": ["name"],
          "graph": ["name"], "stored_sql": ["title"], "coder_names": ["name"],
          "code_text": ["cid", "fid", "pos0", "pos1", "owner"], "annotation": ["fid", "pos0", "pos1", "owner"],
          "attribute": ["name", "attr_type", "id"]}


def _schema(database: Path) -> tuple[dict[str, list[str]], set[str]]:
    connection = sqlite3.connect(database)
    try:
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        views = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'view'")}
        return {table: [row[1] for row in connection.execute(f"PRAGMA table_info({table})")] for table in tables}, views
    finally:
        connection.close()


def _digests(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def study_in_qualcoder(tmp_path_factory) -> tuple[Path, qdaconv.formats.LossReport]:
    target = tmp_path_factory.mktemp("qc") / "study.qda"
    report = qdaconv.write(qdaconv.read(STUDY), target)
    return target, report


# ---------------------------------------------------------------- what is written


def test_written_database_has_exactly_qualcoders_new_project_schema(study_in_qualcoder):
    target, _report = study_in_qualcoder
    assert {p.name for p in target.iterdir()} == {"data.qda", "documents", "images", "audio", "video"}
    tables, views = _schema(target / "data.qda")
    assert tables == NEW_PROJECT_SCHEMA
    assert views == VIEWS
    connection = sqlite3.connect(target / "data.qda")
    version, about, codername = connection.execute("SELECT databaseversion, about, codername FROM project").fetchone()
    assert version == "v17" and "QualCoder" in about and codername == "Helen Carter"
    assert connection.execute("SELECT count(*) FROM project").fetchone() == (1,)
    for table, columns in UNIQUE.items():
        indexes = [row[1] for row in connection.execute(f"PRAGMA index_list({table})") if row[2]]
        assert any([r[2] for r in connection.execute(f"PRAGMA index_info('{index}')")] == columns
                   for index in indexes) or (table == "coder_names"), table
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    connection.close()


def test_the_study_is_written_as_qualcoder_keeps_its_work(study_in_qualcoder):
    target, report = study_in_qualcoder
    connection = sqlite3.connect(target / "data.qda")
    count = {table: connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
             for table in ("source", "code_name", "code_cat", "code_text", "cases", "case_text", "journal",
                           "annotation", "attribute_type")}
    assert count == {"source": 24, "code_name": 26, "code_cat": 9, "code_text": 341, "cases": 12, "case_text": 48,
                     "journal": 53, "annotation": 101, "attribute_type": 8}
    # positions are code points of fulltext: every coded excerpt is the text at its place
    for fulltext, seltext, start, end in connection.execute(
            "SELECT fulltext, seltext, pos0, pos1 FROM code_text JOIN source ON source.id = code_text.fid"):
        assert fulltext[start:end] == seltext and seltext
    # an annotation holds its note's text, which is a journal
    journals = {text for (text,) in connection.execute("SELECT jentry FROM journal")}
    assert all(memo in journals for (memo,) in connection.execute("SELECT memo FROM annotation"))
    connection.close()
    lost = {(item.what, item.detail): item.count for item in report.items}
    assert lost[("code colours", "colours of code groups: QualCoder's categories have none")] == 9
    assert lost[("sets", "")] == 10 and lost[("links", "")] == 52 and lost[("graphs", "")] == 2
    assert ("coded text excerpts", "") not in lost and ("cases", "") not in lost


def test_code_names_are_made_unique_and_said_so(tmp_path):
    project = qdaconv.read(STUDY)
    codes = [entry.code for entry in walk_codes(project) if entry.code.codable]
    codes[1].name = codes[2].name = codes[0].name.upper()
    report = qdaconv.write(project, tmp_path / "dup.qda")
    assert any(item.what == "codes" and "unique" in item.detail and item.count == 2 for item in report.items)
    names = [name for (name,) in sqlite3.connect(tmp_path / "dup.qda" / "data.qda").execute(
        "SELECT name FROM code_name")]
    assert len(names) == len({name.lower() for name in names}) == 26
    back = qdaconv.read(tmp_path / "dup.qda")
    assert sum(1 for _ in walk_codings(back)) == 341


def test_study_to_qualcoder_and_back_differs_only_in_what_the_loss_report_names(tmp_path, cli):
    target, back = tmp_path / "study.qda", tmp_path / "back.qdpx"
    written = cli("convert", str(STUDY), str(target))
    assert written.returncode == 0, written.stderr
    assert cli("convert", str(target), str(back)).returncode == 0
    done = cli("diff", str(STUDY), str(back), "--match", "content", "--json")
    assert done.returncode == 1, done.stderr
    changes = json.loads(done.stdout)["changes"]
    named = {"set": "sets", "link": "links", "graph": "graphs", "vertex": "graphs", "edge": "graphs"}
    for change in changes:
        if change["kind"] in named:
            assert change["action"] == "removed" and f"{named[change['kind']]}" in written.stderr
        elif change["kind"] == "project":
            assert "project name, origin" in written.stderr
        else:  # colours of code groups and note links from codes are named; nothing else may change
            fields = set(change["fields"])
            assert change["action"] == "changed" and fields <= {"color", "note_refs"}, change
            assert ("code colours" in written.stderr if "color" in fields else "note attachments" in written.stderr)
    assert sum(change["kind"] == "code" and "color" in change["fields"] for change in changes) == 9
    study, again = qdaconv.read(STUDY), qdaconv.read(back)
    assert len(again.sources) == 24 and len(again.notes) == 53 and len(again.cases) == 12
    assert sum(1 for _ in walk_codings(again)) == sum(1 for _ in walk_codings(study)) == 341
    assert sorted(len(case.source_refs) for case in again.cases) == sorted(len(c.source_refs) for c in study.cases)


# ---------------------------------------------------------------- what is read


def test_reads_a_version_1_project(tmp_path):
    project = qdaconv.read(V1)
    assert project.native["qualcoder"]["databaseversion"] == "v1" and project.name == "interviews-v1"
    assert project.description.startswith("Two leaders")
    tree = {" > ".join(entry.path): entry.code.codable for entry in walk_codes(project)}
    assert tree["Connecting > Relational connecting > Cups of tea"] is True
    assert tree["Connecting > Relational connecting"] is False
    anna = next(s for s in project.sources if s.name == "Anna.txt")
    # the original's CR LF line ends come back from documents/Anna.txt, the positions with them
    assert "\r\n" in anna.text
    texts = {sel.name or anna.text[sel.start:sel.end]: sel for sel in anna.selections}
    both = texts["the workstreams were not aligned"]
    assert len(both.codings) == 2 and len({c.creating_user for c in both.codings}) == 2
    assert texts["agreeing the vision 🙂"].description == "the emoji counts as one"
    journal = next(note for note in project.notes if note.name == "Analysis notes")
    assert both.note_refs == [journal.guid]  # the annotation repeating the journal is a link to it
    loose = next(note for note in project.notes if note.name is None)
    assert loose.text == "Check the timeline with Neil." and texts["Slower than I hoped"].note_refs == [loose.guid]
    pair = next(case for case in project.cases if case.name == "Anna & Neil")
    assert len(pair.source_refs) == 2 and pair.variable_values[0].value == "system"
    solo = next(case for case in project.cases if case.name == "Anna")
    assert anna.text[texts["Anna: Honestly?"].start:texts["Anna: Honestly?"].end] == "Anna: Honestly?"
    assert solo.selection_refs == [texts["Anna: Honestly?"].guid] and solo.variable_values == []
    types = {variable.name: variable.type for variable in project.variables}
    assert types == {"level": "Text", "wave": "Integer", "minutes": "Float"}
    picture = next(s for s in project.sources if s.kind == "Picture")
    assert picture.file.read_bytes().startswith(b"\x89PNG") and picture.selections[0].second_x == 3
    audio = next(s for s in project.sources if s.kind == "Audio")
    assert (audio.selections[0].start, audio.selections[0].end) == (1000, 4000)
    assert {user.name for user in project.users} == {"colin", "maria"}


def test_reads_a_version_17_project_with_sub_codes_pdfs_and_transcripts():
    project = qdaconv.read(V17)
    tree = {" > ".join(entry.path) for entry in walk_codes(project)}
    assert "Connecting > Relational connecting > Cups of tea > Listening" in tree
    audio = next(s for s in project.sources if s.kind == "Audio")
    transcript = audio.transcripts[0]
    assert transcript.name == "huddle.wav.txt" and "huddle.wav.txt" not in {s.name for s in project.sources}
    selection = transcript.selections[0]
    points = {p.guid: p.position for p in transcript.sync_points}
    assert transcript.text[points[selection.from_sync]:points[selection.to_sync]] == "The clinic pilot starts Monday."
    pdf = next(s for s in project.sources if s.kind == "PDF")
    assert pdf.file.read_bytes().startswith(b"%PDF") and pdf.representation.text == "Minutes of the programme board"
    assert pdf.selections[0].kind == "PDF" and pdf.selections[0].page == 0
    important = [c for _s, _sel, c in walk_codings(project) if c.native["qualcoder"]["important"]]
    assert len(important) == 1
    maria = next(user for user in project.users if user.name == "maria")
    assert maria.native["qualcoder"]["visibility"] == 0


def test_a_loop_of_parents_puts_its_codes_at_the_top(tmp_path):
    folder = tmp_path / "loop.qda"
    shutil.copytree(V17, folder)
    connection = sqlite3.connect(folder / "data.qda")
    connection.execute("UPDATE code_cat SET supercatid = 3 WHERE catid = 1")
    connection.execute("UPDATE code_cat SET supercatid = 1 WHERE catid = 3")
    connection.execute("UPDATE code_name SET supercid = cid")
    connection.commit()
    connection.close()
    project = qdaconv.read(folder)
    assert sum(1 for _ in walk_codes(project)) == 8
    assert {code.name for code in project.codes} == {"Connecting", "Disconnection", "Listening"}

def test_two_reads_give_the_same_guids():
    first, second = qdaconv.read(V17), qdaconv.read(V17)
    assert [s.guid for s in first.sources] == [s.guid for s in second.sources]
    assert [sel.guid for _s, sel in walk_selections(first)] == [sel.guid for _s, sel in walk_selections(second)]
    assert qdaconv.diff(first, second).same


@pytest.mark.parametrize("fixture", [V1, V17, QC / "study.qda"], ids=lambda p: p.name)
def test_qualcoder_to_qualcoder_keeps_the_work(fixture, tmp_path):
    original = qdaconv.read(fixture)
    qdaconv.write(original, tmp_path / "again.qda")
    result = qdaconv.diff(original, qdaconv.read(tmp_path / "again.qda"), match="content")
    assert [c.kind for c in result.changes] == ["project"], result.render_text()  # its name is the folder's


def test_qualcoder_to_refi_is_schema_valid(tmp_path, cli):
    for fixture in (V1, V17):
        out = tmp_path / f"{fixture.stem}.qdpx"
        assert cli("convert", str(fixture), str(out)).returncode == 0
        checked = cli("validate", str(out))
        assert checked.returncode == 0, checked.stdout


def test_detected_by_content_as_a_folder_or_its_database():
    assert qdaconv.detect(V1).name == "qualcoder-project"
    assert qdaconv.detect(V17 / "data.qda").name == "qualcoder-project"
    assert qdaconv.detect(QC / "study.qda").name == "qualcoder-project"


def test_linked_files_outside_the_project_need_allow_external(tmp_path):
    outside = tmp_path / "elsewhere.docx"
    outside.write_bytes(b"PK\x03\x04 not really a docx")
    project_folder = tmp_path / "linked.qda"
    shutil.copytree(V17, project_folder)
    connection = sqlite3.connect(project_folder / "data.qda")
    connection.execute("UPDATE source SET mediapath = ? WHERE name = 'external.docx'", (f"docs:{outside}",))
    connection.commit()
    connection.close()
    kept = qdaconv.read(project_folder)
    linked = next(s for s in kept.sources if s.name == "external.docx")
    assert linked.rich_file is None and linked.rich_text_path == f"absolute://{outside.as_posix()}"
    assert any(w.rule == "QUALCODER-FILE-EXTERNAL" for w in kept.warnings)
    allowed = qdaconv.read(project_folder, allow_external=True)
    assert next(s for s in allowed.sources if s.name == "external.docx").rich_file.read_bytes() == outside.read_bytes()


# ---------------------------------------------------------------- safety


def test_the_input_is_unchanged_byte_for_byte(tmp_path):
    folder = tmp_path / "in.qda"
    shutil.copytree(V17, folder)
    before = _digests(folder)
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*")}
    qdaconv.read(folder)
    qdaconv.convert(folder, tmp_path / "out.qdpx")
    assert _digests(folder) == before
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*")} == stamps


def _crash_mid_transaction(database: Path) -> None:
    """Leave a hot journal: a process changes the database and dies before committing."""
    script = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA cache_size=1')\n"
        "c.execute('BEGIN')\n"
        "c.execute(\"UPDATE source SET name = name || ' (unsaved)', fulltext = fulltext || zeroblob(20000)\")\n"
        "os._exit(0)\n")
    subprocess.run([sys.executable, "-c", script, str(database)], check=True)


def test_a_hot_journal_is_neither_applied_nor_changed(tmp_path):
    folder = tmp_path / "crashed.qda"
    shutil.copytree(V17, folder)
    _crash_mid_transaction(folder / "data.qda")
    journal = folder / "data.qda-journal"
    assert journal.exists() and journal.stat().st_size > 0
    before = _digests(folder)
    project = qdaconv.read(folder)
    assert "Anna.txt" in {s.name for s in project.sources}  # the last committed state, not the half-done change
    assert _digests(folder) == before


def test_a_locked_database_is_refused_clearly(tmp_path, cli):
    folder = tmp_path / "busy.qda"
    shutil.copytree(V17, folder)
    script = ("import sqlite3, sys, time\n"
              "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "c.execute('BEGIN EXCLUSIVE')\n"
              "c.execute(\"UPDATE source SET memo = 'x'\")\n"
              "print('locked', flush=True)\n"
              "time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(folder / "data.qda")], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        done = cli("info", str(folder))
        assert done.returncode == 2 and "locked" in done.stderr and "Traceback" not in done.stderr
    finally:
        holder.kill()
        holder.wait()


def _foreign(path: Path) -> Path:
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (id integer primary key, body text)")
    connection.commit()
    connection.close()
    return path


@pytest.mark.parametrize("case", ["foreign", "foreign-named", "truncated", "garbage", "empty-folder", "not-sqlite"])
def test_hostile_damaged_and_foreign_sqlite_exit_2(case, tmp_path, cli):
    args: list[str] = []
    if case == "foreign":
        target = _foreign(tmp_path / "other.sqlite3")
        expect = "without QualCoder's tables"
        args = ["--from", "qualcoder-project"]
    elif case == "foreign-named":
        folder = tmp_path / "other.qda"
        folder.mkdir()
        _foreign(folder / "data.qda")
        target, expect = folder, "without QualCoder's tables"
    elif case == "truncated":
        folder = tmp_path / "cut.qda"
        shutil.copytree(V17, folder)
        data = (folder / "data.qda").read_bytes()
        (folder / "data.qda").write_bytes(data[: len(data) // 3])
        target, expect = folder, "damaged"
    elif case == "garbage":
        folder = tmp_path / "secret.qda"
        folder.mkdir()
        (folder / "data.qda").write_bytes(bytes(range(256)) * 64)  # what an encrypted database looks like
        target, expect = folder, "not a SQLite database"
    elif case == "empty-folder":
        target = tmp_path / "nothing.qda"
        target.mkdir()
        expect, args = "no data.qda", ["--from", "qualcoder-project"]
    else:
        target = tmp_path / "data.qda"
        target.write_text("hello", encoding="utf-8")
        expect = "not a SQLite database"
    done = cli("convert", str(target), str(tmp_path / "out.qdpx"), *args)
    assert done.returncode == 2, done.stderr
    assert expect in done.stderr and str(target.name) in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.qdpx").exists()


def test_values_of_the_wrong_type_or_encoding_are_read_without_a_traceback(tmp_path, cli):
    folder = tmp_path / "odd.qda"
    shutil.copytree(V17, folder)
    connection = sqlite3.connect(folder / "data.qda")
    connection.execute("UPDATE code_text SET pos0 = 'abc' WHERE rowid = 1")
    connection.execute("UPDATE code_image SET x1 = 'zz', width = 2.6")
    connection.execute("UPDATE source SET name = CAST(x'4e65696cff' AS TEXT) WHERE name = 'Neil'")
    connection.execute("UPDATE source SET memo = x'00ff10' WHERE name = 'Anna.txt'")
    connection.execute("UPDATE code_name SET name = 42 WHERE name = 'Listening'")
    connection.execute('CREATE TABLE "x""); DROP TABLE source; --" (a)')
    connection.commit()
    connection.close()
    done = cli("info", str(folder))
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    project = qdaconv.read(folder)
    assert "Neil\ufffd" in {source.name for source in project.sources}
    assert "42" in {entry.code.name for entry in walk_codes(project)}
    assert any(w.rule == "QUALCODER-DANGLING" for w in project.warnings)

def test_a_foreign_sqlite_file_is_recognised_and_refused_without_from(tmp_path, cli):
    target = _foreign(tmp_path / "notes.db")
    done = cli("info", str(target))
    assert done.returncode == 2 and "Traceback" not in done.stderr and "notes.db" in done.stderr
    with pytest.raises(ReadError, match="without QualCoder's tables"):
        qdaconv.read(target, "qualcoder-project")


def test_sniffing_never_raises_on_odd_paths(tmp_path):
    from qdaconv.plugins.qualcoder import QualCoderProject

    fmt = QualCoderProject()
    (tmp_path / "dir.qda").mkdir()
    for path in (tmp_path / "missing.qda", tmp_path / "dir.qda", tmp_path):
        assert 0.0 <= fmt.sniff(path) <= 1.0
    assert fmt.sniff(V17) == fmt.sniff(V17 / "data.qda") == 1.0
    assert fmt.sniff(STUDY) == 0.0


def test_a_qualcoder_project_is_archived_and_verifies(tmp_path, cli):
    package = tmp_path / "package.zip"
    made = cli("archive", str(V17), str(package))
    assert made.returncode == 0, made.stderr
    checked = cli("archive", "--verify", str(package))
    assert checked.returncode == 0 and "project and tables agree" in checked.stdout
