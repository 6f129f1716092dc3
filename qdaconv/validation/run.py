"""validate(): one file through every layer in turn, into a Report; model_issues() for a project in memory.

The layers: the file (`container`: format, the format's own container and schema check, reading),
the reader's warnings, `integrity` and `interop` on the model, and the rules plugins add through
`qdaconv_validate_project`. A fatal issue stops the later layers. `validate` never raises for a
bad file: whatever goes wrong becomes an error Issue in the Report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from qdaconv import progress
from qdaconv.issues import Issue, Severity
from qdaconv.model import Project, collector_paused
from qdaconv.positions import sharing_evidence
from qdaconv.registry import Registry, default_registry
from qdaconv.validation.container import check_issues, detect_issues, handing_over, read_issues
from qdaconv.validation.integrity import integrity_issues
from qdaconv.validation.interop import interop_issues
from qdaconv.validation.places import Index
from qdaconv.validation.report import Report
from qdaconv.validation.rules import RULES, catalogue, rule_matcher, superseded
from qdaconv.validation.texts import text_findings

_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}


def registry_or_default(registry: Registry | None) -> Registry:
    return registry if registry is not None else default_registry()


def validate(path: str | os.PathLike, fmt: str | None = None, *, rules: Iterable[str] | None = None,
             registry: Registry | None = None, on_progress: Callable[[progress.Step], None] | None = None,
             **options: Any) -> Report:
    """Check one file in every layer and return its Report; a bad file never raises.

    `fmt` names the format (detected from the content when None); `rules` keeps only the
    issues of those rule ids or prefixes; `on_progress` is called as long work advances (see
    `qdaconv.progress`); `options` go to the reader.
    """
    keep = rule_matcher(rules)
    path = Path(path)
    registry = registry_or_default(registry)
    report = Report(str(path), None)
    with progress.reporting(on_progress) if on_progress is not None else nullcontext(), collector_paused():
        found = list(_layers(path, fmt, registry, report, options))
    left_out = superseded(found, catalogue(registry))
    report.issues = [issue for issue in found if keep(issue.rule) and issue.rule not in left_out]
    for issue in report.issues:
        issue.file = report.file
    report.issues.sort(key=lambda issue: _ORDER[issue.severity])
    return report


def _layers(path: Path, fmt: str | None, registry: Registry, report: Report,
            options: dict[str, Any]) -> Iterator[Issue]:
    """Every layer's issues in turn; stops after a fatal one."""
    found, issues = detect_issues(path, fmt, registry)
    yield from issues
    if found is None:
        return
    report.format = found.name
    with handing_over():  # what the check parsed or inflated, the reader of the same file takes over
        checked = check_issues(found, path, options)
        yield from checked
        if any(issue.rule in RULES and RULES[issue.rule].fatal for issue in checked):
            return
        with sharing_evidence():  # the texts the reader judged positions on are not read again
            project, issues = read_issues(found, path, registry, options)
            yield from issues
            if project is None:
                return
            yield from project.warnings
            yield from model_issues(project)
    yield from plugin_issues(project, registry)


def model_issues(project: Project) -> list[Issue]:
    """The integrity and interoperability rules on the model, which apply to every format."""
    index = Index(project)
    texts = text_findings(index)
    return [*integrity_issues(project, index, texts), *interop_issues(project, index, texts)]


def plugin_issues(project: Project, registry: Registry | None = None) -> list[Issue]:
    """The issues plugins' `qdaconv_validate_project` hooks return, each plugin isolated from the others."""
    manager = registry_or_default(registry).manager
    issues: list[Issue] = []
    for impl in manager.hook.qdaconv_validate_project.get_hookimpls():
        try:
            found = impl.function(project=project) or []
        except Exception as exc:  # one plugin's bug is a finding, and the other plugins still run
            issues.append(RULES["PLUGIN-FAILED"].issue(
                f"plugin {impl.plugin_name!r} failed: {type(exc).__name__}: {exc}"))
            continue
        for issue in found:
            if isinstance(issue, Issue):
                issues.append(issue)
            else:
                issues.append(RULES["PLUGIN-FAILED"].issue(
                    f"plugin {impl.plugin_name!r} returned {type(issue).__name__}, not an Issue"))
    return issues
