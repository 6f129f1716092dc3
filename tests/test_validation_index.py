"""The GUID index finds the same repeats and the same kinds whether it sorts every selection's and coding's
key at once, sorts them in shares (a large project, in bounded memory), or keeps sorted lists (GUIDs in
another form)."""

from __future__ import annotations

import itertools

import pytest

from qdaconv.model import Case, Code, Coding, Link, Project, Selection, Set, Source
from qdaconv.validation import model_issues, places

CODE = "0A000000-0000-4000-8000-000000000001"
SHARED_SELECTION = "0B000000-0000-4000-8000-000000000002"
SELECTION_AND_CODING = "0C000000-0000-4000-8000-000000000003"
SOURCE_AND_CODING = "0D000000-0000-4000-8000-000000000004"
REFERRED_SELECTION = "0E000000-0000-4000-8000-000000000005"
MISSING = "0F000000-0000-4000-8000-000000000006"


def _project(guid_form: str = "upper") -> Project:
    numbers = itertools.count(100)

    def new_guid() -> str:  # the same GUIDs on every call, so that two projects' verdicts compare
        return f"1A000000-0000-4000-8000-{next(numbers):012d}"

    text = "We met at the board meeting and spoke about trust. " * 4
    sources = []
    for n in range(6):
        selections = [Selection(new_guid(), start=3 * k, end=3 * k + 2, codings=[Coding(new_guid(), CODE)])
                      for k in range(5)]
        sources.append(Source(SOURCE_AND_CODING if n == 1 else new_guid(), name=f"interview {n}", plain_text=text,
                              selections=selections))
    sources[0].selections[0].guid = SHARED_SELECTION
    sources[3].selections[2].guid = SHARED_SELECTION
    sources[2].selections[1].guid = SELECTION_AND_CODING
    sources[4].selections[3].codings[0].guid = SELECTION_AND_CODING
    sources[5].selections[0].codings[0].guid = SOURCE_AND_CODING
    sources[5].selections[4].guid = REFERRED_SELECTION
    sources[5].selections[3].kind = "Picture"
    sources[5].selections[3].start = sources[5].selections[3].end = None
    sources[5].selections[3].first_x = sources[5].selections[3].first_y = 0
    sources[5].selections[3].second_x = sources[5].selections[3].second_y = 5
    if guid_form == "lower":
        sources[1].selections[4].codings[0].guid = sources[1].selections[4].codings[0].guid.lower()
    cases = [Case(new_guid(), "participant", selection_refs=[REFERRED_SELECTION, MISSING, SELECTION_AND_CODING],
                  source_refs=[REFERRED_SELECTION, sources[0].guid])]
    sets = [Set(new_guid(), "group", member_sources=[sources[5].selections[3].guid])]
    links = [Link(new_guid(), origin=REFERRED_SELECTION, target=sources[4].selections[3].codings[0].guid)]
    return Project(codes=[Code(CODE, "trust")], sources=sources, cases=cases, sets=sets, links=links)


def _verdicts(project: Project) -> list[tuple[str, str, str | None]]:
    return [(issue.rule, issue.message, issue.place) for issue in model_issues(project)]


@pytest.mark.parametrize("share", [1, 2, 7, 64])
def test_sorting_in_shares_finds_what_sorting_at_once_finds(share, monkeypatch):
    expected = _verdicts(_project())
    monkeypatch.setattr(places, "BULK_SHARE", share)
    assert _verdicts(_project()) == expected


def test_the_index_finds_every_repeat_and_kind():
    rules = {(rule, message.split(" is ")[0].split(" shared")[0]) for rule, message, _place in _verdicts(_project())}
    assert ("GUID-DUPLICATE", f"GUID {SHARED_SELECTION.lower()}") in rules
    assert ("GUID-SHARED", f"GUID {SELECTION_AND_CODING.lower()}") in rules
    assert ("GUID-SHARED", f"GUID {SOURCE_AND_CODING.lower()}") in rules
    messages = [message for _rule, message, _place in _verdicts(_project())]
    assert f"the selection {MISSING} is not in the project" in messages
    assert any(message.startswith(f"the source {REFERRED_SELECTION} is a PlainTextSelection") for message in messages)
    assert any("is a PictureSelection, not a member source" in message for message in messages)


def test_guids_in_another_form_give_the_same_repeats_and_kinds(monkeypatch):
    """A lower-case GUID among the codings sends the index down its sorted lists; nothing else changes."""
    upper = [v for v in _verdicts(_project()) if v[0] != "INTEROP-GUID-FORMAT"]
    monkeypatch.setattr(places, "BULK_SHARE", 3)
    lower = [v for v in _verdicts(_project("lower")) if v[0] != "INTEROP-GUID-FORMAT"]
    assert lower == upper


def test_which_way_the_index_goes():
    assert places.Index(_project())._sorted is None
    assert places.Index(_project("lower"))._sorted is not None
