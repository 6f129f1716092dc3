"""An archive package stores each PDF, picture, audio and video file once: in its .qdpx, which the
tables and data/sources name instead of copying; the package still verifies and describes itself."""

from __future__ import annotations

import io
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from conftest import FIXTURES

import qdaconv
from qdaconv.plugins.archive import make_package, verify_package

MEDIA = FIXTURES / "edge" / "media.qdpx"


def contents(package: Path) -> dict[str, bytes]:
    """Every file of a package (folder or zip) by its path in the bag, and every member of the zips in it
    as `path!member`."""
    if package.is_dir():
        files = {p.relative_to(package).as_posix(): p.read_bytes() for p in package.rglob("*") if p.is_file()}
    else:
        with zipfile.ZipFile(package) as archive:
            files = {name.split("/", 1)[1]: archive.read(name) for name in archive.namelist()
                     if not name.endswith("/")}
    for name, data in list(files.items()):
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                files.update({f"{name}!{member}": inner.read(member) for member in inner.namelist()})
    return files


def copies(files: dict[str, bytes], data: bytes) -> Counter[str]:
    """Where `data` lies whole, counted by the top folder under data/ (original, project, tables, ...)."""
    return Counter(name.split("/")[1] for name, content in files.items() if content == data)


@pytest.mark.parametrize("as_zip", [True, False], ids=["zip", "folder"])
def test_each_media_file_is_stored_once(as_zip: bool, tmp_path: Path) -> None:
    study = qdaconv.read(MEDIA)
    media = {source.name: source.file.read_bytes() for source in study.sources
             if source.kind in ("PDF", "Picture", "Audio", "Video")}
    assert len(media) == 4
    package = make_package(MEDIA, tmp_path / ("package.zip" if as_zip else "package"))
    files = contents(package)
    for name, data in media.items():
        found = copies(files, data)
        assert found == Counter({"original": 1, "project": 1}), (name, found)  # the input keeps its own
        assert sum(data in content for path, content in files.items() if not path.startswith("data/original")
                   and not path.endswith(".qdpx")) == 1, name  # nowhere else, not even inside another file
    readme = files["README.md"].decode("utf-8")
    (qdpx,) = [path for path in files if path.startswith("data/project/") and path.endswith(".qdpx")]
    assert "### Media files" in readme
    for source in study.sources:
        if source.kind in ("PDF", "Picture", "Audio", "Video"):
            member = source.path.removeprefix("internal://")
            assert f"`{qdpx} → sources/{member}`" in readme
            assert files[f"{qdpx}!sources/{member}"] == media[source.name]
    verdict = verify_package(package)
    assert verdict.ok, verdict.problems
    if not as_zip:
        assert qdaconv.diff(study, qdaconv.read(package / qdpx)).same


def test_the_tables_name_the_media_they_leave_out(tmp_path: Path) -> None:
    package = make_package(MEDIA, tmp_path / "package")
    study = qdaconv.read(MEDIA)
    tables = qdaconv.read(package / "data" / "tables", "tables-csv")
    paths = {source.guid: source.path for source in tables.sources}
    for source in study.sources:
        if source.kind in ("PDF", "Picture", "Audio", "Video"):
            assert paths[source.guid] and paths[source.guid].startswith("internal://")
            assert next(s for s in tables.sources if s.guid == source.guid).file is None
    assert not [p for p in (package / "data" / "tables").rglob("*") if p.suffix in (".pdf", ".png", ".wav", ".mp4")]
    assert not [p for p in (package / "data" / "sources").iterdir() if p.suffix in (".pdf", ".png", ".wav", ".mp4")]


def test_a_recording_beside_transcripts_is_stored_once_beside_the_original(tmp_path: Path, cli) -> None:
    folder = tmp_path / "interviews"
    folder.mkdir()
    recording = b"\x00\x00\x00\x18ftypM4A " + bytes(range(256)) * 20
    (folder / "rachel.m4a").write_bytes(recording)
    (folder / "rachel.vtt").write_text("WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Rachel>We met weekly.\n",
                                       encoding="utf-8")
    package = tmp_path / "interviews-archive.zip"
    done = cli("archive", str(folder), str(package))
    assert done.returncode == 0, done.stderr
    assert copies(contents(package), recording) == Counter({"original": 1, "project": 1})
    checked = cli("archive", "--verify", str(package))
    assert checked.returncode == 0, checked.stdout + checked.stderr
