"""read / write / convert / detect: format choice, loss computation and atomic writes, in one place."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qdaconv.errors import FormatError, LossError, ReadError, WriteError
from qdaconv.formats import Format, Loss, LossReport, loss_for
from qdaconv.issues import Severity
from qdaconv.model import Project
from qdaconv.registry import Registry, default_registry


def _registry(registry: Registry | None) -> Registry:
    return registry if registry is not None else default_registry()


def detect(path: str | os.PathLike, *, registry: Registry | None = None) -> Format:
    """The format of `path`, by sniffing its content (ties are an error that says to pass --from)."""
    path = Path(path)
    if not path.exists():
        raise ReadError(path, "no such file or folder", hint="check the path")
    return _registry(registry).detect(path)


def read(path: str | os.PathLike, fmt: str | None = None, *, registry: Registry | None = None,
         **options: Any) -> Project:
    """Read a study from `path`; `fmt` is a format name, detected from the content when None."""
    path = Path(path)
    if not path.exists():
        raise ReadError(path, "no such file or folder", hint="check the path")
    reader = _registry(registry).get(fmt) if fmt else detect(path, registry=registry)
    if not reader.can_read:
        raise FormatError(f"format {reader.name!r} can be written but not read")
    try:
        return reader.read(path, **options)
    except MemoryError:
        raise ReadError(path, "the input is too large to read into memory") from None
    except (IsADirectoryError, NotADirectoryError, PermissionError) as exc:
        raise ReadError(path, f"cannot open: {exc.strerror}") from None


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink(missing_ok=True)


def temporary_path(target: Path) -> Path:
    """A hidden name beside `target` that ends like it (writers may look at the extension)."""
    return target.with_name(f".qdaconv-{uuid.uuid4().hex[:8]}.{target.name}")


def commit_output(temporary: Path, target: Path) -> None:
    """Move the finished output into place; an existing one (allowed by force) is replaced whole."""
    if target.is_dir() and not target.is_symlink():
        retired = target.with_name(f".{target.name}.qdaconv-old-{uuid.uuid4().hex[:8]}")
        os.replace(target, retired)
        os.replace(temporary, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(temporary, target)


def write(project: Project, path: str | os.PathLike, fmt: str | None = None, *, force: bool = False,
          strict: bool = False, registry: Registry | None = None, **options: Any) -> LossReport:
    """Write `project` to `path` atomically and say what the target could not hold.

    The format is `fmt`, or chosen by the path's extension (a folder gets a folder format).
    An existing `path` is replaced only with `force=True`. With `strict=True` any loss raises
    LossError and nothing is written.
    """
    target = Path(path)
    writer = _registry(registry).for_target(target, fmt)
    if target.exists() and not force:
        raise WriteError(f"{target}: already exists; pass --force (force=True) to replace it")
    if not target.parent.is_dir():
        raise WriteError(f"{target}: the folder {target.parent} does not exist; create it first")
    report = loss_for(project, writer)
    if strict and not report.lossless:
        raise LossError(report)
    temporary = temporary_path(target)
    try:
        extra = writer.write(project, temporary, **options) or []
        report.items.extend(extra)
        if strict and not report.lossless:
            raise LossError(report)
        commit_output(temporary, target)
    except LossError:
        raise
    except WriteError as exc:  # name the user's path, not the temporary one
        raise WriteError(str(exc).replace(str(temporary), str(target))) from None
    except OSError as exc:
        raise WriteError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        _remove(temporary)
    return report


def write_bytes(data: bytes | str, path: str | os.PathLike, *, force: bool = False) -> None:
    """Write one file atomically (temporary file beside it, then rename); for reports and side files."""
    target = Path(path)
    if target.is_dir():
        raise WriteError(f"{target}: is a folder; give a file name")
    if target.exists() and not force:
        raise WriteError(f"{target}: already exists; pass --force (force=True) to replace it")
    if not target.parent.is_dir():
        raise WriteError(f"{target}: the folder {target.parent} does not exist; create it first")
    temporary = temporary_path(target)
    try:
        temporary.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(temporary, target)
    except OSError as exc:
        raise WriteError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        _remove(temporary)


def convert(src: str | os.PathLike, dst: str | os.PathLike, from_: str | None = None, to: str | None = None,
            *, strict: bool = False, force: bool = False, registry: Registry | None = None,
            on_read: Callable[[Project], None] | None = None, **options: Any) -> LossReport:
    """Read `src` and write it to `dst`. Under `strict`, reader warnings count as loss too.

    `on_read(project)` is called between reading and writing (the CLI shows reader warnings there).
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and src.exists() and dst.resolve() == src.resolve():
        raise WriteError(f"{dst}: is the input; choose another output path")
    if dst.exists() and not force:  # say so before the work of reading, not after
        raise WriteError(f"{dst}: already exists; pass --force (force=True) to replace it")
    to = _registry(registry).for_target(dst, to).name
    project = read(src, from_, registry=registry, **options)
    if on_read is not None:
        on_read(project)
    warnings = [issue for issue in project.warnings if issue.severity is not Severity.INFO]
    if strict and warnings:
        detail = str(warnings[0])
        raise LossError(LossReport(str(dst), [Loss("warnings while reading", len(warnings), detail)]))
    # an option named like a writer's own argument can only be the reader's (Taguette's project=ID)
    options = {key: value for key, value in options.items() if key not in ("project", "path")}
    return write(project, dst, to, force=force, strict=strict, registry=registry, **options)
