"""Hostile input: entity expansion, external entities, escaping or duplicate zip members, links, zip bombs."""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import pytest

import qdaconv
from qdaconv.errors import ReadError
from qdaconv.safety import ZipLimits, open_zip, unsafe_name_reason
from qdaconv.validation import validate

PROJECT = b'<Project xmlns="urn:QDA-XML:project:1.0" name="p"/>'

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Project xmlns="urn:QDA-XML:project:1.0" name="&lol9;"><Description>&lol9;</Description></Project>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE p [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Project xmlns="urn:QDA-XML:project:1.0" name="x"><Description>&secret;</Description></Project>
"""


def make_zip(path: Path, members: list[tuple[str, bytes]], symlink: str | None = None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we make on purpose
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in members:
                archive.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
            if symlink:
                info = zipfile.ZipInfo(symlink)
                info.create_system = 3
                info.external_attr = 0o120777 << 16
                archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "external-entity"])
def test_entity_declarations_are_refused_fast(tmp_path, payload):
    path = tmp_path / "evil.qde"
    path.write_bytes(payload)
    with pytest.raises(ReadError, match="entities"):
        qdaconv.read(path, "refi-qde")
    report = validate(path)  # the schema check parses the document its own way: it refuses them too
    assert not report.valid and report.rule_ids() == {"XML-UNSAFE"}


def test_entities_inside_a_qdpx_are_refused_with_the_member_named(tmp_path):
    path = make_zip(tmp_path / "evil.qdpx", [("project.qde", BILLION_LAUGHS)])
    with pytest.raises(ReadError, match="project.qde") as caught:
        qdaconv.read(path)
    assert "entities" in str(caught.value)


@pytest.mark.parametrize(("name", "reason"), [
    ("../evil.txt", "climbs"), ("sources/../../evil.txt", "climbs"), ("/etc/evil", "absolute"),
    ("C:/evil.txt", "drive letter"), ("sources\\evil.txt", "backslash")])
def test_escaping_member_names_are_refused(tmp_path, name, reason):
    assert reason in unsafe_name_reason(name)
    path = make_zip(tmp_path / "escape.qdpx", [("project.qde", PROJECT), (name, b"x")])
    with pytest.raises(ReadError, match=reason):
        qdaconv.read(path)


def test_safe_names_pass():
    for name in ("project.qde", "sources/A.txt", "Sources/b c.docx", "sources/..hidden"):
        assert unsafe_name_reason(name) is None


def test_duplicate_members_are_refused(tmp_path):
    path = make_zip(tmp_path / "dup.qdpx", [("project.qde", PROJECT), ("project.qde", PROJECT)])
    with pytest.raises(ReadError, match="twice"):
        qdaconv.read(path)


def test_symlink_members_are_refused(tmp_path):
    path = make_zip(tmp_path / "link.qdpx", [("project.qde", PROJECT)], symlink="sources/passwd.txt")
    with pytest.raises(ReadError, match="symbolic link"):
        qdaconv.read(path)


def test_compression_ratio_and_sizes_are_limited(tmp_path):
    bomb = make_zip(tmp_path / "bomb.qdpx", [("project.qde", PROJECT), ("sources/zeros.txt", bytes(30 * 2**20))])
    with pytest.raises(ReadError, match="compressed more than"):
        qdaconv.read(bomb)
    with pytest.raises(ReadError, match="larger than"):
        open_zip(bomb, ZipLimits(max_member=2**20, max_ratio=10**6))
    with pytest.raises(ReadError, match="unpacks to more than"):
        qdaconv.read(bomb, max_uncompressed=2**20, max_ratio=10**6)
    # a user who trusts the file can raise the limits
    assert qdaconv.read(bomb, max_ratio=10**6).name == "p"


def test_actual_size_beyond_the_declared_one_is_caught(tmp_path):
    path = make_zip(tmp_path / "lie.qdpx", [("project.qde", PROJECT), ("sources/a.txt", b"a" * 5000)])
    data = bytearray(path.read_bytes())
    # shrink the declared size of sources/a.txt in the central directory (offset 24 of its entry)
    entry = data.rindex(b"PK\x01\x02")
    data[entry + 24:entry + 28] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    with open_zip(path) as archive, pytest.raises(ReadError, match="sources/a.txt"):
        archive.read("sources/a.txt")


def test_a_local_header_name_flagged_utf8_that_is_not_is_a_damaged_member(tmp_path, cli):
    path = make_zip(tmp_path / "odd.qdpx", [("project.qde", PROJECT)])
    data = bytearray(path.read_bytes())
    # the local header (first) says its name is UTF-8 (flag bit 11) and holds bytes that are not
    data[6:8] = (int.from_bytes(data[6:8], "little") | 0x800).to_bytes(2, "little")
    data[30 + 4:30 + 6] = b"\xe9\x28"
    path.write_bytes(bytes(data))
    with pytest.raises(ReadError, match="project.qde"):
        qdaconv.read(path, "refi-qdpx")
    for command in (["info", str(path)], ["validate", str(path)], ["convert", str(path), str(tmp_path / "o.qdc")]):
        done = cli(*command)
        assert done.returncode in (1, 2) and "internal error" not in done.stderr + done.stdout, done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "o.qdc").exists()


def test_truncated_and_non_zip_files_are_read_errors(tmp_path):
    good = make_zip(tmp_path / "good.qdpx", [("project.qde", PROJECT), ("sources/a.txt", b"hello" * 1000)])
    truncated = tmp_path / "truncated.qdpx"
    truncated.write_bytes(good.read_bytes()[:200])
    junk = tmp_path / "junk.qdpx"
    junk.write_bytes(b"this is not a zip at all")
    for path in (truncated, junk):
        with pytest.raises(ReadError, match="zip"):
            qdaconv.read(path, "refi-qdpx")


def test_malformed_xml_names_member_line_and_column(tmp_path, cli):
    path = make_zip(tmp_path / "bad.qdpx", [("project.qde", b'<Project xmlns="urn:QDA-XML:project:1.0"\n name="x">'
                                                            b'\n<Users><User guid="a"></Users></Project>')])
    with pytest.raises(ReadError) as caught:
        qdaconv.read(path)
    assert caught.value.location.startswith("project.qde: line 3, column")
    done = cli("convert", str(path), str(tmp_path / "out.qdpx"))
    assert done.returncode == 2
    assert "project.qde: line 3" in done.stderr and "Traceback" not in done.stderr
