"""Merging several coders' copies of a study into one project, with every conflict listed.

It lives in the core so that every front end (the `merge` command, a web page) merges the same way.
Objects are matched by GUID or, with `match="content"`, by what a reader sees (source text, code
path, case and variable names, selection spans, a coding's code and coder) for programs that make
new GUIDs on every export; content matching renames the later inputs' GUIDs to the first input's
and then merges by GUID. Everything matched is kept once: a selection present in two inputs with
the same GUID is one selection, holding the codings of both. What differs between two copies of
one object (a renamed code, a source whose text differs, a variable value that differs, a
selection whose span moved) is never resolved silently: the first input's value is kept and a
`Conflict` names both. Dates, authorship and the project's own name and description are taken from
the first input without comparison: they differ between any two copies.

A GUID names one object in the whole project. So a selection that a later copy holds in another
source (or a coding on another selection) is kept once, where the first input has it, with a
conflict; and an object of a later copy whose GUID the result already uses for an object of
another kind (a code with a source's GUID) is given a new GUID, with its references, and listed
in `renamed`.

The inputs are consumed: the result is built from their objects, so read them afresh for anything else.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter
from typing import Any, Literal

from qdaconv.errors import QdaconvError
from qdaconv.model import (
    Case,
    Coding,
    Graph,
    Link,
    Project,
    Selection,
    Set,
    Source,
    User,
    Variable,
    VariableValue,
    guid_key,
    stable_guid,
    walk_codes,
    walk_sources,
)
from qdaconv.references import Reference, objects, rewrite_references

Match = Literal["guid", "content"]


@dataclass(slots=True)
class Conflict:
    """One object that two inputs describe differently; `kept` is the value in the result."""

    kind: str
    label: str
    field: str
    kept: Any
    other: Any
    kept_from: str
    other_from: str

    def __str__(self) -> str:
        return (f"{self.kind} {self.label}: {self.field} is {_show(self.kept)} in {self.kept_from} but "
                f"{_show(self.other)} in {self.other_from} (kept {_show(self.kept)})")

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "field": self.field, "kept": _plain(self.kept),
                "other": _plain(self.other), "kept_from": self.kept_from, "other_from": self.other_from}


@dataclass(slots=True)
class MergeResult:
    project: Project
    conflicts: list[Conflict] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=lambda: defaultdict(int))  # objects taken from later inputs
    renamed: list[str] = field(default_factory=list)  # objects given a new GUID, said in words

    def as_dict(self) -> dict[str, Any]:
        return {"conflicts": [c.as_dict() for c in self.conflicts], "added": dict(sorted(self.added.items())),
                "renamed": self.renamed}


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _plain(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def _digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _text_digests(kept: Source, other: Source) -> tuple[str | None, str | None]:
    """The digests of two copies' texts, to compare: equal unless both have a text and the texts differ.

    Two text files with the same bytes hold the same text, so those are compared without decoding.
    """
    if kept.plain_text is None and other.plain_text is None and kept.plain_file is not None \
            and other.plain_file is not None and kept.plain_file.read_bytes() == other.plain_file.read_bytes():
        return None, None
    kept_text, other_text = _digest(kept.text), _digest(other.text)
    return kept_text, other_text if kept_text and other_text else kept_text


#: What a selection found in two inputs must agree on.
_SELECTION_FIELDS = ("kind", "start", "end", "page", "first_x", "first_y", "second_x", "second_y", "from_sync",
                     "to_sync", "name", "description")
_selection_fields = attrgetter(*_SELECTION_FIELDS)


def merge(projects: Sequence[Project], names: Sequence[str] | None = None, match: Match = "guid") -> MergeResult:
    """One project holding the work of all `projects`; the first one's values win conflicts."""
    if not projects:
        raise QdaconvError("nothing to merge: give at least one project")
    if match not in ("guid", "content"):
        raise ValueError(f"match must be 'guid' or 'content', not {match!r}")
    names = list(names) if names is not None else [f"input {i + 1}" for i in range(len(projects))]
    merger = _Merger(projects[0], names[0])
    renamed: list[str] = []
    for number, (project, name) in enumerate(zip(projects[1:], names[1:], strict=True), start=2):
        if match == "content":
            _align(merger.result, project, number)
        else:
            renamed += _separate_kinds(merger, project, number, name)
        merger.take(project, name)
    return MergeResult(merger.result, merger.conflicts, merger.added, renamed)


def _separate_kinds(merger: _Merger, project: Project, number: int, name: str) -> list[str]:
    """Give `project`'s objects whose GUID the result uses for an object of another kind a new GUID (the same
    for the same input every time), and point `project`'s references to them at it; say what was renamed."""
    # the kinds of object each GUID names in the result (several where a program shares one GUID between
    # objects, as ATLAS.ti does for a PDF quotation); selections and codings the merger keeps by GUID already
    kinds: dict[str, set[str]] = {}
    for kind, obj in objects(merger.result):
        if kind not in ("selection", "coding"):
            kinds.setdefault(guid_key(obj.guid), set()).add(kind)

    def kinds_of(key: str) -> set[str]:
        found = kinds.get(key, set())
        if key in merger.selections:
            found = found | {"selection"}
        if key in merger.codings:
            found = found | {"coding"}
        return found

    clashes = [(kind, obj) for kind, obj in objects(project)
               if (known := kinds_of(guid_key(obj.guid))) and kind not in known]
    if not clashes:
        return []
    mapping: dict[str, tuple[str, str]] = {}  # guid_key -> (new GUID, the kind renamed)
    said = []
    for kind, obj in clashes:
        new = stable_guid("qdaconv-merge", number, obj.guid)
        mapping[guid_key(obj.guid)] = (new, kind)
        what = getattr(obj, "name", None)
        others = " or ".join(sorted(kinds_of(guid_key(obj.guid))))
        said.append(f"{name}: the {kind} {_quote(what) + ' ' if what else ''}has the GUID {obj.guid} of a "
                    f"{others} in an earlier input; it was given the GUID {new}")
        obj.guid = new

    def renamed(ref: Reference) -> str | None:  # only references that may point at the renamed kind
        found = mapping.get(guid_key(ref.guid))
        return found[0] if found is not None and ref.kind in (found[1], "object") else None

    rewrite_references(project, renamed)
    return said


# ------------------------------------------------------------------------------ merging by GUID


class _Merger:
    def __init__(self, first: Project, name: str) -> None:
        self.result = first
        self.first_name = name
        self.conflicts: list[Conflict] = []
        self.added: dict[str, int] = defaultdict(int)
        self.where: dict[tuple[str, str], str] = {}  # (kind, guid_key) -> input the kept object came from
        self.users = {guid_key(u.guid): u for u in first.users}
        self.codes = {guid_key(e.code.guid): (e.code, e.parent) for e in walk_codes(first)}
        self.variables = {guid_key(v.guid): v for v in first.variables}
        self.cases = {guid_key(c.guid): c for c in first.cases}
        self.sources = {guid_key(s.guid): s for s in first.sources}
        self.notes = {guid_key(n.guid): n for n in first.notes}
        self.sets = {guid_key(s.guid): s for s in first.sets}
        self.links = {guid_key(link.guid): link for link in first.links}
        self.graphs = {guid_key(g.guid): g for g in first.graphs}
        # selections and codings by GUID across the whole result, with what holds each: a GUID is one object
        self.selections: dict[str, tuple[Selection, Source]] = {}
        self.codings: dict[str, tuple[Coding, Source | Selection]] = {}
        for document in walk_sources(first):
            self._index_codings(document.codings, document)
            for selection in document.selections:
                self.selections.setdefault(guid_key(selection.guid), (selection, document))
                self._index_codings(selection.codings, selection)

    def _index_codings(self, codings: list[Coding], holder: Source | Selection) -> None:
        for coding in codings:
            self.codings.setdefault(guid_key(coding.guid), (coding, holder))

    def _differ(self, kind: str, label: str, guid: str, name: str, pairs: Iterable[tuple[str, Any, Any]]) -> None:
        for field_name, kept, other in pairs:
            if kept != other:
                self.conflicts.append(Conflict(kind, label, field_name, kept, other,
                                               self.where.get((kind, guid_key(guid)), self.first_name), name))

    def _new(self, kind: str, key: str, name: str) -> None:
        """Count an object taken from input `name`; `key` is its guid_key."""
        self.added[kind] += 1
        self.where[(kind, key)] = name

    def take(self, project: Project, name: str) -> None:
        result = self.result
        self._objects(project.users, self.users, result.users, "user", name, self._user)
        self._codes(project, name)
        self._objects(project.variables, self.variables, result.variables, "variable", name, self._variable)
        self._objects(project.cases, self.cases, result.cases, "case", name, self._case)
        self._objects(project.sources, self.sources, result.sources, "source", name, self._source,
                      on_new=self._adopt_documents)
        self._objects(project.notes, self.notes, result.notes, "note", name, self._note,
                      on_new=self._adopt_documents)
        self._objects(project.sets, self.sets, result.sets, "set", name, self._set)
        self._objects(project.links, self.links, result.links, "link", name, self._link)
        self._objects(project.graphs, self.graphs, result.graphs, "graph", name, self._graph)
        _union(result.note_refs, project.note_refs)

    def _objects(self, items: Iterable[Any], index: dict[str, Any], target: list[Any], kind: str, name: str,
                 merge_into: Callable[[Any, Any, str], None],
                 on_new: Callable[[Any, str], None] | None = None) -> None:
        """Add the objects the merged project lacks (then `on_new` on each); merge the others into the copy
        already kept."""
        for item in items:
            key = guid_key(item.guid)
            kept = index.get(key)
            if kept is None:
                target.append(item)
                index[key] = item
                self._new(kind, key, name)
                if on_new is not None:
                    on_new(item, name)
            else:
                merge_into(kept, item, name)

    def _user(self, kept: User, user: User, name: str) -> None:
        self._differ("user", _quote(kept.name or kept.guid), kept.guid, name,
                     [("name", kept.name, user.name), ("id", kept.id, user.id)])

    def _variable(self, kept: Variable, variable: Variable, name: str) -> None:
        self._differ("variable", _quote(kept.name), kept.guid, name, [
            ("name", kept.name, variable.name), ("type", kept.type, variable.type),
            ("description", kept.description, variable.description)])

    def _link(self, kept: Link, link: Link, name: str) -> None:
        self._differ("link", _quote(kept.name or kept.guid), kept.guid, name, [
            (f, getattr(kept, f), getattr(link, f)) for f in ("name", "direction", "color", "origin", "target")])
        _union(kept.note_refs, link.note_refs)

    def _codes(self, project: Project, name: str) -> None:
        for entry in walk_codes(project):
            code, key = entry.code, guid_key(entry.code.guid)
            found = self.codes.get(key)
            if found is not None:
                kept, parent = found
                self._differ("code", _quote(kept.name), kept.guid, name, [
                    ("name", kept.name, code.name), ("codable", kept.codable, code.codable),
                    ("color", (kept.color or "").upper() or None, (code.color or "").upper() or None),
                    ("description", kept.description, code.description),
                    ("parent", self._code_name(parent), self._code_name(entry.parent))])
                _union(kept.note_refs, code.note_refs)
                continue
            copy = replace(code, children=[])
            parent = self.codes.get(guid_key(entry.parent)) if entry.parent else None
            (parent[0].children if parent is not None else self.result.codes).append(copy)
            self.codes[key] = (copy, parent[0].guid if parent is not None else None)
            self._new("code", key, name)

    def _code_name(self, guid: str | None) -> str | None:
        if guid is None:
            return None
        found = self.codes.get(guid_key(guid))
        return found[0].name if found is not None else guid

    def _case(self, kept: Case, case: Case, name: str) -> None:
        label = _quote(kept.name or kept.guid)
        self._differ("case", label, kept.guid, name, [("name", kept.name, case.name),
                                                     ("description", kept.description, case.description)])
        _union(kept.code_refs, case.code_refs)
        _union(kept.source_refs, case.source_refs)
        _union(kept.selection_refs, case.selection_refs)
        self._values("case", label, kept.guid, kept.variable_values, case.variable_values, name)

    def _values(self, kind: str, label: str, guid: str, kept: list[VariableValue], other: list[VariableValue],
                name: str) -> None:
        by_variable = {guid_key(v.variable): v for v in kept}
        for value in other:
            mine = by_variable.get(guid_key(value.variable))
            if mine is None:
                kept.append(value)
                by_variable[guid_key(value.variable)] = value
            elif (mine.type, mine.value) != (value.type, value.value):
                variable = self.variables.get(guid_key(value.variable))
                self._differ(kind, label, guid, name, [(
                    f"value of {_quote(variable.name if variable else value.variable)}",
                    mine.value, value.value)])

    def _source(self, kept: Source, source: Source, name: str) -> None:
        self._document(kept, source, "source", name)

    def _note(self, kept: Source, note: Source, name: str) -> None:
        self._document(kept, note, "note", name)

    def _adopt_documents(self, document: Source, name: str) -> None:
        """`_adopt` a source or note new to the result, then each document nested in what it keeps (the
        representation of a PDF selection kept elsewhere stays out, and so do its selections)."""
        self._adopt(document, name)
        for nested in (document.representation, document.text_description, *document.transcripts,
                       *(selection.representation for selection in document.selections)):
            if nested is not None:
                self._adopt_documents(nested, name)

    def _adopt(self, document: Source, name: str) -> None:
        """Take a document new to the result with what it holds, except selections and codings the result
        already has elsewhere: those stay where they are, with a conflict, and get what this copy adds."""
        document.codings = self._new_codings(document.codings, document, name)
        selections = []
        for selection in document.selections:
            found = self.selections.get(guid_key(selection.guid))
            if found is not None:
                self._moved(found, selection, _quote(document.name or document.guid), name)
                continue
            selection.codings = self._new_codings(selection.codings, selection, name)
            self.selections[guid_key(selection.guid)] = (selection, document)
            selections.append(selection)
        self.added["selection"] += len(selections)
        document.selections = selections

    def _new_codings(self, codings: list[Coding], holder: Source | Selection, name: str) -> list[Coding]:
        """The codings of a new selection or document that the result does not hold elsewhere (counted as added)."""
        kept = []
        for coding in codings:
            found = self.codings.get(guid_key(coding.guid))
            if found is not None:
                self._misplaced(found, coding, _holder_label(holder), name)
                continue
            self.codings[guid_key(coding.guid)] = (coding, holder)
            kept.append(coding)
        self.added["coding"] += len(kept)
        return kept

    def _moved(self, found: tuple[Selection, Source], selection: Selection, label: str, name: str) -> None:
        """A selection this copy holds in another source than the result does: kept where it is."""
        mine, holder = found
        self._differ("selection", mine.guid, mine.guid, name, [("source", _quote(holder.name or holder.guid), label)])
        self._selection(mine, selection, _quote(holder.name or holder.guid), name)

    def _misplaced(self, found: tuple[Coding, Source | Selection], coding: Coding, where: str, name: str) -> None:
        """A coding this copy puts on another selection or source than the result does: kept where it is."""
        mine, holder = found
        self._differ("coding", mine.guid, mine.guid, name, [("place", _holder_label(holder), where)])
        _union(mine.note_refs, coding.note_refs)

    def _document(self, kept: Source, source: Source, kind: str, name: str) -> None:
        label = _quote(kept.name or kept.guid)
        self._differ(kind, label, kept.guid, name, [
            ("kind", kept.kind, source.kind), ("name", kept.name, source.name),
            ("description", kept.description, source.description),
            ("text (SHA-256 prefix)", *_text_digests(kept, source)),
            ("path", kept.path, source.path)])
        _union(kept.note_refs, source.note_refs)
        self._values(kind, label, kept.guid, kept.variable_values, source.variable_values, name)
        _union_by_guid(kept.sync_points, source.sync_points)
        self._codings(kept, kept.codings, source.codings, f"{kind} {label}", name)
        for selection in source.selections:
            key = guid_key(selection.guid)
            found = self.selections.get(key)
            if found is None:
                selection.codings = self._new_codings(selection.codings, selection, name)
                kept.selections.append(selection)
                self.selections[key] = (selection, kept)
                self._new("selection", key, name)
            elif found[1] is not kept:
                self._moved(found, selection, label, name)
            else:
                self._selection(found[0], selection, label, name)
        for attribute in ("representation", "text_description"):
            mine, theirs = getattr(kept, attribute), getattr(source, attribute)
            if mine is None and theirs is not None:
                setattr(kept, attribute, theirs)
            elif mine is not None and theirs is not None:
                self._document(mine, theirs, "source", name)
        transcripts = {guid_key(t.guid): t for t in kept.transcripts}
        for transcript in source.transcripts:
            mine = transcripts.get(guid_key(transcript.guid))
            if mine is None:
                kept.transcripts.append(transcript)
            else:
                self._document(mine, transcript, "source", name)

    def _selection(self, kept: Selection, selection: Selection, where: str, name: str) -> None:
        label = f"{kept.guid} in {where}"
        mine, theirs = _selection_fields(kept), _selection_fields(selection)
        if mine != theirs:  # most selections found twice are the same: compare them at once
            self._differ("selection", label, kept.guid, name, zip(_SELECTION_FIELDS, mine, theirs, strict=True))
        _union(kept.note_refs, selection.note_refs)
        self._codings(kept, kept.codings, selection.codings, f"selection {label}", name)
        if kept.representation is None and selection.representation is not None:
            kept.representation = selection.representation
        elif kept.representation is not None and selection.representation is not None:
            self._document(kept.representation, selection.representation, "source", name)

    def _codings(self, holder: Source | Selection, kept: list[Coding], other: list[Coding], where: str,
                 name: str) -> None:
        """Merge the codings a copy puts on `holder` (a source or selection) into the result's (`kept`)."""
        for coding in other:
            key = guid_key(coding.guid)
            found = self.codings.get(key)
            if found is None:
                kept.append(coding)
                self.codings[key] = (coding, holder)
                self._new("coding", key, name)
            elif found[1] is not holder:
                self._misplaced(found, coding, where, name)
            else:
                mine = found[0]
                if (mine.code, mine.creating_user) != (coding.code, coding.creating_user):
                    self._differ("coding", f"{coding.guid} on {where}", mine.guid, name, [
                        ("code", self._code_name(mine.code), self._code_name(coding.code)),
                        ("creating_user", mine.creating_user, coding.creating_user)])
                _union(mine.note_refs, coding.note_refs)

    def _set(self, kept: Set, group: Set, name: str) -> None:
        self._differ("set", _quote(kept.name), kept.guid, name, [
            ("name", kept.name, group.name), ("description", kept.description, group.description)])
        _union(kept.member_codes, group.member_codes)
        _union(kept.member_sources, group.member_sources)
        _union(kept.member_notes, group.member_notes)

    def _graph(self, kept: Graph, graph: Graph, name: str) -> None:
        label = _quote(kept.name or kept.guid)
        self._differ("graph", label, kept.guid, name, [("name", kept.name, graph.name)])
        for attribute in ("vertices", "edges"):
            mine = {guid_key(item.guid): item for item in getattr(kept, attribute)}
            for item in getattr(graph, attribute):
                found = mine.get(guid_key(item.guid))
                if found is None:
                    getattr(kept, attribute).append(item)
                elif found != item:
                    self._differ("graph", label, kept.guid, name, [(f"{attribute[:-1]} {item.guid}", found, item)])


def _quote(text: str | None) -> str:
    return f'"{text}"'


def _holder_label(holder: Source | Selection) -> str:
    """What holds a coding, as the conflicts name it."""
    if isinstance(holder, Selection):
        return f"selection {holder.guid}"
    return f"source {_quote(holder.name or holder.guid)}"


def _union(kept: list[str], other: Sequence[str]) -> None:
    """Append the GUIDs of `other` that `kept` lacks, in their order."""
    if not other:
        return
    seen = {guid_key(g) for g in kept}
    for guid in other:
        if guid_key(guid) not in seen:
            kept.append(guid)
            seen.add(guid_key(guid))


def _union_by_guid(kept: list, other: Iterable) -> None:
    seen = {guid_key(item.guid) for item in kept}
    for item in other:
        if guid_key(item.guid) not in seen:
            kept.append(item)
            seen.add(guid_key(item.guid))


# ------------------------------------------------------------------------------ matching by content


class _Pairs:
    """GUID renames of a later input, content key by content key; each kept object is paired once."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}  # guid_key in the later input -> GUID in the result

    def pair(self, kept: Iterable[Any], incoming: Iterable[Any], key: Callable[[Any, bool], Any]) -> list[tuple]:
        """Pair objects whose keys are equal (in order among equal keys), then the rest by GUID."""
        waiting: dict[Any, deque] = defaultdict(deque)
        for obj in kept:
            waiting[key(obj, True)].append(obj)
        pairs, unpaired = [], []
        for obj in incoming:
            queue = waiting.get(key(obj, False))
            if queue:
                pairs.append((queue.popleft(), obj))
            else:
                unpaired.append(obj)
        # an object whose content changed but whose GUID was kept (a renamed code) is still the same object
        left = {guid_key(obj.guid): obj for queue in waiting.values() for obj in queue}
        pairs += [(left.pop(guid_key(obj.guid)), obj) for obj in unpaired if guid_key(obj.guid) in left]
        for mine, obj in pairs:
            self.mapping[guid_key(obj.guid)] = mine.guid
        return pairs

    def ref(self, guid: str | None, kept: bool) -> str:
        """A reference as a key: the result's GUID, whichever side it comes from."""
        if kept or guid is None:
            return guid_key(guid)
        return guid_key(self.mapping.get(guid_key(guid), guid))


def _align(result: Project, project: Project, number: int) -> None:
    """Give `project`'s objects the GUIDs of the result's objects with the same content.

    Objects without a counterpart keep their GUIDs, unless the result already uses the GUID for
    something else; then they get a new GUID (the same for the same input every time).
    """
    pairs = _Pairs()
    pairs.pair(result.users, project.users, lambda u, _k: (u.name or u.id or "").casefold())
    paths = {id(e.code): e.path for tree in (result, project) for e in walk_codes(tree)}
    pairs.pair([e.code for e in walk_codes(result)], [e.code for e in walk_codes(project)],
               lambda code, _k: paths[id(code)])
    pairs.pair(result.variables, project.variables, lambda v, _k: v.name)
    pairs.pair(result.cases, project.cases, lambda c, _k: c.name or c.guid)

    def text_key(source: Source, _kept: bool) -> tuple:
        text = source.text
        return (source.kind, _digest(text)) if text is not None else (source.kind, source.name, source.path)

    documents = pairs.pair(result.sources, project.sources, text_key)
    documents += pairs.pair(result.notes, project.notes, text_key)
    while documents:
        kept, incoming = documents.pop()
        documents += _pair_inside(pairs, kept, incoming, text_key)
    pairs.pair(result.sets, project.sets, lambda s, _k: s.name)
    pairs.pair(result.links, project.links,
               lambda link, k: (pairs.ref(link.origin, k), pairs.ref(link.target, k), link.name))
    for kept_graph, graph in pairs.pair(result.graphs, project.graphs, lambda g, _k: g.name or g.guid):
        pairs.pair(kept_graph.vertices, graph.vertices, lambda v, k: (pairs.ref(v.represented, k), v.name))
        pairs.pair(kept_graph.edges, graph.edges, lambda e, k: (
            pairs.ref(e.source_vertex, k), pairs.ref(e.target_vertex, k), e.name))
    taken = {guid_key(obj.guid) for _kind, obj in objects(result)}
    for _kind, obj in objects(project):
        key = guid_key(obj.guid)
        if key in pairs.mapping:
            continue
        if key in taken:  # a new object whose GUID the result already uses for another one
            pairs.mapping[key] = stable_guid("qdaconv-merge", number, obj.guid)
    for _kind, obj in list(objects(project)):
        new = pairs.mapping.get(guid_key(obj.guid))
        if new is not None:
            obj.guid = new
    rewrite_references(project, pairs.mapping)


def _pair_inside(pairs: _Pairs, kept: Source, incoming: Source,
                 text_key: Callable[[Source, bool], tuple]) -> list[tuple[Source, Source]]:
    """Pair what two matched documents hold; returns the nested documents paired, to look into next."""
    pairs.pair(kept.sync_points, incoming.sync_points, lambda p, _k: (p.position, p.timestamp))

    def span(selection: Selection, k: bool) -> tuple:
        return (selection.kind, selection.start, selection.end, selection.page, selection.first_x,
                selection.first_y, selection.second_x, selection.second_y,
                pairs.ref(selection.from_sync, k), pairs.ref(selection.to_sync, k))

    def coding_key(coding: Any, k: bool) -> tuple:
        return pairs.ref(coding.code, k), pairs.ref(coding.creating_user, k)

    pairs.pair(kept.codings, incoming.codings, coding_key)
    nested: list[tuple[Source, Source]] = []
    for mine, theirs in pairs.pair(kept.selections, incoming.selections, span):
        pairs.pair(mine.codings, theirs.codings, coding_key)
        if mine.representation is not None and theirs.representation is not None:
            nested += pairs.pair([mine.representation], [theirs.representation], text_key)
    for attribute in ("representation", "text_description"):
        mine, theirs = getattr(kept, attribute), getattr(incoming, attribute)
        if mine is not None and theirs is not None:
            nested += pairs.pair([mine], [theirs], text_key)
    nested += pairs.pair(kept.transcripts, incoming.transcripts, text_key)
    return nested
