"""Line ends as QualCoder keeps them: its editor shows CR LF and lone CR as LF, so its texts hold LF only.

A text with other line ends is stored with LF and its positions moved with it; the original text
(kept as a file in `documents/`, as QualCoder keeps imported files) gives the positions back.
"""

from __future__ import annotations

import bisect
import re

_CRLF = re.compile("\r\n")


def normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


class LineEnds:
    """Positions between a text (`original`) and the same text with LF line ends only (`text`)."""

    def __init__(self, original: str) -> None:
        #: where each CR of a CR LF pair stands in the original (it is dropped; a lone CR becomes LF)
        self.removed = [match.start() for match in _CRLF.finditer(original)] if "\r" in original else []
        #: where each dropped CR would stand in the LF text
        self._at = [index - count for count, index in enumerate(self.removed)]
        self.text = normalise(original)
        self.changed = self.text != original

    def to_lf(self, position: int) -> int:
        """A position in the original as a position in the LF text."""
        return position - bisect.bisect_left(self.removed, position) if self.removed else position

    def to_original(self, position: int) -> int:
        """A position in the LF text as a position in the original."""
        return position + bisect.bisect_left(self._at, position) if self._at else position
