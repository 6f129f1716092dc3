"""The archive command: a deterministic, self-describing BagIt package, and --verify."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import flip_member_byte
from lxml import etree

import qdaconv
from qdaconv.errors import QdaconvError
from qdaconv.model import (
    Case,
    Code,
    Coding,
    Edge,
    Graph,
    Project,
    Selection,
    Source,
    User,
    Vertex,
)
from qdaconv.plugins.archive.bag import PackageError, finish_bag
from qdaconv.plugins.archive.package import make_package, verify_package

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schemas" / "Project-mrt2019.xsd"


def _small_project() -> Project:
    """A few sources, codes under a theme, a case, a coder, a note and a diagram."""
    user = User("A1B2C3D4-0000-4000-8000-000000000001", "Ana")
    theme = Code("A1B2C3D4-0000-4000-8000-000000000010", "Connecting", codable=False, children=[
        Code("A1B2C3D4-0000-4000-8000-000000000011", "relational", color="#3366CC",
             description="Building trust | one to one"),
        Code("A1B2C3D4-0000-4000-8000-000000000012", "honest broker")])
    sources = []
    for number in (1, 2):
        text = f"Interviewer: hello {number}\nAnna: we met as an honest broker, {number}.\n"
        selection = Selection(f"A1B2C3D4-0000-4000-8000-00000000010{number}", start=30, end=50, codings=[
            Coding(f"A1B2C3D4-0000-4000-8000-00000000020{number}", theme.children[0].guid, user.guid),
            Coding(f"A1B2C3D4-0000-4000-8000-00000000030{number}", theme.children[1].guid, user.guid)])
        sources.append(Source(f"A1B2C3D4-0000-4000-8000-00000000040{number}", "Text", f"Anna wave/{number}",
                              plain_text=text, selections=[selection]))
    note = Source("A1B2C3D4-0000-4000-8000-000000000500", "Note", "Microstory: the broker",
                  plain_text="Anna became the honest broker.")
    graph = Graph("A1B2C3D4-0000-4000-8000-000000000600", "Connecting", vertices=[
        Vertex("A1B2C3D4-0000-4000-8000-000000000601", 0, 0, 160, 50, represented=theme.guid),
        Vertex("A1B2C3D4-0000-4000-8000-000000000602", 0, 120, 160, 170, represented=theme.children[0].guid)],
        edges=[Edge("A1B2C3D4-0000-4000-8000-000000000603", "A1B2C3D4-0000-4000-8000-000000000601",
                    "A1B2C3D4-0000-4000-8000-000000000602", direction="OneWay")])
    return Project(name="Small study", created=datetime(2021, 5, 3, 10, 0, tzinfo=UTC),
                   users=[user], codes=[theme], sources=sources, notes=[note], graphs=[graph],
                   cases=[Case("A1B2C3D4-0000-4000-8000-000000000700", "Anna",
                               source_refs=[s.guid for s in sources])])


@pytest.fixture
def small_qdpx(tmp_path: Path) -> Path:
    path = tmp_path / "input" / "small.qdpx"
    path.parent.mkdir()
    qdaconv.write(_small_project(), path, "refi-qdpx")
    return path


def test_package_holds_everything_and_describes_it(small_qdpx: Path, tmp_path: Path) -> None:
    out = make_package(small_qdpx, tmp_path / "pkg")
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert (out / "data" / "original" / "small.qdpx").read_bytes() == small_qdpx.read_bytes()
    assert {"README.md", "bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt",
            "data/project/Small study.qdpx", "data/tables/datapackage.json", "data/codebook/codebook.qdc",
            "data/codebook/codebook.md", "data/codebook/codebook.html", "data/sources/Anna wave_1.txt",
            "data/sources/Anna wave_2.txt", "data/notes/Microstory_ the broker.txt"} <= set(files)
    with zipfile.ZipFile(out / "data" / "project" / "Small study.qdpx") as project_zip:
        document = etree.fromstring(project_zip.read("project.qde"))
    schema = etree.XMLSchema(etree.parse(str(SCHEMA)))
    assert schema.validate(document), schema.error_log
    assert json.loads((out / "data" / "tables" / "datapackage.json").read_text(encoding="utf-8"))["resources"]
    # every payload file is in the manifest with its SHA-256
    manifest = dict(reversed(line.split("  ", 1)) for line in
                    (out / "manifest-sha256.txt").read_text(encoding="utf-8").splitlines())
    payload = [f for f in files if f.startswith("data/")]
    assert sorted(manifest) == payload
    for name in payload:
        assert manifest[name] == hashlib.sha256((out / name).read_bytes()).hexdigest()
    readme = (out / "README.md").read_text(encoding="utf-8")
    assert "| transcripts | 2 |" in readme and "`data/sources/Anna wave_1.txt`" in readme
    assert "The project was created 2021-05-03T10:00:00+00:00." in readme
    codebook = (out / "data" / "codebook" / "codebook.md").read_text(encoding="utf-8")
    assert "Building trust \\| one to one" in codebook and "| theme | 0 | 4 | 2 |" in codebook


def test_zip_package_is_deterministic_and_verifies(small_qdpx: Path, tmp_path: Path, cli) -> None:
    first, second = tmp_path / "one" / "small.zip", tmp_path / "two" / "other-name.zip"
    first.parent.mkdir()
    second.parent.mkdir()
    done = cli("archive", str(small_qdpx), str(first))
    assert done.returncode == 0, done.stderr
    make_package(small_qdpx, second)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as zipped:
        names = zipped.namelist()
        assert names == sorted(names) and all(n.startswith("small-archive/") for n in names)
        assert {info.date_time for info in zipped.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    verified = cli("archive", "--verify", str(first))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "OK" in verified.stdout


def test_verify_names_the_changed_file(small_qdpx: Path, tmp_path: Path, cli) -> None:
    folder = make_package(small_qdpx, tmp_path / "pkg")
    assert verify_package(folder).ok
    changed = folder / "data" / "sources" / "Anna wave_2.txt"
    data = bytearray(changed.read_bytes())
    data[5] ^= 0x20
    changed.write_bytes(bytes(data))
    done = cli("archive", "--verify", str(folder))
    assert done.returncode == 1
    assert "data/sources/Anna wave_2.txt" in done.stdout and "checksum" in done.stdout
    done = cli("archive", "--verify", str(folder), "--json")
    verdict = json.loads(done.stdout)
    assert done.returncode == 1 and verdict["ok"] is False and verdict["package"] == str(folder)
    assert [p.split(":")[0] for p in verdict["problems"]] == ["data/sources/Anna wave_2.txt"]

    zipped = make_package(small_qdpx, tmp_path / "pkg.zip")
    flip_member_byte(zipped, "small-archive/data/codebook/codebook.md")
    verdict = verify_package(zipped)
    assert [p.split(":")[0] for p in verdict.problems] == ["data/codebook/codebook.md"]


def test_verify_finds_tables_that_disagree_with_the_project(small_qdpx: Path, tmp_path: Path) -> None:
    folder = make_package(small_qdpx, tmp_path / "pkg")
    codes = folder / "data" / "tables" / "codes.csv"
    codes.write_text(codes.read_text(encoding="utf-8").replace("honest broker", "honest dealer"),
                     encoding="utf-8")
    finish_bag(folder, {"External-Description": "re-bagged after an edit"})  # checksums match again
    verdict = verify_package(folder)
    assert not verdict.ok
    assert verdict.problems[0].startswith("data/tables: disagrees with data/project/Small study.qdpx")


def test_verify_cannot_run_on_something_else(tmp_path: Path, cli) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "not.zip").write_bytes(b"nope")
    done = cli("archive", "--verify", str(tmp_path / "not.zip"))
    assert done.returncode == 2 and "not an archive package" in done.stderr
    assert "Traceback" not in done.stderr
    for target in ("plain", "missing"):
        with pytest.raises(PackageError):
            verify_package(tmp_path / target)


def test_no_overwrite_without_force_and_nothing_half_written(small_qdpx: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "pkg.zip"
    target.write_bytes(b"precious")
    done = cli("archive", str(small_qdpx), str(target))
    assert done.returncode == 2 and "--force" in done.stderr
    assert target.read_bytes() == b"precious"
    make_package(small_qdpx, target, force=True)
    assert zipfile.is_zipfile(target)
    broken = tmp_path / "broken.qdpx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(QdaconvError):
        make_package(broken, out / "other.zip", "refi-qdpx")
    assert sorted(p.name for p in out.iterdir()) == ["pkg.zip"]  # no temporary folders left behind


def test_the_study_archives_to_identical_bytes_and_verifies(study_path: Path, tmp_path: Path, cli) -> None:
    outputs = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        done = cli("archive", str(study_path), cwd=tmp_path / run)  # the default output name
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "wrote study-archive.zip"  # on stdout, as convert, merge and redact say it
        outputs.append(tmp_path / run / "study-archive.zip")
    assert outputs[0].read_bytes() == outputs[1].read_bytes()
    verdict = verify_package(outputs[0])
    assert verdict.ok, verdict.problems
    with zipfile.ZipFile(outputs[0]) as zipped:
        readme = zipped.read("study-archive/README.md").decode("utf-8")
        transcripts = [n for n in zipped.namelist()
                       if n.startswith("study-archive/data/sources/") and n.endswith(".txt")]
    assert "| transcripts | 24 |" in readme
    assert len(transcripts) == 24
    shutil.rmtree(tmp_path / "b")


def test_archive_json_says_what_was_written(small_qdpx: Path, tmp_path: Path, cli) -> None:
    out = tmp_path / "pkg.zip"
    done = cli("archive", str(small_qdpx), str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"output": str(out), "redacted": False}
    done = cli("archive", "--verify", str(out), "--json")
    verdict = json.loads(done.stdout)
    assert done.returncode == 0 and verdict["ok"] is True and verdict["files"] > 5 and verdict["problems"] == []
    terms = tmp_path / "terms.csv"
    terms.write_text("term,replacement\nAnna,P1\n", encoding="utf-8")
    done = cli("archive", str(small_qdpx), str(tmp_path / "redacted.zip"), "--redact", str(terms), "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["redacted"] is True and answer["replacements"] > 0 and answer["log"] is None
