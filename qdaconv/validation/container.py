"""The file layer: which format a file is in, the format's own check of its container and schema, and reading it.

Nothing here knows a format: `Format.check` (for REFI-QDA: the zip, the XSD, the raw XML) and
`Format.read` do the work, and every failure, a plugin's bug included, becomes an Issue about the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qdaconv.api import read
from qdaconv.errors import QdaconvError, ReadError
from qdaconv.issues import Issue
from qdaconv.model import Project
from qdaconv.validation.rules import RULES

if TYPE_CHECKING:
    from qdaconv.formats import Format
    from qdaconv.registry import Registry


def strip_path(message: str, path: Path) -> str:
    return message.removeprefix(f"{path}: ")


def detect_issues(path: Path, fmt: str | None, registry: Registry) -> tuple[Format | None, list[Issue]]:
    """The file's format (named, or detected from the content), or the issue saying why there is none."""
    if not path.exists():
        return None, [RULES["READ-FAILED"].issue("no such file or folder", hint="check the path")]
    try:
        return (registry.get(fmt) if fmt else registry.detect(path)), []
    except QdaconvError as exc:
        return None, [RULES["FORMAT-UNKNOWN"].issue(strip_path(str(exc), path))]


def check_issues(fmt: Format, path: Path, options: dict[str, Any]) -> list[Issue]:
    """The format's own check of the file (container, schema, raw XML)."""
    try:
        return list(fmt.check(path, **options))
    except Exception as exc:  # a plugin's bug must become a finding, not stop the batch
        return [RULES["CHECK-FAILED"].issue(f"the {fmt.name} check failed: {type(exc).__name__}: {exc}")]


def read_issues(fmt: Format, path: Path, registry: Registry, options: dict[str, Any]
                ) -> tuple[Project | None, list[Issue]]:
    """The project as the format's reader reads it, or the READ-FAILED issue saying why it could not."""
    rule = RULES["READ-FAILED"]
    try:
        return read(path, fmt.name, registry=registry, **options), []
    except ReadError as exc:
        message = strip_path(str(exc), path)
        if exc.location:
            message = message.removeprefix(f"{path}:{exc.location}: ").removeprefix(f"{exc.location}: ")
        if exc.hint:
            message = message.removesuffix(f" ({exc.hint})")
        return None, [rule.issue(message, place=exc.location, hint=exc.hint)]
    except QdaconvError as exc:
        return None, [rule.issue(strip_path(str(exc), path))]
    except Exception as exc:  # a reader's bug on a strange file is still a finding about that file
        return None, [rule.issue(f"the {fmt.name} reader failed: {type(exc).__name__}: {exc}",
                                 hint="the file may be damaged; please report the failure with the file")]
