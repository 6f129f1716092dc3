"""The integrity layer, on the model (so for every format): GUIDs, references, texts and positions, variables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from operator import attrgetter

from qdaconv.issues import Issue
from qdaconv.model import VARIABLE_TYPES, Coding, Project, Selection, VariableValue
from qdaconv.validation.places import (
    ELEMENT,
    SELECTION_ELEMENTS,
    SOURCE_ELEMENTS,
    Index,
    Located,
    TextFindings,
    key_of,
    label,
    selection_place,
)
from qdaconv.validation.rules import RULES


def integrity_issues(project: Project, index: Index, texts: TextFindings) -> list[Issue]:
    """GUIDs, references, texts and positions (found in the pass over the texts), variables."""
    return [*_guid_issues(index), *_reference_issues(project, index), *texts.positions,
            *_variable_issues(project, index)]


def _guid_issues(index: Index) -> list[Issue]:
    issues: list[Issue] = []
    for key, found in index.places(index.repeated).items():
        counts = Counter(element for element, _place in found)
        places = ", ".join(place for _element, place in found[:4]) + (" ..." if len(found) > 4 else "")
        shown = key.lower()
        if any(count > 1 for count in counts.values()):
            element = next(e for e, c in counts.items() if c > 1)
            issues.append(RULES["GUID-DUPLICATE"].issue(
                f"GUID {shown} is used by {counts[element]} {element} objects: {places}", place=found[0][1]))
        else:
            issues.append(RULES["GUID-SHARED"].issue(
                f"GUID {shown} is shared by {' and '.join(counts)}: {places}", place=found[0][1]))
    return issues


@dataclass(slots=True)
class _Ref:
    guid: str | None
    expected: frozenset[str] | None  # element names allowed; None: any object
    what: str
    place: str


def _references(project: Project, index: Index) -> Iterator[_Ref]:
    """Every GUID reference of the project except users, with the kinds it may point to."""
    code, note, variable = frozenset({"Code"}), frozenset({"Note"}), frozenset({"Variable"})
    for ref in project.note_refs:
        yield _Ref(ref, note, "note reference", "Project")
    for entry in index.code_entries:
        for ref in entry.code.note_refs:
            yield _Ref(ref, note, "note reference", f'Code "{" > ".join(entry.path)}"')
    for case in project.cases:
        place = label("Case", case.name, case.guid)
        for ref in case.code_refs:
            yield _Ref(ref, code, "code", place)
        for ref in case.source_refs:
            yield _Ref(ref, SOURCE_ELEMENTS, "source", place)
        for ref in case.selection_refs:
            yield _Ref(ref, SELECTION_ELEMENTS, "selection", place)
        for value in case.variable_values:
            yield _Ref(value.variable, variable, "variable", place)
    # codings are the bulk of a project, and nearly always each applies a code found as it is among the project's
    # codes and has no note references: then only the selections with note references are looked at
    named = index.named
    codings_fine = named.codes <= index.codes.keys() and not named.coding_notes
    for item in index.located:
        source = item.source
        if source.selections or source.codings or source.note_refs or source.variable_values:
            yield from _source_references(item, index, codings_fine, note, code, variable)
    for group in project.sets:
        place = label("Set", group.name, group.guid)
        yield from (_Ref(ref, code, "member code", place) for ref in group.member_codes)
        yield from (_Ref(ref, SOURCE_ELEMENTS, "member source", place) for ref in group.member_sources)
        yield from (_Ref(ref, note, "member note", place) for ref in group.member_notes)
    for link in project.links:
        place = label("Link", link.name, link.guid)
        yield _Ref(link.origin, None, "origin", place)
        yield _Ref(link.target, None, "target", place)
        yield from (_Ref(ref, note, "note reference", place) for ref in link.note_refs)
    for graph in project.graphs:
        place = label("Graph", graph.name, graph.guid)
        for vertex in graph.vertices:
            if vertex.represented:
                yield _Ref(vertex.represented, None, "represented object", f"{place}/Vertex {vertex.guid}")
        for edge in graph.edges:
            if edge.represented:
                yield _Ref(edge.represented, None, "represented object", f"{place}/Edge {edge.guid}")


def _source_references(item: Located, index: Index, codings_fine: bool, note: frozenset[str],
                       code: frozenset[str], variable: frozenset[str]) -> Iterator[_Ref]:
    """The references of one source. A coding whose code is found as it is among the project's codes is fine and
    skipped before its place is built; with `codings_fine`, every coding is, and has no note references."""
    source = item.source
    codes = index.codes  # keyed by `key_of`, which leaves a key as it is
    for ref in source.note_refs:
        yield _Ref(ref, note, "note reference", item.place)
    for value in source.variable_values:
        yield _Ref(value.variable, variable, "variable", item.place)
    selections: Iterable[Selection] = source.selections
    if codings_fine:
        selections = filter(_NOTE_REFS, selections)  # the other selections refer to nothing
    else:
        for coding in source.codings:
            if coding.code not in codes:
                yield _Ref(coding.code, code, "code", f"{item.place}/Coding {coding.guid}")
            for ref in coding.note_refs:
                yield _Ref(ref, note, "note reference", f"{item.place}/Coding {coding.guid}")
    for selection in selections:
        if not selection.note_refs and all(c.code in codes and not c.note_refs for c in selection.codings):
            continue
        place = selection_place(item, selection)
        for ref in selection.note_refs:
            yield _Ref(ref, note, "note reference", place)
        for coding in selection.codings:
            if coding.code not in codes:
                yield _Ref(coding.code, code, "code", f"{place}/Coding {coding.guid}")
            for ref in coding.note_refs:
                yield _Ref(ref, note, "note reference", f"{place}/Coding {coding.guid}")


_NOTE_REFS = attrgetter("note_refs")


def _reference_issues(project: Project, index: Index) -> list[Issue]:
    # references to what is not plainly another object are judged after one pass over the selections and
    # codings has found them all (`Index.resolve`), and their issues put back in the order of the references
    judged: list[tuple[int, Issue]] = []
    waiting: list[tuple[int, _Ref]] = []
    for number, ref in enumerate(_references(project, index)):
        if index.plainly(ref.guid, ref.expected):
            continue  # the usual reference, to the one object of its key, of a kind it may point to
        if index.settled(ref.guid):
            _judge(number, ref, index, judged)
        else:
            waiting.append((number, ref))
    if waiting:
        index.resolve(ref.guid for _number, ref in waiting)
        for number, ref in waiting:
            _judge(number, ref, index, judged)
        judged.sort(key=lambda pair: pair[0])
    issues = [issue for _number, issue in judged]
    issues += _graph_edge_issues(project)
    issues += _user_issues(project, index)
    return issues


def _judge(number: int, ref: _Ref, index: Index, judged: list[tuple[int, Issue]]) -> None:
    found = index.elements(ref.guid)
    if not found:
        judged.append((number, RULES["REF-DANGLING"].issue(
            f"the {ref.what} {ref.guid or '(empty)'} is not in the project", place=ref.place)))
    elif ref.expected is not None and not ref.expected.intersection(found):
        kinds = " or ".join(sorted(ref.expected)) if len(ref.expected) < 3 else "a " + ref.what
        judged.append((number, RULES["REF-WRONG-KIND"].issue(
            f"the {ref.what} {ref.guid} is a {'/'.join(sorted(set(found)))}, not {kinds}", place=ref.place)))


def _graph_edge_issues(project: Project) -> list[Issue]:
    issues: list[Issue] = []
    for graph in project.graphs:
        vertices = {key_of(v.guid) for v in graph.vertices}
        for edge in graph.edges:
            for end, guid in (("source", edge.source_vertex), ("target", edge.target_vertex)):
                if key_of(guid) not in vertices:
                    issues.append(RULES["REF-DANGLING"].issue(
                        f"the {end} vertex {guid} is not a vertex of this graph",
                        place=f"{label('Graph', graph.name, graph.guid)}/Edge {edge.guid}"))
    return issues


def _user_issues(project: Project, index: Index) -> list[Issue]:
    """Dangling users, one issue per missing user with how often and where first (places are built
    only for the first use of each)."""
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    known: dict[str, bool] = {}  # a project has few users, each named a million times

    def dangling(guid: str | None) -> bool:
        if not guid:
            return False
        if guid not in known:
            known[guid] = not index.is_a(guid, "User")
        return known[guid]

    def note(guid: str | None, item: Located | None = None, selection: Selection | None = None,
             coding: Coding | None = None) -> None:
        if dangling(guid):
            counts[guid] += 1  # type: ignore[index]
            if guid not in first:
                place = "Project" if item is None else (
                    item.place if selection is None else selection_place(item, selection))
                first[guid] = f"{place}/Coding {coding.guid}" if coding is not None else place  # type: ignore[index]

    # the users' own GUIDs as written, and no user at all: never dangling, and by far the most common
    fine = {None, "", *(user.guid for user in project.users)}
    note(project.creating_user)
    note(project.modifying_user)
    if not index.named.users <= {guid for guid in fine if not dangling(guid)}:  # usually each user named is fine
        for item in index.located:
            source = item.source
            note(source.creating_user, item)
            note(source.modifying_user, item)
            for coding in source.codings:
                if coding.creating_user not in fine:
                    note(coding.creating_user, item, None, coding)
            for selection in source.selections:
                if selection.creating_user not in fine or selection.modifying_user not in fine:
                    note(selection.creating_user, item, selection)
                    note(selection.modifying_user, item, selection)
                for coding in selection.codings:
                    if coding.creating_user not in fine:
                        note(coding.creating_user, item, selection, coding)
    return [RULES["REF-USER"].issue(f"user {guid} is not in Users ({count} "
                                    f"reference{'s' if count > 1 else ''})", place=first[guid])
            for guid, count in counts.items()]


def text_checks(item: Located, text: str | None, spans: list[Selection]) -> list[Issue]:
    """The integrity issues of one source that need its text: presence, ranges, sync points. `spans`: its
    plain-text selections that lie within the text, which have no fault to find (usually all of them)."""
    issues: list[Issue] = []
    source = item.source
    if source.kind in ELEMENT and source.kind not in ("PDF", "Picture", "Audio", "Video"):
        issues += _text_presence(item)
    if text is None and source.plain_text_path and (source.sync_points or any(
            s.kind == "PlainText" for s in source.selections)):
        plain = [s for s in source.selections if s.kind == "PlainText"]
        issues.append(RULES["TEXT-UNAVAILABLE"].issue(
            f"the text at {source.plain_text_path} could not be read; "
            f"{len(plain)} selection(s) and {len(source.sync_points)} sync point(s) not checked against it",
            place=item.place))
    others = len(spans) < len(source.selections)  # selections of other kinds, or not within the text
    if others:
        for selection in source.selections:
            problem = _position_problem(selection, text)
            if problem:
                issues.append(RULES["POS-OUT-OF-RANGE"].issue(problem, place=selection_place(item, selection)))
            elif _swapped_corners(selection):
                corners = (selection.first_x, selection.first_y, selection.second_x, selection.second_y)
                issues.append(RULES["POS-CORNERS"].issue(f"the corners (x1, y1, x2, y2) are {corners}",
                                                         place=selection_place(item, selection)))
    if source.sync_points or others:  # transcript selections refer to sync points
        issues += _sync_issues(item, text)
    return issues


def _text_presence(item: Located) -> list[Issue]:
    source = item.source
    has_file = bool(source.plain_text_path) or source.plain_file is not None
    if source.plain_text is not None and has_file:
        where = source.plain_text_path or source.plain_file.name  # type: ignore[union-attr]
        return [RULES["TEXT-BOTH"].issue(f"has PlainTextContent and also the text file {where}",
                                         place=item.place)]
    if source.plain_text is None and not has_file:
        return [RULES["TEXT-NONE"].issue("has neither PlainTextContent nor a plainTextPath", place=item.place)]
    return []


def _position_problem(selection: Selection, text: str | None) -> str | None:
    """Why a selection's extent is impossible, or None."""
    if selection.kind in ("PlainText", "Audio", "Video"):
        start, end = selection.start, selection.end
        unit = "" if selection.kind == "PlainText" else " ms"
        if start is None or end is None:
            return "has no start or end position"
        if start < 0:
            return f"starts before the beginning ({start}{unit})"
        if end < start:
            return f"ends ({end}{unit}) before it starts ({start}{unit})"
        if selection.kind == "PlainText" and text is not None and end > len(text):
            return f"ends at {end}, past the end of the text ({len(text)} characters)"
    elif selection.kind in ("Picture", "PDF"):
        corners = (selection.first_x, selection.first_y, selection.second_x, selection.second_y)
        if any(value is not None and value < 0 for value in corners):
            return f"has a negative coordinate {corners}"
        if selection.kind == "PDF" and selection.page is not None and selection.page < 0:
            return f"is on page {selection.page}"
    return None


def _swapped_corners(selection: Selection) -> bool:
    corners = (selection.first_x, selection.first_y, selection.second_x, selection.second_y)
    return selection.kind == "Picture" and None not in corners and (
        corners[2] < corners[0] or corners[3] < corners[1])  # type: ignore[operator]


def _sync_issues(item: Located, text: str | None) -> list[Issue]:
    issues: list[Issue] = []
    points = {}
    for point in item.source.sync_points:
        points[key_of(point.guid)] = point
        place = f"{item.place}/SyncPoint {point.guid}"
        if point.position is not None and (point.position < 0 or (text is not None and point.position > len(text))):
            length = f" (the text has {len(text)} characters)" if text is not None else ""
            issues.append(RULES["SYNC-OUT-OF-RANGE"].issue(f"position {point.position} is outside the text{length}",
                                                           place=place))
        if point.timestamp is not None and point.timestamp < 0:
            issues.append(RULES["SYNC-OUT-OF-RANGE"].issue(f"timestamp {point.timestamp} ms is before 0",
                                                           place=place))
    for selection in item.source.selections:
        if selection.kind != "Transcript":
            continue
        place = selection_place(item, selection)
        ends = []
        for end, guid in (("from", selection.from_sync), ("to", selection.to_sync)):
            point = points.get(key_of(guid))
            if point is None:
                issues.append(RULES["REF-DANGLING"].issue(
                    f"the {end} sync point {guid or '(none)'} is not a sync point of this transcript", place=place))
            ends.append(point)
        if None not in ends and _sync_reversed(ends[0], ends[1]):  # type: ignore[arg-type]
            issues.append(RULES["POS-OUT-OF-RANGE"].issue("ends at a sync point before the one it starts at",
                                                          place=place))
    return issues


def _sync_reversed(first, last) -> bool:
    for attribute in ("position", "timestamp"):
        a, b = getattr(first, attribute), getattr(last, attribute)
        if a is not None and b is not None and b < a:
            return True
    return False


def _value_fits(value: VariableValue) -> bool:
    """Whether the Python value is of the value's declared type (None is an empty value)."""
    item, kind = value.value, value.type
    if item is None:
        return True
    if kind == "Boolean":
        return isinstance(item, bool)
    if kind == "Integer":
        return isinstance(item, int) and not isinstance(item, bool)
    if kind == "Float":
        return isinstance(item, (Decimal, float, int)) and not isinstance(item, bool)
    if kind == "DateTime":
        return isinstance(item, datetime)
    if kind == "Date":
        return isinstance(item, date) and not isinstance(item, datetime)
    return isinstance(item, str)


def _variable_issues(project: Project, index: Index) -> list[Issue]:
    rule = RULES["VAR-TYPE"]
    issues: list[Issue] = []
    variables = {key_of(v.guid): v for v in project.variables}
    for variable in project.variables:
        if variable.type not in VARIABLE_TYPES:
            issues.append(rule.issue(f"has the unknown type {variable.type!r}",
                                     place=label("Variable", variable.name, variable.guid)))
    # (how to name the holder, its values): a place is made only for a holder with an issue
    holders: list[tuple[Callable[[], str], list[VariableValue]]] = [
        (lambda c=case: label("Case", c.name, c.guid), case.variable_values) for case in project.cases]
    holders += [(lambda i=item: i.place, item.source.variable_values) for item in index.located
                if item.source.variable_values]
    for place_of, values in holders:
        for value in values:
            variable = variables.get(key_of(value.variable))
            if variable is None:
                continue  # a dangling reference, reported by REF-DANGLING
            name = variable.name or variable.guid
            if value.type != variable.type and variable.type in VARIABLE_TYPES:
                issues.append(rule.issue(f"a {value.type} value {value.value!r} for {variable.type} variable "
                                         f"{name!r}", place=place_of()))
            elif not _value_fits(value):
                issues.append(rule.issue(f"the value {value.value!r} of {name!r} is not a valid {value.type}",
                                         place=place_of()))
    return issues

