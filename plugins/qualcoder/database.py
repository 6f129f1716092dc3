"""Finding and opening a QualCoder database without ever changing it.

The database is opened through an SQLite URI with `mode=ro&immutable=1`: SQLite then writes
nothing, takes no lock and ignores journals. When a rollback journal or a write-ahead log lies
beside the database (QualCoder was writing, or stopped while writing), the database and those
files are copied to a temporary folder and the copy is opened, so SQLite recovers the last
committed state on the copy and the user's files stay as they are. A database another program
holds an exclusive lock on is refused, since what it holds is about to change.
"""

from __future__ import annotations

import sqlite3
import tempfile
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qdaconv.errors import ReadError
from qdaconv.sqlite import SIDECARS, has_sqlite_header, private_copy

from .schema import CORE_TABLES, DATA_FILE


def database_path(path: Path) -> Path:
    """The `data.qda` of a project folder, or the path itself when it is a file."""
    return path / DATA_FILE if path.is_dir() else path


def project_folder(path: Path) -> Path:
    """The project folder (`NAME.qda/`) of a folder or of its `data.qda`."""
    return path if path.is_dir() else path.parent


def table_names(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def _uri(path: Path) -> str:
    return "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro&immutable=1"


def _damaged(path: Path, exc: Exception) -> ReadError:
    return ReadError(path, f"the SQLite database cannot be read ({exc})",
                     hint="the file is damaged, encrypted or not a QualCoder database; open the project in "
                          "QualCoder or restore a backup (QualCoder keeps NAME_BKUP_... copies)")


def _locked(path: Path) -> bool:
    """True when another program holds a lock that stops even reading (it is writing right now)."""
    try:
        connection = sqlite3.connect("file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro",
                                     uri=True, timeout=0.2)
    except sqlite3.Error:
        return False
    try:
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    return False


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
    if not has_sqlite_header(database):
        raise ReadError(database, "not an SQLite database (damaged, encrypted or another kind of file)",
                        hint="QualCoder keeps its project in an unencrypted SQLite file; restore a backup")
    if any(Path(f"{database}{suffix}").exists() for suffix in SIDECARS[:2]):  # a journal or a write-ahead log
        if _locked(database):
            raise ReadError(database, "the database is locked: another program is writing it",
                            hint="close the project in QualCoder and try again")
        with tempfile.TemporaryDirectory(prefix="qdaconv-qualcoder-") as scratch:
            copy = private_copy(database, Path(scratch))
            try:
                connection = sqlite3.connect(copy)
            except sqlite3.Error as exc:
                raise _damaged(database, exc) from None
            try:
                yield _checked(connection, database)
            finally:
                connection.close()
        return
    try:
        connection = sqlite3.connect(_uri(database), uri=True)
    except sqlite3.Error as exc:
        raise _damaged(database, exc) from None
    try:
        yield _checked(connection, database)
    finally:
        connection.close()


def _checked(connection: sqlite3.Connection, database: Path) -> sqlite3.Connection:
    # text that is not UTF-8 is read with replacement characters rather than stopping the read
    connection.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
    try:
        tables = table_names(connection)
    except sqlite3.Error as exc:
        raise _damaged(database, exc) from None
    missing = sorted(CORE_TABLES - tables)
    if missing:
        raise ReadError(database, "an SQLite database, but not a QualCoder project: it has no table "
                        + ", ".join(missing),
                        hint="give the NAME.qda folder of a QualCoder project, or pass --from for another format")
    return connection


def sniff_project(path: Path) -> float:
    """How sure it is that `path` is a QualCoder project folder or its `data.qda` (never raises)."""
    try:
        database = database_path(path)
        if not database.is_file() or not has_sqlite_header(database):
            named = path.suffix.lower() == ".qda" or path.name == DATA_FILE
            return 0.5 if named and (database.is_file() or path.is_file()) else 0.0
        connection = sqlite3.connect(_uri(database), uri=True)
        try:
            tables = table_names(connection)
        finally:
            connection.close()
    except Exception:  # an unreadable file is simply not recognised; reading it says why
        return 0.5 if path.suffix.lower() == ".qda" or path.name == DATA_FILE else 0.0
    if CORE_TABLES <= tables:
        return 1.0
    if path.suffix.lower() == ".qda" or path.name == DATA_FILE:
        return 0.5
    return 0.0  # another program's SQLite file: detection then says no format can read it
