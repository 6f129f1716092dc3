"""Every GUID reference in a project, as one public list, and rewriting them through a mapping.

A reference is a field (or one item of a list field) of a model object that holds the GUID of
another object: a coding's code, a case's source refs, a link's origin, the creating user of a
selection, and so on. `references(project)` yields each one with what holds it, the field, the kind
of object it must point to and the GUID; `rewrite_references(project, mapping)` changes them
through a mapping of GUIDs. Merging projects, redaction and validation all walk the same list, so a
new field in the model is added here once. The objects' own GUIDs (their identity) are not
references; `objects(project)` lists those.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from qdaconv.model import Project, guid_key, walk_codes, walk_sources

#: The kinds of object a reference may have to point to. "object" means any object with a GUID
#: (links and graph vertices may represent codes, sources, notes, selections, cases, ...).
KINDS: tuple[str, ...] = ("code", "note", "source", "selection", "case", "user", "variable", "sync point",
                          "vertex", "object")


@dataclass(frozen=True, slots=True)
class Reference:
    """One reference: `holder.field` (or `holder.field[index]` for a list) holds `guid`, of a `kind`."""

    holder: Any
    field: str
    kind: str
    guid: str
    index: int | None = None

    def set(self, guid: str) -> None:
        """Point the reference at another GUID."""
        if self.index is None:
            setattr(self.holder, self.field, guid)
        else:
            getattr(self.holder, self.field)[self.index] = guid


def _one(holder: Any, field: str, kind: str) -> Iterator[Reference]:
    guid = getattr(holder, field)
    if guid:
        yield Reference(holder, field, kind, guid)


def _many(holder: Any, field: str, kind: str) -> Iterator[Reference]:
    for index, guid in enumerate(getattr(holder, field)):
        yield Reference(holder, field, kind, guid, index)


def _authorship(holder: Any) -> Iterator[Reference]:
    yield from _one(holder, "creating_user", "user")
    yield from _one(holder, "modifying_user", "user")


def references(project: Project) -> Iterator[Reference]:
    """Every GUID reference of the project, in a stable order (empty ones are left out)."""
    yield from _authorship(project)
    yield from _many(project, "note_refs", "note")
    for entry in walk_codes(project):
        yield from _many(entry.code, "note_refs", "note")
    for case in project.cases:
        yield from _many(case, "code_refs", "code")
        yield from _many(case, "source_refs", "source")
        yield from _many(case, "selection_refs", "selection")
        for value in case.variable_values:
            yield from _one(value, "variable", "variable")
    for source in walk_sources(project):
        yield from _authorship(source)
        yield from _many(source, "note_refs", "note")
        for value in source.variable_values:
            yield from _one(value, "variable", "variable")
        for coding in source.codings:
            yield from _coding(coding)
        for selection in source.selections:
            yield from _authorship(selection)
            yield from _many(selection, "note_refs", "note")
            yield from _one(selection, "from_sync", "sync point")
            yield from _one(selection, "to_sync", "sync point")
            for coding in selection.codings:
                yield from _coding(coding)
    for group in project.sets:
        yield from _many(group, "member_codes", "code")
        yield from _many(group, "member_sources", "source")
        yield from _many(group, "member_notes", "note")
    for link in project.links:
        yield from _one(link, "origin", "object")
        yield from _one(link, "target", "object")
        yield from _many(link, "note_refs", "note")
    for graph in project.graphs:
        for vertex in graph.vertices:
            yield from _one(vertex, "represented", "object")
        for edge in graph.edges:
            yield from _one(edge, "source_vertex", "vertex")
            yield from _one(edge, "target_vertex", "vertex")
            yield from _one(edge, "represented", "object")


def _coding(coding: Any) -> Iterator[Reference]:
    yield from _one(coding, "code", "code")
    yield from _one(coding, "creating_user", "user")
    yield from _many(coding, "note_refs", "note")


def objects(project: Project) -> Iterator[tuple[str, Any]]:
    """Every object that has a GUID of its own, with its kind (the kinds references point to).

    Kinds: user, code, variable, case, source (any source or nested text document), note,
    selection, coding, sync point, set, link, graph, vertex, edge.
    """
    for user in project.users:
        yield "user", user
    for entry in walk_codes(project):
        yield "code", entry.code
    for variable in project.variables:
        yield "variable", variable
    for case in project.cases:
        yield "case", case
    for source in walk_sources(project):
        yield ("note" if source.kind == "Note" else "source"), source
        for point in source.sync_points:
            yield "sync point", point
        for coding in source.codings:
            yield "coding", coding
        for selection in source.selections:
            yield "selection", selection
            for coding in selection.codings:
                yield "coding", coding
    for group in project.sets:
        yield "set", group
    for link in project.links:
        yield "link", link
    for graph in project.graphs:
        yield "graph", graph
        for vertex in graph.vertices:
            yield "vertex", vertex
        for edge in graph.edges:
            yield "edge", edge


def rewrite_references(project: Project, mapping: Mapping[str, str] | Callable[[Reference], str | None]) -> int:
    """Point references elsewhere; returns how many were changed.

    `mapping` maps old GUIDs (compared by `guid_key`, so case and braces do not matter) to new
    ones, or is a function of the Reference that returns the new GUID or None to leave it.
    """
    if callable(mapping):
        choose = mapping
    else:
        by_key = {guid_key(old): new for old, new in mapping.items()}

        def choose(ref: Reference) -> str | None:
            return by_key.get(guid_key(ref.guid))

    changed = 0
    for ref in list(references(project)):
        new = choose(ref)
        if new is not None and new != ref.guid:
            ref.set(new)
            changed += 1
    return changed
