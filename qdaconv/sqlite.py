"""Opening a program's SQLite database safely: read-only, recovered on a private copy, schema distrusted.

Programs such as Taguette and QualCoder keep a project in one SQLite file. An input database is never
changed: it is opened read-only, and when it needs recovery (a hot journal left by a writer that
crashed) or is in write-ahead-log mode, the database and the files beside it are copied to a private
folder and the copy is opened, so SQLite's recovery happens there. Untrusted schemas are not run
(`trusted_schema=OFF`), and a quick integrity check runs before anything is read.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from qdaconv.errors import ReadError

SQLITE_HEADER = b"SQLite format 3\x00"
#: Files SQLite keeps beside a database while a transaction is open or after a crash.
SIDECARS = ("-journal", "-wal", "-shm")
BUSY_TIMEOUT_S = 2.0


def has_sqlite_header(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            return stream.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:
        return False


def _secure(connection: sqlite3.Connection) -> None:
    """What SQLite advises for database files from elsewhere (no functions run from the schema, checked
    cells, no memory mapping), set before the schema is first read."""
    connection.execute("PRAGMA trusted_schema=OFF")
    connection.execute("PRAGMA cell_size_check=ON")
    connection.execute("PRAGMA mmap_size=0")


def table_names(connection: sqlite3.Connection) -> set[str]:
    return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def sniff_tables(path: Path) -> set[str] | None:
    """The tables of a SQLite file, read without locking or recovering anything; None if not readable."""
    if not path.is_file() or not has_sqlite_header(path):
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error:
        return None
    try:
        _secure(connection)
        connection.execute("PRAGMA query_only=ON")
        return table_names(connection)
    except sqlite3.Error:
        return None
    finally:
        connection.close()


def _error(path: Path, exc: sqlite3.Error, program: str, remedy: str) -> ReadError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return ReadError(path, "the database is locked by another program",
                         hint=f"close {program} (or the program writing to it) and try again")
    if "not a database" in text or "encrypted" in text:
        return ReadError(path, "not a readable SQLite database (damaged, or encrypted)", hint=remedy)
    return ReadError(path, f"the database is damaged ({text})", hint=remedy)


def _wal_mode(path: Path) -> bool:
    """Whether the header says write-ahead logging (a reader would create files beside the database)."""
    with open(path, "rb") as stream:
        header = stream.read(20)
    return len(header) == 20 and (header[18] == 2 or header[19] == 2)


def _connect(uri: str) -> sqlite3.Connection:
    connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        _secure(connection)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the lock, or recovers a copy
        connection.execute("PRAGMA query_only=ON")
    except BaseException:
        connection.close()
        raise
    return connection


def private_copy(path: Path, folder: Path) -> Path:
    """The database and the files SQLite keeps beside it, copied so that recovery happens on the copy."""
    target = folder / "copy.sqlite3"
    shutil.copyfile(path, target)
    for suffix in SIDECARS:
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", f"{target}{suffix}")
    return target


@contextlib.contextmanager
def open_readonly(path: Path, *, program: str, tables: Iterable[str],
                  remedy: str | None = None) -> Iterator[sqlite3.Connection]:
    """A read-only connection to `program`'s database that leaves the file and its neighbours untouched.

    A database with a hot journal (a writer that crashed) or in write-ahead-log mode is read from a
    private copy; one locked by a writer, one that fails the integrity check and one without all of
    `tables` are errors that say so (`program` names the program in the hints; `remedy` is the hint
    for a damaged database, by default to export it again).
    """
    path = Path(path)
    remedy = remedy or f"export the project again from {program}"
    if not has_sqlite_header(path):
        raise ReadError(path, "not a SQLite database (damaged, encrypted, or another kind of file)",
                        hint=f"a {program} database starts with the SQLite header; {remedy}")
    with contextlib.ExitStack() as stack:
        try:
            if _wal_mode(path) or Path(f"{path}-wal").exists():
                connection = None
            else:
                try:
                    connection = _connect(f"{path.resolve().as_uri()}?mode=ro")
                except sqlite3.OperationalError as exc:
                    # a hot journal: a read-only connection may not roll it back
                    if not (getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY")
                            and Path(f"{path}-journal").exists()):
                        raise
                    connection = None
            if connection is None:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qdaconv-sqlite-")))
                connection = _connect(private_copy(path, folder).as_uri())
            stack.callback(connection.close)
            check = [line for row in connection.execute("PRAGMA quick_check(20)") for line in row[0].splitlines()]
            found_tables = table_names(connection)
        except sqlite3.Error as exc:
            raise _error(path, exc, program, remedy) from None
        if check != ["ok"]:
            problems = [line for line in check if not line.startswith("***")] or ["no answer"]
            raise ReadError(path, f"the database is damaged (integrity check: {problems[0]}"
                                  + (f", and {len(problems) - 1} more problems)" if len(problems) > 1 else ")"),
                            hint=remedy)
        missing = set(tables) - found_tables
        if missing:
            found = ", ".join(sorted(found_tables)[:6]) or "none"
            raise ReadError(path, f"a SQLite database without {program}'s tables (missing {', '.join(sorted(missing))};"
                                  f" found {found})",
                            hint=f"this is not a {program} database; check the file or pass another --from")
        yield connection
