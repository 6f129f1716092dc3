"""Semantic diff of two projects, for `qdaconv diff` and the round-trip tests.

Every object is flattened into a record with a key and comparable fields; references become
the key of the object they point to. With `match="guid"` keys are GUIDs (compared without
case or braces); with `match="content"` they are built from what a reader sees (code path,
source name, span), for tools that regenerate GUIDs on every export. `features` limits the
comparison to what a format can carry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from qdaconv.formats import ALL_FEATURES, Feature
from qdaconv.model import Blob, Project, Selection, Source, guid_key, walk_codes, walk_documents

Match = Literal["guid", "content"]

_SOURCE_FEATURE = {
    "Text": Feature.TEXT_SOURCES, "PDF": Feature.PDF_SOURCES, "Picture": Feature.PICTURE_SOURCES,
    "Audio": Feature.AUDIO_SOURCES, "Video": Feature.VIDEO_SOURCES, "Note": Feature.NOTES,
    "Transcript": Feature.TRANSCRIPTS, "Representation": Feature.PDF_SOURCES,
    "TextDescription": Feature.PICTURE_SOURCES,
}
_FIELD_FEATURE = {
    "description": Feature.DESCRIPTIONS, "note_refs": Feature.NOTE_REFS,
    "creating_user": Feature.AUTHORSHIP, "created": Feature.AUTHORSHIP,
    "modifying_user": Feature.AUTHORSHIP, "modified": Feature.AUTHORSHIP,
    "rich_text_path": Feature.RICH_TEXT, "rich_bytes": Feature.RICH_TEXT,
    "values": Feature.VARIABLES,
}


#: Fields that name or place an object rather than say what it holds: a content match, made for programs
#: that give objects new GUIDs, ignores them (file names in a package are made from GUIDs; user ids and
#: selection labels are the program's own). The texts, bytes and everything else are still compared.
_NOT_CONTENT = {("content", kind, name) for kind in ("source", "note") for name in (
    "plain_text_path", "plain_text_inline", "plain_bytes", "rich_text_path", "path", "current_path")
} | {("content", "user", "id"), ("content", "selection", "name")}


@dataclass(slots=True)
class Record:
    kind: str
    key: str
    label: str
    feature: Feature
    fields: dict[str, Any]


@dataclass(slots=True)
class Change:
    """One difference: `action` is added, removed or changed; `fields` maps a field to (old, new)."""

    kind: str
    action: str
    label: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    def __str__(self) -> str:
        mark = {"added": "+", "removed": "-", "changed": "~"}[self.action]
        text = f"{mark} {self.kind} {self.label}"
        for name, (old, new) in self.fields.items():
            text += f"\n    {name}: {_show(old)} -> {_show(new)}"
        return text


@dataclass(slots=True)
class DiffResult:
    changes: list[Change]

    @property
    def same(self) -> bool:
        return not self.changes

    def render_text(self) -> str:
        if not self.changes:
            return "no differences"
        counts = {action: sum(c.action == action for c in self.changes) for action in ("added", "removed", "changed")}
        lines = [str(change) for change in self.changes]
        lines.append(f"{len(self.changes)} differences: "
                     + ", ".join(f"{n} {action}" for action, n in counts.items() if n))
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "changes": [
                {"kind": c.kind, "action": c.action, "label": c.label,
                 "fields": {k: [_jsonable(o), _jsonable(n)] for k, (o, n) in c.fields.items()}}
                for c in self.changes
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2, ensure_ascii=False)


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def _digest(blob: Blob | None) -> str | None:
    if blob is None:
        return None
    sha = hashlib.sha256()
    with blob.open() as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _text_digest(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


class _Flattener:
    """Turns a project into records keyed for one match mode."""

    def __init__(self, project: Project, match: Match) -> None:
        self.project = project
        self.match = match
        self.keys: dict[str, str] = {}  # guid_key -> record key
        self.records: dict[tuple[str, str], Record] = {}
        self._synced: tuple[Source | None, dict[str, int | None]] = (None, {})

    # -- keys
    def _claim(self, kind: str, guid: str | None, content_key: str) -> str:
        base = f"{kind}:{guid_key(guid)}" if self.match == "guid" else f"{kind}:{content_key}"
        key, n = base, 1
        while (kind, key) in self.records:
            n += 1
            key = f"{base}#{n}"
        if guid:
            self.keys.setdefault(guid_key(guid), key)
        return key

    def ref(self, guid: str | None) -> str | None:
        if guid is None:
            return None
        return self.keys.get(guid_key(guid), f"unresolved:{guid}")

    def refs(self, guids: Iterable[str]) -> tuple[str | None, ...]:
        return tuple(sorted(self.ref(g) or "" for g in guids))

    def add(self, kind: str, guid: str | None, content_key: str, label: str, feature: Feature,
            fields: dict[str, Any]) -> str:
        key = self._claim(kind, guid, content_key)
        self.records[(kind, key)] = Record(kind, key, label, feature, fields)
        return key

    # -- passes: identities first (so references resolve), then fields
    def run(self) -> dict[tuple[str, str], Record]:
        project = self.project
        for user in project.users:
            self.add("user", user.guid, user.name or user.id or user.guid, user.name or user.guid,
                     Feature.USERS, {"name": user.name, "id": user.id})
        entries = list(walk_codes(project))
        for entry in entries:
            label = " > ".join(entry.path)
            self.add("code", entry.code.guid, label, label, Feature.CODES, {})
        for variable in project.variables:
            self.add("variable", variable.guid, variable.name, variable.name, Feature.VARIABLES,
                     {"name": variable.name, "type": variable.type, "description": variable.description})
        for case in project.cases:
            self.add("case", case.guid, case.name or case.guid, case.name or case.guid, Feature.CASES, {})
        placed: list[tuple[Source, str]] = []
        held_by: dict[int, str] = {}  # id of a document or selection -> its record key, for what it holds
        for entry in walk_documents(project):
            source = entry.source
            holder = entry.holder_selection if entry.holder_selection is not None else entry.holder
            parent = held_by[id(holder)] if holder is not None else None
            name = source.name or source.guid
            # a nested document (representation, text description, transcript) is found by its place
            content = f"{parent}/{source.kind}" if parent else f"{source.kind}:{name}"
            key = self.add("source" if source.kind != "Note" else "note", source.guid, content, name,
                           _SOURCE_FEATURE.get(source.kind, Feature.TEXT_SOURCES), {})
            placed.append((source, key))
            held_by[id(source)] = key
            for selection in source.selections:
                held_by[id(selection)] = self._selection(source, key, selection)
        for graph in project.graphs:
            self.add("graph", graph.guid, graph.name or graph.guid, graph.name or graph.guid, Feature.GRAPHS, {})
        # everything below may refer to anything above
        for entry in entries:
            code = entry.code
            self._fill("code", code.guid, {
                "name": code.name, "parent": self.ref(entry.parent), "codable": code.codable,
                "color": (code.color or "").upper() or None, "description": code.description,
                "note_refs": self.refs(code.note_refs)})
        for case in project.cases:
            self._fill("case", case.guid, {
                "name": case.name, "description": case.description, "code_refs": self.refs(case.code_refs),
                "source_refs": self.refs(case.source_refs), "selection_refs": self.refs(case.selection_refs),
                "values": self._values(case.variable_values)})
        for source, key in placed:
            self._source_fields(source, key)
        for group in project.sets:
            self.add("set", group.guid, group.name, group.name, Feature.SETS, {
                "name": group.name, "description": group.description,
                "member_codes": self.refs(group.member_codes), "member_sources": self.refs(group.member_sources),
                "member_notes": self.refs(group.member_notes)})
        for link in project.links:
            content = f"{self.ref(link.origin)}->{self.ref(link.target)}:{link.name or ''}"
            self.add("link", link.guid, content, link.name or content, Feature.LINKS, {
                "name": link.name, "direction": link.direction, "color": link.color,
                "origin": self.ref(link.origin), "target": self.ref(link.target),
                "note_refs": self.refs(link.note_refs)})
        for graph in project.graphs:
            graph_key = self.ref(graph.guid)
            self._fill("graph", graph.guid, {"name": graph.name})
            for vertex in graph.vertices:
                content = f"{graph_key}/{self.ref(vertex.represented) or vertex.name or ''}"
                self.add("vertex", vertex.guid, content, vertex.name or content, Feature.GRAPHS, {
                    "graph": graph_key, "represented": self.ref(vertex.represented), "name": vertex.name,
                    "geometry": (vertex.first_x, vertex.first_y, vertex.second_x, vertex.second_y),
                    "shape": vertex.shape, "color": vertex.color})
            for edge in graph.edges:
                content = f"{graph_key}/{self.ref(edge.source_vertex)}->{self.ref(edge.target_vertex)}"
                self.add("edge", edge.guid, content, edge.name or content, Feature.GRAPHS, {
                    "graph": graph_key, "source_vertex": self.ref(edge.source_vertex),
                    "target_vertex": self.ref(edge.target_vertex), "represented": self.ref(edge.represented),
                    "name": edge.name, "color": edge.color, "direction": edge.direction,
                    "line_style": edge.line_style})
        self.add("project", None, "project", project.name, Feature.PROJECT_INFO, {
            "name": project.name, "origin": project.origin, "base_path": project.base_path,
            "description": project.description, "creating_user": self.ref(project.creating_user),
            "created": project.created, "modifying_user": self.ref(project.modifying_user),
            "modified": project.modified, "note_refs": self.refs(project.note_refs)})
        return self.records

    def _fill(self, kind: str, guid: str, fields: dict[str, Any]) -> None:
        self.records[(kind, self.keys[guid_key(guid)])].fields.update(fields)

    def _values(self, values) -> tuple:
        return tuple(sorted((self.ref(v.variable) or "", v.type, str(v.value)) for v in values))

    def _sync_positions(self, source: Source) -> dict[str, int | None]:
        if self._synced[0] is not source:
            self._synced = (source, {guid_key(point.guid): point.position for point in source.sync_points})
        return self._synced[1]

    def _selection(self, source: Source, source_key: str, selection: Selection) -> str:
        if selection.kind in ("PlainText", "Audio", "Video"):
            where = f"[{selection.start}:{selection.end}]"
        elif selection.kind == "Transcript":
            at = self._sync_positions(source)
            where = f"[{at.get(guid_key(selection.from_sync))}:{at.get(guid_key(selection.to_sync))}]"
        else:
            box = (selection.first_x, selection.first_y, selection.second_x, selection.second_y)
            where = f"[p{selection.page}:{','.join(map(str, box))}]"
        label = f"{where} in {source.name or source.guid}"
        if selection.name:
            label = f"{_show(selection.name)} {label}"
        feature = Feature.TEXT_SELECTIONS if selection.kind == "PlainText" else Feature.MEDIA_SELECTIONS
        return self.add("selection", selection.guid, f"{source_key}{where}", label, feature, {})

    def _authorship(self, obj) -> dict[str, Any]:
        return {"creating_user": self.ref(obj.creating_user), "created": obj.created,
                "modifying_user": self.ref(getattr(obj, "modifying_user", None)),
                "modified": getattr(obj, "modified", None)}

    def _source_fields(self, source: Source, key: str) -> None:
        kind = "note" if source.kind == "Note" else "source"
        record = self.records[(kind, key)]
        record.fields.update({
            "kind": source.kind, "name": source.name, "description": source.description,
            "text": _text_digest(source.text),  # what the text says, not how it is stored (inline, file, BOM)
            "rich_text_path": source.rich_text_path, "rich_bytes": _digest(source.rich_file),
            "path": source.path, "current_path": source.current_path, "bytes": _digest(source.file),
            "values": self._values(source.variable_values), "note_refs": self.refs(source.note_refs),
            **self._authorship(source)})
        for point in source.sync_points:
            self.add("sync point", point.guid, f"{key}@{point.position}/{point.timestamp}",
                     f"{point.position}/{point.timestamp} ms in {source.name or source.guid}",
                     Feature.TRANSCRIPTS, {"document": key, "position": point.position,
                                           "timestamp": point.timestamp})
        for coding in source.codings:
            self._coding(coding, key, record.label, Feature.SOURCE_CODINGS)
        for selection in source.selections:
            sel_key = self.keys[guid_key(selection.guid)]
            sel_record = self.records[("selection", sel_key)]
            sel_record.fields.update({
                "kind": selection.kind, "document": key, "name": selection.name,
                "description": selection.description, "start": selection.start, "end": selection.end,
                "page": selection.page,
                "geometry": (selection.first_x, selection.first_y, selection.second_x, selection.second_y),
                "from_sync": self.ref(selection.from_sync), "to_sync": self.ref(selection.to_sync),
                "note_refs": self.refs(selection.note_refs), **self._authorship(selection)})
            for coding in selection.codings:
                self._coding(coding, sel_key, sel_record.label, Feature.CODINGS)

    def _coding(self, coding, where_key: str, where_label: str, feature: Feature) -> None:
        code = self.ref(coding.code)
        code_record = self.records.get(("code", code or ""))
        label = f"{code_record.label if code_record else coding.code} on {where_label}"
        self.add("coding", coding.guid, f"{where_key}|{code}", label, feature, {  # the coder is a field
            "code": code, "on": where_key, "creating_user": self.ref(coding.creating_user),
            "created": coding.created, "note_refs": self.refs(coding.note_refs)})


def diff(a: Project, b: Project, match: Match = "guid", features: Iterable[Feature] | None = None) -> DiffResult:
    """What differs between `a` and `b`, limited to `features` (all by default)."""
    if match not in ("guid", "content"):
        raise ValueError(f"match must be 'guid' or 'content', not {match!r}")
    allowed = frozenset(features) if features is not None else ALL_FEATURES
    left, right = _Flattener(a, match).run(), _Flattener(b, match).run()
    changes: list[Change] = []
    for key, record in left.items():
        if record.feature not in allowed:
            continue
        other = right.get(key)
        if other is None:
            changes.append(Change(record.kind, "removed", record.label))
            continue
        fields = {name: (value, other.fields.get(name)) for name, value in record.fields.items()
                  if _FIELD_FEATURE.get(name, record.feature) in allowed and value != other.fields.get(name)
                  and not _ignored(record.kind, name, allowed) and (match, record.kind, name) not in _NOT_CONTENT}
        if fields:
            changes.append(Change(record.kind, "changed", record.label, fields))
    for key, record in right.items():
        if key not in left and record.feature in allowed:
            changes.append(Change(record.kind, "added", record.label))
    return DiffResult(changes)


def _ignored(kind: str, name: str, allowed: frozenset[Feature]) -> bool:
    """Code fields that belong to a narrower feature than codes themselves."""
    if kind == "code" and name == "color":
        return Feature.CODE_COLORS not in allowed
    if kind == "code" and name == "parent":
        return Feature.CODE_TREE not in allowed
    return False
