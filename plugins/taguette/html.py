"""Taguette's documents are HTML: their text as Taguette counts it, and plain text turned into such HTML.

Taguette stores each document as sanitised HTML and counts highlight offsets in UTF-8 bytes of the
document's text: the strings of the HTML's text nodes, one after the other, as an HTML5 parser
builds them (Taguette parses with html5lib; its browser code counts the same nodes). `document_text`
gives that text; the HTML5 rules that change it are applied: line endings become LF, character
references are decoded, white space before the first element is dropped, and so is a line feed
right after `<pre>`. The writer's HTML is one `<p>` per line with a line feed between paragraphs,
so the text nodes give back the text exactly, and snippets have the shape Taguette's own
`extract()` gives them.
"""

from __future__ import annotations

import bisect
import html
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser

#: HTML's white space (the parser drops it before the first element).
HTML_SPACE = "\t\n\x0c\r "
#: Elements that drop a line feed right after their start tag.
_NEWLINE_EATERS = {"pre", "listing", "textarea"}
_LINE_ENDS = re.compile(r"\r\n?")
#: Characters HTML cannot carry as text (C0 controls other than tab and line feed, DEL, NUL).
UNCARRIED = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


class _TextNodes(HTMLParser):
    """Collects the text nodes of an HTML document in order, as an HTML5 parser makes them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.nodes: list[str] = []
        self.started = False
        self.eat_newline = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.started = True
        self.eat_newline = tag in _NEWLINE_EATERS

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        self.started = True
        self.eat_newline = False

    def handle_endtag(self, tag: str) -> None:
        self.eat_newline = False

    def handle_data(self, data: str) -> None:
        if self.eat_newline and data.startswith("\n"):
            data = data[1:]
        self.eat_newline = False
        if not self.started:
            data = data.lstrip(HTML_SPACE)
            if not data:
                return
            self.started = True
        if data:
            self.nodes.append(data.replace("\x00", ""))

    def handle_comment(self, data: str) -> None:
        # html5lib keeps comments as strings, and Taguette's offsets count them (sanitised HTML has none)
        self.started = True
        self.nodes.append(data)


def document_text(contents: str) -> str:
    """The text of a Taguette document (its HTML contents) over which highlight offsets count."""
    parser = _TextNodes()
    parser.feed(_LINE_ENDS.sub("\n", contents))
    parser.close()
    return "".join(parser.nodes)


_MARKUP = re.compile(r"<[^>]*>")


def snippet_words(snippet: str) -> str:
    """A snippet's text without any white space, quickly: to compare it with the text at a highlight's offsets."""
    return "".join(html.unescape(_MARKUP.sub("", snippet)).split())


# ------------------------------------------------------------------------------------- writing


@dataclass(slots=True)
class TaguetteText:
    """A text made fit for Taguette: what it holds, its HTML, and how many characters had to change."""

    text: str
    html: str
    line_ends: int  # CR LF pairs made one LF (positions after them move back)
    replaced: int  # characters HTML cannot carry, replaced with a space


def carried_text(text: str) -> tuple[str, int, int]:
    """The text as Taguette can hold it: CR LF and lone CR become LF, control characters a space."""
    crlf = text.count("\r\n")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text, replaced = UNCARRIED.subn(" ", text)
    return text, crlf, replaced


def _paragraph(line: str) -> str:
    return "<p>" + html.escape(line, quote=False) + "</p>"


def text_to_html(text: str) -> TaguetteText:
    """HTML whose text nodes are exactly `text` (after `carried_text`): a paragraph per line."""
    carried, crlf, replaced = carried_text(text)
    return TaguetteText(carried, "\n".join(_paragraph(line) for line in carried.split("\n")), crlf, replaced)


class Snippets:
    """Snippets of a text written by `text_to_html`, as Taguette stores them for its highlights.

    Like Taguette's `extract()`: the paragraphs a range touches, cut at its ends, with the line feeds
    between them. The document's text nodes are its non-empty lines and the line feeds; a range starts
    in the node that holds its first character and ends in the node that holds its last one.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]  # where each line starts
        self.starts.extend(match.end() for match in re.finditer("\n", text))

    def _node(self, position: int) -> int:
        """The node holding the character at `position`: 2k for line k, 2k + 1 for the line feed after it."""
        line = bisect.bisect_right(self.starts, position) - 1
        line_end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return 2 * line if position < line_end else 2 * line + 1

    def snippet(self, start: int, end: int) -> str:
        parts = []
        for node in range(self._node(start), self._node(end - 1) + 1):
            line = node // 2
            if node % 2:
                parts.append("\n")
                continue
            line_start = self.starts[line]
            line_end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
            parts.append(_paragraph(self.text[max(line_start, start):min(line_end, end)]))
        return "".join(parts)


def snippet_html(text: str, start: int, end: int) -> str:
    """The snippet Taguette stores for [start, end) of a text written by `text_to_html` (see Snippets)."""
    return Snippets(text).snippet(start, end)


def right_to_left(text: str, sample: int = 2000) -> bool:
    """Whether the text reads right to left: most of its first strongly directed letters are RTL."""
    rtl = ltr = 0
    for char in text[:sample]:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            rtl += 1
        elif kind == "L":
            ltr += 1
    return rtl > ltr
