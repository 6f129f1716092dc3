"""Source files copied .qdpx to .qdpx through zipfile's public API: stored media byte for byte, texts
inflated and deflated again, the output reproducible, and damage still refused."""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

import qdaconv
from qdaconv.errors import ReadError

SOURCE = "0000000A-0000-4000-8000-00000000000A"
PICTURE = "0000000B-0000-4000-8000-00000000000B"
TEXT = ("Interviewer: how did the partnership start?\nParticipant: slowly, with trust; “café” talk. " * 400).encode()
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def project_xml() -> bytes:
    """A project with one text source and one picture, both in sources/; no selections, so reading
    never opens the files and only writing does."""
    return (f'<?xml version="1.0" encoding="utf-8"?>\n<Project xmlns="urn:QDA-XML:project:1.0" name="copy">'
            f'<Sources><TextSource guid="{SOURCE}" name="t" plainTextPath="internal://{SOURCE}.txt"/>'
            f'<PictureSource guid="{PICTURE}" name="p" path="internal://{PICTURE}.jpg"/></Sources>'
            f'</Project>').encode()


def make_qdpx(path: Path, text_method: int = zipfile.ZIP_DEFLATED, level: int = 9) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", project_xml(), zipfile.ZIP_DEFLATED)
        archive.writestr(f"sources/{SOURCE}.txt", TEXT, text_method, compresslevel=level)
        archive.writestr(f"sources/{PICTURE}.jpg", JPEG, zipfile.ZIP_STORED)
    return path


def stored_bytes(path: Path, name: str) -> bytes:
    """A member's bytes as they lie in the zip (compressed or not)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
    data = path.read_bytes()
    name_length, extra_length = struct.unpack_from("<2H", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    return data[start:start + info.compress_size]


def test_stored_members_are_copied_byte_for_byte_and_texts_exactly(tmp_path: Path) -> None:
    source = make_qdpx(tmp_path / "in.qdpx")
    out = tmp_path / "out.qdpx"
    qdaconv.convert(source, out)
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert archive.read(f"sources/{SOURCE}.txt") == TEXT
        assert archive.read(f"sources/{PICTURE}.jpg") == JPEG
        assert archive.getinfo(f"sources/{PICTURE}.jpg").compress_type == zipfile.ZIP_STORED
        assert archive.getinfo(f"sources/{SOURCE}.txt").compress_type == zipfile.ZIP_DEFLATED
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0) and info.external_attr == 0o644 << 16, info.filename
    assert stored_bytes(out, f"sources/{PICTURE}.jpg") == stored_bytes(source, f"sources/{PICTURE}.jpg")
    again = tmp_path / "again.qdpx"
    qdaconv.convert(out, again)
    assert again.read_bytes() == out.read_bytes()


def test_the_writer_uses_only_public_zipfile_api() -> None:
    text = (Path(__file__).parents[1] / "plugins" / "refi" / "writer.py").read_text(encoding="utf-8")
    for private in ("_writecheck", "start_dir", "_didModify", "filelist", "NameToInfo", "_compresslevel", ".fp."):
        assert private not in text, private


def test_a_text_stored_uncompressed_is_deflated(tmp_path: Path) -> None:
    source = make_qdpx(tmp_path / "in.qdpx", zipfile.ZIP_STORED)
    out = tmp_path / "out.qdpx"
    qdaconv.convert(source, out)
    with zipfile.ZipFile(out) as archive:
        info = archive.getinfo(f"sources/{SOURCE}.txt")
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.compress_size < len(TEXT) // 2
        assert archive.read(info) == TEXT


#: Header fields: (offset in the local header, offset in the directory entry, struct format).
_FIELDS = {"method": (8, 10, "<H"), "crc": (14, 16, "<I"), "size": (22, 24, "<I")}


def set_fields(path: Path, member: str, **values: int) -> Path:
    """Rewrite fields of `member`'s local header and directory entry (the bytes stay as they are)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for column, (signature, name_at) in enumerate(((b"PK\x03\x04", 30), (b"PK\x01\x02", 46))):
        for match in re.finditer(re.escape(signature), data):
            start = match.start()
            if data[start + name_at:start + name_at + len(name)] == name:
                for field, value in values.items():
                    struct.pack_into(_FIELDS[field][2], data, start + _FIELDS[field][column], value)
    path.write_bytes(bytes(data))
    return path


def flip_inside_text(path: Path) -> None:
    data = bytearray(path.read_bytes())
    start = data.find(f"sources/{SOURCE}.txt".encode()) + 60
    data[start:start + 40] = bytes(b ^ 0x5A for b in data[start:start + 40])
    path.write_bytes(bytes(data))


def break_local_header(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        at = archive.getinfo(f"sources/{SOURCE}.txt").header_offset
    data = bytearray(path.read_bytes())
    data[at:at + 4] = b"XXXX"
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [
    flip_inside_text,
    lambda path: set_fields(path, f"sources/{SOURCE}.txt", size=len(TEXT) - 10),
    lambda path: set_fields(path, f"sources/{SOURCE}.txt", crc=zlib.crc32(TEXT) ^ 1),
    break_local_header,
], ids=["flipped-bytes", "declared-smaller", "wrong-crc", "no-local-header"])
def test_a_damaged_member_is_a_read_error_naming_it(tmp_path: Path, damage) -> None:
    source = make_qdpx(tmp_path / "in.qdpx")
    damage(source)
    out = tmp_path / "out.qdpx"
    with pytest.raises(ReadError) as caught:
        qdaconv.convert(source, out)
    assert caught.value.location == f"sources/{SOURCE}.txt"
    assert "damaged" in str(caught.value)
    assert list(tmp_path.iterdir()) == [source]


def test_a_size_declared_too_large_does_not_reach_the_output(tmp_path: Path) -> None:
    """The text is whole (its CRC matches), so the copy is written with its true size."""
    source = set_fields(make_qdpx(tmp_path / "in.qdpx"), f"sources/{SOURCE}.txt", size=len(TEXT) + 10)
    out = tmp_path / "out.qdpx"
    qdaconv.convert(source, out)
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None and archive.read(f"sources/{SOURCE}.txt") == TEXT

