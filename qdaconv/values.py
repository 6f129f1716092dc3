"""Values as programs and people write them: yes/no words and colours, parsed one way for every format.

`parse_bool` knows the words spreadsheets, exports and command lines use for yes and no (English
and German, as the vendors' exports write them); with `xsd=True` only the four literals of
xsd:boolean count, as QDA-XML requires. `normal_color` turns every colour notation the programs
write into `#RRGGBB` and says what was unusual about it; `css_color` is the form safe to put in
an HTML or SVG attribute.
"""

from __future__ import annotations

import re
from typing import Any

TRUE_WORDS = frozenset({"true", "1", "yes", "y", "t", "on", "x", "ja", "wahr"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "f", "off", "nein", "falsch"})
XSD_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def parse_bool(value: Any, *, xsd: bool = False) -> bool | None:
    """True or False for a yes/no word, a bool or 0/1; None for anything else (and for empty text).

    With `xsd` only xsd:boolean's literals (true, false, 1, 0) count, ignoring surrounding spaces.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if not isinstance(value, str):
        return None
    word = value.strip().lower()
    if xsd:
        return XSD_BOOLEANS.get(word)
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_RGB = re.compile(r"(?:rgba?\s*\()?\s*(\d{1,3})\s*[,;]\s*(\d{1,3})\s*[,;]\s*(\d{1,3})\s*(?:,\s*[\d.]+\s*)?\)?",
                  re.IGNORECASE)


def normal_color(value: Any) -> tuple[str | None, str | None]:
    """(`#RRGGBB` in upper case or None, what was unusual or None) for a colour as a program wrote it.

    Accepted: `#RRGGBB`, `#RGB`, `#RRGGBBAA` (alpha dropped), each with or without `#`, and
    `rgb(r, g, b)`, `rgba(r, g, b, a)` or a bare `r, g, b` (also with semicolons).
    """
    if value is None or not str(value).strip():
        return None, None
    text = str(value).strip()
    match = _HEX.fullmatch(text)
    if match:
        digits = match.group(1)
        note = None
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
            note = "#RGB colour"
        elif len(digits) == 8:
            digits = digits[:6]
            note = "colour with an alpha channel"
        if not text.startswith("#"):
            note = note or "colour without '#'"
        return "#" + digits.upper(), note
    match = _RGB.fullmatch(text)
    if match and all(int(part) <= 255 for part in match.groups()):
        return "#" + "".join(f"{int(part):02X}" for part in match.groups()), "rgb() colour"
    return None, "unreadable colour"


def css_color(value: Any, default: str) -> str:
    """A colour safe to put in an HTML or SVG attribute (`#RRGGBB`), or `default` when it is unreadable."""
    color, _note = normal_color(value)
    return color or default
