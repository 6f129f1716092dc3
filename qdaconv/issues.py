"""What every layer reports: an Issue with a stable rule id, a Severity, the place and a hint.

The bottom of the core: it imports nothing else of qdaconv, so the model, the formats, the readers
and validation can all use it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(slots=True)
class Issue:
    """One finding: a stable rule id, how bad it is, what and where, and how to fix it."""

    rule: str
    severity: Severity
    message: str
    file: str | None = None
    place: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = ":".join(part for part in (self.file, self.place) if part)
        text = f"{self.severity.value} {self.rule}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return f"{where}: {text}" if where else text

    def as_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "severity": self.severity.value, "message": self.message,
                "place": self.place, "hint": self.hint}


def warning(rule: str, message: str, place: str | None = None, hint: str | None = None,
            file: str | None = None) -> Issue:
    """A warning Issue, the kind readers attach to `Project.warnings`."""
    return Issue(rule, Severity.WARNING, message, file=file, place=place, hint=hint)


def info(rule: str, message: str, place: str | None = None, hint: str | None = None,
         file: str | None = None) -> Issue:
    """An info Issue: a reader's note about something it handled that is not a problem (not failing --strict)."""
    return Issue(rule, Severity.INFO, message, file=file, place=place, hint=hint)
