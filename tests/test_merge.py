"""Merging coders' copies, and the public list of GUID references it rests on."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import qdaconv
from qdaconv.agreement import agreement, agreement_between, coders
from qdaconv.diff import diff
from qdaconv.merge import merge
from qdaconv.model import (
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
    guid_key,
    stable_guid,
    walk_selections,
    walk_sources,
)
from qdaconv.references import objects, references, rewrite_references

# ------------------------------------------------------------------ references


def every_reference_project() -> Project:
    """A small project with a GUID in every reference field the model has."""
    g = iter(f"00000000-0000-4000-8000-{n:012d}" for n in range(1, 100))
    user, code, note, var = next(g), next(g), next(g), next(g)
    sync_a, sync_b = SyncPoint(next(g), 0, 0), SyncPoint(next(g), 4, 900)
    coding = Coding(next(g), code, user, note_refs=[note])
    selection = Selection(next(g), "Transcript", from_sync=sync_a.guid, to_sync=sync_b.guid, codings=[coding],
                          note_refs=[note], creating_user=user, modifying_user=user)
    transcript = Source(next(g), "Transcript", "t", plain_text="hello", sync_points=[sync_a, sync_b],
                        selections=[selection])
    audio = Source(next(g), "Audio", "a", transcripts=[transcript], note_refs=[note], creating_user=user,
                   modifying_user=user, codings=[Coding(next(g), code, user)],
                   variable_values=[VariableValue(var, "Text", "x")])
    vertex_a, vertex_b = Vertex(next(g), represented=code), Vertex(next(g), represented=audio.guid)
    return Project(
        creating_user=user, modifying_user=user, note_refs=[note], users=[User(user, "u")],
        codes=[Code(code, "c", note_refs=[note])], variables=[Variable(var, "v")],
        cases=[Case(next(g), "k", code_refs=[code], source_refs=[audio.guid], selection_refs=[selection.guid],
                    variable_values=[VariableValue(var, "Text", "y")])],
        sources=[audio], notes=[Source(note, "Note", "n", plain_text="memo", creating_user=user)],
        sets=[Set(next(g), "s", member_codes=[code], member_sources=[audio.guid], member_notes=[note])],
        links=[Link(next(g), origin=code, target=note, note_refs=[note])],
        graphs=[Graph(next(g), vertices=[vertex_a, vertex_b],
                      edges=[Edge(next(g), vertex_a.guid, vertex_b.guid, represented=code)])])


def test_references_cover_every_reference_field_of_the_model():
    found = Counter((type(ref.holder).__name__, ref.field, ref.kind) for ref in references(every_reference_project()))
    expected = {
        ("Project", "creating_user", "user"), ("Project", "modifying_user", "user"), ("Project", "note_refs", "note"),
        ("Code", "note_refs", "note"), ("Case", "code_refs", "code"), ("Case", "source_refs", "source"),
        ("Case", "selection_refs", "selection"), ("VariableValue", "variable", "variable"),
        ("Source", "creating_user", "user"), ("Source", "modifying_user", "user"), ("Source", "note_refs", "note"),
        ("Coding", "code", "code"), ("Coding", "creating_user", "user"), ("Coding", "note_refs", "note"),
        ("Selection", "creating_user", "user"), ("Selection", "modifying_user", "user"),
        ("Selection", "note_refs", "note"), ("Selection", "from_sync", "sync point"),
        ("Selection", "to_sync", "sync point"), ("Set", "member_codes", "code"), ("Set", "member_sources", "source"),
        ("Set", "member_notes", "note"), ("Link", "origin", "object"), ("Link", "target", "object"),
        ("Link", "note_refs", "note"), ("Vertex", "represented", "object"), ("Edge", "source_vertex", "vertex"),
        ("Edge", "target_vertex", "vertex"), ("Edge", "represented", "object"),
    }
    assert set(found) == expected
    assert found[("VariableValue", "variable", "variable")] == 2  # on the case and on the source


def test_every_field_of_the_model_that_holds_another_objects_guid_is_listed():
    import dataclasses
    import re

    from qdaconv import model

    looks_like_a_reference = re.compile(r"_refs$|_user$|^code$|^variable$|^origin$|^target$|^represented$"
                                        r"|_vertex$|_sync$|^member_")
    fields = {(cls.__name__, f.name) for cls in vars(model).values()
              if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == model.__name__
              for f in dataclasses.fields(cls) if looks_like_a_reference.search(f.name)}
    listed = {(type(ref.holder).__name__, ref.field) for ref in references(every_reference_project())}
    # views hold objects, not GUIDs; a project's origin is the program that made it
    not_references = {("CodeEntry", "code"), ("Segment", "code"), ("Project", "origin")}
    assert fields - listed - not_references == set()


def test_every_reference_points_at_an_object_of_its_kind_in_the_study(study_path):
    project = qdaconv.read(study_path)
    kinds: dict[str, str] = {guid_key(obj.guid): kind for kind, obj in objects(project)}
    refs = list(references(project))
    assert len(refs) > 1000
    for ref in refs:
        assert guid_key(ref.guid) in kinds, ref
        if ref.kind != "object":
            assert kinds[guid_key(ref.guid)] == ref.kind, ref


def test_renaming_every_guid_through_the_mapping_keeps_the_study_whole(study_path, tmp_path):
    project = qdaconv.read(study_path)
    mapping = {obj.guid: stable_guid("test", obj.guid) for _kind, obj in objects(project)}
    for _kind, obj in list(objects(project)):
        obj.guid = mapping[obj.guid]
    changed = rewrite_references(project, mapping)
    assert changed == len(list(references(project)))
    assert diff(qdaconv.read(study_path), project, match="content").same
    qdaconv.write(project, tmp_path / "renamed.qdpx")
    report = qdaconv.validate(tmp_path / "renamed.qdpx")
    assert report.valid and not [issue for issue in report.issues if issue.rule.startswith(("REF-", "GUID-"))]


def test_rewrite_takes_a_function_of_the_reference():
    project = every_reference_project()
    new_user = "11111111-1111-4111-8111-111111111111"
    changed = rewrite_references(project, lambda ref: new_user if ref.kind == "user" else None)
    assert changed == sum(1 for ref in references(project) if ref.kind == "user") == 9
    assert project.sources[0].transcripts[0].selections[0].codings[0].creating_user == new_user


# ------------------------------------------------------------------ merging


def split_by_coder(path: Path, user: str) -> Project:
    """One coder's copy: every source, code and note, but only the selections and codings of `user`.

    A selection goes to the coder who created it (coded or not) and to every coder who coded it.
    """
    project = qdaconv.read(path)
    for source in walk_sources(project):
        source.codings = [c for c in source.codings if guid_key(c.creating_user) == user]
        kept = []
        for selection in source.selections:
            mine = [c for c in selection.codings if guid_key(c.creating_user or selection.creating_user) == user]
            if mine or (guid_key(selection.creating_user) == user and not selection.codings):
                selection.codings = mine
                kept.append(selection)
        source.selections = kept
    return project


@pytest.fixture
def coder_files(study_path, tmp_path) -> list[Path]:
    paths = []
    for number, coder in enumerate(coders(qdaconv.read(study_path)), start=1):
        path = tmp_path / f"coder{number}.qdpx"
        qdaconv.write(split_by_coder(study_path, guid_key(coder.guid)), path)
        paths.append(path)
    return paths


def test_the_study_split_by_coder_and_merged_back_is_the_study(study_path, coder_files):
    parts = [qdaconv.read(path) for path in coder_files]
    assert all(sum(1 for _ in walk_selections(p)) < 298 for p in parts)
    result = merge(parts, [p.name for p in coder_files])
    assert result.conflicts == []
    assert diff(qdaconv.read(study_path), result.project).same


def test_merging_the_study_with_itself_gives_it_back(study_path):
    for match in ("guid", "content"):
        result = merge([qdaconv.read(study_path), qdaconv.read(study_path)], match=match)
        assert result.conflicts == [] and not result.added
        assert diff(qdaconv.read(study_path), result.project).same


def test_a_selection_in_two_inputs_is_kept_once_with_the_codings_of_both(study_path):
    first, second = qdaconv.read(study_path), qdaconv.read(study_path)
    selection = next(sel for _s, sel in walk_selections(second) if sel.codings)
    extra = Coding("99999999-0000-4000-8000-000000000001", selection.codings[0].code, second.users[2].guid)
    selection.codings.append(extra)
    merged = merge([first, second]).project
    same = [sel for _s, sel in walk_selections(merged) if guid_key(sel.guid) == guid_key(selection.guid)]
    assert len(same) == 1 and [c.guid for c in same[0].codings][-1] == extra.guid
    assert sum(1 for _ in walk_selections(merged)) == 298


def exported_anew(study_path: Path) -> Project:
    """The study as a program that makes new GUIDs on every export would give it."""
    renamed = qdaconv.read(study_path)
    mapping = {obj.guid: stable_guid("another program", obj.guid) for _kind, obj in objects(renamed)}
    for _kind, obj in list(objects(renamed)):
        obj.guid = mapping[obj.guid]
    rewrite_references(renamed, mapping)
    return renamed


def test_content_matching_pairs_copies_whose_guids_were_all_made_anew(study_path):
    by_content = merge([qdaconv.read(study_path), exported_anew(study_path)], match="content")
    assert by_content.conflicts == [] and not by_content.added
    assert diff(qdaconv.read(study_path), by_content.project).same
    by_guid = merge([qdaconv.read(study_path), exported_anew(study_path)])  # nothing shares a GUID: all twice
    assert by_guid.added["code"] == 35 and by_guid.added["selection"] == 298


def changed_copy(study_path: Path) -> Project:
    """A coder's copy in which a code was renamed, a text edited and a variable value changed."""
    copy = qdaconv.read(study_path)
    copy.codes[0].children[0].name = "Connecting (renamed)"
    source = copy.sources[0]
    source.plain_text, source.plain_file = (source.text or "") + " An added sentence.", None
    case = next(c for c in copy.cases if c.variable_values)
    case.variable_values[0].value = "changed value"
    return copy


def test_conflicts_are_listed_and_the_first_inputs_values_kept(study_path):
    result = merge([qdaconv.read(study_path), changed_copy(study_path)], ["mine.qdpx", "theirs.qdpx"])
    fields = {(c.kind, c.field) for c in result.conflicts}
    assert ("code", "name") in fields and ("source", "text (SHA-256 prefix)") in fields
    assert any(kind == "case" and name.startswith("value of") for kind, name in fields)
    renamed = next(c for c in result.conflicts if c.field == "name")
    assert renamed.other == "Connecting (renamed)" and renamed.other_from == "theirs.qdpx"
    assert "theirs.qdpx" in str(renamed) and "kept 'Connecting'" in str(renamed)
    assert diff(qdaconv.read(study_path), result.project).same  # nothing resolved the other way


# ------------------------------------------------------------------ the command line


def test_merge_cli_merges_any_format_and_agree_gives_the_same_figures(study_path, coder_files, tmp_path, cli):
    as_tables = tmp_path / "coder2.xlsx"
    assert cli("convert", str(coder_files[1]), str(as_tables)).returncode == 0
    merged = tmp_path / "merged.qdpx"
    done = cli("merge", str(coder_files[0]), str(as_tables), str(coder_files[2]), "-o", str(merged), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["conflicts"] == [] and summary["written"] is True and summary["added"]["selection"] > 100
    assert cli("diff", str(study_path), str(merged)).stdout.strip() == "no differences"
    project = qdaconv.read(study_path)
    names = [c.name for c in coders(project)]
    pair = cli("agree", str(coder_files[0]), str(coder_files[1]), "--json")
    inside = cli("agree", str(merged), "--coders", f"{names[0]},{names[1]}", "--json")
    assert pair.returncode == 0 and inside.returncode == 0, pair.stderr + inside.stderr
    assert json.loads(pair.stdout)["codes"] == json.loads(inside.stdout)["codes"]
    assert json.loads(pair.stdout)["overall"] == json.loads(inside.stdout)["overall"]
    in_python = agreement_between(qdaconv.read(coder_files[0]), qdaconv.read(coder_files[1]))
    assert in_python.as_dict()["codes"] == agreement(project, (names[0], names[1])).as_dict()["codes"]


def test_merge_strict_with_conflicts_exits_1_and_writes_nothing(study_path, tmp_path, cli):
    theirs = tmp_path / "theirs.qdpx"
    qdaconv.write(changed_copy(study_path), theirs)
    out = tmp_path / "merged.qdpx"
    done = cli("merge", str(study_path), str(theirs), "-o", str(out), "--strict", "--json")
    assert done.returncode == 1
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".qdaconv")]
    summary = json.loads(done.stdout)
    assert summary["written"] is False and len(summary["conflicts"]) >= 3
    assert {"kind", "label", "field", "kept", "other", "kept_from", "other_from"} == set(summary["conflicts"][0])
    assert "qdaconv: conflict: code" in done.stderr
    assert f"qdaconv: error: {out}: not written:" in done.stderr
    lenient = cli("merge", str(study_path), str(theirs), "-o", str(out))
    assert lenient.returncode == 0 and out.exists() and "conflict" in lenient.stderr


def test_merge_refuses_an_existing_output_or_a_single_input(study_path, tmp_path, cli):
    out = tmp_path / "merged.qdpx"
    out.write_bytes(b"keep me")
    done = cli("merge", str(study_path), str(study_path), "-o", str(out))
    assert done.returncode == 2 and "already exists" in done.stderr and out.read_bytes() == b"keep me"
    assert cli("merge", str(study_path), "-o", str(tmp_path / "x.qdpx")).returncode == 2
    into_input = cli("merge", str(study_path), str(out), "-o", str(out), "--force")
    assert into_input.returncode == 2 and "is an input" in into_input.stderr


def test_content_matching_still_pairs_a_renamed_code_that_kept_its_guid(study_path):
    result = merge([qdaconv.read(study_path), changed_copy(study_path)], match="content")
    assert ("code", "name") in {(c.kind, c.field) for c in result.conflicts}
    assert not result.added.get("code")


def test_merge_gives_writer_options_to_the_writer_and_reader_options_to_each_reader(coder_files, tmp_path, cli):
    merged = tmp_path / "out" / "merged.qde"
    merged.parent.mkdir()
    done = cli("merge", str(coder_files[0]), str(coder_files[1]), "-o", str(merged), "--option", "inline_text=1",
               "--positions", "codepoint")
    assert done.returncode == 0, done.stderr
    assert [p.name for p in merged.parent.iterdir()] == ["merged.qde"]  # texts inline: no sources/ beside it
    assert b"PlainTextContent" in merged.read_bytes()
    done = cli("merge", str(coder_files[0]), str(coder_files[1]), "-o", str(tmp_path / "x.qde"),
               "--option", "inline_txt=1")
    assert done.returncode == 2 and "did you mean 'inline_text'" in done.stderr


# ------------------------------------------------------------------ one GUID, one object


def _one_object_per_guid(project: Project, tmp_path: Path) -> bool:
    """Whether the merged project, written and validated, has no GUID held by two objects."""
    from qdaconv.validation import validate

    target = tmp_path / "merged.qdpx"
    qdaconv.write(project, target, force=True)
    return not validate(target).rule_ids() & {"GUID-DUPLICATE", "GUID-SHARED"}


def test_a_selection_a_later_copy_holds_in_another_source_is_kept_once_where_the_first_has_it(study_path, tmp_path):
    first, second = qdaconv.read(study_path), qdaconv.read(study_path)
    a, b = second.sources[0], second.sources[1]
    moved = a.selections.pop(0)
    extra = Coding("99999999-0000-4000-8000-000000000002", moved.codings[0].code, second.users[1].guid)
    moved.codings.append(extra)
    b.selections.append(moved)
    result = merge([first, second], ["mine.qdpx", "theirs.qdpx"])
    held = [source.name for source, sel in walk_selections(result.project)
            if guid_key(sel.guid) == guid_key(moved.guid)]
    assert held == [a.name]  # once, where the first input has it
    kept = next(sel for _s, sel in walk_selections(result.project) if guid_key(sel.guid) == guid_key(moved.guid))
    assert kept.codings[-1].guid == extra.guid  # with what the later copy added to it
    conflict = next(c for c in result.conflicts if c.kind == "selection" and c.field == "source")
    assert conflict.kept == f'"{a.name}"' and conflict.other == f'"{b.name}"' and conflict.other_from == "theirs.qdpx"
    assert sum(1 for _ in walk_selections(result.project)) == 298
    assert _one_object_per_guid(result.project, tmp_path)


def test_a_coding_a_later_copy_puts_on_another_selection_is_kept_once(study_path, tmp_path):
    first, second = qdaconv.read(study_path), qdaconv.read(study_path)
    coded = [sel for _s, sel in walk_selections(second) if sel.codings]
    coding = coded[0].codings.pop(0)
    coded[1].codings.append(coding)
    result = merge([first, second], ["mine.qdpx", "theirs.qdpx"])
    places = [sel.guid for _s, sel in walk_selections(result.project)
              for c in sel.codings if guid_key(c.guid) == guid_key(coding.guid)]
    assert places == [coded[0].guid]
    conflict = next(c for c in result.conflicts if c.kind == "coding" and c.field == "place")
    assert conflict.kept == f"selection {coded[0].guid}" and coded[1].guid in conflict.other
    assert _one_object_per_guid(result.project, tmp_path)


def test_a_new_source_holding_a_selection_the_first_has_elsewhere_does_not_repeat_it(study_path):
    first, second = qdaconv.read(study_path), qdaconv.read(study_path)
    moved = second.sources[0].selections.pop(0)
    second.sources.append(Source("99999999-0000-4000-8000-000000000003", "Text", "New interview",
                                 plain_text="x" * 5000, selections=[moved]))
    result = merge([first, second], ["mine.qdpx", "theirs.qdpx"])
    new = next(s for s in result.project.sources if s.name == "New interview")
    assert new.selections == [] and result.added["source"] == 1 and result.added["selection"] == 0
    assert any(c.kind == "selection" and c.field == "source" and c.other == '"New interview"'
               for c in result.conflicts)


def test_an_object_with_the_guid_of_another_kind_gets_a_new_guid_with_its_references(study_path, tmp_path):
    first, second = qdaconv.read(study_path), qdaconv.read(study_path)
    taken = first.sources[0].guid  # a later copy's new code carries this source's GUID
    code = Code(taken, "Brand new code")
    second.codes.append(code)
    selection = next(sel for _s, sel in walk_selections(second) if sel.codings)
    selection.codings.append(Coding("99999999-0000-4000-8000-000000000004", taken, second.users[0].guid))
    second.sets.append(Set("99999999-0000-4000-8000-000000000005", "new codes", member_codes=[taken],
                           member_sources=[taken]))
    result = merge([first, second], ["mine.qdpx", "theirs.qdpx"])
    renamed = next(c for c in result.project.codes if c.name == "Brand new code")
    assert guid_key(renamed.guid) != guid_key(taken) and renamed.guid == stable_guid("qdaconv-merge", 2, taken)
    coding = next(c for _s, sel in walk_selections(result.project) for c in sel.codings
                  if c.guid == "99999999-0000-4000-8000-000000000004")
    assert coding.code == renamed.guid  # the coding follows the code
    group = next(s for s in result.project.sets if s.name == "new codes")
    assert group.member_codes == [renamed.guid] and group.member_sources == [taken]  # the source stays the source
    assert len(result.renamed) == 1 and "theirs.qdpx" in result.renamed[0] and "Brand new code" in result.renamed[0]
    assert _one_object_per_guid(result.project, tmp_path)
    assert merge([qdaconv.read(study_path), qdaconv.read(study_path)]).renamed == []


def test_a_guid_two_kinds_share_in_every_copy_is_left_as_it_is(study_path):
    def sharing() -> Project:  # one GUID for a note and a code, as some programs share them across kinds
        project = qdaconv.read(study_path)
        code = project.codes[0].children[0]
        rewrite_references(project, {code.guid: project.notes[0].guid})
        code.guid = project.notes[0].guid
        return project

    result = merge([sharing(), sharing()])
    assert result.renamed == [] and result.conflicts == [] and not result.added
    assert diff(sharing(), result.project).same


def test_a_pdf_selection_kept_elsewhere_leaves_its_representations_selections_to_later_copies():
    def pdf(source_guid: str, selection: Selection) -> Source:
        return Source(source_guid, "PDF", "article.pdf", path="internal://article.pdf", selections=[selection])

    code = "99999999-0000-4000-8000-0000000000c0"
    area = "99999999-0000-4000-8000-0000000000a0"  # one PDF selection, in another source in the second copy
    text = "99999999-0000-4000-8000-0000000000b0"  # a selection of that selection's representation
    first = Project(codes=[Code(code, "c")], sources=[
        pdf("99999999-0000-4000-8000-000000000001", Selection(area, "PDF", page=1, first_x=0, first_y=0,
                                                             second_x=5, second_y=5))])
    represented = Selection(area, "PDF", page=1, first_x=0, first_y=0, second_x=5, second_y=5,
                            representation=Source("99999999-0000-4000-8000-000000000003", "Representation",
                                                  plain_text="words", selections=[
                                                      Selection(text, "PlainText", start=0, end=5)]))
    second = Project(codes=[Code(code, "c")], sources=[pdf("99999999-0000-4000-8000-000000000002", represented)])
    third = Project(codes=[Code(code, "c")], sources=[Source(
        "99999999-0000-4000-8000-000000000004", "Text", "notes.txt", plain_text="words", selections=[
            Selection(text, "PlainText", start=0, end=5,
                      codings=[Coding("99999999-0000-4000-8000-0000000000d0", code)])])])
    result = merge([first, second, third], ["first", "second", "third"])
    held = {sel.guid: source.name for source, sel in walk_selections(result.project)}
    assert held == {area: "article.pdf", text: "notes.txt"}  # the third copy's selection is not lost
    assert result.added["selection"] == 1 and result.added["coding"] == 1
