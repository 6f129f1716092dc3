"""The schema layer's tools: the XSDs qdaconv ships, and checking a document against one while streaming.

`stream_check` parses with lxml's `iterparse(..., schema=...)`, so libxml2 validates as it reads,
and lets the caller see the elements it asks for before they are cleared: memory stays bounded
however large the document. It answers only "valid or not": when a document is not valid (or not
well formed), the caller parses it whole to list every error with its line, as a user needs then.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import IO

from lxml import etree

from qdaconv import progress
from qdaconv.safety import iterparse, prefixed, xml_parser

_local = threading.local()  # lxml schema objects keep an error log, so each thread gets its own


def load_schema(file_name: str) -> etree.XMLSchema:
    """A schema of `qdaconv.schemas` (`Project-mrt2019.xsd`, `Codebook.xsd`), parsed once per thread."""
    cache: dict[str, etree.XMLSchema] = _local.__dict__.setdefault("schemas", {})
    if file_name not in cache:
        data = resources.files("qdaconv.schemas").joinpath(file_name).read_bytes()
        cache[file_name] = etree.XMLSchema(etree.fromstring(data, xml_parser()))
    return cache[file_name]


@dataclass(slots=True)
class StreamResult:
    """What a streaming check saw: whether the document is valid, its root's tag and attributes, its encoding."""

    valid: bool
    root_tag: str | None = None
    root_attributes: dict[str, str] | None = None
    root_line: int | None = None
    encoding: str | None = None
    entities: bool = False  # the document declares entities (the caller refuses it)


#: How much of a document's start is searched for its root element.
_HEAD = 1 << 20
_DECLARATIONS = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


def _plain_prolog(head: bytes, root_tags: tuple[str, ...]) -> bool:
    """Whether the document's root element starts within `head`, with no DOCTYPE or entity declaration
    before it (where alone they can be): then nothing in it can expand or read files."""
    names = b"|".join(re.escape(tag.rpartition("}")[2].encode()) for tag in root_tags)
    start = re.search(rb"<(?:[\w.-]+:)?(?:" + names + rb")[\s/>]", head)
    return start is not None and not _DECLARATIONS.search(head, 0, start.start())


def stream_check(stream: IO[bytes], schema: etree.XMLSchema, tags: Iterable[str], root_tags: Iterable[str],
                 visit: Callable[[etree._Element], None], size: int | None = None) -> StreamResult:
    """Validate `stream` against `schema` while parsing; call `visit` on each element of `tags` (Clark
    names, `{*}local` allowed, never the root) when it ends, then clear it. `root_tags`: the root
    elements the schema allows, which must start in the first MiB. `size`: the document's length, for progress.

    Never raises for a bad document: a schema or syntax error gives `valid=False`. A ReadError from
    the stream itself (a damaged zip member) is passed on.
    """
    root_tags = tuple(root_tags)
    head = stream.read(_HEAD)
    if not _plain_prolog(head, root_tags):
        return StreamResult(False)
    result = _parse(progress.counted(prefixed(head, stream), "checking the schema", size), schema, tags, visit)
    # The parser holds itself in a reference cycle, with libxml2's buffers and what is left of the document: only
    # the cycle collector frees it, and it is paused while a file is validated, so the parser would be held
    # through the reading of the large project that comes next.
    gc.collect()
    return result


def _parse(stream: IO[bytes], schema: etree.XMLSchema, tags: Iterable[str],
           visit: Callable[[etree._Element], None]) -> StreamResult:
    """`stream_check`'s parse, whose parser is garbage once it returns."""
    # lxml ends a malformed document silently when entities are left unresolved and a schema is given,
    # so entities are resolved here: `_plain_prolog` has made sure the document declares none
    events = iterparse(stream, events=("end",), tag=tuple(tags), schema=schema, resolve_entities=True)
    try:
        for _event, element in events:
            visit(element)
            element.clear(keep_tail=True)
    except etree.XMLSyntaxError:
        return StreamResult(False)
    root = events.root
    if root is None:
        return StreamResult(False)
    result = StreamResult(True, root.tag, dict(root.attrib), root.sourceline)
    docinfo = root.getroottree().docinfo
    result.encoding = docinfo.encoding
    result.entities = docinfo.internalDTD is not None and any(True for _ in docinfo.internalDTD.entities())
    return result
