"""Safe handling of untrusted input: an XML parser that resolves nothing, and zip opening with limits.

Every reader that parses XML or opens a zip a user gave us goes through here, so the defences
against entity expansion (billion laughs, external entities), zip bombs and path escapes live in
one place. Errors are `ReadError`s naming the file and, where it applies, the zip member.
"""

from __future__ import annotations

import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from lxml import etree

from qdaconv.errors import ReadError
from qdaconv.files import MEMBER_ERRORS

#: Keyword arguments for `lxml.etree.iterparse` and `XMLParser`: no entity resolution, no
#: network, no DTD loading, and lxml's default size limits kept (huge_tree off).
XML_SETTINGS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "dtd_validation": False,
}

GIB = 1024**3
MIB = 1024**2

#: What parsers of office packages (openpyxl, python-docx) raise for a damaged or hostile file:
#: zip and deflate damage, malformed XML (lxml's errors are SyntaxErrors), missing parts, and the
#: lookups, types and values that go wrong on a part that is not what it should be.
DAMAGED_PACKAGE_ERRORS: tuple[type[BaseException], ...] = (
    zipfile.BadZipFile, zlib.error, struct.error, OSError, EOFError, SyntaxError, ValueError, TypeError,
    LookupError, AttributeError, AssertionError, NotImplementedError,
)


def xml_parser(**overrides: Any) -> etree.XMLParser:
    """An lxml parser that resolves no entities, loads no DTD and touches no network."""
    return etree.XMLParser(**{**XML_SETTINGS, **overrides})


def iterparse(source: str | os.PathLike | IO[bytes], **kwargs: Any) -> etree.iterparse:
    """`lxml.etree.iterparse` with the safe settings; check the first event with `refuse_entities`."""
    return etree.iterparse(source, **{**XML_SETTINGS, **kwargs})


def refuse_entities(element: etree._Element, path: object, member: str | None = None) -> None:
    """Raise ReadError when the document declares entities (billion laughs, external entities).

    Call it on the first element iterparse yields: the internal DTD subset is parsed by then,
    and nothing has been expanded because entity resolution is off.
    """
    dtd = element.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.entities()):
        raise ReadError(path, "the XML declares entities in a DOCTYPE, which qdaconv refuses to read",
                        location=member, hint="QDA-XML files never need entity declarations")


_ENTITY_DECLARATION = re.compile(rb"<!DOCTYPE[^>\[]*\[.*?<!ENTITY", re.DOTALL | re.IGNORECASE)
_PROLOG_PEEK = 64 * 1024


def refuse_prolog_entities(head: bytes, path: object, member: str | None = None) -> None:
    """Raise ReadError when the start of a document declares entities, before any parsing."""
    if _ENTITY_DECLARATION.search(head):
        raise ReadError(path, "the XML declares entities in a DOCTYPE, which qdaconv refuses to read",
                        location=member, hint="QDA-XML files never need entity declarations")


class _Prefixed:
    """A stream that yields `head` and then the rest of `stream`, for peeking without seeking."""

    def __init__(self, head: bytes, stream: IO[bytes]) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
                rest = self._stream.read(size - len(data)) if size > 0 else (b"" if size == 0 else
                                                                              self._stream.read())
                return data + rest
            data, self._head = self._head[:size], self._head[size:]
            return data
        return self._stream.read(size)


def prefixed(head: bytes, stream: IO[bytes]) -> IO[bytes]:
    """`stream` with `head`, already read from it, put back in front."""
    return _Prefixed(head, stream)  # type: ignore[return-value]


def guarded(stream: IO[bytes], path: object, member: str | None = None) -> IO[bytes]:
    """`stream` after its first 64 KiB were checked for entity declarations (billion laughs, XXE)."""
    head = stream.read(_PROLOG_PEEK)
    refuse_prolog_entities(head, path, member)
    return _Prefixed(head, stream)


def xml_read_error(exc: etree.XMLSyntaxError, path: object, member: str | None = None) -> ReadError:
    """A ReadError for malformed XML naming the zip member (if any), line and column."""
    line, column = exc.position if exc.position else (exc.lineno, exc.offset)
    place = f"line {line}, column {column}"
    location = f"{member}: {place}" if member else place
    message = " ".join(re.sub(r",? line \d+, column \d+$", "", (exc.msg or str(exc)).strip()).split())
    if "amplification" in message or "entity" in message.lower():
        return ReadError(path, f"the XML uses entities, which qdaconv refuses to read ({message})",
                         location=location, hint="QDA-XML files never need entity declarations")
    if "huge" in message.lower() or "too long" in message.lower():
        return ReadError(path, "a text in the XML is longer than the 10,000,000 characters qdaconv reads inline",
                         location=location, hint="keep long texts as files in sources/ (plainTextPath), "
                         "as QDA programs do")
    return ReadError(path, f"malformed XML: {message}", location=location,
                     hint="the file is damaged or not XML; export it again from the program that made it")


@dataclass(frozen=True, slots=True)
class ZipLimits:
    """How much a zip may unpack to. Raise them for real projects that exceed them.

    `max_total`: all members together; `max_member`: one member; `max_ratio`: uncompressed
    size over compressed size, checked for members above `ratio_floor` bytes (small files
    compress unevenly and cannot hurt).
    """

    max_total: int = 32 * GIB
    max_member: int = 8 * GIB
    max_ratio: float = 200.0
    ratio_floor: int = 1 * MIB

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> ZipLimits:
        """Limits from reader options `max_uncompressed`, `max_member_size`, `max_ratio`."""
        defaults = cls()
        return cls(
            max_total=int(options.get("max_uncompressed") or defaults.max_total),
            max_member=int(options.get("max_member_size") or defaults.max_member),
            max_ratio=float(options.get("max_ratio") or defaults.max_ratio),
        )


_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_name_reason(name: str) -> str | None:
    """Why a member name could escape the folder it is unpacked into, or None when it is safe."""
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    if any(part == ".." for part in name.split("/")):
        return "climbs out of the archive with '..'"
    if "\x00" in name:
        return "contains a NUL character"
    return None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


class SafeZip:
    """A zip opened for reading after its directory passed the checks; members stream within limits."""

    def __init__(self, path: str | os.PathLike, limits: ZipLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or ZipLimits()
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            if isinstance(exc, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise
            raise ReadError(self.path, f"not a readable zip file ({exc})",
                            hint="the file is truncated or not a .qdpx; export it again") from None
        try:
            self._check_directory()
        except ReadError:
            self._zip.close()
            raise

    def _check_directory(self) -> None:
        seen: set[str] = set()
        total = 0
        for info in self._zip.infolist():
            name = info.filename
            reason = unsafe_name_reason(name)
            if reason:
                raise ReadError(self.path, f"unsafe member name {name!r}: it {reason}", location=name,
                                hint="the archive may be malicious; qdaconv does not unpack it")
            if name in seen:
                raise ReadError(self.path, f"the member {name!r} appears twice", location=name,
                                hint="a zip with duplicate names is ambiguous; re-create it")
            seen.add(name)
            if info.flag_bits & 0x1:
                raise ReadError(self.path, f"the member {name!r} is encrypted", location=name,
                                hint="export the project again without a password")
            if _is_symlink(info):
                raise ReadError(self.path, f"the member {name!r} is a symbolic link", location=name,
                                hint="links in a project archive are not allowed")
            self._check_size(info, info.file_size)
            total += info.file_size
            if total > self.limits.max_total:
                raise ReadError(self.path, f"the archive unpacks to more than {_size(self.limits.max_total)}",
                                hint="raise the limit with the reader option max_uncompressed if you trust it")

    def _check_size(self, info: zipfile.ZipInfo, size: int) -> None:
        if size > self.limits.max_member:
            raise ReadError(self.path, f"the member is larger than {_size(self.limits.max_member)}",
                            location=info.filename,
                            hint="raise the limit with the reader option max_member_size if you trust it")
        if size > self.limits.ratio_floor and size > self.limits.max_ratio * max(info.compress_size, 1):
            raise ReadError(self.path, f"the member is compressed more than {self.limits.max_ratio:g} to 1, "
                            "as zip bombs are", location=info.filename,
                            hint="raise the limit with the reader option max_ratio if you trust it")

    # ------------------------------------------------------------------ access

    def infolist(self) -> list[zipfile.ZipInfo]:
        return [info for info in self._zip.infolist() if not info.is_dir()]

    def names(self) -> list[str]:
        return [info.filename for info in self.infolist()]

    def getinfo(self, name: str) -> zipfile.ZipInfo:
        return self._zip.getinfo(name)

    def open(self, name: str) -> IO[bytes]:
        """A stream of the member that enforces the declared size and the limits while it is read."""
        info = self._zip.getinfo(name)
        try:
            stream = self._zip.open(info)
        except MEMBER_ERRORS as exc:
            raise ReadError(self.path, f"the member is damaged ({exc})", location=name,
                            hint="the archive is truncated or corrupt; export it again") from None
        return _LimitedStream(self, info, stream)

    def read(self, name: str) -> bytes:
        with self.open(name) as stream:
            return stream.read()

    def chunks(self, name: str, size: int = MIB) -> Iterator[bytes]:
        with self.open(name) as stream:
            while chunk := stream.read(size):
                yield chunk

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> SafeZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LimitedStream:
    """Counts the bytes actually unpacked and turns damage into ReadError."""

    def __init__(self, owner: SafeZip, info: zipfile.ZipInfo, stream: IO[bytes]) -> None:
        self._owner = owner
        self._info = info
        self._stream = stream
        self._count = 0

    def read(self, size: int = -1) -> bytes:
        try:
            data = self._stream.read(size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ReadError(self._owner.path, f"the member is damaged ({exc})", location=self._info.filename,
                            hint="the archive is truncated or corrupt; export it again") from None
        self._count += len(data)
        if self._count > self._info.file_size:
            raise ReadError(self._owner.path, "the member unpacks to more than its declared size",
                            location=self._info.filename, hint="the archive is corrupt or malicious")
        self._owner._check_size(self._info, self._count)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _LimitedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_zip(path: str | os.PathLike, limits: ZipLimits | None = None) -> SafeZip:
    """Open a zip for reading, refusing escaping, duplicate or link members and oversized content."""
    return SafeZip(path, limits)


def _size(n: int) -> str:
    return f"{n / GIB:g} GiB" if n >= GIB else f"{n / MIB:g} MiB"
