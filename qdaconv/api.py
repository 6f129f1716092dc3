"""read / write / convert / detect: format choice, option checks, loss computation and atomic writes, in one place.

Writes are atomic: a writer writes to a hidden temporary beside the target, and the core moves it
into place only when it is complete (and, under `strict`, lossless). A format that writes files
beside its main output (`Format.side_files`, as a .qde writes sources/) writes into a hidden
staging folder instead; the core moves the side files and the main file into the target folder
together, or nothing. Hidden temporaries are named `.qdaconv-tmp-<host>-<pid>-<random>.<target>`,
so a later write into the same folder recognises those of a process that died (killed, or the
machine lost power) and removes them, with a `QdaconvWarning` saying so.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import socket
import uuid
import warnings
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from qdaconv.errors import FormatError, LossError, QdaconvWarning, ReadError, WriteError
from qdaconv.formats import Format, Loss, LossReport, check_options, loss_for
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


def split_options(options: dict[str, Any], src: str | os.PathLike, dst: str | os.PathLike, from_: str | None = None,
                  to: str | None = None, *, registry: Registry | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(reader options, writer options) for reading `src` and writing `dst`, for commands that do both.

    Each option goes to the side whose format declares it; one that neither declares, or a value of
    the wrong type, is a FormatError that lists the valid options (see `formats.check_options`).
    """
    registry = _registry(registry)
    writer = registry.for_target(Path(dst), to)
    reader = registry.get(from_) if from_ else detect(src, registry=registry)
    return check_options(options, reader=reader, writer=writer)


def read(path: str | os.PathLike, fmt: str | None = None, *, registry: Registry | None = None,
         **options: Any) -> Project:
    """Read a study from `path`; `fmt` is a format name, detected from the content when None."""
    path = Path(path)
    if not path.exists():
        raise ReadError(path, "no such file or folder", hint="check the path")
    reader = _registry(registry).get(fmt) if fmt else detect(path, registry=registry)
    if not reader.can_read:
        raise FormatError(f"format {reader.name!r} can be written but not read")
    options, _ = check_options(options, reader=reader)
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


#: This machine, in the names of hidden temporaries: only its own processes' are judged dead or alive.
_HOST = f"{zlib.crc32(socket.gethostname().encode('utf-8', 'replace')):08x}"
_TEMPORARY = re.compile(r"^\.qdaconv-(?:tmp|old)-([0-9a-f]{8})-(\d+)-[0-9a-f]{8}\.")


def _hidden_name(kind: str, target: Path) -> Path:
    return target.with_name(f".qdaconv-{kind}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}.{target.name}")


def temporary_path(target: Path) -> Path:
    """A hidden name beside `target` that ends like it (writers may look at the extension)."""
    return _hidden_name("tmp", target)


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # another user's process, or a pid we cannot ask about: not ours to judge
    return True


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Remove the hidden temporaries in `folder` that processes of this machine left when they died.

    Each removal is announced with a QdaconvWarning; the removed paths are returned.
    """
    if os.name != "posix":
        return []  # os.kill(pid, 0) tells whether a process lives only on POSIX systems
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.startswith(".qdaconv-")]
    except OSError:
        return []
    removed = []
    for name in names:
        match = _TEMPORARY.match(name)
        if match is None or match.group(1) != _HOST or _process_alive(int(match.group(2))):
            continue
        path = Path(folder) / name
        try:
            _remove(path)
        except OSError:
            continue  # not ours to remove after all (permissions); it does no harm where it is
        if not path.exists():
            removed.append(path)
            warnings.warn(f"removed {path}, a temporary left by process {match.group(2)}, which no longer "
                          "runs (it was killed or the machine stopped)", QdaconvWarning, stacklevel=3)
    return removed


def commit_output(temporary: Path, target: Path) -> None:
    """Move the finished output into place; an existing one (allowed by force) is replaced whole."""
    if target.is_dir() and not target.is_symlink():
        retired = _hidden_name("old", target)
        os.replace(target, retired)
        os.replace(temporary, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.replace(temporary, target)


def _staged_files(staging: Path, main: Path) -> list[Path]:
    """The side files a writer staged beside its main output, as paths relative to the staging folder.

    A main output that is a folder (a tables-csv folder) is one output, not side files.
    """
    found = []
    for folder, dirs, files in os.walk(staging):
        dirs[:] = [name for name in dirs if Path(folder) / name != main]
        for name in files:
            path = Path(folder) / name
            if path != main:
                found.append(path.relative_to(staging))
    return sorted(found)


def commit_staged(staging: Path, target: Path) -> None:
    """Move a staged main output and its side files into the target's folder, all of them or none.

    A side file already there with the same bytes is left as it is (it may be the very file the
    project was read from); one with other bytes is never replaced, and then nothing is moved.
    """
    main = staging / target.name
    folder = target.parent
    side = _staged_files(staging, main)
    for relative in side:
        there = folder / relative
        if (there.exists() or there.is_symlink()) and not (there.is_file() and
                                                             filecmp.cmp(staging / relative, there, shallow=False)):
            raise WriteError(f"{there}: already exists with other content; write into an empty folder, "
                             "or choose an option that writes no files beside the output")
    created: list[Path] = []
    made_folders: list[Path] = []
    try:
        for relative in side:
            there = folder / relative
            if there.exists():
                continue
            for parent in reversed(relative.parents[:-1]):
                if not (folder / parent).exists():
                    (folder / parent).mkdir()
                    made_folders.append(folder / parent)
            os.replace(staging / relative, there)
            created.append(there)
        commit_output(main, target)
    except BaseException:
        for path in created:
            path.unlink(missing_ok=True)
        for made in reversed(made_folders):
            try:
                made.rmdir()
            except OSError:
                pass  # something else was put there meanwhile; it stays
        raise


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
    _, options = check_options(options, writer=writer)
    report = loss_for(project, writer)
    if strict and not report.lossless:
        raise LossError(report)
    remove_stale_temporaries(target.parent)
    temporary = temporary_path(target)
    output = temporary
    try:
        if writer.side_files:
            temporary.mkdir()
            output = temporary / target.name
        extra = writer.write(project, output, **options) or []
        report.items.extend(extra)
        if strict and not report.lossless:
            raise LossError(report)
        if writer.side_files:
            commit_staged(temporary, target)
        else:
            commit_output(temporary, target)
    except LossError:
        raise
    except WriteError as exc:  # name the user's path, not the temporary one
        raise WriteError(_user_paths(str(exc), output, temporary, target)) from None
    except OSError as exc:
        raise WriteError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        _remove(temporary)
    return report


def _user_paths(message: str, output: Path, temporary: Path, target: Path) -> str:
    message = message.replace(str(output), str(target))
    return message.replace(str(temporary) + os.sep, str(target.parent) + os.sep).replace(str(temporary), str(target))


def write_bytes(data: bytes | str, path: str | os.PathLike, *, force: bool = False) -> None:
    """Write one file atomically (temporary file beside it, then rename); for reports and side files."""
    target = Path(path)
    if target.is_dir():
        raise WriteError(f"{target}: is a folder; give a file name")
    if target.exists() and not force:
        raise WriteError(f"{target}: already exists; pass --force (force=True) to replace it")
    if not target.parent.is_dir():
        raise WriteError(f"{target}: the folder {target.parent} does not exist; create it first")
    remove_stale_temporaries(target.parent)
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
    registry = _registry(registry)
    writer = registry.for_target(dst, to)
    if not src.exists():
        raise ReadError(src, "no such file or folder", hint="check the path")
    reader = registry.get(from_) if from_ else detect(src, registry=registry)
    read_options, write_options = check_options(options, reader=reader, writer=writer)
    project = read(src, reader.name, registry=registry, **read_options)
    if on_read is not None:
        on_read(project)
    if strict:
        refuse_read_warnings(project, dst)
    return write(project, dst, writer.name, force=force, strict=strict, registry=registry, **write_options)


def refuse_read_warnings(project: Project, dst: str | os.PathLike) -> None:
    """Raise LossError for `dst` when reading `project` gave warnings: what `strict` means for every command
    that reads and writes (a warning says something was dropped, replaced or guessed)."""
    warnings = [issue for issue in project.warnings if issue.severity is not Severity.INFO]
    if warnings:
        raise LossError(LossReport(str(dst), [Loss("warnings while reading", len(warnings), str(warnings[0]))]))


def _framer(registry: Registry | None, fmt: str | None) -> Format:
    formats = [_registry(registry).get(fmt)] if fmt else [f for f in _registry(registry) if f.can_frame]
    if not formats or not formats[0].can_frame:
        raise FormatError("no installed format offers the project as data frames" if not fmt
                          else f"format {fmt!r} does not offer the project as data frames")
    primary = [f for f in formats if f.primary]
    return (primary or formats)[0]


def to_frames(project: Project, fmt: str | None = None, *, registry: Registry | None = None) -> dict[str, Any]:
    """The project as pandas DataFrames, one per table, from the format that offers frames
    (the tidy tables, `tables-csv`, unless `fmt` names another)."""
    return _framer(registry, fmt).to_frames(project)


def from_frames(frames: Mapping[str, Any], fmt: str | None = None, *, registry: Registry | None = None) -> Project:
    """The project that DataFrames in the layout of `to_frames` describe."""
    return _framer(registry, fmt).from_frames(frames)
