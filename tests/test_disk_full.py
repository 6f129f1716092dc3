"""A full disk: one clear line naming the user's path, nothing left behind, and no "Exception ignored" noise.

The full disk is simulated: zip files whose name ends as given are written through a file object
that raises OSError(ENOSPC) once it holds more than a number of bytes, in the test process (through
monkeypatch) or in a CLI subprocess (through a sitecustomize module on PYTHONPATH).
"""

from __future__ import annotations

import errno
import gc
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import STUDY

import qdaconv
from qdaconv.errors import WriteError
from qdaconv.plugins.archive import make_package

FULL_DISK = '''
import errno, os, zipfile

_LIMIT = int(os.environ["QDACONV_TEST_FULL_AFTER"])
_ENDING = os.environ["QDACONV_TEST_FULL_ENDING"]
_init = zipfile.ZipFile.__init__


class FullDisk:
    """A file that takes no more than _LIMIT bytes, as a nearly full disk would."""

    def __init__(self, path, mode):
        self._file = open(path, mode)
        self._full = False

    def write(self, data):
        if self._full or self._file.tell() + len(data) > _LIMIT:
            self._full = True  # a full disk stays full: later, smaller writes fail too
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


def _init_on_a_full_disk(self, file, mode="r", *args, **kwargs):
    if mode in ("w", "x") and isinstance(file, (str, os.PathLike)) and os.fspath(file).endswith(_ENDING):
        file = FullDisk(file, mode + "b")
    _init(self, file, mode, *args, **kwargs)


zipfile.ZipFile.__init__ = _init_on_a_full_disk
'''


@pytest.fixture
def full_disk(monkeypatch, tmp_path: Path):
    """Make zips whose name ends with the given ending fail with ENOSPC after `limit` bytes, in this process."""
    namespace: dict = {}

    def arm(ending: str, limit: int) -> None:
        monkeypatch.setenv("QDACONV_TEST_FULL_AFTER", str(limit))
        monkeypatch.setenv("QDACONV_TEST_FULL_ENDING", ending)
        exec(compile(FULL_DISK.replace("zipfile.ZipFile.__init__ = _init_on_a_full_disk", ""), "full_disk", "exec"),
             namespace)
        monkeypatch.setattr(zipfile.ZipFile, "__init__", namespace["_init_on_a_full_disk"])

    return arm


@pytest.fixture
def unraisable(monkeypatch) -> list:
    """What Python would print as "Exception ignored in ...", collected instead."""
    seen: list = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def test_an_xlsx_on_a_full_disk_is_one_clear_error(full_disk, unraisable, tmp_path: Path) -> None:
    project = qdaconv.read(STUDY)
    full_disk(".xlsx", 40_000)
    target = tmp_path / "study.xlsx"
    with pytest.raises(WriteError) as caught:
        qdaconv.write(project, target)
    message = str(caught.value)
    del caught  # its traceback keeps the frames, and what they hold, alive
    gc.collect()
    assert message == f"{target}: cannot write: {os.strerror(errno.ENOSPC)}"
    assert list(tmp_path.iterdir()) == []
    assert unraisable == [], [str(u.exc_value) for u in unraisable]


def test_the_cli_on_a_full_disk_prints_no_exception_ignored(tmp_path: Path) -> None:
    helper = tmp_path / "site"
    helper.mkdir()
    (helper / "sitecustomize.py").write_text(FULL_DISK, encoding="utf-8")
    target = tmp_path / "out" / "study.xlsx"
    target.parent.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(helper), os.environ.get("PYTHONPATH", "")]),
           "QDACONV_TEST_FULL_AFTER": "40000", "QDACONV_TEST_FULL_ENDING": ".xlsx"}
    done = subprocess.run([sys.executable, "-m", "qdaconv", "convert", str(STUDY), str(target)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert f"{target}: cannot write: {os.strerror(errno.ENOSPC)}" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert list(target.parent.iterdir()) == []


def _fail_tables(monkeypatch) -> None:
    from qdaconv.plugins.tables import CsvTables

    def no_space(self, project, path, **options):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(CsvTables, "write", no_space)


@pytest.mark.parametrize(("step", "out_name"), [
    ("tables", "study-archive.zip"), ("tables", "study-archive"), ("project", "study-archive.zip"),
    ("project", "study-archive"), ("package zip", "study-archive.zip")])
def test_archive_on_a_full_disk_names_the_users_path(step: str, out_name: str, full_disk, monkeypatch,
                                                      unraisable, tmp_path: Path) -> None:
    if step == "tables":
        _fail_tables(monkeypatch)
    elif step == "project":
        full_disk(".qdpx", 20_000)
    else:
        full_disk("package.zip", 100_000)
    out = tmp_path / "deposit" / out_name
    out.parent.mkdir()
    with pytest.raises(WriteError) as caught:
        make_package(STUDY, out)
    message = str(caught.value)
    del caught  # its traceback keeps the frames, and what they hold, alive
    gc.collect()
    assert message.startswith(str(out)) and ".qdaconv-" not in message and "/bag" not in message, message
    assert os.strerror(errno.ENOSPC) in message
    assert list(out.parent.iterdir()) == []
    assert unraisable == []
