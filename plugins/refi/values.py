"""QDA-XML attribute values: namespaces, GUIDs, colours, booleans, dates and variable values, both ways."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from qdaconv import values as core_values
from qdaconv.model import Value, stable_guid

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
#: Pre-release and misspelt namespaces real tools write (0:4, 0:10, 1:0 ...).
NS_VARIANT = re.compile(r"^urn:QDA-XML:(project|codebook):[\d.:]+$", re.IGNORECASE)

#: Characters XML 1.0 cannot hold; writers replace them by U+FFFD and report it.
INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
BRACED_GUID = re.compile(r"\{" + GUID.pattern + r"\}")


def local_name(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def namespace(tag: str) -> str:
    return tag[1:].partition("}")[0] if tag.startswith("{") else ""


def is_guid(value: str) -> bool:
    return bool(GUID.fullmatch(value) or BRACED_GUID.fullmatch(value))


def guid_for_id(value: str) -> str:
    """A GUID that stands for an id that is not one (`c001`), the same on every run (the core's
    stable GUIDs, in the namespace of ids found in QDA-XML)."""
    return stable_guid("qda-xml-id", value)


def parse_bool(value: str | None, default: bool = True) -> bool:
    """An xsd:boolean attribute; `default` when it is absent, ValueError when it is not one."""
    if value is None:
        return default
    parsed = core_values.parse_bool(value, xsd=True)
    if parsed is None:
        raise ValueError(f"{value!r} is not a boolean (true, false, 1 or 0)")
    return parsed


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


#: Colours are normalised by the core, for every format alike.
normal_color = core_values.normal_color


VALUE_ELEMENTS = {
    "TextValue": "Text",
    "BooleanValue": "Boolean",
    "IntegerValue": "Integer",
    "FloatValue": "Float",
    "DateValue": "Date",
    "DateTimeValue": "DateTime",
}
ELEMENT_FOR_TYPE = {kind: element for element, kind in VALUE_ELEMENTS.items()}


def parse_variable_value(kind: str, text: str | None) -> Value:
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
