"""Cell values: typed values to and from text, and the escapes that keep spreadsheets from running formulas.

A text cell that a spreadsheet program could take for a formula (starting with `=`, `+`, `-`,
`@`, a tab or a carriage return) is written with a leading apostrophe; so is a text that starts
with an apostrophe itself, and the empty text is a lone apostrophe (an empty cell is None).
Reading removes exactly one leading apostrophe, so every text comes back as it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from qdaconv.model import Value
from qdaconv.values import parse_bool

ESCAPE = "'"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", ESCAPE)
#: a negative number cannot run as a formula; left as it is, it stays a number for R and pandas
_NEGATIVE_NUMBER = re.compile(r"-\d+(\.\d+)?")
_GUID = re.compile(r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?")


def escape_text(text: str) -> str:
    """The text as a cell holds it, safe from formula evaluation (see the module docstring)."""
    if not text:
        return ESCAPE
    if text.startswith(_FORMULA_START) and not _NEGATIVE_NUMBER.fullmatch(text):
        return ESCAPE + text
    return text


def unescape_text(cell: str) -> str:
    return cell[1:] if cell.startswith(ESCAPE) else cell


# OOXML keeps characters that XML cannot hold as _xHHHH_, and a literal _xHHHH_ as _x005F_xHHHH_.
_OOXML_LITERAL = re.compile(r"_(x[0-9A-Fa-f]{4}_)")
_OOXML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_OOXML_ESCAPED = re.compile(r"_x([0-9A-Fa-f]{4})_")


def ooxml_escape(text: str) -> str:
    if "_x" in text:
        text = _OOXML_LITERAL.sub(r"_x005F_\1", text)
    return _OOXML_ILLEGAL.sub(lambda m: f"_x{ord(m.group()):04X}_", text)


def ooxml_unescape(text: str) -> str:
    if "_x" not in text:
        return text
    return _OOXML_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), text)


def is_guid(text: str) -> bool:
    return _GUID.fullmatch(text.strip()) is not None


# ---------------------------------------------------------------- typed values


def value_text(value: Value) -> str | None:
    """A variable's value as canonical text: true/false, digits, decimal text, ISO 8601."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def parse_cell_value(type_: str | None, raw: Any) -> Value:
    """A variable's value from its cell, typed by the value's `type`; text that does not parse stays text."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        return _coerce_native(type_, raw)
    try:
        if type_ == "Boolean":
            return parse_boolean(raw)
        if type_ == "Integer":
            return int(raw)
        if type_ == "Float":
            return Decimal(raw)
        if type_ == "Date":
            return date.fromisoformat(raw)
        if type_ == "DateTime":
            return datetime.fromisoformat(raw)
    except (ValueError, InvalidOperation):
        pass
    return raw


def _coerce_native(type_: str | None, raw: Any) -> Value:
    """A value a spreadsheet or a DataFrame already typed, made the type the variable asks for."""
    if type_ == "Float" and isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return Decimal(str(raw))
    if type_ == "Integer" and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    if type_ == "Date" and isinstance(raw, datetime):
        return raw.date()
    if type_ in (None, "Text") and not isinstance(raw, str):
        return value_text(raw)
    return raw


def parse_boolean(raw: str) -> bool:
    value = parse_bool(raw)
    if value is None:
        raise ValueError(f"expected true or false, not {raw!r}")
    return value


def coerce(type_: str, raw: Any) -> Any:
    """A cell's value as its column's type. Strings arrive unescaped; ValueError says what is wrong."""
    if raw is None:
        return None
    if type_ in ("string", "any"):
        if isinstance(raw, str) or type_ == "any":
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return str(int(raw))
        return value_text(raw)
    if type_ == "integer":
        return _integer(raw)
    if type_ == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, (int, float)) and raw in (0, 1):
            return bool(raw)
        return parse_boolean(str(raw))
    if type_ == "datetime":
        if isinstance(raw, datetime):
            return raw
        try:
            return datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueError(f"expected a date and time in ISO 8601 (2024-05-31T14:03:00Z), not {raw!r}") from None
    raise ValueError(f"unknown column type {type_!r}")


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expected a whole number, not {raw!r}")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError(f"expected a whole number, not {raw!r}") from None


def _boolean_text(value: bool) -> str:
    return "true" if value else "false"


_TEXT_OF: dict[str, Callable[[Any], str]] = {
    "string": escape_text,
    "any": lambda value: escape_text(value_text(value)),
    "integer": str,
    "boolean": _boolean_text,
    "datetime": datetime.isoformat,
}


def text_writer(type_: str) -> Callable[[Any], str]:
    """The function that writes a non-empty value of a column type as CSV text; strings are escaped."""
    return _TEXT_OF[type_]
