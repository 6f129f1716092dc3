"""BagIt 1.0 packaging: checksum manifests, deterministic zips, and reading a package back to check it.

A package is a folder, or a zip holding one top-level folder, with `bagit.txt`, `bag-info.txt`,
the payload under `data/`, `manifest-sha256.txt` (every payload file) and
`tagmanifest-sha256.txt` (every other file). Zips are written byte-for-byte reproducibly:
entries sorted, a fixed timestamp and fixed permissions.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from qdaconv.errors import QdaconvError

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
MANIFEST = "manifest-sha256.txt"
TAG_MANIFEST = "tagmanifest-sha256.txt"
BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
_CHUNK = 1 << 20
_ZIP64_LIMIT = (1 << 31) - 1


class PackageError(QdaconvError):
    """The package cannot be checked at all (not a package, unreadable): exit 2."""


def sha256_of(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def files_under(root: Path) -> list[str]:
    """Every file below `root` as a sorted list of '/'-separated relative paths."""
    return sorted(path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file())


def _encode_path(path: str) -> str:
    """A manifest path as BagIt writes it: CR, LF and % percent-encoded."""
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def _decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace("%0d", "\r") \
        .replace("%25", "%")


def manifest_text(root: Path, paths: list[str]) -> str:
    lines = []
    for path in paths:
        with open(root / path, "rb") as stream:
            lines.append(f"{sha256_of(stream)}  {_encode_path(path)}\n")
    return "".join(lines)


def finish_bag(root: Path, bag_info: dict[str, str]) -> None:
    """Write bagit.txt, bag-info.txt and both manifests for the payload already under root/data."""
    payload = [f"data/{path}" for path in files_under(root / "data")]
    size = sum((root / path).stat().st_size for path in payload)
    info = {**bag_info, "Payload-Oxum": f"{size}.{len(payload)}"}
    (root / "bagit.txt").write_text(BAGIT_TXT, encoding="utf-8", newline="\n")
    (root / "bag-info.txt").write_text("".join(f"{key}: {_one_line(value)}\n" for key, value in info.items()),
                                       encoding="utf-8", newline="\n")
    (root / MANIFEST).write_text(manifest_text(root, payload), encoding="utf-8", newline="\n")
    tags = [path for path in files_under(root) if not path.startswith("data/") and path != TAG_MANIFEST]
    (root / TAG_MANIFEST).write_text(manifest_text(root, tags), encoding="utf-8", newline="\n")


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _zip_info(name: str, size: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, so the permission bits below mean the same everywhere
    info.external_attr = (0o100644 << 16)
    info.file_size = size
    return info


def write_zip(root: Path, target: Path, prefix: str) -> None:
    """Zip every file under root into target, under the folder `prefix`, reproducibly."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in files_under(root):
            size = (root / path).stat().st_size
            info = _zip_info(f"{prefix}/{path}", size)
            with open(root / path, "rb") as source, archive.open(info, "w", force_zip64=size > _ZIP64_LIMIT) as sink:
                shutil.copyfileobj(source, sink, _CHUNK)


def normalise_zip(path: Path) -> None:
    """Rewrite a zip in place with the fixed timestamp and permissions, keeping entry order and content."""
    temporary = path.with_name(path.name + ".norm")
    with zipfile.ZipFile(path) as original, zipfile.ZipFile(temporary, "w") as copy:
        for entry in original.infolist():
            if entry.is_dir():
                continue
            info = _zip_info(entry.filename, entry.file_size)
            info.compress_type = entry.compress_type
            with original.open(entry) as source, copy.open(info, "w",
                                                           force_zip64=entry.file_size > _ZIP64_LIMIT) as sink:
                shutil.copyfileobj(source, sink, _CHUNK)
    os.replace(temporary, path)


# ---------------------------------------------------------------- reading a package back


class Package:
    """A package to check, as a folder or a zip; paths are relative to the bag's top folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_dir():
            if not (path / "bagit.txt").is_file():
                raise PackageError(f"{path}: not an archive package (no bagit.txt)")
            return
        try:
            self._zip = zipfile.ZipFile(path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise PackageError(f"{path}: not an archive package (neither a folder nor a readable zip: {exc})") \
                from None
        tops = {name.split("/", 1)[0] + "/" for name in self._zip.namelist()
                if name.count("/") == 1 and name.endswith("/bagit.txt")}
        if len(tops) != 1 and "bagit.txt" not in self._zip.namelist():
            raise PackageError(f"{path}: not an archive package (no single folder with bagit.txt in the zip)")
        self._prefix = tops.pop() if len(tops) == 1 else ""

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()

    def files(self) -> list[str]:
        if self._zip is None:
            return files_under(self.path)
        return sorted(name[len(self._prefix):] for name in self._zip.namelist()
                      if name.startswith(self._prefix) and not name.endswith("/"))

    def open(self, relative: str) -> BinaryIO:
        if self._zip is None:
            return open(self.path / relative, "rb")
        return self._zip.open(self._prefix + relative)

    def read_text(self, relative: str) -> str:
        with self.open(relative) as stream:
            return stream.read().decode("utf-8")

    def extract(self, relative_folder: str, target: Path) -> Path:
        """Copy the files under `relative_folder` to target (for readers that need a path)."""
        for name in self.files():
            if name == relative_folder or name.startswith(relative_folder.rstrip("/") + "/"):
                destination = target / name
                destination.parent.mkdir(parents=True, exist_ok=True)
                with self.open(name) as source, open(destination, "wb") as sink:
                    shutil.copyfileobj(source, sink, _CHUNK)
        return target / relative_folder


def parse_manifest(package: Package, name: str) -> dict[str, str]:
    """Checksums by path from a manifest file; a malformed line is a PackageError."""
    found: dict[str, str] = {}
    for number, line in enumerate(package.read_text(name).splitlines(), start=1):
        if not line.strip():
            continue
        checksum, _sep, path = line.partition(" ")
        path = path.lstrip(" *")
        if len(checksum) != 64 or not path:
            raise PackageError(f"{package.path}: {name} line {number} is not 'checksum  path'")
        found[_decode_path(path)] = checksum.lower()
    return found


def checksum_problems(package: Package) -> Iterator[str]:
    """Each file whose checksum does not match, that is missing, or that no manifest lists."""
    present = set(package.files())
    if MANIFEST not in present:
        raise PackageError(f"{package.path}: not an archive package (no {MANIFEST})")
    listed = parse_manifest(package, MANIFEST)
    if TAG_MANIFEST in present:
        listed |= parse_manifest(package, TAG_MANIFEST)
    for path, expected in sorted(listed.items()):
        if path not in present:
            yield f"{path}: listed in the manifest but missing"
            continue
        try:
            with package.open(path) as stream:
                actual = sha256_of(stream)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            yield f"{path}: cannot be read from the zip ({exc}); the file was damaged after packaging"
            continue
        if actual != expected:
            yield f"{path}: checksum does not match (the file was changed after packaging)"
    for path in sorted(present - set(listed) - {TAG_MANIFEST}):
        yield f"{path}: not listed in {MANIFEST if path.startswith('data/') else TAG_MANIFEST}"
