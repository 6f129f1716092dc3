"""The reference study and the edge-case projects: what make_study.py builds, and the files it wrote."""

from __future__ import annotations

import importlib
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest
from conftest import FIXTURES, STUDY

import qdaconv
from qdaconv.model import (
    Project,
    code_index,
    coded_segments,
    guid_key,
    themes,
    walk_codes,
    walk_codings,
    walk_selections,
    walk_sources,
)

PARTICIPANTS = ("Anna", "Neil", "Daniel", "Rachel", "Andrea", "Jane", "Nina", "Ellen")
EDGE_NAMES = ("empty", "codebook-only", "unicode", "media", "whole-source-codings", "variables")


def fixture_module(name: str) -> ModuleType:
    """A module from fixtures/ (a folder of scripts, not a package)."""
    if str(FIXTURES) not in sys.path:
        sys.path.insert(0, str(FIXTURES))
    return importlib.import_module(name)


@pytest.fixture(scope="module")
def study() -> Project:
    return fixture_module("make_study").build_study()


@pytest.fixture(scope="module")
def edges() -> dict[str, Project]:
    return fixture_module("edge_projects").build_edge_projects()


def all_guids(project: Project) -> set[str]:
    """GUIDs of every object a reference may point to."""
    found = {guid_key(u.guid) for u in project.users}
    found |= {guid_key(entry.code.guid) for entry in walk_codes(project)}
    found |= {guid_key(obj.guid) for obj in (*project.variables, *project.cases, *project.sets, *project.links)}
    for source in walk_sources(project):
        found.add(guid_key(source.guid))
        found |= {guid_key(point.guid) for point in source.sync_points}
        found |= {guid_key(selection.guid) for selection in source.selections}
    for graph in project.graphs:
        found |= {guid_key(vertex.guid) for vertex in graph.vertices}
    return found


def dangling_refs(project: Project) -> list[str]:
    """References that point at nothing (the model keeps them as strings; the writer needs them to resolve)."""
    known = all_guids(project)
    refs: list[str] = list(project.note_refs)
    for entry in walk_codes(project):
        refs += entry.code.note_refs
    for case in project.cases:
        refs += case.code_refs + case.source_refs + case.selection_refs
        refs += [value.variable for value in case.variable_values]
    for group in project.sets:
        refs += group.member_codes + group.member_sources + group.member_notes
    for link in project.links:
        refs += [link.origin, link.target, *link.note_refs]
    for graph in project.graphs:
        refs += [vertex.represented for vertex in graph.vertices if vertex.represented]
        refs += [ref for edge in graph.edges for ref in (edge.source_vertex, edge.target_vertex)]
    for source in walk_sources(project):
        refs += source.note_refs + [value.variable for value in source.variable_values]
        for selection in source.selections:
            refs += selection.note_refs + [s for s in (selection.from_sync, selection.to_sync) if s]
    for _source, _selection, coding in walk_codings(project):
        refs += [coding.code, *coding.note_refs]
        refs += [coding.creating_user] if coding.creating_user else []
    return [ref for ref in refs if guid_key(ref) not in known]


# ------------------------------------------------------------------------------------ the model


def test_study_is_rebuilt_identically(study: Project) -> None:
    assert fixture_module("make_study").build_study() == study


def test_study_has_the_design_of_the_study(study: Project) -> None:
    names = [source.name for source in study.sources]
    assert names == [f"{person} - interview {wave}" for person in PARTICIPANTS for wave in (1, 2, 3)]
    assert all(source.kind == "Text" and source.plain_text_path == f"internal://{source.guid}.txt"
               and source.plain_file.name == f"{source.guid}.txt" for source in study.sources)
    lengths = [len(source.text) for source in study.sources]
    assert min(lengths) > 2000 and max(lengths) < 10000
    cases = {case.name: case for case in study.cases}
    for person in PARTICIPANTS:
        assert len(cases[person].source_refs) == 3
    for pair in ("Anna & Neil", "Daniel & Rachel", "Andrea & Jane", "Nina & Ellen"):
        assert len(cases[pair].source_refs) == 6
    values = {value.variable: value.value for value in cases["Daniel"].variable_values}
    by_name = {variable.name: variable.guid for variable in study.variables}
    assert values[by_name["level"]] == "organisational" and values[by_name["progress"]] == "limited"
    assert {variable.type for variable in study.variables} >= {"Text", "Integer", "Boolean", "Date"}
    waves = [value.value for source in study.sources for value in source.variable_values
             if value.variable == by_name["interview wave"]]
    assert waves == [1, 2, 3] * 8


def test_study_codebook_has_the_themes(study: Project) -> None:
    paths = {entry.path[-1]: entry.path for entry in walk_codes(study)}
    core = "Creating allegiance to an emergent future world"
    assert paths["Relational connecting"] == (core, "Connecting", "Relational connecting")
    assert paths["Disconnection"] == (core, "Disconnection")
    assert {"Adapting", "Managing anxiety", "Managing polarities", "‘honest broker’"} <= set(paths)
    theme_names = {entry.code.name for entry in themes(study)}
    assert {core, "Connecting", "Connecting with purpose and vision", "Connecting through practice"} <= theme_names
    coded = {guid_key(coding.code) for _s, _sel, coding in walk_codings(study)}
    index = code_index(study)
    assert all(index[key].code.codable for key in coded), "themes are never applied"
    assert all(entry.code.color and entry.code.description for entry in walk_codes(study))
    sets = {group.name: group for group in study.sets}
    assert len(sets["A priori template"].member_codes) >= 8 and len(sets["In vivo codes"].member_codes) >= 5


def test_study_codings_excerpts_and_coders(study: Project) -> None:
    codings = list(walk_codings(study))
    assert 250 <= len(codings) <= 600
    assert all(coding.creating_user and coding.created for _s, _sel, coding in codings)
    coders = {guid_key(coding.creating_user) for _s, _sel, coding in codings}
    assert 2 <= len(coders) <= 3 == len(study.users)
    selections = [selection for _source, selection in walk_selections(study)]
    assert sum(len(selection.codings) == 2 for selection in selections) >= 10
    assert all(selection.creating_user and selection.created for selection in selections)


def test_study_excerpts_fall_on_sentence_boundaries_of_the_participant(study: Project) -> None:
    for source in study.sources:
        text = source.text
        speaker = source.name.split(" - ")[0]
        for selection in source.selections:
            start, end = selection.start, selection.end
            excerpt = text[start:end]
            line_start = text.rfind("\n", 0, start) + 1
            assert text.startswith(f"{speaker}: ", line_start), (source.name, excerpt)
            assert "\n" not in excerpt and text[start - 1] == " " and text[end] in " \n", excerpt
            assert excerpt[0].isupper() or excerpt[0] in "“‘\"", excerpt
            assert excerpt[-1] in ".?!", excerpt
            assert selection.name.rstrip("…") == " ".join(excerpt.split()[:6])


def test_study_text_is_unicode(study: Project) -> None:
    text = "".join(source.text for source in study.sources)
    assert any(ord(char) > 0xFFFF for char in text)
    assert "’" in text and "Zoë" in text and "José" in text and "'" in text


def test_study_microstories_are_grounded(study: Project) -> None:
    notes = {note.guid: note for note in study.notes}
    stories = [group for group in study.sets if group.name.startswith("Microstories: ")]
    assert len(stories) == 4
    members = [guid for group in stories for guid in group.member_notes]
    assert len(members) >= 50 and len(set(members)) == len(members)
    inline = sum(notes[guid].plain_text is not None for guid in members)
    assert 0 < inline < len(members), "some microstories inline, some as files"
    case_names = {case.guid: case.name for case in study.cases}
    linked = {link.origin: case_names[link.target] for link in study.links}
    selection_refs = Counter(ref for _s, sel in walk_selections(study) for ref in sel.note_refs)
    code_refs = Counter(ref for entry in walk_codes(study) for ref in entry.code.note_refs)
    for group in stories:
        pair = group.name.removeprefix("Microstories: ")
        for guid in group.member_notes:
            assert linked[guid] == pair and selection_refs[guid] >= 1 and code_refs[guid] == 1
            assert len(notes[guid].text) > 200
    assert study.description and study.note_refs


def test_study_graphs_show_the_themes(study: Project) -> None:
    index = code_index(study)
    figures = {graph.name: graph for graph in study.graphs}
    assert len(figures) == 2
    for graph in figures.values():
        vertex_ids = {vertex.guid for vertex in graph.vertices}
        assert all(index[guid_key(vertex.represented)].code.codable is False for vertex in graph.vertices)
        assert all({edge.source_vertex, edge.target_vertex} <= vertex_ids for edge in graph.edges)
    connecting = next(graph for name, graph in figures.items() if "Connecting" in name)
    represented = {index[guid_key(vertex.represented)].code.name for vertex in connecting.vertices}
    assert {"Connecting", "Relational connecting", "Connecting with purpose and vision",
            "Connecting through practice"} <= represented


@pytest.mark.parametrize("name", ["study", *EDGE_NAMES])
def test_references_resolve(name: str, study: Project, edges: dict[str, Project]) -> None:
    project = study if name == "study" else edges[name]
    assert dangling_refs(project) == []
    guids = [guid_key(g) for g in all_guids(project)]
    assert len(guids) == len(set(guids))


def test_edge_projects_cover_their_corners(edges: dict[str, Project]) -> None:
    assert edges["empty"] == Project(name="Empty project")
    assert edges["codebook-only"].codes and not edges["codebook-only"].sources
    text_source = edges["unicode"].sources[0]
    raw = text_source.plain_file.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    text = text_source.text
    excerpts = [text[s.start:s.end] for s in text_source.selections]
    assert "👨\u200d👩\u200d👧\u200d👦" in excerpts and any("\r\n" in excerpt for excerpt in excerpts)
    assert any("\u0600" <= char <= "\u06ff" for char in text) and any("\u0590" <= char <= "\u05ff" for char in text)
    kinds = Counter(selection.kind for _source, selection in walk_selections(edges["media"]))
    assert set(kinds) == {"PlainText", "PDF", "Picture", "Audio", "Video", "Transcript"}
    assert {source.kind for source in edges["media"].sources} == {"PDF", "Picture", "Audio", "Video"}
    assert any(selection is None for _s, selection, _c in walk_codings(edges["whole-source-codings"]))
    variables = edges["variables"]
    assert {variable.type for variable in variables.variables} == {
        "Text", "Boolean", "Integer", "Float", "Date", "DateTime"}
    assert all(len(item.variable_values) == 6 for item in (*variables.cases, *variables.sources))


def test_media_bytes_look_like_their_formats(edges: dict[str, Project]) -> None:
    magic = {"PDF": (0, b"%PDF-"), "Picture": (0, b"\x89PNG\r\n\x1a\n"), "Audio": (8, b"WAVE"),
             "Video": (4, b"ftyp")}
    for source in edges["media"].sources:
        data = source.file.read_bytes()
        offset, signature = magic[source.kind]
        assert data[offset:offset + len(signature)] == signature and len(data) < 5000
    pdf = edges["media"].sources[0].file.read_bytes()
    assert pdf.rstrip().endswith(b"%%EOF") and b"/Count 2" in pdf


# ------------------------------------------------------------------------------------ the files


def test_checked_in_files_are_what_the_script_writes(tmp_path: Path) -> None:
    script = FIXTURES / "make_study.py"
    result = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rebuilt = sorted(path.relative_to(tmp_path) for path in tmp_path.rglob("*.qdpx"))
    assert rebuilt == sorted([Path("study.qdpx"), *(Path("edge") / f"{name}.qdpx" for name in EDGE_NAMES)])
    for relative in rebuilt:
        assert (tmp_path / relative).read_bytes() == (FIXTURES / relative).read_bytes(), relative


def test_study_file_is_small_and_a_real_zip() -> None:
    assert STUDY.stat().st_size < 300_000
    with zipfile.ZipFile(STUDY) as archive:
        names = archive.namelist()
    assert "project.qde" in names and sum(name.startswith("sources/") for name in names) >= 24


def test_study_reads_back_with_the_expected_counts(study: Project) -> None:
    project = qdaconv.read(STUDY)
    assert len([s for s in project.sources if s.kind == "Text"]) == 24
    assert len([c for c in project.cases if c.name in PARTICIPANTS]) == 8
    assert len(project.notes) >= 50 and len(project.graphs) == 2
    codings = list(walk_codings(project))
    assert 250 <= len(codings) <= 600
    assert len({guid_key(c.creating_user) for _s, _sel, c in codings}) in (2, 3)
    assert any(ord(char) > 0xFFFF for source in project.sources for char in source.text)

    def segments(p: Project) -> list[tuple]:
        return sorted((s.source, s.code_path, s.text, s.start, s.end, s.coder) for s in coded_segments(p))

    assert segments(project) == segments(study)


@pytest.mark.parametrize("name", EDGE_NAMES)
def test_edge_files_read_back(name: str, edges: dict[str, Project]) -> None:
    path = FIXTURES / "edge" / f"{name}.qdpx"
    assert path.stat().st_size < 20_000
    project = qdaconv.read(path)
    expected = edges[name]
    assert project.name == expected.name
    assert len(list(walk_sources(project))) == len(list(walk_sources(expected)))
    assert len(list(walk_codings(project))) == len(list(walk_codings(expected)))
    assert [s.text for s in walk_sources(project)] == [s.text for s in walk_sources(expected)]
