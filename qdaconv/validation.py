"""Validation: Issue and Severity, the rule catalogue, and validate()."""

from __future__ import annotations

import enum
from dataclasses import dataclass


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


def warning(rule: str, message: str, place: str | None = None, hint: str | None = None,
            file: str | None = None) -> Issue:
    """A warning Issue, the kind readers attach to `Project.warnings`."""
    return Issue(rule, Severity.WARNING, message, file=file, place=place, hint=hint)
