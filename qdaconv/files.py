"""Where a project's bytes come from: text decoding, zip members as streams, and the open-zip cache.

Every reader decodes text through `decode_text` (a source's text, as the model counts it) or
`decode_guess` (a file a user saved from some program, whose encoding must be guessed), so
byte order marks and UTF-16 are honoured the same way everywhere. Zip members are read through
`ZipMemberStream`, which turns damage into a `ReadError` naming the member, and blobs share one
bounded cache of open zips (`open_zips`), which `close_open_zips()` empties. `zip_names` lists
a zip's members once for every format that sniffs it.
"""

from __future__ import annotations

import codecs
import io
import os
import zipfile
import zlib
from collections import OrderedDict
from functools import lru_cache
from typing import IO

from qdaconv.errors import ReadError

#: What opening a zip member can raise when the archive is damaged or hostile, besides the zipfile module's
#: own error: an unknown compression (NotImplementedError), encryption (RuntimeError), a local header whose
#: name, flagged as UTF-8, is not (UnicodeDecodeError), and the inflater's and the file's errors.
MEMBER_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError,
                 UnicodeDecodeError)

#: Byte order marks and the codec that reads the text after them (the mark itself removed).
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE, whose mark is its prefix
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def bom_encoding(raw: bytes) -> str | None:
    """The codec a byte order mark at the start of `raw` names, or None when there is none."""
    for bom, encoding in BOMS:
        if raw.startswith(bom):
            return encoding
    return None


def decode_text(raw: bytes) -> str:
    """Source text as the model counts it: a BOM decides (UTF-8, UTF-16, UTF-32) and is removed,
    else UTF-8; undecodable bytes become U+FFFD; line endings are kept."""
    return raw.decode(bom_encoding(raw) or "utf-8", errors="replace")


def decode_guess(raw: bytes, *, fallback: str | None = "cp1252", partial: bool = False) -> tuple[str, str]:
    """(text, encoding) of a file saved by some program: a BOM decides, else UTF-8, else `fallback`
    (Windows-1252 by default, what Excel and Windows editors write).

    With `fallback=None` text that is not UTF-8 raises UnicodeDecodeError. With `partial` the bytes
    are the start of a longer file, and a multi-byte character cut in two at the end is dropped.
    """
    encoding = bom_encoding(raw)
    if encoding is not None:
        return raw.decode(encoding, errors="replace"), encoding
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(raw) - 3:
            return raw[: exc.start].decode("utf-8"), "utf-8"
        if fallback is None:
            raise
    return raw.decode(fallback, errors="replace"), fallback


def zip_names(path: str | os.PathLike) -> tuple[str, ...] | None:
    """The member names of the zip file at `path`, in the zip's order; None when it is no readable zip. Kept
    for the file as it is now (its size and modification time), so that the formats judging a file in turn
    read its directory once."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return _zip_names(os.path.abspath(path), status.st_size, status.st_mtime_ns)


@lru_cache(maxsize=4)
def _zip_names(path: str, _size: int, _mtime: int) -> tuple[str, ...] | None:
    try:
        with zipfile.ZipFile(path) as archive:
            return tuple(archive.namelist())
    except (*MEMBER_ERRORS, ValueError):  # what a damaged or hostile zip raises, as when opening a member
        return None


def damaged_member(zip_path: object, member: str, exc: BaseException) -> ReadError:
    """The error for a zip member that cannot be unpacked."""
    return ReadError(zip_path, f"the member is damaged ({exc})", location=member,
                     hint="the archive is truncated or corrupt; export it again")


class ZipMemberStream(io.RawIOBase):
    """A zip member's stream as a raw stream, so `io` can buffer and decode it.

    Damage found while reading (a bad CRC, a truncated deflate stream) becomes a ReadError naming
    the member; errors the stream raises on purpose (a SafeZip limit) pass through unchanged.
    """

    def __init__(self, stream: IO[bytes], zip_path: object, member: str) -> None:
        self._stream = stream
        self._where = (zip_path, member)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        try:
            data = self._stream.read(len(buffer))
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise damaged_member(*self._where, exc) from None
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()


class OpenZips:
    """Zips kept open for reading their members: reading a zip's directory again for every member
    costs ~15 ms in a project of 1,000 files.

    An entry is used only by the process that opened it (a forked worker shares the file offset)
    and only while the file on disk is unchanged; beyond `keep` entries the oldest is closed (a
    member stream still open keeps its file open). `close()` closes them all.
    """

    def __init__(self, keep: int = 8) -> None:
        self.keep = keep
        self.archives: OrderedDict[tuple, zipfile.ZipFile] = OrderedDict()

    def get(self, zip_path: str, member: str) -> zipfile.ZipFile:
        try:
            stat = os.stat(zip_path)
        except OSError as exc:
            raise ReadError(zip_path, f"cannot open: {exc.strerror}", location=member) from None
        key = (os.getpid(), zip_path, stat.st_ino, stat.st_mtime_ns, stat.st_size)
        archive = self.archives.get(key)
        if archive is not None:
            self.archives.move_to_end(key)
            return archive
        try:
            archive = zipfile.ZipFile(zip_path)
        except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError, OSError) as exc:
            raise ReadError(zip_path, f"not a readable zip file ({exc})", location=member) from None
        self.archives[key] = archive
        while len(self.archives) > self.keep:
            self.archives.popitem(last=False)[1].close()
        return archive

    def open(self, zip_path: str, member: str) -> ZipMemberStream:
        """A stream of one member; damage becomes a ReadError naming it."""
        archive = self.get(zip_path, member)
        try:
            return ZipMemberStream(archive.open(member), zip_path, member)
        except (*MEMBER_ERRORS, KeyError) as exc:
            raise damaged_member(zip_path, member, exc) from None

    def close(self) -> None:
        while self.archives:
            self.archives.popitem(last=False)[1].close()


#: The one cache blobs read zip members through.
open_zips = OpenZips()


def close_open_zips() -> None:
    """Close every zip the blobs keep open (a long-running program may call it between projects)."""
    open_zips.close()
