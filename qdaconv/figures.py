"""Figures about a study that reports and archive packages show: what it holds, and counts per code.

They are views of the model (see `qdaconv.model`), shared so that every page that shows a study
counts it the same way.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from qdaconv.model import CodeEntry, Project, guid_key, themes, transcripts, walk_codes, walk_codings, walk_selections


@dataclass(slots=True)
class CodeCount:
    """A code in the tree with its own codings, the codings of it and its descendants, and sources."""

    entry: CodeEntry
    own: int = 0
    total: int = 0
    sources: int = 0


@dataclass(slots=True)
class Summary:
    """The study at a glance: its name, origin, description, creation date and what it holds, counted."""

    name: str
    origin: str | None
    description: str | None
    created: str | None
    counts: list[tuple[str, int]] = field(default_factory=list)


def summary(project: Project) -> Summary:
    """The study at a glance: what it holds, counted."""
    kinds = Counter(source.kind for source in project.sources)
    codings = sum(1 for _ in walk_codings(project))
    selections = sum(1 for _ in walk_selections(project))
    counts = [
        ("transcripts", len(transcripts(project))),
        *((f"{kind.lower()} sources", kinds[kind]) for kind in ("Text", "PDF", "Picture", "Audio", "Video")
          if kinds[kind]),
        ("cases", len(project.cases)),
        ("variables", len(project.variables)),
        ("codes", sum(1 for _ in walk_codes(project))),
        ("themes", len(themes(project))),
        ("coded excerpts", selections),
        ("codings", codings),
        ("coders", len(project.users)),
        ("notes and microstories", len(project.notes)),
        ("sets", len(project.sets)),
        ("diagrams", len(project.graphs)),
    ]
    created = project.created.isoformat() if project.created else None
    return Summary(project.name, project.origin, project.description, created, counts)


def code_counts(project: Project) -> list[CodeCount]:
    """Every code in tree order with its counts; `total` includes the descendants' codings."""
    own: Counter[str] = Counter()
    sources: dict[str, set[str]] = defaultdict(set)
    for source, _selection, coding in walk_codings(project):
        key = guid_key(coding.code)
        own[key] += 1
        sources[key].add(guid_key(source.guid))
    rows = [CodeCount(entry, own[guid_key(entry.code.guid)]) for entry in walk_codes(project)]
    by_key = {guid_key(row.entry.code.guid): row for row in rows}
    covered: dict[str, set[str]] = {key: set(sources[key]) for key in by_key}
    for row in reversed(rows):  # children come after their parents, so walk back up
        key = guid_key(row.entry.code.guid)
        row.total += row.own
        row.sources = len(covered[key])
        parent = by_key.get(guid_key(row.entry.parent)) if row.entry.parent else None
        if parent is not None:
            parent.total += row.total
            covered[guid_key(parent.entry.code.guid)] |= covered[key]
    return rows
