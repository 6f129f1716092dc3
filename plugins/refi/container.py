"""The .qdpx container: finding the project XML inside it, and locating the source files a project names.

`find_qde(names)` picks the project XML among a zip's member names; `qde_member(archive)` does
so in an open archive (as a ReadError when there is none), and `qde_bytes(path)` gives the raw
bytes and member name of a .qdpx's project XML (or the file itself for a bare .qde/.qdc).
`Members.find` is the one rule by which a path finds its zip member, for the reader and the
validator alike. `SourceFiles` resolves `internal://`,
`relative://` and `absolute://` paths to Blobs, tolerating the variants real tools write.
`keep_parsed` and `take_parsed` hand a project XML the schema check has parsed over to the reader
that reads the same file next (validation), so that it is parsed once; `keep_inflated` and
`take_inflated` do the same for the members the check inflated to test them for damage.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO

from lxml import etree

from qdaconv.errors import ReadError
from qdaconv.issues import Issue, warning
from qdaconv.model import Blob
from qdaconv.safety import SafeZip, ZipLimits, open_zip
from qdaconv.validation.container import hand_over, take_over

QDE_NAME = "project.qde"
SOURCES_DIR = "sources"
#: Entries some tools add that are not part of the project.
IGNORED_NAMES = {".root", ".ds_store", "thumbs.db"}
#: Project XML up to this size is parsed whole by the check and its tree handed to the reader;
#: larger documents are checked and read while streaming, in bounded memory.
PARSE_WHOLE_BYTES = 8 << 20

#: How many bytes of inflated members the check leaves for the reader, at most.
INFLATED_BUDGET = 8 << 20

def _identity(path: str | os.PathLike, member: str | None) -> tuple[str, str | None, int, int] | None:
    """The file as it is now (its path, member, size and modification time), or None when it cannot be seen."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return os.path.abspath(path), member, status.st_size, status.st_mtime_ns


def keep_parsed(path: str | os.PathLike, member: str | None, root: etree._Element) -> None:
    """Hand the schema-valid tree of `member` of `path` (None: the file itself) to `take_parsed`, within
    one file's validation (`qdaconv.validation.container.handing_over`)."""
    hand_over(("refi-parsed", _identity(path, member)), root)


def take_parsed(path: str | os.PathLike, member: str | None) -> etree._Element | None:
    """The tree `keep_parsed` handed over for this document of this file, unchanged since; given once."""
    return take_over(("refi-parsed", _identity(path, member)))


def keep_inflated(path: str | os.PathLike, members: dict[str, bytes]) -> None:
    """Hand the inflated `members` of the zip `path` (read whole, so their checksums held) to the reader."""
    identity = _identity(path, None)
    for name, data in members.items():
        hand_over(("refi-member", identity, name), data)


def take_inflated(path: str | os.PathLike, member: str) -> bytes | None:
    """The bytes `keep_inflated` handed over for this member of this zip, unchanged since; each is given once."""
    return take_over(("refi-member", _identity(path, None), member))


def find_qde(names: Iterable[str]) -> tuple[str, str | None]:
    """The member that holds the project XML, and a note when it is not the standard `project.qde`.

    Prefers `project.qde`, then any letter case of it, then a single other `.qde` at the top
    level (ATLAS.ti names it after the project), then a single `.qde` in a folder.
    Raises LookupError when there is none, or several that cannot be told apart.
    """
    names = [n for n in names if n.lower().endswith(".qde") and not n.endswith("/")]
    if QDE_NAME in names:
        return QDE_NAME, None
    top = [n for n in names if "/" not in n]
    for name in top:
        if name.lower() == QDE_NAME:
            return name, f"the project XML is named {name!r} rather than 'project.qde'"
    for group in (top, names):
        if len(group) == 1:
            return group[0], f"the project XML is named {group[0]!r} rather than 'project.qde'"
        if len(group) > 1:
            raise LookupError(f"several project files and no project.qde: {', '.join(sorted(group))}")
    raise LookupError("no project.qde (nor any .qde file) in the archive")


def qde_member(archive: SafeZip) -> tuple[str, str | None]:
    """`find_qde` on an open archive, as a ReadError when there is no project XML."""
    try:
        return find_qde(archive.names())
    except LookupError as exc:
        raise ReadError(archive.path, str(exc), hint="a .qdpx must contain project.qde") from None


def qde_bytes(path: str | os.PathLike, limits: ZipLimits | None = None) -> tuple[bytes, str | None]:
    """The raw project XML of a .qdpx and its member name; for a bare .qde or .qdc, the file and None."""
    path = Path(path)
    if not _is_zip(path):
        return path.read_bytes(), None
    with open_zip(path, limits) as archive:
        member, _note = qde_member(archive)
        return archive.read(member), member


def _is_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            return stream.read(4) == b"PK\x03\x04"
    except OSError:
        return False


_SCHEME = re.compile(r"^(internal|relative|absolute):/{0,3}(.*)$", re.IGNORECASE | re.DOTALL)
_DRIVE = re.compile(r"^/?([A-Za-z]:[/\\].*)$")


def split_path(reference: str) -> tuple[str | None, str]:
    """(scheme in lower case or None, the rest) of a REFI path; both `x:///a` and `x://a` forms."""
    match = _SCHEME.match(reference.strip())
    if not match:
        return None, reference.strip()
    return match.group(1).lower(), match.group(2)


class Members:
    """An archive's member names, and the one rule by which a path in a project finds its member.

    The reader and the validator both use it, so they agree on every file: `sources/<path>` as
    written, then `sources/<path>` or `<path>` in any letter case, then a member with the path's file
    name anywhere in the archive (outside `__MACOSX/`), when only one has it, or only one at the top or
    in sources/. Backslashes count as slashes.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = [name for name in names if not name.endswith("/")]
        self._exact = set(self.names)
        self._lower = {name.lower(): name for name in self.names}
        self._by_basename: dict[str, list[str]] = defaultdict(list)
        for name in self.names:
            if not name.startswith("__MACOSX/"):
                self._by_basename[name.rsplit("/", 1)[-1].lower()].append(name)

    def find(self, rest: str) -> str | None:
        """The member a path (without its scheme) names, or None."""
        rest = rest.replace("\\", "/").lstrip("/")
        exact = f"{SOURCES_DIR}/{rest}"
        if exact in self._exact:
            return exact
        member = self._lower.get(exact.lower()) or self._lower.get(rest.lower())
        if member is not None:
            return member
        found = self._by_basename.get(PurePosixPath(rest).name.lower(), [])
        if len(found) > 1:
            found = [name for name in found if "/" not in name or _in_sources(name)]
        return found[0] if len(found) == 1 else None


def _in_sources(name: str) -> bool:
    folder, _sep, rest = name.partition("/")
    return folder.lower() == SOURCES_DIR and "/" not in rest


class SourceFiles:
    """Finds the files a project's paths name, in the zip or on disk, and notes what was unusual.

    Files outside the project's folder are read only with `allow_external`; otherwise the path is
    kept and a warning says so. A missing file is a warning naming the source.
    """

    def __init__(self, project_path: Path, archive: SafeZip | None, allow_external: bool = False) -> None:
        self.project_path = project_path
        self.folder = project_path.resolve().parent
        self.archive = archive
        self.allow_external = allow_external
        self.base_path: str | None = None
        self.issues: list[Issue] = []
        self._variants: dict[str, list[str]] = defaultdict(list)
        self.used: set[str] = set()
        self.zip_path = str(archive.path.resolve()) if archive is not None else None
        self.members = Members(archive.names() if archive is not None else ())

    def unused_members(self, qde: str | None) -> list[str]:
        """Archive members no path named (besides the project XML and housekeeping entries)."""
        return [name for name in self.members.names if name != qde and name not in self.used
                and PurePosixPath(name).name.lower() not in IGNORED_NAMES]

    def locate(self, reference: str | None, owner: str) -> Blob | None:
        """The Blob for a path attribute of `owner` (a readable name of the source), or None."""
        if not reference:
            return None
        scheme, rest = split_path(reference)
        if scheme is None:
            self._variants["path without a scheme (read as internal://)"].append(reference)
            return self._internal(rest, reference, owner)
        if scheme == "internal":
            return self._internal(rest, reference, owner)
        if scheme == "relative":
            return self._relative(rest, reference, owner)
        return self._absolute(rest, reference, owner)

    @staticmethod
    def canonical(reference: str | None, blob: Blob | None) -> str | None:
        """`internal://<name>` for a found file named without a scheme or with a folder; else as read."""
        if blob is None or not reference:
            return reference
        scheme, rest = split_path(reference)
        if scheme is None or (scheme == "internal" and "/" in rest.strip("/")):
            return f"internal://{blob.name}"
        return reference

    def _internal(self, rest: str, reference: str, owner: str) -> Blob | None:
        rest = rest.lstrip("/")
        name = PurePosixPath(rest).name
        if self.archive is not None:
            member = self._member(rest, reference)
            if member is not None:
                self.used.add(member)
                return Blob(PurePosixPath(member).name, zip_path=self.zip_path, member=member,
                            size=self.archive.getinfo(member).file_size)
        else:
            for candidate in (self.folder / SOURCES_DIR / rest, self.folder / rest,
                              self.folder / SOURCES_DIR / name):
                if candidate.is_file() and _inside(candidate, self.folder):
                    return Blob(name, file=str(candidate), size=candidate.stat().st_size)
        self._missing(reference, owner)
        return None

    def _member(self, rest: str, reference: str) -> str | None:
        member = self.members.find(rest)
        if member is not None and member != f"{SOURCES_DIR}/{rest}":  # a path as the standard writes it is no variant
            self._variants[_variant(member, rest)].append(reference)
        return member

    def _relative(self, rest: str, reference: str, owner: str) -> Blob | None:
        base = self._base()
        target = (base / rest.lstrip("/")).resolve()
        if not _inside(target, self.folder) and not self.allow_external:
            self._external(reference, owner)
            return None
        return self._disk(target, reference, owner)

    def _absolute(self, rest: str, reference: str, owner: str) -> Blob | None:
        drive = _DRIVE.match(rest)
        target = Path(drive.group(1) if drive else "/" + rest.lstrip("/"))
        if not self.allow_external and not _inside(target, self.folder):
            self._external(reference, owner)
            return None
        return self._disk(target, reference, owner)

    def _base(self) -> Path:
        base = (self.base_path or "").strip()
        if not base:
            return self.folder
        _scheme, base = split_path(base)
        path = Path(base)
        return path if path.is_absolute() or _DRIVE.match(base) else self.folder / path

    def _disk(self, target: Path, reference: str, owner: str) -> Blob | None:
        if target.is_file():
            return Blob(target.name, file=str(target), size=target.stat().st_size)
        self._missing(reference, owner)
        return None

    def _missing(self, reference: str, owner: str) -> None:
        self.issues.append(warning("REFI-FILE-MISSING", f"the file {reference!r} of {owner} is missing",
                                   file=str(self.project_path), hint="the source is kept without its content"))

    def _external(self, reference: str, owner: str) -> None:
        self.issues.append(warning(
            "REFI-FILE-EXTERNAL", f"the file {reference!r} of {owner} lies outside the project's folder "
            "and was not read", file=str(self.project_path),
            hint="the path is kept; pass --allow-external (allow_external=True) to read it"))

    def finish(self) -> list[Issue]:
        """The warnings gathered while locating files, variants summarised once each."""
        issues = list(self.issues)
        for what, references in self._variants.items():
            example = references[0]
            more = f" and {len(references) - 1} more" if len(references) > 1 else ""
            issues.append(warning("REFI-PATH-VARIANT", f"{what}: {example!r}{more}", file=str(self.project_path),
                                  hint="accepted; the writer uses internal://<guid>.<ext> in sources/"))
        return issues


def _variant(member: str, rest: str) -> str:
    folder = member.rpartition("/")[0]
    if "/" in rest:
        return "paths that name a folder inside the archive"
    if folder != SOURCES_DIR:
        return f"files in {folder + '/' if folder else 'the top of the archive'} rather than in sources/"
    return "file names in another letter case than the paths"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
    except (ValueError, OSError):
        return False
    return True


def extension_of(name: str | None, default: str) -> str:
    suffix = PurePosixPath(name or "").suffix.lower()
    return suffix if re.fullmatch(r"\.[a-z0-9]{1,8}", suffix) else default



class Openers:
    """Opens blob streams, keeping each input zip open once for all its members.

    Opening a zip reads its whole directory, which for a project of a thousand sources costs more
    than the member itself; members are read through SafeZip, so a damaged or lying member is a
    ReadError naming it. The limits were checked when the reader opened the zip.
    """

    def __init__(self) -> None:
        self.archives: dict[str, SafeZip] = {}

    def _archive(self, zip_path: str) -> SafeZip:
        archive = self.archives.get(zip_path)
        if archive is None:
            archive = self.archives[zip_path] = open_zip(zip_path, ZipLimits(
                max_total=2**62, max_member=2**62, max_ratio=float("inf")))
        return archive

    def open(self, blob: Blob) -> IO[bytes]:
        if blob.data is None and blob.zip_path is not None and blob.member is not None:
            return self._archive(blob.zip_path).open(blob.member)
        return blob.open()

    def read(self, blob: Blob) -> bytes:
        if blob.data is not None:
            return blob.data
        if blob.zip_path is not None and blob.member is not None:
            kept = take_inflated(blob.zip_path, blob.member)  # inflated by the check of the same file
            if kept is not None:
                return kept
        with self.open(blob) as stream:
            return stream.read()

    def close(self) -> None:
        for archive in self.archives.values():
            archive.close()
        self.archives.clear()

    def __enter__(self) -> Openers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

