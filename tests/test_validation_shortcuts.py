"""The model rules' shortcuts change no verdict.

Several rules first test what one walk over the project found (`Index.named`: the users and codes the
sources, selections and codings name, whether a coding has notes, whether a date-time has no time
zone) and walk the project again only when that shows something to report; the position rules skip
the plain-text selections found within their text; the GUID index tests keys for the usual form all
at once. Here each project is validated as it is and again with the shortcuts' facts made to say
"something may be wrong", so that every rule takes its full walk: the issues must be the same.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime

import pytest

from qdaconv.model import Case, Code, Coding, Project, Selection, Source, User, Variable, VariableValue
from qdaconv.validation import model_issues, places

TEXT = "We met at the board meeting and spoke about trust, then about the plan for the whole system. " * 3
WORDS = [(m.start(), m.end()) for m in re.finditer(r"\w+( \w+)?", TEXT)]
WHEN = datetime(2024, 5, 1, 10, tzinfo=UTC)


def _project(*, user_of_selection: str | None = None, user_of_source: str | None = None,
             code_of_coding: str | None = None, coding_note: str | None = None, selection_note: str | None = None,
             naive_at: str | None = None, bad_span: bool = False) -> Project:
    """A clean project of three texts with coded excerpts; each keyword breaks one thing in one place."""
    numbers = itertools.count(1)

    def guid() -> str:
        return f"2B000000-0000-4000-8000-{next(numbers):012d}"

    user = User(guid(), "Ellen")
    code, theme = Code(guid(), "trust"), Code(guid(), "themes", codable=False)
    theme.children.append(code)
    note = Source(guid(), kind="Note", name="memo", plain_text="a memo")
    wave = Variable(guid(), "wave", "DateTime")
    sources = []
    for n in range(3):
        selections = []
        for start, end in WORDS[:12]:
            coding = Coding(guid(), code.guid, creating_user=user.guid, created=WHEN)
            selections.append(Selection(guid(), start=start, end=end, name=TEXT[start:end], codings=[coding],
                                        creating_user=user.guid, created=WHEN, modified=WHEN))
        sources.append(Source(guid(), name=f"interview {n}", plain_text=TEXT, selections=selections,
                              creating_user=user.guid, created=WHEN))
    target = sources[1].selections[5]
    if user_of_selection is not None:
        target.modifying_user = user_of_selection
    if user_of_source is not None:
        sources[2].creating_user = user_of_source
    if code_of_coding is not None:
        target.codings[0].code = code_of_coding
    if coding_note is not None:
        target.codings[0].note_refs.append(coding_note)
    if selection_note is not None:
        sources[2].selections[7].note_refs.append(selection_note)
    if naive_at == "selection":
        target.modified = datetime(2024, 5, 1, 10)
    elif naive_at == "coding":
        target.codings[0].created = datetime(2024, 5, 1, 10)
    elif naive_at == "source":
        sources[0].created = datetime(2024, 5, 1, 10)
    if bad_span:
        target.end = len(TEXT) + 5
    case = Case(guid(), "Anna", source_refs=[sources[0].guid],
                variable_values=[VariableValue(wave.guid, "DateTime",
                                               datetime(2024, 1, 1) if naive_at == "case" else WHEN)])
    return Project(name="shortcuts", users=[user], codes=[theme], variables=[wave], cases=[case],
                   sources=sources, notes=[note])


MISSING = "2B000000-0000-4000-8000-999999999999"
CASES = {
    "clean": {},
    "unknown user of a selection": {"user_of_selection": MISSING},
    "unknown user of a source": {"user_of_source": MISSING},
    "unknown code": {"code_of_coding": MISSING},
    "uncodable code": {"code_of_coding": "2B000000-0000-4000-8000-000000000003"},
    "note of a coding": {"coding_note": MISSING},
    "note of a selection": {"selection_note": MISSING},
    "notes of both": {"coding_note": "2B000000-0000-4000-8000-000000000004", "selection_note": MISSING},
    "naive selection": {"naive_at": "selection"},
    "naive coding": {"naive_at": "coding"},
    "naive source": {"naive_at": "source"},
    "naive case value": {"naive_at": "case"},
    "span past the text": {"bad_span": True},
}


def _verdicts(project: Project) -> list[tuple[str, str, str | None]]:
    return [(issue.rule, issue.message, issue.place) for issue in model_issues(project)]


@pytest.mark.parametrize("case", CASES)
def test_the_full_walks_find_what_the_shortcuts_find(case, monkeypatch):
    found = _verdicts(_project(**CASES[case]))
    if case != "clean":
        assert found, "each broken project draws an issue"

    index_project = places.Index.__init__

    def pessimistic(index: places.Index, project: Project) -> None:
        index_project(index, project)
        named = index.named
        index.named = places.Named(users=named.users | {MISSING + "-unknown"}, codes=named.codes | {MISSING},
                                   coding_notes=True, naive=True)

    monkeypatch.setattr(places.Index, "__init__", pessimistic)
    assert _verdicts(_project(**CASES[case])) == found


def test_the_clean_project_takes_every_shortcut():
    project = _project()
    named = places.Index(project).named
    assert named.users == {"2B000000-0000-4000-8000-000000000001", None}
    assert not named.coding_notes and not named.naive
    assert _verdicts(project) == []


USUAL = "0A1B2C3D-4E5F-4071-8293-A4B5C6D7E8F9"


@pytest.mark.parametrize("keys", [
    [],
    [USUAL],
    [USUAL, USUAL.replace("A", "B")],
    [USUAL.lower()],
    ["{" + USUAL + "}"],
    [USUAL + "0", USUAL[1:]],  # lengths that make up for each other when joined
    [USUAL[:8] + "0" + USUAL[9:]],  # a hyphen moved into the digits
    [USUAL[:9] + "-" + USUAL[10:]],
    [USUAL.replace("0", "０")],  # a full-width digit
    [USUAL.replace("A", "G")],
    [""],
    [" " + USUAL[1:]],
    [USUAL] * 3 + ["c001"],
])
def test_keys_in_the_usual_form_are_found_as_the_expression_finds_them(keys):
    assert places._all_usual(keys) == all(places._CANONICAL.fullmatch(key) for key in keys)
