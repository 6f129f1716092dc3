"""Where things are in a project: every source and nested text with a readable place, and every GUID's kind.

Places read like paths (`TextSource "Anna 1"/PlainTextSelection "We met"/Coding <guid>`). On a
project of a million selections, building a place for every object would cost more memory than
the objects, so the index keeps only each GUID's kind and finds the places again for the few GUIDs
an issue names.
"""

from __future__ import annotations

import heapq
import operator
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from itertools import chain, islice

from qdaconv.issues import Issue
from qdaconv.model import Project, Selection, Source, walk_codes

ELEMENT = {"Text": "TextSource", "PDF": "PDFSource", "Picture": "PictureSource", "Audio": "AudioSource",
           "Video": "VideoSource", "Note": "Note", "Representation": "Representation",
           "TextDescription": "TextDescription", "Transcript": "Transcript"}
SOURCE_ELEMENTS = frozenset(ELEMENT.values()) - {"Note"}
SELECTION_ELEMENTS = frozenset(f"{kind}Selection" for kind in
                               ("PlainText", "PDF", "Picture", "Audio", "Video", "Transcript"))
#: A GUID, with or without braces, in either case.
GUID = re.compile(r"^(\{)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?(1)\})$")
_CANONICAL = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")


def label(element: str, name: str | None, guid: str) -> str:
    return f'{element} "{name}"' if name else f"{element} {guid}"


def key_of(guid: str | None) -> str:
    """The form GUIDs are compared by (braces and spaces removed, upper case); the usual form is kept
    as it is, so a million keys cost no new strings."""
    if guid and _CANONICAL.fullmatch(guid):
        return guid
    return (guid or "").strip().strip("{}").upper()


@dataclass(slots=True)
class Located:
    """A source or nested text document, and the one it is nested in.

    Its readable place is worked out when asked: the rules ask for the places of what they report,
    and a project of 10,000 sources would otherwise hold 10,000 place strings through validation.
    """

    source: Source
    parent: Located | None

    @property
    def place(self) -> str:
        """Such as `TextSource "Anna 1"`, or `PDFSource "Report"/Representation <guid>` for a nested text."""
        own = label(ELEMENT.get(self.source.kind, self.source.kind), self.source.name, self.source.guid)
        return own if self.parent is None else f"{self.parent.place}/{own}"


def located_sources(project: Project) -> Iterator[Located]:
    """Every source, note and nested text document, in document order."""
    stack: list[Located] = [Located(s, None) for s in reversed([*project.sources, *project.notes])]
    while stack:
        item = stack.pop()
        yield item
        source = item.source
        nested = [source.representation, source.text_description, *source.transcripts,
                  *map(_representation, source.selections)]
        if nested.count(None) < len(nested):  # most sources hold no nested text
            stack.extend(Located(doc, item) for doc in reversed(nested) if doc is not None)


def selection_place(located: Located, selection: Selection) -> str:
    return f"{located.place}/{label(selection.kind + 'Selection', selection.name, selection.guid)}"


#: Beyond this many selections and codings (with GUIDs in the usual form), they are checked for repeats in
#: eight passes, each over an eighth of their keys, so that no list of every key is held: on a project of a
#: million selections, validation then needs no more memory than conversion.
BULK_SHARE = 1 << 17
_SHARES = (("0", "1"), ("2", "3"), ("4", "5"), ("6", "7"), ("8", "9"), ("A", "B"), ("C", "D"), ("E", "F"))
_guid = operator.attrgetter("guid")
_codings = operator.attrgetter("codings")
_source = operator.attrgetter("source")
_selections = operator.attrgetter("selections")
_representation = operator.attrgetter("representation")


class Index:
    """Every object with a GUID, by `key_of`, kept lean for projects of a million selections.

    Objects other than selections and codings: their key and element name in a dict. Selections and
    codings, the bulk of a project and referred to by little, are not indexed one by one: one walk over
    them gathers their keys and notes what they name (`named`), their repeated keys are found from those
    keys or, on a large project, in passes, each sorting the keys in one range of them (`repeated`), and
    what a referenced key is among them is looked up in one pass for all keys asked about (`resolve`).
    When some of their GUIDs are in another form, their keys are kept in two sorted lists instead.
    `odd`: keys that are no GUID.
    """

    def __init__(self, project: Project) -> None:
        self.project = project
        self.located = list(located_sources(project))
        self.code_entries = list(walk_codes(project))
        self.codes = {key_of(entry.code.guid): entry.code for entry in self.code_entries}
        self.kinds: dict[str, str] = {}
        self.shared: dict[str, list[str]] = {}  # keys of several such objects: the elements after the first
        self.odd: dict[str, None] = {}
        #: key -> element names among selections and codings, for the keys looked up so far
        self._bulk: dict[str, list[str]] = {}
        self._sorted: tuple[list[str], list[str], dict[str, str]] | None = None
        #: what the sources, selections and codings name, found in the walk over them that gathers the keys
        self.named = Named()
        #: the selections' and codings' keys, kept for `repeated` when there are at most BULK_SHARE of them
        self._keys: list[str] | None = []
        self._bulk_count = 0
        usual = True
        batch: list[str] = []
        for item in self.located:
            self._walk(item.source, batch)
            if len(batch) >= _CHUNK:
                usual = usual and self._take(batch)
                batch = []
        usual = usual and self._take(batch)
        if usual:
            for guid, element in self._guids(bulk=False):
                self._add(guid, element)
        else:
            self._keys = None
            self._index_sorted()

    def _walk(self, source: Source, keys: list[str]) -> None:
        """Note what a source, its selections and codings name, and add the selections' and codings' keys to `keys`."""
        named = self.named
        users = named.users
        users.add(source.creating_user)
        users.add(source.modifying_user)
        if naive(source.created) or naive(source.modified):
            named.naive = True
        codings = [*source.codings]
        for selection in source.selections:
            keys.append(selection.guid)
            users.add(selection.creating_user)
            users.add(selection.modifying_user)
            if naive(selection.created) or naive(selection.modified):
                named.naive = True
            codings += selection.codings
        for coding in codings:
            keys.append(coding.guid)
            users.add(coding.creating_user)
            named.codes.add(coding.code)
            if coding.note_refs:
                named.coding_notes = True
            if naive(coding.created):
                named.naive = True

    def _take(self, keys: list[str]) -> bool:
        """Count a batch of the selections' and codings' keys and keep it for `repeated` (while they are at most
        BULK_SHARE); whether every key is in the usual form."""
        self._bulk_count += len(keys)
        if self._keys is not None:
            self._keys += keys
            if len(self._keys) > BULK_SHARE:
                self._keys = None
        return _all_usual(keys)

    @cached_property
    def repeated(self) -> set[str]:
        """The keys of several objects. Found when first asked (after the pass over the texts has let go of
        the texts it shared): from the selections' and codings' keys the index kept, or on a large project, from
        their keys in eight shares by their first hex digit (random GUIDs spread evenly over it), one pass over
        the model each."""
        repeated = set(self.shared)
        if self._keys is not None:
            keys, self._keys = self._keys, None
            unique = set(keys)
            repeated |= unique.intersection(self.kinds)
            if len(unique) < len(keys):
                repeated.update(key for key, count in Counter(keys).items() if count > 1)
            return repeated
        for first in _SHARES:
            heap = list(filter(operator.methodcaller("startswith", first), self._bulk_keys()))  # tested in C
            heapq.heapify(heap)  # ordered in place, where a sort would need half as much memory again
            others = {key for key in self.kinds if key.startswith(first)}
            previous = None
            while heap:
                key = heapq.heappop(heap)
                if key == previous or key in others:
                    repeated.add(key)
                previous = key
        return repeated

    def _add(self, guid: str, element: str) -> str | None:
        """Index one object other than a selection or coding; its key (None for an empty GUID)."""
        key = key_of(guid)
        if not key:
            return None
        if key is not guid and not GUID.match(key):
            self.odd[key] = None
        if key in self.kinds:
            self.shared.setdefault(key, []).append(element)
        else:
            self.kinds[key] = element
        return key

    def _index_sorted(self) -> None:
        """Every object in one pass, selections' and codings' keys in sorted lists (GUIDs in other forms)."""
        selections: list[str] = []
        codings: list[str] = []
        other_selections: dict[str, str] = {}  # selections other than PlainTextSelection
        for guid, element in self._guids(bulk=True):
            if element != "Coding" and not element.endswith("Selection"):
                self._add(guid, element)
                continue
            key = key_of(guid)
            if not key:
                continue
            if key is not guid and not GUID.match(key):
                self.odd[key] = None
            if element == "Coding":
                codings.append(key)
            else:
                selections.append(key)
                if element != "PlainTextSelection":
                    other_selections[key] = element
        selections.sort()
        codings.sort()
        self._sorted = (selections, codings, other_selections)
        self.repeated = set(self.shared) | _twice(selections) | _twice(codings) | _common(selections, codings)
        self.repeated.update(key for key in self.kinds if _has(selections, key) or _has(codings, key))

    def _bulk_keys(self) -> Iterator[str]:
        """The GUIDs of every selection and coding (the sources' codings, the selections, the selections' codings:
        their order does not matter), gathered in C: `repeated` walks them several times on a large project."""
        sources = list(map(_source, self.located))
        return chain(map(_guid, chain.from_iterable(map(_codings, sources))),
                     map(_guid, chain.from_iterable(map(_selections, sources))),
                     map(_guid, chain.from_iterable(map(_codings, chain.from_iterable(map(_selections, sources))))))

    def _guids(self, bulk: bool) -> Iterator[tuple[str, str]]:
        """(GUID, element name) of every object (selections and codings only with `bulk`), in the order
        `places` finds them."""
        project = self.project
        yield from ((user.guid, "User") for user in project.users)
        yield from ((entry.code.guid, "Code") for entry in self.code_entries)
        yield from ((variable.guid, "Variable") for variable in project.variables)
        yield from ((case.guid, "Case") for case in project.cases)
        for item in self.located:
            source = item.source
            yield source.guid, ELEMENT.get(source.kind, source.kind)
            if bulk:
                yield from ((coding.guid, "Coding") for coding in source.codings)
            yield from ((point.guid, "SyncPoint") for point in source.sync_points)
            if bulk:
                for selection in source.selections:
                    yield selection.guid, selection.kind + "Selection"
                    yield from ((coding.guid, "Coding") for coding in selection.codings)
        yield from ((group.guid, "Set") for group in project.sets)
        yield from ((link.guid, "Link") for link in project.links)
        for graph in project.graphs:
            yield graph.guid, "Graph"
            yield from ((vertex.guid, "Vertex") for vertex in graph.vertices)
            yield from ((edge.guid, "Edge") for edge in graph.edges)

    def resolve(self, guids: Iterable[str | None]) -> None:
        """Look up what these GUIDs are among the selections and codings, all in one pass, for `elements`."""
        wanted = {key_of(guid) for guid in guids} - self._bulk.keys()
        if self._sorted is not None or not wanted:
            return
        found = self._bulk
        found.update((key, []) for key in wanted)
        for item in self.located:  # every GUID here is in the usual form: its own key
            source = item.source
            for coding in source.codings:
                if coding.guid in wanted:
                    found[coding.guid].append("Coding")
            for selection in source.selections:
                if selection.guid in wanted:
                    found[selection.guid].append(selection.kind + "Selection")
                for coding in selection.codings:
                    if coding.guid in wanted:
                        found[coding.guid].append("Coding")

    def _placed(self) -> Iterator[tuple[str, str, str]]:
        """(GUID, element name, place) of every object, in the order of `_guids`."""
        project = self.project
        yield from ((u.guid, "User", label("User", u.name, u.guid)) for u in project.users)
        yield from ((e.code.guid, "Code", f'Code "{" > ".join(e.path)}"') for e in self.code_entries)
        yield from ((v.guid, "Variable", label("Variable", v.name, v.guid)) for v in project.variables)
        yield from ((c.guid, "Case", label("Case", c.name, c.guid)) for c in project.cases)
        for item in self.located:
            source = item.source
            yield source.guid, ELEMENT.get(source.kind, source.kind), item.place
            yield from ((c.guid, "Coding", f"{item.place}/Coding {c.guid}") for c in source.codings)
            yield from ((p.guid, "SyncPoint", f"{item.place}/SyncPoint {p.guid}") for p in source.sync_points)
            for selection in source.selections:
                place = selection_place(item, selection)
                yield selection.guid, selection.kind + "Selection", place
                yield from ((c.guid, "Coding", f"{place}/Coding {c.guid}") for c in selection.codings)
        yield from ((g.guid, "Set", label("Set", g.name, g.guid)) for g in project.sets)
        yield from ((link.guid, "Link", label("Link", link.name, link.guid)) for link in project.links)
        for graph in project.graphs:
            graph_place = label("Graph", graph.name, graph.guid)
            yield graph.guid, "Graph", graph_place
            yield from ((v.guid, "Vertex", f"{graph_place}/{label('Vertex', v.name, v.guid)}") for v in graph.vertices)
            yield from ((e.guid, "Edge", f"{graph_place}/{label('Edge', e.name, e.guid)}") for e in graph.edges)

    def places(self, keys: set[str]) -> dict[str, list[tuple[str, str]]]:
        """(element, place) of every object under each of `keys`, in project order."""
        found: dict[str, list[tuple[str, str]]] = {}
        if keys:
            for guid, element, place in self._placed():
                key = key_of(guid)
                if key in keys:
                    found.setdefault(key, []).append((element, place))
        return found

    def elements(self, guid: str | None) -> list[str]:
        """The element names of the objects with this GUID (empty when none has it). Looking up many GUIDs
        that may be selections or codings, `resolve` them first: each one not resolved costs a pass."""
        key = key_of(guid)
        if key in self.kinds and key not in self.repeated:  # the usual case: one object, not a selection or coding
            return [self.kinds[key]]
        found = [self.kinds[key], *self.shared.get(key, ())] if key in self.kinds else []
        if self._sorted is not None:
            selections, codings, other_selections = self._sorted
            if _has(selections, key):
                found.append(other_selections.get(key, "PlainTextSelection"))
            if _has(codings, key):
                found.append("Coding")
            return found
        if key not in self._bulk:
            self.resolve([key])
        selections = [element for element in self._bulk[key] if element != "Coding"]
        if selections:  # one name for the selections, as the sorted lists give it: the last of another kind
            found.append(next((e for e in reversed(selections) if e != "PlainTextSelection"), "PlainTextSelection"))
        if len(selections) < len(self._bulk[key]):
            found.append("Coding")
        return found

    def plainly(self, guid: str | None, expected: frozenset[str] | None) -> bool:
        """Whether this GUID is of one object, not a selection or coding, of an `expected` element (any, for None)."""
        key = key_of(guid)
        element = self.kinds.get(key)
        return element is not None and key not in self.repeated and (expected is None or element in expected)

    def settled(self, guid: str | None) -> bool:
        """Whether `elements` can tell what this GUID is without a pass over the selections and codings."""
        key = key_of(guid)
        return self._sorted is not None or key in self._bulk or (key in self.kinds and key not in self.repeated)

    def is_a(self, guid: str | None, element: str) -> bool:
        """Whether an object other than a selection or coding with this GUID is an `element`."""
        key = key_of(guid)
        return key in self.kinds and (self.kinds[key] == element or element in self.shared.get(key, ()))


_CHUNK = 1 << 12  # selections' and codings' keys gathered before they are tested for the usual form (`_all_usual`)
_USUAL_CHARACTERS = b"0123456789ABCDEF-"


def _all_usual(keys: list[str]) -> bool:
    """Whether every key is a GUID in the usual form (what `_CANONICAL` matches), tested with string
    operations on all of them at once: a regular expression per key would cost more than the rest of
    the index."""
    count = len(keys)
    joined = "".join(keys)
    return (set(map(len, keys)) <= {36} and joined.isascii()
            and not joined.encode("ascii").translate(None, _USUAL_CHARACTERS)  # upper-case hex digits and hyphens
            and joined.count("-") == 4 * count
            and all(joined[at::36] == "-" * count for at in (8, 13, 18, 23)))  # every hyphen where a GUID has it


def _has(keys: list[str], key: str) -> bool:
    at = bisect_left(keys, key)
    return at < len(keys) and keys[at] == key


def _twice(keys: list[str]) -> set[str]:
    """The keys a sorted list holds more than once."""
    return {key for key, following in zip(keys, islice(keys, 1, None), strict=False) if key == following}


def _common(first: list[str], second: list[str]) -> set[str]:
    """The keys two sorted lists share (a walk through both, without a set of either)."""
    common: set[str] = set()
    i = j = 0
    while i < len(first) and j < len(second):
        a, b = first[i], second[j]
        if a < b:
            i += 1
        elif b < a:
            j += 1
        else:
            common.add(a)
            i += 1
            j += 1
    return common


def naive(value: object) -> bool:
    """Whether the value is a date-time without a time zone."""
    return isinstance(value, datetime) and value.tzinfo is None


@dataclass(slots=True)
class Named:
    """What the sources, selections and codings name, for the rules that would otherwise walk them all again,
    usually to find nothing to report (`Index.named`)."""

    users: set[str | None] = field(default_factory=set)  # creating and modifying users, as written
    codes: set[str] = field(default_factory=set)  # the codes the codings apply, as written
    coding_notes: bool = False  # whether a coding has note references
    naive: bool = False  # whether a date-time they were created or modified at has no time zone


@dataclass(slots=True)
class TextFindings:
    """What the pass over the texts found, by rule family, so each layer reports in its own order."""

    positions: list[Issue] = field(default_factory=list)  # integrity: ranges, sync points, unreadable texts
    spans: list[Issue] = field(default_factory=list)  # interop: word splits and position units
    # interop, excerpt names: how many names are excerpts, how many match, and per source the ones that do not
    # (counted, not kept: a project of a million selections would otherwise keep a million verdicts)
    names_judged: int = 0
    names_matching: int = 0
    names_wrong: list[tuple[Located, Selection, int]] = field(default_factory=list)
    empty: list[Issue] = field(default_factory=list)  # interop: empty text files
