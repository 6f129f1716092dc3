"""Validation on the model (integrity and interoperability rules), validate()'s layers, and the output."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pluggy
import pytest
from lxml import etree

from qdaconv import hookspecs, write
from qdaconv import read as qdaconv_read
from qdaconv.errors import QdaconvError, ReadError
from qdaconv.formats import Format
from qdaconv.hookspecs import hookimpl
from qdaconv.issues import Issue, Severity, info, warning
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
    new_guid,
)
from qdaconv.registry import Registry
from qdaconv.validation import (
    RULES,
    Report,
    expand_paths,
    model_issues,
    render_json,
    render_junit,
    render_text,
    rule_matcher,
    rules_table,
    summary_line,
    validate,
    validate_many,
)

TEXT = ("Interviewer: How did the programme start?\n"
        "Anna: We began with the honest broker idea, and everyone came to the table.\n"
        "Interviewer: And then?\n"
        "Anna: Then the workstreams drifted apart; nobody owned the vision any more.\n")


def words(text: str, phrase: str) -> tuple[int, int]:
    start = text.index(phrase)
    return start, start + len(phrase)


def small_project() -> Project:
    """A small project that breaks no rule: users, a code tree, a text source, a case, a set, a graph."""
    user = User(new_guid(), "Ellen")
    broker = Code(new_guid(), "honest broker")
    drift = Code(new_guid(), "disconnection")
    theme = Code(new_guid(), "Connecting", codable=False, color="#33AA55", children=[broker, drift])
    selections = []
    for phrase, code in (("honest broker", broker), ("workstreams drifted apart", drift)):
        start, end = words(TEXT, phrase)
        selections.append(Selection(new_guid(), start=start, end=end, name=phrase,
                                    codings=[Coding(new_guid(), code.guid, creating_user=user.guid,
                                                    created=datetime(2024, 5, 1, 10, tzinfo=UTC))]))
    source = Source(new_guid(), name="Anna interview 1", plain_text=TEXT, selections=selections,
                    creating_user=user.guid)
    note = Source(new_guid(), kind="Note", name="microstory", plain_text="Anna brought people together.")
    source.note_refs.append(note.guid)
    wave = Variable(new_guid(), "wave", "Integer")
    role = Variable(new_guid(), "role", "Text")
    started = Variable(new_guid(), "started", "Date")
    case = Case(new_guid(), "Anna", source_refs=[source.guid], selection_refs=[selections[0].guid],
                variable_values=[VariableValue(wave.guid, "Integer", 1), VariableValue(role.guid, "Text", "D"),
                                 VariableValue(started.guid, "Date", date(2019, 1, 7))])
    graph = Graph(new_guid(), "Connecting")
    top, child = Vertex(new_guid(), 0, 0, represented=theme.guid), Vertex(new_guid(), 10, 10,
                                                                          represented=broker.guid)
    graph.vertices += [top, child]
    graph.edges.append(Edge(new_guid(), top.guid, child.guid))
    return Project(
        name="small", users=[user], codes=[theme], variables=[wave, role, started], cases=[case],
        sources=[source], notes=[note], sets=[Set(new_guid(), "pair 1", member_sources=[source.guid])],
        links=[Link(new_guid(), "about", origin=note.guid, target=case.guid)], graphs=[graph],
    )


def rules_of(issues: list[Issue], severity: Severity | None = None) -> set[str]:
    return {i.rule for i in issues if severity is None or i.severity is severity}


def test_small_project_is_clean():
    assert model_issues(small_project()) == []


# ------------------------------------------------------------------------------------- integrity


def test_dangling_code_reference():
    project = small_project()
    selection = project.sources[0].selections[0]
    selection.codings[0].code = new_guid()
    issues = model_issues(project)
    assert rules_of(issues) == {"REF-DANGLING"}
    assert issues[0].severity is Severity.ERROR
    assert "Anna interview 1" in issues[0].place and "PlainTextSelection" in issues[0].place


def test_reference_to_the_wrong_kind():
    project = small_project()
    project.cases[0].source_refs = [project.codes[0].guid]  # a case's source pointing at a code
    issues = model_issues(project)
    assert rules_of(issues) == {"REF-WRONG-KIND"}
    assert "is a Code" in issues[0].message


def test_references_compare_guids_without_case_or_braces():
    project = small_project()
    code_guid = project.codes[0].children[0].guid
    project.sources[0].selections[0].codings[0].code = "{" + code_guid.lower() + "}"
    assert model_issues(project) == []


def test_duplicate_guid_of_one_kind_is_an_error_and_across_kinds_a_warning():
    project = small_project()
    first, second = project.sources[0].selections
    second.guid = first.guid
    assert rules_of(model_issues(project), Severity.ERROR) == {"GUID-DUPLICATE"}
    project = small_project()
    project.sets[0].guid = project.users[0].guid
    issues = model_issues(project)
    assert rules_of(issues) == {"GUID-SHARED"}
    assert issues[0].severity is Severity.WARNING


def test_text_both_and_none():
    project = small_project()
    project.sources[0].plain_text_path = "internal://x.txt"
    assert "TEXT-BOTH" in rules_of(model_issues(project), Severity.ERROR)
    project = small_project()
    project.notes[0].plain_text = None
    assert rules_of(model_issues(project)) == {"TEXT-NONE"}


@pytest.mark.parametrize(("start", "end", "expected"), [
    (0, len(TEXT) + 5, "past the end"), (-1, 4, "before the beginning"), (9, 3, "before it starts"),
    (None, 3, "no start"),
])
def test_positions_out_of_range(start, end, expected):
    project = small_project()
    selection = project.sources[0].selections[0]
    selection.start, selection.end = start, end
    issues = [i for i in model_issues(project) if i.rule == "POS-OUT-OF-RANGE"]
    assert len(issues) == 1 and expected in issues[0].message


def test_selection_may_end_at_the_end_of_the_text():
    project = small_project()
    selection = project.sources[0].selections[0]
    selection.start, selection.end = 0, len(TEXT)
    assert "POS-OUT-OF-RANGE" not in rules_of(model_issues(project))


def test_positions_count_code_points_of_a_file_text():
    text = "Emoji 🎉 first, then the honest broker.\n"
    start, end = words(text, "honest broker")
    project = small_project()
    source = project.sources[0]
    source.plain_text, source.plain_text_path = None, "internal://a.txt"
    source.plain_file = Blob("a.txt", data=b"\xef\xbb\xbf" + text.encode())  # with a BOM
    source.selections[0].start, source.selections[0].end = start, end
    source.selections[1].start, source.selections[1].end = 0, len(text)
    assert model_issues(project) == []
    source.selections[1].end = len(text) + 1
    assert rules_of(model_issues(project)) == {"POS-OUT-OF-RANGE"}


def test_media_selections():
    audio = Source(new_guid(), kind="Audio", name="rec", path="internal://rec.m4a",
                   selections=[Selection(new_guid(), kind="Audio", start=500, end=100),
                               Selection(new_guid(), kind="Picture", first_x=10, first_y=10, second_x=5,
                                         second_y=20)])
    issues = model_issues(Project(sources=[audio]))
    assert [i.rule for i in issues] == ["POS-OUT-OF-RANGE", "POS-CORNERS"]
    assert "ms" in issues[0].message and issues[1].severity is Severity.WARNING


def test_transcript_sync_points():
    text = "Speaker: hello there\n"
    points = [SyncPoint(new_guid(), 0, 0), SyncPoint(new_guid(), 8, 1200), SyncPoint(new_guid(), 99, -5)]
    transcript = Source(new_guid(), kind="Transcript", name="t", plain_text=text, sync_points=points,
                        selections=[Selection(new_guid(), kind="Transcript", from_sync=points[1].guid,
                                              to_sync=points[0].guid),
                                    Selection(new_guid(), kind="Transcript", from_sync=points[0].guid,
                                              to_sync=new_guid())])
    video = Source(new_guid(), kind="Video", name="v", path="relative:///v.mp4", transcripts=[transcript])
    issues = model_issues(Project(sources=[video]))
    sync = [i for i in issues if i.rule == "SYNC-OUT-OF-RANGE"]
    assert len(sync) == 2  # position 99 > 21 characters, timestamp -5
    assert {"POS-OUT-OF-RANGE", "REF-DANGLING"} <= rules_of(issues)
    assert all("Transcript" in i.place for i in issues if i.place)


def test_variable_values_of_the_wrong_type():
    project = small_project()
    values = project.cases[0].variable_values
    values[0].type, values[0].value = "Text", "one"  # Integer variable given a text value
    assert rules_of(model_issues(project)) == {"VAR-TYPE"}
    project = small_project()
    project.cases[0].variable_values[0].value = "1"  # typed Integer, but the value is a string
    assert rules_of(model_issues(project)) == {"VAR-TYPE"}
    project = small_project()
    project.variables[0].type = "Number"
    assert "VAR-TYPE" in rules_of(model_issues(project))
    project = small_project()
    project.cases[0].variable_values[2].value = datetime(2019, 1, 7, 9, tzinfo=UTC)  # Date given a datetime
    assert rules_of(model_issues(project)) == {"VAR-TYPE"}


def test_variable_value_types_that_fit():
    project = small_project()
    flag, score, when = (Variable(new_guid(), "flag", "Boolean"), Variable(new_guid(), "score", "Float"),
                         Variable(new_guid(), "when", "DateTime"))
    project.variables += [flag, score, when]
    project.sources[0].variable_values += [VariableValue(flag.guid, "Boolean", False),
                                           VariableValue(score.guid, "Float", Decimal("2.5")),
                                           VariableValue(when.guid, "DateTime", None)]
    assert model_issues(project) == []


def test_unknown_users_are_a_warning_counted_once_per_user():
    project = small_project()
    ghost = new_guid()
    project.creating_user = ghost
    for selection in project.sources[0].selections:
        selection.codings[0].creating_user = ghost
    issues = model_issues(project)
    assert rules_of(issues) == {"REF-USER"}
    assert len(issues) == 1 and "3 references" in issues[0].message


def test_graph_edges_must_join_vertices_of_their_graph():
    project = small_project()
    project.graphs[0].edges[0].target_vertex = new_guid()
    assert rules_of(model_issues(project)) == {"REF-DANGLING"}


# ------------------------------------------------------------------------------ interoperability


def test_colours_times_ids_and_empty_things():
    project = small_project()
    project.codes[0].color = "rgb(1,2,3)"
    project.codes[0].children[0].color = "#abc"
    project.sources[0].selections[0].codings[0].created = datetime(2024, 5, 1, 10)
    project.sets.append(Set(new_guid(), "nothing"))
    project.graphs.append(Graph(new_guid(), "blank"))
    project.users[0].guid = "u1"
    for selection in project.sources[0].selections:
        selection.codings[0].creating_user = "u1"
    project.sources[0].creating_user = "u1"
    issues = model_issues(project)
    assert rules_of(issues) == {"INTEROP-COLOR", "INTEROP-NAIVE-TIME", "INTEROP-EMPTY", "INTEROP-GUID-FORMAT"}
    assert all(i.severity is Severity.WARNING for i in issues)
    assert len([i for i in issues if i.rule == "INTEROP-COLOR"]) == 2


def test_codings_of_a_code_that_is_not_codable():
    project = small_project()
    project.sources[0].selections[0].codings[0].code = project.codes[0].guid
    issues = model_issues(project)
    assert rules_of(issues) == {"INTEROP-UNCODABLE"}
    assert "Connecting" in issues[0].message


def test_excerpts_that_split_words():
    project = small_project()
    selection = project.sources[0].selections[0]
    selection.start += 2  # "nest broker"
    selection.name = None
    issues = model_issues(project)
    assert rules_of(issues) == {"INTEROP-SPLIT-WORD"}
    assert "1 of 2" in issues[0].message


def many_excerpts(text: str, count: int) -> tuple[str, list[tuple[int, int, str]]]:
    """`count` lines with an emoji each, and the code point span and text of each line's phrase."""
    lines = [f"Line {n} 🎉 speaks about the careful plan number {n}.\n" for n in range(count)]
    full = "".join(lines)
    spans = []
    for n in range(count):
        start = full.index(f"the careful plan number {n}.")
        end = start + len(f"the careful plan number {n}")
        spans.append((start, end, full[start:end]))
    return full, spans


def test_positions_that_look_like_utf16_units():
    text, spans = many_excerpts("", 12)
    # positions as NVivo counts them: every emoji before the span counts twice
    utf16 = [(s + text[:s].count("🎉"), e + text[:e].count("🎉"), name) for s, e, name in spans]
    source = Source(new_guid(), name="nvivo", plain_text=text, selections=[
        Selection(new_guid(), start=s, end=e, name=name) for s, e, name in utf16])
    issues = model_issues(Project(sources=[source]))
    assert "INTEROP-POS-UNIT" in rules_of(issues)
    unit = next(i for i in issues if i.rule == "INTEROP-POS-UNIT")
    assert "utf16" in unit.message
    correct = Source(new_guid(), name="ok", plain_text=text, selections=[
        Selection(new_guid(), start=s, end=e, name=name) for s, e, name in spans])
    assert model_issues(Project(sources=[correct])) == []


def test_excerpt_names_that_do_not_match_their_text():
    text, spans = many_excerpts("", 10)
    selections = [Selection(new_guid(), start=s, end=e, name=name) for s, e, name in spans]
    selections[3].name = "an entirely different quotation"
    issues = model_issues(Project(sources=[Source(new_guid(), name="s", plain_text=text, selections=selections)]))
    assert rules_of(issues) == {"INTEROP-EXCERPT-NAME"}
    labels = [Selection(new_guid(), start=s, end=e, name=f"quote {n} of the day") for n, (s, e, _) in
              enumerate(spans)]
    assert model_issues(Project(sources=[Source(new_guid(), name="s", plain_text=text, selections=labels)])) == []


def test_an_empty_text_file():
    project = small_project()
    source = project.sources[0]
    source.plain_text, source.plain_text_path = None, "internal://a.txt"
    source.plain_file = Blob("a.txt", data=b"\n")
    source.selections.clear()
    project.cases[0].selection_refs.clear()
    assert rules_of(model_issues(project)) == {"INTEROP-EMPTY-TEXT"}


def test_missing_text_file_is_noted_not_failed():
    project = small_project()
    source = project.sources[0]
    source.plain_text, source.plain_text_path = None, "internal://gone.txt"
    issues = model_issues(project)
    assert rules_of(issues) == {"TEXT-UNAVAILABLE"}
    assert issues[0].severity is Severity.INFO


# ------------------------------------------------------------------------ validate() and its layers


PROJECTS = {
    "clean": small_project,
    "dangling": lambda: _with_dangling(small_project()),
}


def _with_dangling(project: Project) -> Project:
    project.sources[0].selections[0].codings[0].code = new_guid()
    project.warnings.append(warning("FAKE-ODD", "the reader saw something odd", place="line 3"))
    return project


class FakeFormat(Format):
    """Reads `.fake` files: the content names a project above, or asks for a failure."""

    name = "fake"
    extensions = (".fake",)

    def sniff(self, path: Path) -> float:
        return 1.0 if path.suffix == ".fake" else 0.0

    def read(self, path: Path, **options) -> Project:
        key = path.read_text().strip()
        if key == "read-error":
            raise ReadError(path, "bad header", location="line 1", hint="export it again")
        if key == "bug":
            raise ValueError("unexpected")
        return PROJECTS[key]()

    def check(self, path: Path, **options) -> list[Issue]:
        key = path.read_text().strip()
        if key == "broken":
            return [RULES["ZIP-BROKEN"].issue("not a zip")]
        if key == "check-bug":
            raise RuntimeError("oops")
        return []


class FakePlugin:
    @hookimpl
    def qdaconv_register_formats(self, register):
        register(FakeFormat())

    @hookimpl
    def qdaconv_validate_project(self, project):
        if not project.cases:
            return None
        return [Issue("ORG-NAMES", Severity.WARNING, "case names should be pseudonyms", place="Case")]


class BrokenPlugin:
    @hookimpl
    def qdaconv_validate_project(self, project):
        raise KeyError("boom")


@pytest.fixture
def registry() -> Registry:
    manager = pluggy.PluginManager("qdaconv")
    manager.add_hookspecs(hookspecs)
    manager.register(FakePlugin(), name="fake")
    return Registry(manager)


def fake_file(tmp_path: Path, content: str, name: str | None = None) -> Path:
    path = tmp_path / (name or f"{content}.fake")
    path.write_text(content)
    return path


def test_validate_a_clean_file(tmp_path, registry):
    report = validate(fake_file(tmp_path, "clean"), registry=registry)
    assert report.format == "fake"
    assert report.valid and report.errors == 0
    assert [i.rule for i in report.issues] == ["ORG-NAMES"]  # the plugin's rule
    assert report.warnings == 1 and not report.passes(strict=True)


def test_validate_collects_reader_warnings_model_issues_and_sets_the_file(tmp_path, registry):
    path = fake_file(tmp_path, "dangling")
    report = validate(path, registry=registry)
    assert not report.valid
    assert report.rule_ids() == {"REF-DANGLING", "FAKE-ODD", "ORG-NAMES"}
    assert all(issue.file == str(path) for issue in report.issues)
    assert report.issues[0].severity is Severity.ERROR  # errors first


def test_rule_selection(tmp_path, registry):
    path = fake_file(tmp_path, "dangling")
    assert validate(path, rules=["REF-"], registry=registry).rule_ids() == {"REF-DANGLING"}
    assert validate(path, rules=["ref"], registry=registry).rule_ids() == {"REF-DANGLING"}
    assert validate(path, rules=["ORG-NAMES", "FAKE"], registry=registry).rule_ids() == {"ORG-NAMES", "FAKE-ODD"}
    with pytest.raises(QdaconvError, match="unknown rule"):
        validate(path, rules=["REF-DANGLNG"], registry=registry)
    assert rule_matcher(None)("ANYTHING")


@pytest.mark.parametrize(("content", "name", "rule", "text"), [
    ("read-error", None, "READ-FAILED", "bad header"),
    ("bug", None, "READ-FAILED", "ValueError: unexpected"),
    ("broken", None, "ZIP-BROKEN", "not a zip"),
    ("check-bug", None, "CHECK-FAILED", "RuntimeError: oops"),
    ("clean", "plain.txt", "FORMAT-UNKNOWN", "not a format"),
])
def test_a_bad_file_is_a_report_not_an_exception(tmp_path, registry, content, name, rule, text):
    report = validate(fake_file(tmp_path, content, name), registry=registry)
    assert not report.valid
    assert [i.rule for i in report.issues if i.severity is Severity.ERROR][0] == rule
    assert text in report.issues[0].message


def test_read_error_keeps_its_place_and_hint(tmp_path, registry):
    issue = validate(fake_file(tmp_path, "read-error"), registry=registry).issues[0]
    assert (issue.place, issue.hint, issue.message) == ("line 1", "export it again", "bad header")


def test_a_fatal_check_skips_reading(tmp_path, registry):
    report = validate(fake_file(tmp_path, "broken"), registry=registry)
    assert report.rule_ids() == {"ZIP-BROKEN"}


def test_missing_file(tmp_path, registry):
    report = validate(tmp_path / "nope.fake", registry=registry)
    assert report.rule_ids() == {"READ-FAILED"} and report.format is None


def test_a_failing_plugin_rule_is_isolated(tmp_path, registry):
    registry.manager.register(BrokenPlugin(), name="broken")
    report = validate(fake_file(tmp_path, "clean"), registry=registry)
    assert report.rule_ids() == {"ORG-NAMES", "PLUGIN-FAILED"}
    assert "'broken'" in next(i.message for i in report.issues if i.rule == "PLUGIN-FAILED")


# -------------------------------------------------------------------------------------------- output


def sample_reports() -> list[Report]:
    bad = Report("a.qdpx", "refi-qdpx", [
        Issue("REF-DANGLING", Severity.ERROR, "the code X is not in the project", "a.qdpx",
              "TextSource \"A\"", "Point it to an existing object"),
        Issue("INTEROP-COLOR", Severity.WARNING, "colour 'red' is not #RRGGBB", "a.qdpx", None, None)])
    good = Report("b.qdc", "refi-qdc", [])
    warned = Report("c.qde", "refi-qde", [Issue("INTEROP-PATH", Severity.WARNING, "no scheme", "c.qde", "12")])
    return [bad, good, warned]


def test_render_text():
    text = render_text(sample_reports())
    lines = text.splitlines()
    assert lines[0] == ('a.qdpx:TextSource "A": error REF-DANGLING: the code X is not in the project '
                        "(Point it to an existing object)")
    assert lines[2] == "c.qde:12: warning INTEROP-PATH: no scheme"
    assert lines[-1] == summary_line(sample_reports()) == "3 files checked: 2 valid, 1 with errors, 2 with warnings"


def test_render_json():
    data = json.loads(render_json(sample_reports()))
    assert [d["file"] for d in data] == ["a.qdpx", "b.qdc", "c.qde"]
    assert data[0]["valid"] is False and data[0]["errors"] == 1 and data[0]["warnings"] == 1
    assert data[0]["issues"][0] == {"rule": "REF-DANGLING", "severity": "error",
                                    "message": "the code X is not in the project", "place": 'TextSource "A"',
                                    "hint": "Point it to an existing object"}


@pytest.mark.parametrize(("strict", "failures"), [(False, 1), (True, 2)])
def test_render_junit(strict, failures):
    root = etree.fromstring(render_junit(sample_reports(), strict=strict).encode())
    cases = root.findall(".//testcase")
    assert [c.get("name") for c in cases] == ["a.qdpx", "b.qdc", "c.qde"]
    assert root.get("tests") == "3" and root.get("failures") == str(failures)
    failure = cases[0].find("failure")
    assert failure.get("type") == "REF-DANGLING" and "REF-DANGLING" in failure.text
    assert (cases[2].find("failure") is not None) is strict


def test_reader_notes_of_info_severity_do_not_fail_strict():
    report = Report("a.qdpx", "refi-qdpx", [info("READER-NOTE", "kept as they are")])
    assert report.passes(strict=True) and report.warnings == 0
    assert report.passes(strict=False) and not Report("b", None, [warning("W", "w")]).passes(strict=True)


def test_catalogue():
    assert all(rule.id == key and rule.meaning and rule.fix for key, rule in RULES.items())
    assert {"REFI-XSD", "REF-DANGLING", "POS-OUT-OF-RANGE", "READ-FAILED", "ZIP-BROKEN",
            "XML-MALFORMED"} <= set(RULES)
    table = rules_table()
    assert table.count("\n") == len(RULES) + 1 and "`GUID-DUPLICATE` | integrity | error" in table


# ------------------------------------------------------------------ folders that are projects


@pytest.fixture
def archive(tmp_path) -> Path:
    """A folder of studies: a tables folder, a transcripts folder, a .qdpx, a folder of notes."""
    project = small_project()
    write(project, tmp_path / "tables", "tables-csv")
    write(project, tmp_path / "study.qdpx")
    interviews = tmp_path / "interviews"
    interviews.mkdir()
    (interviews / "anna.txt").write_text(TEXT, encoding="utf-8")
    (interviews / "cases.csv").write_text("case,wave\nanna,1\n", encoding="utf-8")  # case variables
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.txt").write_text("About this archive.\n", encoding="utf-8")
    (tmp_path / ".cache").mkdir()
    write(project, tmp_path / ".cache" / "tables", "tables-csv")
    return tmp_path


def relative(paths: list[Path], root: Path) -> list[str]:
    return [path.relative_to(root).as_posix() for path in paths]


def test_a_folder_format_project_is_one_item_not_its_files(archive):
    # docs holds only a README.txt: notes, not transcripts, so it is no project
    assert relative(expand_paths([archive]), archive) == ["interviews", "study.qdpx", "tables"]
    assert expand_paths([archive / "tables"]) == [archive / "tables"]  # given directly, it is still one
    assert expand_paths([archive / "interviews"]) == [archive / "interviews"]


def test_the_folder_projects_validate_as_their_formats(archive):
    reports = {Path(r.file).name: r for r in validate_many(expand_paths([archive]), jobs=1)}
    assert {name: r.format for name, r in reports.items()} == {
        "interviews": "transcripts-folder", "study.qdpx": "refi-qdpx", "tables": "tables-csv"}
    assert reports["tables"].valid and reports["study.qdpx"].valid and reports["interviews"].valid


def test_a_probable_folder_claim_gives_way_to_the_files_in_it(archive):
    # a transcript beside a .qdpx makes a transcripts folder in name only: the .qdpx is the study
    (archive / "anna.txt").write_text(TEXT, encoding="utf-8")
    assert relative(expand_paths([archive]), archive) == ["interviews", "study.qdpx", "tables"]
    (archive / "docs" / "anna.txt").write_text(TEXT, encoding="utf-8")
    assert expand_paths([archive / "docs"]) == [archive / "docs"]
    (archive / "docs" / "old").mkdir()
    write(small_project(), archive / "docs" / "old" / "old.qdpx")  # beneath, as well as beside
    assert relative(expand_paths([archive / "docs"]), archive) == ["docs/old/old.qdpx"]


def test_a_folder_of_notes_is_no_transcripts_project(tmp_path):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "ideas.txt").write_text("Ideas for the next wave.\nAsk about trust.\nNote: ask early.\n",
                                     encoding="utf-8")
    (notes / "todo.txt").write_text("Book the room.\n", encoding="utf-8")
    with pytest.raises(QdaconvError, match="no project or file.*only faintly.*--from transcripts-folder"):
        expand_paths([notes])
    write(small_project(), tmp_path / "study.qdpx")
    assert relative(expand_paths([tmp_path]), tmp_path) == ["study.qdpx"]  # walked past, not an item
    (notes / "anna.txt").write_text(TEXT, encoding="utf-8")  # one transcript with speaker turns
    assert expand_paths([notes]) == [notes]


def test_a_tables_folder_is_claimed_although_its_csv_files_look_like_vendor_tables(archive):
    # vendor sniffers claim the tables' codes.csv on its own; the tables' marker is certain
    assert expand_paths([archive / "tables" / "codes.csv"]) == [archive / "tables" / "codes.csv"]
    assert expand_paths([archive / "tables"]) == [archive / "tables"]


def test_a_folder_of_unrelated_csv_files_is_still_walked_file_by_file(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "survey").mkdir()
    (tmp_path / "survey" / "answers.csv").write_text("respondent,answer\n1,yes\n", encoding="utf-8")
    (tmp_path / "notes.md").write_text("not read", encoding="utf-8")
    assert relative(expand_paths([tmp_path]), tmp_path) == ["data.csv", "survey/answers.csv"]
    report = validate(tmp_path / "data.csv")
    assert report.rule_ids() == {"FORMAT-UNKNOWN"} and not report.valid


def test_a_folder_with_only_unknown_files_is_refused(tmp_path):
    (tmp_path / "notes.md").write_text("not read", encoding="utf-8")
    with pytest.raises(QdaconvError, match="no project or file"):
        expand_paths([tmp_path])


def test_positions_counted_with_line_ends_as_two_over_lf_text():
    text, spans = many_excerpts("", 12)
    # positions as MAXQDA counts them: every line end before the span counts twice, though the text has LF
    crlf = [(s + text[:s].count("\n"), e + text[:e].count("\n"), name) for s, e, name in spans]
    source = Source(new_guid(), name="maxqda", plain_text=text, selections=[
        Selection(new_guid(), start=s, end=e, name=name) for s, e, name in crlf])
    issues = [i for i in model_issues(Project(sources=[source])) if i.rule == "INTEROP-POS-UNIT"]
    assert len(issues) == 1 and "when positions are read as crlf units, 1 as code points" in issues[0].message


def test_shifted_positions_are_found_when_names_are_labels():
    text, spans = many_excerpts("", 12)
    utf16 = [(s + text[:s].count("🎉"), e + text[:e].count("🎉")) for s, e, _name in spans]
    source = Source(new_guid(), name="nvivo", plain_text=text, selections=[
        Selection(new_guid(), start=s, end=e, name=f"Speaker {n}") for n, (s, e) in enumerate(utf16)])
    issues = [i for i in model_issues(Project(sources=[source])) if i.rule == "INTEROP-POS-UNIT"]
    assert len(issues) == 1 and "as utf16 units" in issues[0].message


def speaker_turns(turns: int) -> str:
    """An LF interview whose turns alternate between two speakers, one line each."""
    lines = []
    for n in range(turns):
        speaker = "Interviewer" if n % 2 == 0 else "Anna"
        lines.append(f"{speaker}: Turn {n} says something about the plan, and then a little more.\n")
    return "".join(lines)


def test_a_folder_of_speaker_turns_has_no_position_unit_warning(tmp_path):
    # turns are named after their speaker and end at the line end; read with line ends as two,
    # a turn on line 6 starts at "Anna: ", whose label then "matches": a coincidence, not a unit
    folder = tmp_path / "interviews"
    folder.mkdir()
    for name in ("anna 1", "anna 2"):
        (folder / f"{name}.txt").write_text(speaker_turns(24), encoding="utf-8")
    report = validate(folder)
    assert report.format == "transcripts-folder"
    assert report.issues == [] and report.valid
    project = qdaconv_read(folder)
    assert len(project.sources[0].selections) == 24 and "\r" not in project.sources[0].plain_text
