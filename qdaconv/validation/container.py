"""The file layer: which format a file is in, the format's own check of its container and schema, and reading it.

Nothing here knows a format: `Format.check` (for REFI-QDA: the zip, the XSD, the raw XML) and
`Format.read` do the work, and every failure, a plugin's bug included, becomes an Issue about the file.
Within `handing_over()` (one file's check and read), a check may hand what it made to the reader
of the same file (`hand_over`, `take_over`), so that nothing is parsed or inflated twice.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


_handed: ContextVar[dict[Hashable, Any] | None] = ContextVar("qdaconv_validation_handed", default=None)


@contextmanager
def handing_over() -> Iterator[None]:
    """Within the block (one file's check and read), `hand_over` keeps things for `take_over`; all are let go after."""
    token = _handed.set({})
    try:
        yield
    finally:
        _handed.reset(token)


def hand_over(key: Hashable, value: Any) -> None:
    """Keep `value` for a `take_over(key)` in the same `handing_over` block; outside one, nothing is kept."""
    handed = _handed.get()
    if handed is not None:
        handed[key] = value


def take_over(key: Hashable) -> Any | None:
    """What `hand_over` kept under `key` in this block, given once; None when nothing was."""
    handed = _handed.get()
    return handed.pop(key, None) if handed is not None else None


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
