"""Taguette's SQLite database: its schema at the current revision, and opening one safely.

The schema is what Taguette 1.5 creates for a new database (its SQLAlchemy models, stamped with the
newest alembic revision, `application_id` 'Tgtt'). An input database is never changed: it is opened
read-only, and when it needs recovery (a hot journal left by a writer that crashed) or is in
write-ahead-log mode, the database and the files beside it are copied to a private folder and the
copy is opened, so SQLite's recovery happens there. Untrusted schemas are not run
(`trusted_schema=OFF`), and a quick integrity check runs before anything is read.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

from qdaconv.errors import ReadError

SQLITE_HEADER = b"SQLite format 3\x00"
#: Taguette 1.5's newest alembic revision ("remove blank highlights").
ALEMBIC_REVISION = "db5e31a0233d"
APPLICATION_ID = 0x54677474  # 'Tgtt'
#: The tables every Taguette database since its first release has.
CORE_TABLES = frozenset({"projects", "documents", "tags", "highlights", "highlight_tags"})
#: Files SQLite keeps beside a database while a transaction is open or after a crash.
SIDECARS = ("-journal", "-wal", "-shm")
BUSY_TIMEOUT_S = 2.0

SCHEMA = """
CREATE TABLE users (
    login VARCHAR(30) NOT NULL,
    created DATETIME NOT NULL,
    hashed_password VARCHAR(192),
    disabled BOOLEAN NOT NULL,
    password_set_date DATETIME,
    language VARCHAR(10),
    email VARCHAR(256),
    email_sent DATETIME,
    CONSTRAINT pk_users PRIMARY KEY (login)
);
CREATE UNIQUE INDEX ix_users_email ON users (email);
CREATE TABLE projects (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(200) NOT NULL,
    description TEXT NOT NULL,
    created DATETIME NOT NULL
);
CREATE TABLE project_members (
    project_id INTEGER NOT NULL,
    user_login VARCHAR(30) NOT NULL,
    privileges VARCHAR(11) NOT NULL,
    CONSTRAINT pk_project_members PRIMARY KEY (project_id, user_login),
    CONSTRAINT fk_project_members_project_id_projects FOREIGN KEY(project_id)
        REFERENCES projects (id) ON DELETE CASCADE,
    CONSTRAINT fk_project_members_user_login_users FOREIGN KEY(user_login)
        REFERENCES users (login) ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX ix_project_members_user_login ON project_members (user_login);
CREATE INDEX ix_project_members_project_id ON project_members (project_id);
CREATE TABLE documents (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(200) NOT NULL,
    description TEXT NOT NULL,
    filename VARCHAR(200) NOT NULL,
    created DATETIME NOT NULL,
    project_id INTEGER NOT NULL,
    text_direction VARCHAR(13) NOT NULL,
    contents TEXT NOT NULL,
    CONSTRAINT fk_documents_project_id_projects FOREIGN KEY(project_id) REFERENCES projects (id) ON DELETE CASCADE
);
CREATE INDEX ix_documents_project_id ON documents (project_id);
CREATE TABLE commands (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    date DATETIME NOT NULL,
    user_login VARCHAR(30) NOT NULL,
    project_id INTEGER NOT NULL,
    document_id INTEGER,
    payload TEXT NOT NULL,
    CONSTRAINT fk_commands_user_login_users FOREIGN KEY(user_login) REFERENCES users (login) ON UPDATE CASCADE,
    CONSTRAINT fk_commands_project_id_projects FOREIGN KEY(project_id) REFERENCES projects (id) ON DELETE CASCADE
);
CREATE INDEX ix_commands_date ON commands (date);
CREATE INDEX ix_commands_project_id ON commands (project_id);
CREATE INDEX ix_commands_user_login ON commands (user_login);
CREATE INDEX ix_commands_document_id ON commands (document_id);
CREATE INDEX idx_project_document ON commands (project_id, document_id);
CREATE INDEX idx_project_id ON commands (project_id, id);
CREATE TABLE tags (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL,
    path VARCHAR(200) NOT NULL,
    description TEXT NOT NULL,
    CONSTRAINT uq_tags_project_id UNIQUE (project_id, path),
    CONSTRAINT fk_tags_project_id_projects FOREIGN KEY(project_id) REFERENCES projects (id) ON DELETE CASCADE
);
CREATE INDEX ix_tags_project_id ON tags (project_id);
CREATE INDEX ix_tags_path ON tags (path);
CREATE TABLE highlights (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    document_id INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    snippet TEXT NOT NULL,
    CONSTRAINT fk_highlights_document_id_documents FOREIGN KEY(document_id)
        REFERENCES documents (id) ON DELETE CASCADE
);
CREATE INDEX ix_highlights_document_id ON highlights (document_id);
CREATE TABLE highlight_tags (
    highlight_id INTEGER NOT NULL,
    tag_id INTEGER NOT NULL,
    CONSTRAINT pk_highlight_tags PRIMARY KEY (highlight_id, tag_id),
    CONSTRAINT fk_highlight_tags_highlight_id_highlights FOREIGN KEY(highlight_id)
        REFERENCES highlights (id) ON DELETE CASCADE,
    CONSTRAINT fk_highlight_tags_tag_id_tags FOREIGN KEY(tag_id) REFERENCES tags (id) ON DELETE CASCADE
);
CREATE INDEX ix_highlight_tags_tag_id ON highlight_tags (tag_id);
CREATE INDEX ix_highlight_tags_highlight_id ON highlight_tags (highlight_id);
CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);
"""


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


def _error(path: Path, exc: sqlite3.Error) -> ReadError:
    text = str(exc)
    if "locked" in text or "busy" in text:
        return ReadError(path, "the database is locked by another program",
                         hint="close Taguette (or the program writing to it) and try again")
    if "not a database" in text or "encrypted" in text:
        return ReadError(path, "not a readable SQLite database (damaged, or encrypted)",
                         hint="export the project again from Taguette")
    return ReadError(path, f"the database is damaged ({text})", hint="export the project again from Taguette")


def _wal_mode(path: Path) -> bool:
    """Whether the header says write-ahead logging (a reader would create files beside the database)."""
    with open(path, "rb") as stream:
        header = stream.read(20)
    return len(header) == 20 and (header[18] == 2 or header[19] == 2)


def _connect(path: Path, uri: str) -> sqlite3.Connection:
    connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S)
    try:
        _secure(connection)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the lock, or recovers a copy
        connection.execute("PRAGMA query_only=ON")
    except BaseException:
        connection.close()
        raise
    return connection


def _private_copy(path: Path, folder: Path) -> Path:
    """The database and the files SQLite keeps beside it, copied so that recovery happens on the copy."""
    target = folder / "copy.sqlite3"
    shutil.copyfile(path, target)
    for suffix in SIDECARS:
        if Path(f"{path}{suffix}").exists():
            shutil.copyfile(f"{path}{suffix}", f"{target}{suffix}")
    return target


@contextlib.contextmanager
def open_readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection to a Taguette database that leaves the file and its neighbours untouched.

    A database with a hot journal (a writer that crashed) or in write-ahead-log mode is read from a
    private copy; one locked by a writer is an error that says so.
    """
    path = Path(path)
    if not has_sqlite_header(path):
        raise ReadError(path, "not a SQLite database (damaged, encrypted, or another kind of file)",
                        hint="a Taguette database starts with the SQLite header; export it again from Taguette")
    with contextlib.ExitStack() as stack:
        try:
            if _wal_mode(path) or Path(f"{path}-wal").exists():
                connection = None
            else:
                try:
                    connection = _connect(path, f"{path.resolve().as_uri()}?mode=ro")
                except sqlite3.OperationalError as exc:
                    # a hot journal: a read-only connection may not roll it back
                    if not (getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY")
                            and Path(f"{path}-journal").exists()):
                        raise
                    connection = None
            if connection is None:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="qdaconv-taguette-")))
                connection = _connect(path, _private_copy(path, folder).as_uri())
            stack.callback(connection.close)
            check = [line for row in connection.execute("PRAGMA quick_check(20)") for line in row[0].splitlines()]
            tables = table_names(connection)
        except sqlite3.Error as exc:
            raise _error(path, exc) from None
        if check != ["ok"]:
            problems = [line for line in check if not line.startswith("***")] or ["no answer"]
            raise ReadError(path, f"the database is damaged (integrity check: {problems[0]}"
                                  + (f", and {len(problems) - 1} more problems)" if len(problems) > 1 else ")"),
                            hint="export the project again from Taguette")
        missing = CORE_TABLES - tables
        if missing:
            found = ", ".join(sorted(tables)[:6]) or "none"
            raise ReadError(path, f"a SQLite database without Taguette's tables (missing {', '.join(sorted(missing))};"
                                  f" found {found})",
                            hint="this is not a Taguette database; check the file or pass another --from")
        yield connection
