"""The semantic diff: matched by GUID or by content, readable labels, limited to features."""

from __future__ import annotations

import copy

from conftest import FIXTURES

import qdaconv
from qdaconv.diff import diff
from qdaconv.formats import CODEBOOK_FEATURES
from qdaconv.model import Code, Coding, Project, Selection, Source, User, new_guid, walk_sources


def _study() -> Project:
    theme = Code(guid="T1", name="Connecting", codable=False,
                 children=[Code(guid="C1", name="Relational connecting", color="#112233"),
                           Code(guid="C2", name="Adapting")])
    text = Source(guid="S1", name="Anna - interview 1", plain_text="Anna: we met every week to talk.")
    text.selections.append(Selection(guid="X1", name="we met", start=6, end=19,
                                     codings=[Coding(guid="K1", code="C1", creating_user="U1")]))
    return Project(name="study", users=[User(guid="U1", name="Ruth")], codes=[theme], sources=[text])


def test_identical_projects_have_no_differences():
    result = diff(_study(), _study())
    assert result.same and result.render_text() == "no differences"


def test_guid_case_and_braces_do_not_count():
    other = _study()
    other.codes[0].children[0].guid = "{c1}"
    other.sources[0].selections[0].codings[0].code = "c1"
    assert diff(_study(), other).same


def test_recoding_names_the_coding_and_both_codes():
    other = _study()
    other.sources[0].selections[0].codings[0].code = "C2"
    result = diff(_study(), other)
    assert not result.same
    [change] = result.changes
    assert change.kind == "coding" and change.action == "changed"
    assert "Anna - interview 1" in change.label
    old, new = change.fields["code"]
    assert old.endswith("c1") and new.endswith("c2")
    assert "coding" in result.render_text()


def test_added_and_removed_objects():
    other = _study()
    other.codes[0].children.append(Code(guid="C3", name="Managing anxiety"))
    del other.users[0]
    actions = {(c.kind, c.action) for c in diff(_study(), other).changes}
    assert ("code", "added") in actions and ("user", "removed") in actions


def test_content_match_ignores_regenerated_guids():
    other = copy.deepcopy(_study())
    other.codes[0].guid = "NEW-T1"
    other.codes[0].children[0].guid = "NEW-C1"
    other.sources[0].selections[0].codings[0].code = "NEW-C1"
    other.sources[0].selections[0].guid = "NEW-X1"
    other.sources[0].selections[0].codings[0].guid = "NEW-K1"
    assert not diff(_study(), other).same
    assert diff(_study(), other, match="content").same


def test_features_limit_the_comparison():
    other = _study()
    other.sources = []
    other.users = []
    assert not diff(_study(), other).same
    assert diff(_study(), other, features=CODEBOOK_FEATURES).same
    other.codes[0].children[0].color = "#FFFFFF"
    assert not diff(_study(), other, features=CODEBOOK_FEATURES).same


def test_text_change_is_seen():
    other = _study()
    other.sources[0].plain_text = "Anna: we met every month to talk."
    [change] = diff(_study(), other).changes
    assert "text" in change.fields
    assert diff(_study(), other).as_dict()["same"] is False


def test_content_match_finds_nested_documents_and_transcript_selections_by_place():
    original = qdaconv.read(FIXTURES / "edge" / "media.qdpx")
    renamed = copy.deepcopy(original)
    for source in walk_sources(renamed):
        moved = {point.guid: new_guid() for point in source.sync_points}
        for point in source.sync_points:
            point.guid = moved[point.guid]
        for selection in source.selections:
            selection.from_sync, selection.to_sync = moved.get(selection.from_sync), moved.get(selection.to_sync)
            selection.name = None  # a label, not content
        if source.kind == "Representation":
            source.name = "the text layer"
        if source.plain_text_path:  # where the text is stored, not what it says
            source.plain_text_path = "internal://elsewhere.txt"
    assert not diff(original, renamed).same
    result = diff(original, renamed, match="content")
    # the two representations (of the PDF and of a PDF selection) are found by place: only their names differ
    assert [(c.kind, set(c.fields)) for c in result.changes] == [("source", {"name"})] * 2, result.render_text()
