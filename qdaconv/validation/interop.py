"""The interoperability layer, on the model: what other programs trip on (units, excerpts, colours, times, ids)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

from qdaconv.issues import Issue
from qdaconv.model import Project, Selection
from qdaconv.positions import GUESS_UNITS, TextEvidence
from qdaconv.validation.places import Index, Located, TextFindings, key_of, label, naive, selection_place
from qdaconv.validation.rules import RULES

_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_MIN_SPANS = 8  # below this, a unit or excerpt-name verdict is guesswork


def interop_issues(project: Project, index: Index, texts: TextFindings) -> list[Issue]:
    """Units, word splits and excerpt names (found in the pass over the texts), empty things, colours,
    times, ids, uncodable codes."""
    return [*texts.spans, *_excerpt_name_issues(texts), *_empty_issues(project), *texts.empty,
            *_color_issues(project, index), *_naive_time_issues(project, index), *_guid_format_issues(index),
            *_uncodable_issues(index)]


def span_checks(item: Located, evidence: TextEvidence, spans: list[Selection], findings: TextFindings) -> None:
    """Word splits, excerpt names and position units of one source, judged on its selections `spans` (plain-text
    selections within the text)."""
    text = evidence.text
    judge = evidence.judge
    wholes, names = zip(*[judge(s.start, s.end, s.name) for s in spans], strict=True)  # type: ignore[arg-type]
    split, wrong = wholes.count(False), names.count(False)  # spans cutting a word, names not matching
    if (split or wrong) and len(spans) >= _MIN_SPANS:
        other = _other_unit(evidence, spans)
        if other is not None:
            unit, fit, fit_as_points = other
            findings.spans.append(RULES["INTEROP-POS-UNIT"].issue(
                f"{fit} of {len(spans)} excerpts fit the text when positions are read as {unit} units, "
                f"{fit_as_points} as code points", place=item.place))
            return  # the splits and names below follow from the unit
    if split:
        first = spans[wholes.index(False)]
        findings.spans.append(RULES["INTEROP-SPLIT-WORD"].issue(
            f"{split} of {len(spans)} excerpts start or end inside a word, e.g. "
            f"{_excerpt(text, first.start, first.end)!r}",  # type: ignore[arg-type]
            place=selection_place(item, first)))
    findings.names_judged += len(names) - names.count(None)  # None: the name is no excerpt
    findings.names_matching += names.count(True)
    if wrong:
        findings.names_wrong.append((item, spans[names.index(False)], wrong))


def _other_unit(evidence: TextEvidence, spans: list[Selection]) -> tuple[str, int, int] | None:
    """The unit other than code points that the spans clearly fit better, if any, with how many
    spans fit in it and how many as code points.

    Only units that count this text differently are compared (no astral character: UTF-16 units
    are code points; no CRLF: CRLF-as-one is code points), so an identical reading can never win.
    Selection names weigh in only when, in some unit, they are excerpts of the text: names that are
    labels (a speaker's name on each turn) match no unit but by chance, where a shifted span happens
    to start at the label, and such coincidences are no evidence; word boundaries alone decide then.
    """
    candidates = [u for u in GUESS_UNITS if u == "codepoint" or evidence.differs(u)]
    if len(candidates) == 1:
        return None
    judged = {unit: [evidence.judge(s.start, s.end, s.name, unit) for s in spans]  # type: ignore[arg-type]
              for unit in candidates}
    names = any(_names_are_excerpts(named for _whole, named in verdicts) for verdicts in judged.values())
    guess = evidence.guess([(s.start, s.end, s.name if names else None) for s in spans],  # type: ignore[misc]
                           candidates=candidates)
    if not guess.changed:
        return None

    def fitting(unit: str) -> int:
        return sum(whole and (not names or named is not False) for whole, named in judged[unit])

    return guess.unit, fitting(guess.unit), fitting("codepoint")


def _names_are_excerpts(verdicts: Iterable[bool | None]) -> bool:
    """Whether selection names are excerpts of their text: enough of them match, and most do."""
    judged = [v for v in verdicts if v is not None]
    return _names_are_excerpts_counted(sum(judged), len(judged))


def _names_are_excerpts_counted(matching: int, judged: int) -> bool:
    return matching >= _MIN_SPANS // 2 and matching * 2 >= judged


def _excerpt(text: str, start: int, end: int, width: int = 40) -> str:
    excerpt = text[start:end]
    return excerpt if len(excerpt) <= width else excerpt[:width] + "…"


def _excerpt_name_issues(texts: TextFindings) -> list[Issue]:
    """Names that look like excerpts but do not match, once most named selections do match."""
    if not _names_are_excerpts_counted(texts.names_matching, texts.names_judged):
        return []  # the names are labels, not excerpts
    return [RULES["INTEROP-EXCERPT-NAME"].issue(
        f"{count} selection name(s) do not match the text at their positions, e.g. {selection.name!r}",
        place=selection_place(item, selection)) for item, selection, count in texts.names_wrong]


def _empty_issues(project: Project) -> list[Issue]:
    rule = RULES["INTEROP-EMPTY"]
    issues = [rule.issue("the set has no members", place=label("Set", group.name, group.guid))
              for group in project.sets
              if not (group.member_codes or group.member_sources or group.member_notes)]
    issues += [rule.issue("the graph has no vertices", place=label("Graph", graph.name, graph.guid))
               for graph in project.graphs if not graph.vertices]
    return issues


def empty_text_check(item: Located, text: str | None, findings: TextFindings) -> None:
    source = item.source
    if source.kind in ("Text", "Transcript", "Representation") and source.plain_file is not None \
            and text is not None and (not text or text.isspace()):
        findings.empty.append(RULES["INTEROP-EMPTY-TEXT"].issue(
            f"the text file {source.plain_file.name} is empty", place=item.place))


def _color_issues(project: Project, index: Index) -> list[Issue]:
    colored: list[tuple[str | None, str]] = [
        (e.code.color, f'Code "{" > ".join(e.path)}"') for e in index.code_entries]
    colored += [(link.color, label("Link", link.name, link.guid)) for link in project.links]
    for graph in project.graphs:
        colored += [(v.color, f"Graph {graph.guid}/Vertex {v.guid}") for v in graph.vertices]
        colored += [(e.color, f"Graph {graph.guid}/Edge {e.guid}") for e in graph.edges]
    return [RULES["INTEROP-COLOR"].issue(f"colour {color!r} is not #RRGGBB", place=place)
            for color, place in colored if color is not None and not _COLOR.match(color)]


def _naive_time_issues(project: Project, index: Index) -> list[Issue]:
    """Date-times without a time zone: how many, and where the first is (places are built only for it)."""
    count = 0
    first: str | None = None
    values = [value.value for item in index.located for value in item.source.variable_values]
    values += [value.value for case in project.cases for value in case.variable_values]
    if not (index.named.naive or naive(project.created) or naive(project.modified) or any(map(naive, values))):
        return []  # the usual case, found without building a place callback per selection

    def note(values: Iterable[object], place: Callable[[], str]) -> None:
        nonlocal count, first
        found = sum(map(naive, values))
        if found:
            count += found
            first = first or place()

    note((project.created, project.modified), lambda: "Project")
    for item in index.located:
        source = item.source
        note((source.created, source.modified, *(c.created for c in source.codings)), lambda i=item: i.place)
        for selection in source.selections:
            note((selection.created, selection.modified, *(c.created for c in selection.codings)),
                 lambda i=item, s=selection: selection_place(i, s))
        note((value.value for value in source.variable_values), lambda i=item: i.place)
    for case in project.cases:
        note((value.value for value in case.variable_values), lambda c=case: label("Case", c.name, c.guid))
    if not count:
        return []
    return [RULES["INTEROP-NAIVE-TIME"].issue(f"{count} date-time(s) have no time zone", place=first)]


def _guid_format_issues(index: Index) -> list[Issue]:
    bad = list(index.odd)
    if not bad:
        return []
    first = index.places({bad[0]})[bad[0]][0][1]
    examples = ", ".join(repr(key.lower()) for key in bad[:3])
    return [RULES["INTEROP-GUID-FORMAT"].issue(f"{len(bad)} id(s) are not GUIDs, e.g. {examples}",
                                               place=first)]


def _uncodable_issues(index: Index) -> list[Issue]:
    uncodable = {key: code for key, code in index.codes.items() if not code.codable}
    if not uncodable or not any(key_of(code) in uncodable for code in index.named.codes):
        return []
    counts: Counter[str] = Counter()
    first: dict[str, str] = {}
    for item in index.located:
        codings = [(c, None) for c in item.source.codings]
        codings += [(c, s) for s in item.source.selections for c in s.codings]
        for coding, selection in codings:
            code = uncodable.get(key_of(coding.code))
            if code is not None:
                counts[code.name] += 1
                if code.name not in first:
                    owner = item.place if selection is None else selection_place(item, selection)
                    first[code.name] = f"{owner}/Coding {coding.guid}"
    return [RULES["INTEROP-UNCODABLE"].issue(f"{count} coding(s) apply the code {name!r}, which is not codable",
                                             place=first[name]) for name, count in counts.items()]
