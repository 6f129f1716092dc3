"""QDA-XML attribute values: namespaces, GUIDs, colours, booleans, dates and variable values, both ways."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from qdaconv.model import Value

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
#: Pre-release and misspelt namespaces real tools write (0:4, 0:10, 1:0 ...).
NS_VARIANT = re.compile(r"^urn:QDA-XML:(project|codebook):[\d.:]+$", re.IGNORECASE)

GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
BRACED_GUID = re.compile(r"\{" + GUID.pattern + r"\}")
#: Any GUID a non-GUID id is mapped to on writing is derived from this, so the mapping is stable.
ID_NAMESPACE = uuid.UUID("6f1d8a52-3c4b-5e7f-9a0b-1c2d3e4f5a6b")


def local_name(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def is_guid(value: str) -> bool:
    return bool(GUID.fullmatch(value) or BRACED_GUID.fullmatch(value))


def guid_for_id(value: str) -> str:
    """A GUID that stands for an id that is not one (`c001`), the same on every run."""
    return str(uuid.uuid5(ID_NAMESPACE, value)).upper()


def parse_bool(value: str | None, default: bool = True) -> bool:
    if value is None:
        return default
    text = value.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"{value!r} is not a boolean (true, false, 1 or 0)")


def format_bool(value: bool) -> str:
    return "true" if value else "false"


def parse_int(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    return int(value.strip())


def parse_datetime(value: str | None) -> datetime | None:
    """An xsd:dateTime as written: with its offset, or naive when it had no time zone."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        text = value.strip()
        if not text:
            return None
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        return datetime.fromisoformat(text)


def format_datetime(value: datetime) -> str:
    """UTC with a Z, as the writer always emits; a naive time is taken as UTC already."""
    if value.tzinfo is UTC:
        return value.isoformat()[:-6] + "Z"
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat() + "Z"


def parse_date(value: str) -> date:
    text = value.strip()
    text = re.sub(r"(Z|[+-]\d\d:\d\d)$", "", text)
    return date.fromisoformat(text)


_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
_RGB = re.compile(r"rgba?\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*(?:,\s*[\d.]+\s*)?\)", re.IGNORECASE)


def normal_color(value: str | None) -> tuple[str | None, str | None]:
    """(`#RRGGBB` in upper case or None, what was unusual or None) for a colour as a tool wrote it."""
    if value is None or not value.strip():
        return None, None
    text = value.strip()
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


VALUE_ELEMENTS = {
    "TextValue": "Text",
    "BooleanValue": "Boolean",
    "IntegerValue": "Integer",
    "FloatValue": "Float",
    "DateValue": "Date",
    "DateTimeValue": "DateTime",
}
ELEMENT_FOR_TYPE = {kind: element for element, kind in VALUE_ELEMENTS.items()}


def parse_value(kind: str, text: str | None) -> Value:
    """A variable value of type `kind` from its element text; raises ValueError when it is not one."""
    raw = text or ""
    if kind == "Text":
        return raw
    if kind == "Boolean":
        return parse_bool(raw)
    if kind == "Integer":
        return parse_int(raw)
    if kind == "Float":
        try:
            return Decimal(raw.strip())
        except InvalidOperation:
            raise ValueError(f"{raw!r} is not a decimal number") from None
    if kind == "Date":
        return parse_date(raw)
    return parse_datetime(raw)


def format_value(value: Value) -> str:
    if isinstance(value, bool):
        return format_bool(value)
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    if isinstance(value, Decimal):
        return format(value, "f")
    return "" if value is None else str(value)
