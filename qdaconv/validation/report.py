"""Report: what validation found in one file, and the exit status of many."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from qdaconv.issues import Issue, Severity


@dataclass(slots=True)
class Report:
    """What validation found in one file."""

    file: str
    format: str | None
    issues: list[Issue] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(issue.severity is Severity.ERROR for issue in self.issues)

    @property
    def warnings(self) -> int:
        return sum(issue.severity is Severity.WARNING for issue in self.issues)

    @property
    def valid(self) -> bool:
        return self.errors == 0

    def passes(self, strict: bool = False) -> bool:
        """Valid, and under `strict` free of warnings too."""
        return self.valid and not (strict and self.warnings)

    def rule_ids(self, severity: Severity | None = None) -> set[str]:
        return {i.rule for i in self.issues if severity is None or i.severity is severity}

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "format": self.format, "valid": self.valid, "errors": self.errors,
                "warnings": self.warnings, "issues": [issue.as_dict() for issue in self.issues]}


def exit_status(reports: Iterable[Report], strict: bool = False) -> int:
    """0 when every file passes, 1 when any has errors (or, under `strict`, warnings)."""
    return 0 if all(report.passes(strict) for report in reports) else 1

