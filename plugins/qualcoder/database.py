"""Finding and opening a QualCoder database without ever changing it.

The database is opened by the core's `qdaconv.sqlite.open_readonly`, as Taguette's is: read-only,
untrusted schema code never run, an integrity check first, and recovery of a hot journal or a
write-ahead log done on a private copy, so the user's files stay as they are. A database another
program is writing is refused, since what it holds is about to change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qdaconv.errors import ReadError
from qdaconv.sqlite import open_readonly, sniff_tables

from .schema import CORE_TABLES, DATA_FILE

#: What to do about a damaged database: QualCoder's own project is the only copy, so no export can help.
RESTORE = "open the project in QualCoder, or restore one of the NAME_BKUP_... backups QualCoder keeps"


def database_path(path: Path) -> Path:
    """The `data.qda` of a project folder, or the path itself when it is a file."""
    return path / DATA_FILE if path.is_dir() else path


def project_folder(path: Path) -> Path:
    """The project folder (`NAME.qda/`) of a folder or of its `data.qda`."""
    return path if path.is_dir() else path.parent


@contextmanager
def open_database(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to the QualCoder database at `path` (its folder or `data.qda`).

    Raises ReadError naming the file when it is missing, not SQLite, damaged, encrypted, locked
    or an SQLite database of another program.
    """
    database = database_path(path)
    if not database.is_file():
        raise ReadError(path, f"no {DATA_FILE} in the folder",
                        hint="a QualCoder project is a folder NAME.qda holding data.qda; give that folder")
    with open_readonly(database, program="QualCoder", tables=CORE_TABLES, remedy=RESTORE) as connection:
        # text that is not UTF-8 is read with replacement characters rather than stopping the read
        connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
        yield connection


def sniff_project(path: Path) -> float:
    """How sure it is that `path` is a QualCoder project folder or its `data.qda` (never raises)."""
    try:
        named = path.suffix.lower() == ".qda" or path.name == DATA_FILE
        database = database_path(path)
        tables = sniff_tables(database)
    except Exception:  # an unreadable path is simply not recognised; reading it says why
        return 0.0
    if tables is not None and CORE_TABLES <= tables:
        return 1.0
    if named and (database.is_file() or path.is_file()):
        return 0.5  # named as QualCoder names it: reading says what is wrong with it
    return 0.0  # another program's SQLite file: detection then says no format can read it
