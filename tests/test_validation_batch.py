"""Validating many files: path expansion, the process pool, crash isolation, the Dask executor, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from qdaconv import validation
from qdaconv.errors import QdaconvError
from qdaconv.validation import Report, expand_paths, validate_many

GOOD = ('<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="test"><Codes>'
        '<Code guid="8D4E3C6A-0F2B-4A5E-9C11-2B6F0E7A1D01" name="trust" isCodable="true"/></Codes></CodeBook>')
BAD = GOOD.replace("8D4E3C6A-0F2B-4A5E-9C11-2B6F0E7A1D01", "c001")


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A small archive: good and bad codebooks in nested folders, a broken .qdpx, and files to ignore."""
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    for n in range(3):
        (tmp_path / "a" / f"good{n}.qdc").write_text(GOOD)
    (tmp_path / "a" / "b" / "bad.qdc").write_text(BAD)
    (tmp_path / "a" / "b" / "broken.qdpx").write_bytes(b"PK\x03\x04 this is not a zip")
    (tmp_path / "a" / "notes.md").write_text("not a project")
    (tmp_path / "a" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0 a thumbnail cache")  # .db is a known ending
    (tmp_path / "a" / "desktop.ini").write_text("[.ShellClassInfo]")
    (tmp_path / ".hidden" / "skip.qdc").write_text(GOOD)
    return tmp_path


def test_expand_paths(corpus):
    found = expand_paths([str(corpus)])
    assert [p.relative_to(corpus).as_posix() for p in found] == [
        "a/b/bad.qdc", "a/b/broken.qdpx", "a/good0.qdc", "a/good1.qdc", "a/good2.qdc"]
    assert expand_paths([str(corpus / "a" / "*.qdc")]) == [corpus / "a" / f"good{n}.qdc" for n in range(3)]
    assert len(expand_paths([str(corpus / "**" / "*.qdc")])) == 4  # recursive glob, hidden folder skipped
    both = expand_paths([str(corpus / "a" / "good0.qdc"), str(corpus / "a")])
    assert len(both) == 5 and both[0] == corpus / "a" / "good0.qdc"  # no duplicates, order kept
    assert expand_paths([str(corpus / "a" / "*")]) == [corpus / "a" / f"good{n}.qdc" for n in range(3)] + [
        corpus / "a" / "notes.md"]  # a glob takes what it names, but not the system's thumbnail cache
    assert expand_paths([str(corpus / "a" / "Thumbs.db")]) == [corpus / "a" / "Thumbs.db"]  # named, it is checked


@pytest.mark.parametrize("arg", ["missing.qdpx", "*.nothing", "empty"])
def test_expand_paths_refuses_what_matches_nothing(tmp_path, arg):
    (tmp_path / "empty").mkdir()
    with pytest.raises(QdaconvError):
        expand_paths([str(tmp_path / arg)])


def verdicts(reports: list[Report]) -> list[tuple[str, bool, set[str]]]:
    return [(Path(r.file).name, r.valid, r.rule_ids()) for r in reports]


def test_pool_gives_the_same_reports_in_order(corpus):
    files = expand_paths([str(corpus)])
    seen: list[str] = []
    pooled = validate_many(files, jobs=2, progress=lambda report: seen.append(report.file))
    serial = validate_many(files, jobs=1)
    assert verdicts(pooled) == verdicts(serial)
    assert [r.file for r in pooled] == [str(p) for p in files]
    assert sorted(seen) == sorted(str(p) for p in files)
    by_name = {Path(r.file).name: r for r in pooled}
    assert by_name["good0.qdc"].valid and not by_name["bad.qdc"].valid
    assert by_name["broken.qdpx"].rule_ids() == {"ZIP-BROKEN"}


@pytest.mark.parametrize(("count", "jobs"), [(1, 2), (7, 2), (200, 2), (1000, 8)])
def test_chunks_cover_every_file_once_and_shrink_toward_the_end(count, jobs):
    from qdaconv.validation.batch import MAX_CHUNK, _chunks

    chunks = list(_chunks(list(range(count)), jobs))
    assert [p for chunk in chunks for p in chunk] == list(range(count))
    sizes = [len(chunk) for chunk in chunks]
    assert max(sizes) <= MAX_CHUNK and sizes == sorted(sizes, reverse=True)
    assert sizes[-jobs:] == [1] * min(jobs, count)  # the workers end on single files, together


def test_pool_passes_the_rule_selection(corpus):
    reports = validate_many(expand_paths([str(corpus)]), jobs=2, rules=["ZIP-"])
    assert [r.rule_ids() for r in reports] == [set(), {"ZIP-BROKEN"}, set(), set(), set()]
    with pytest.raises(QdaconvError, match="unknown rule"):
        validate_many([], rules=["ZIP-BROKNE"])


def _die_on_bad(path, fmt=None, **kwargs):
    """Stands in for validate() in forked workers: the process dies on one file, as a native crash would."""
    if Path(path).name == "bad.qdc":
        os._exit(3)
    return _real_validate(path, fmt, **kwargs)


_real_validate = validation.validate


@pytest.mark.skipif(__import__("multiprocessing").get_start_method() != "fork",
                    reason="the crash is injected through fork-inherited state")
def test_a_worker_crash_costs_only_its_file(corpus, monkeypatch):
    monkeypatch.setattr(validation.batch, "validate", _die_on_bad)
    reports = validate_many(expand_paths([str(corpus)]), jobs=2)
    by_name = {Path(r.file).name: r for r in reports}
    assert len(reports) == 5
    assert by_name["bad.qdc"].rule_ids() == {"WORKER-CRASHED"}
    assert "died" in by_name["bad.qdc"].issues[0].message
    assert all(by_name[f"good{n}.qdc"].valid for n in range(3))
    assert by_name["broken.qdpx"].rule_ids() == {"ZIP-BROKEN"}


def test_an_exception_in_validation_becomes_a_report(corpus, monkeypatch):
    def explode(path, fmt=None, **kwargs):
        raise MemoryError("too big")

    monkeypatch.setattr(validation.batch, "validate", explode)
    [report] = validate_many([corpus / "a" / "good0.qdc"], jobs=1)
    assert report.rule_ids() == {"WORKER-CRASHED"} and "MemoryError" in report.issues[0].message


def test_unknown_executor(corpus):
    with pytest.raises(QdaconvError, match="executor"):
        validate_many([corpus / "a" / "good0.qdc"], executor="threads")


def test_dask_executor_on_a_local_cluster(corpus):
    distributed = pytest.importorskip("distributed")
    files = expand_paths([str(corpus)])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  dashboard_address=None) as cluster:
        reports = validate_many(files, executor="dask", scheduler=cluster.scheduler_address)
    assert verdicts(reports) == verdicts(validate_many(files, jobs=1))


def test_cli_validate(cli, corpus, tmp_path):
    folder = corpus / "a"
    result = cli("validate", str(folder), "--jobs", "2")
    assert result.returncode == 1, result.stderr
    assert "bad.qdc:" in result.stdout and "error REFI-XSD" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "5 files checked: 3 valid, 2 with errors, 1 with warnings"
    good = cli("validate", str(folder / "good0.qdc"), "--json")
    assert good.returncode == 0 and json.loads(good.stdout)[0]["valid"] is True
    junit = tmp_path / "junit.xml"
    cli("validate", str(folder), "--junit", str(junit))
    assert junit.read_text().count("<testcase") == 5
    assert cli("validate", str(tmp_path / "nothing-here.qdpx")).returncode == 2


def test_cli_validate_study_copies(cli, study_path, tmp_path):
    if not study_path.exists():
        pytest.fail("fixtures/study.qdpx is missing: run fixtures/make_study.py")
    for n in range(3):
        shutil.copy(study_path, tmp_path / f"study{n}.qdpx")
    with zipfile.ZipFile(study_path) as source, zipfile.ZipFile(tmp_path / "cut.qdpx", "w") as out:
        for info in source.infolist():
            data = source.read(info)
            out.writestr(info, data[: len(data) // 2] if info.filename.endswith(".qde") else data)
    result = cli("validate", str(tmp_path), "--json")
    reports = json.loads(result.stdout)
    assert result.returncode == 1
    assert [r["valid"] for r in reports] == [False, True, True, True]
    assert reports[0]["issues"][0]["rule"] == "XML-MALFORMED"
