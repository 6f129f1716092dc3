"""The report's own figures: codes by case, per coder, and code co-occurrence (counts per code and
the summary are the core's, in `qdaconv.figures`, shared with the archive package)."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations

from qdaconv.model import (
    CodeEntry,
    Project,
    code_index,
    coded_segments,
    guid_key,
    walk_codes,
    walk_codings,
    walk_sources,
)


def code_case_matrix(project: Project) -> tuple[list[CodeEntry], list[str], list[list[int]]]:
    """Codings per (code, case) for codes that have codings; a coding counts for each case of its
    segment, by the rule of `qdaconv.model.coded_segments`."""
    case_names = [case.name or case.guid for case in project.cases]
    if not case_names:
        return [], [], []
    index_of = {guid_key(case.guid): index for index, case in reversed(list(enumerate(project.cases)))}
    cells: Counter[tuple[str, int]] = Counter()
    for segment in coded_segments(project):
        for guid in segment.case_guids:
            cells[(guid_key(segment.code_guid), index_of[guid_key(guid)])] += 1
    codes = [entry for entry in walk_codes(project)
             if any(cells[(guid_key(entry.code.guid), i)] for i in range(len(case_names)))]
    matrix = [[cells[(guid_key(entry.code.guid), i)] for i in range(len(case_names))] for entry in codes]
    return codes, case_names, matrix


def co_occurrence(project: Project) -> Counter[tuple[str, str]]:
    """Pairs of code keys (sorted) counted once per excerpt they share and per pair of overlapping excerpts."""
    pairs: Counter[tuple[str, str]] = Counter()
    for source in walk_sources(project):
        excerpts: list[tuple[int, int, set[str]]] = []
        for selection in source.selections:
            codes = {guid_key(coding.code) for coding in selection.codings}
            for pair in combinations(sorted(codes), 2):
                pairs[pair] += 1
            if codes and selection.kind == "PlainText" and selection.start is not None and selection.end is not None:
                excerpts.append((selection.start, selection.end, codes))
        excerpts.sort(key=lambda excerpt: (excerpt[0], excerpt[1]))
        for index, (start, end, codes) in enumerate(excerpts):
            for other_start, other_end, other_codes in excerpts[index + 1:]:
                if other_start >= end:
                    break
                if start < other_end:
                    for a in codes:
                        for b in other_codes - {a}:
                            pairs[(min(a, b), max(a, b))] += 1
    return pairs


def coder_counts(project: Project) -> list[tuple[str, int, int, int]]:
    """Per coder: (name, codings, distinct codes used, sources coded); unattributed codings last."""
    names = {guid_key(user.guid): user.name or user.id or user.guid for user in project.users}
    codings: Counter[str] = Counter()
    codes: dict[str, set[str]] = defaultdict(set)
    sources: dict[str, set[str]] = defaultdict(set)
    for source, _selection, coding in walk_codings(project):
        who = guid_key(coding.creating_user) if coding.creating_user else ""
        codings[who] += 1
        codes[who].add(guid_key(coding.code))
        sources[who].add(guid_key(source.guid))
    order = [guid_key(user.guid) for user in project.users]
    order += sorted(key for key in codings if key not in order and key)
    order += [""] if codings[""] else []
    return [(names.get(key, key) if key else "(no coder recorded)", codings[key], len(codes[key]),
             len(sources[key])) for key in order]


def code_names(project: Project) -> dict[str, str]:
    """Code path text by code key."""
    return {key: " > ".join(entry.path) for key, entry in code_index(project).items()}


def object_names(project: Project) -> dict[str, str]:
    """Names of every named object by GUID key, for what a diagram's vertices represent."""
    found: dict[str, str] = {}
    for entry in walk_codes(project):
        found[guid_key(entry.code.guid)] = entry.code.name
    for source in walk_sources(project):
        found.setdefault(guid_key(source.guid), source.name or "")
    for group in (project.cases, project.sets, project.users):
        for item in group:
            found.setdefault(guid_key(item.guid), getattr(item, "name", None) or "")
    return {key: name for key, name in found.items() if name}


def top_pairs(pairs: Counter[tuple[str, str]], limit: int) -> list[tuple[tuple[str, str], int]]:
    """The `limit` most frequent pairs, ties broken by key for a stable order."""
    return sorted(pairs.items(), key=lambda item: (-item[1], item[0]))[:limit]


def top_codes(pairs: Counter[tuple[str, str]], limit: int) -> list[str]:
    """The codes that take part in the most co-occurrences, for the matrix's rows and columns."""
    weight: Counter[str] = Counter()
    for (a, b), count in pairs.items():
        weight[a] += count
        weight[b] += count
    return [key for key, _ in sorted(weight.items(), key=lambda item: (-item[1], item[0]))[:limit]]

