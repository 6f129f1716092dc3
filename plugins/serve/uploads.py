"""Receiving an upload safely: streamed to a private folder within a size limit, named only by its sanitised base name.

Nothing the client sends names a file on this machine: the upload's name is cut to its base name
and to safe characters, and only used to keep the file's ending (formats look at it) and to name
the download. A zipped folder is unpacked through the core's safety checks (`qdaconv.safety`).
"""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.multipart import MultipartParser, parse_options_header

from qdaconv.errors import FormatError, QdaconvError, ReadError
from qdaconv.registry import Registry
from qdaconv.safety import MIB, ZipLimits, open_zip

#: room for the multipart framing (boundaries, part headers, small text fields) beyond the file itself
FRAMING_ALLOWANCE = 64 * 1024
#: the most bytes of a text (non-file) field: a placeholder, a pair of coders' names, an overlap
TEXT_FIELD_LIMIT = 4 * 1024
#: what operating systems add to zipped folders and no format uses
_MAC_RESOURCE_FOLDER = "__MACOSX/"
_CLUTTER_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


class UploadError(Exception):
    """An upload the server refuses before any qdaconv work; `status` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def too_large(limit: int) -> UploadError:
    return UploadError(413, f"the upload is larger than the {limit // MIB} MB this server accepts; start it again "
                            f"with `qdaconv serve --max-upload MB` to allow more")


def safe_name(filename: str | None) -> str:
    """The upload's base name with only letters, digits and `._-()+ ` kept; never hidden, never empty."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch if ch.isalnum() or ch in "._-()+ " else "_" for ch in base).strip(" .")
    if len(base) > 120:
        stem, dot, endings = base.partition(".")
        base = stem[:100] + dot + endings[-19:] if dot else base[:120]
    return base or "upload"


@dataclass
class Upload:
    """The files a request carried, saved under `folder`, by form field name, and the text fields it asked for."""

    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # field -> the sanitised name the user gave
    texts: dict[str, str] = field(default_factory=dict)  # text field -> its value


class _Receiver:
    """Callbacks for python-multipart's streaming parser: file parts go to disk, the text parts asked for to `texts`."""

    def __init__(self, upload: Upload, wanted: tuple[str, ...], limit: int, texts: tuple[str, ...] = ()) -> None:
        self.upload = upload
        self.wanted = wanted
        self.limit = limit
        self.texts = texts
        self._text: tuple[str, bytearray] | None = None  # the text field being read: its name and bytes
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._sink: BinaryIO | None = None
        self._size = 0

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[bytes(self._header_field).lower()] = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        _kind, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name", b"").decode("utf-8", "replace")
        filename = params.get(b"filename")
        self._size = 0
        if filename is None and name in self.texts:
            if name in self.upload.texts:
                raise UploadError(400, f"the form field {name!r} was sent twice; send it once")
            self._text = (name, bytearray())
            return
        if filename is None or name not in self.wanted:
            return  # a field this request does not take: read past it
        if name in self.upload.files:
            raise UploadError(400, f"the form field {name!r} was sent twice; send one file")
        shown = safe_name(filename.decode("utf-8", "replace"))
        folder = self.upload.folder / "in" / name  # one folder per field, so two uploads never collide
        folder.mkdir(parents=True)
        path = folder / shown
        self._sink = open(path, "xb")  # noqa: SIM115 - closed in on_part_end or by close()
        self.upload.files[name] = path
        self.upload.names[name] = shown

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self._size += end - start
        if self._sink is None:
            if self._size > TEXT_FIELD_LIMIT:
                raise UploadError(400, "a form field is too long; send the study as the file field")
            if self._text is not None:
                self._text[1].extend(data[start:end])
            return
        if self._size > self.limit:
            raise too_large(self.limit)
        self._sink.write(data[start:end])

    def on_part_end(self) -> None:
        if self._text is not None:
            name, value = self._text
            self.upload.texts[name] = value.decode("utf-8", "replace")
            self._text = None
        self.close()

    def close(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def callbacks(self) -> dict:
        return {name: getattr(self, name) for name in (
            "on_part_begin", "on_header_field", "on_header_value", "on_header_end", "on_headers_finished",
            "on_part_data", "on_part_end")}


async def receive(headers: dict[str, str], body: AsyncIterator[bytes], folder: Path, wanted: tuple[str, ...],
                  limit: int, optional: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> Upload:
    """Stream a multipart/form-data body into `folder`, keeping the file fields named in `wanted` and `optional`
    (each at most `limit` bytes) and the text fields named in `texts`.

    Raises UploadError: 413 above `limit` bytes (checked on Content-Length first, then while
    reading), 400 for a body that is not a form or lacks one of the `wanted` files.
    """
    required = wanted
    wanted = wanted + optional
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit * len(wanted) + FRAMING_ALLOWANCE:
        raise too_large(limit)
    kind, params = parse_options_header(headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UploadError(400, "send the file as multipart/form-data in the field 'file'")
    upload = Upload(folder)
    receiver = _Receiver(upload, wanted, limit, texts)
    parser = MultipartParser(boundary, receiver.callbacks())
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > limit * len(wanted) + FRAMING_ALLOWANCE:
                raise too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except UploadError:
        raise
    except Exception as exc:  # python-multipart's parse errors: the body is not a well-formed form
        raise UploadError(400, f"the upload is not a well-formed form ({exc})") from None
    finally:
        receiver.close()
    for name in required:
        if name not in upload.files:
            raise UploadError(400, f"the request has no file in the form field {name!r}")
    return upload


# ----------------------------------------------------------------------------------- what was sent


def locate(path: Path, from_: str | None, registry: Registry, limits: ZipLimits) -> Path:
    """The study in an upload: the file itself, or the folder (or the one readable file) a zip holds.

    Folder formats (transcripts, CSV tables, a .qde with its sources/) arrive as a zip of the
    folder; it is unpacked with the core's checks against zip bombs and escaping names. With
    `from_` (a format name) the upload is taken as that format, unless it is a folder format.
    """
    if from_ is not None and not registry.get(from_).folder:
        return path
    try:
        registry.detect(path)
        return path
    except FormatError:
        if not _is_zipped_folder(path):
            raise
    root = path.parent / "unpacked"
    unpack(path, root, limits)
    return _study_in(root, path.name, from_, registry)


def _is_zipped_folder(path: Path) -> bool:
    """A .zip no format claims (a .qdpx, .xlsx or .csv.zip is read as it is)."""
    with open(path, "rb") as stream:
        return path.name.lower().endswith(".zip") and stream.read(4) == b"PK\x03\x04"


def unpack(path: Path, root: Path, limits: ZipLimits) -> None:
    """Unpack a zip into the empty folder `root`, refusing what `qdaconv.safety` refuses."""
    root.mkdir()
    with open_zip(path, limits) as archive:
        for info in archive.infolist():
            name = info.filename
            if name.startswith(_MAC_RESOURCE_FOLDER) or name.rsplit("/", 1)[-1] in _CLUTTER_FILES:
                continue
            target = root / name
            if not target.resolve().is_relative_to(root.resolve()):  # the names were checked; this is a second lock
                raise ReadError(path, f"unsafe member name {name!r}", location=name)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(name) as stream, open(target, "xb") as sink:
                    shutil.copyfileobj(stream, sink, MIB)
            except OSError as exc:  # a name that is both a file and a folder, a full disk
                raise ReadError(path, f"cannot unpack the member: {exc.strerror or exc}", location=name,
                                hint="zip the folder again with your system's own zip tool") from None


def _study_in(root: Path, shown: str, from_: str | None, registry: Registry) -> Path:
    entries = list(root.iterdir())
    while len(entries) == 1 and entries[0].is_dir():  # a zipped folder holds the folder itself
        root = entries[0]
        entries = list(root.iterdir())
    if from_ is not None:  # a folder format named by the user
        return root
    try:
        registry.detect(root)
        return root
    except QdaconvError:
        pass
    found = []
    for entry in sorted(entries):
        if not entry.is_file():
            continue
        try:
            registry.detect(entry)
            found.append(entry)
        except QdaconvError:
            continue
    if len(found) == 1:
        return found[0]
    what = "several files qdaconv can read" if found else "no folder or file qdaconv can read"
    raise ReadError(shown, f"the zip holds {what}",
                    hint="zip one project folder (transcripts, CSV tables, a .qde with its sources), "
                         "or upload one project file")
