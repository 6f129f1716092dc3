"""Writing a study as a Taguette database that `taguette --database FILE` serves as it is.

The database has Taguette's current schema and alembic revision, so Taguette opens it without a
migration. It holds one project, owned by the single-user login `admin` (and by `user=LOGIN` when
given). Text sources become documents as Taguette stores them: sanitised HTML, a paragraph per line,
whose text is the source's text; text selections become highlights with their tags, whose byte
offsets and snippets give back the coded text; codes become tags whose paths join the code tree with
`separator`. The coders become members (logins made from their names) and Taguette's history records
who added each document, tag and highlight, and when. What Taguette cannot hold is returned as loss.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qdaconv.errors import WriteError
from qdaconv.formats import Loss
from qdaconv.model import Project, Selection, Source, guid_key, walk_codes, walk_sources
from qdaconv.positions import PositionMap

from .database import ALEMBIC_REVISION, APPLICATION_ID, SCHEMA
from .html import Snippets, right_to_left, text_to_html
from .reader import excerpt_name, separator_of

OWNER = "admin"
#: Taguette's own limits (taguette.validate): longer values are refused by its import and export.
NAME_LIMIT = 50
TAG_PATH_LIMIT = 200
FILENAME_LIMIT = 100
DESCRIPTION_LIMIT = 102400
LOGIN_LIMIT = 20
_LOGIN_CHARACTERS = re.compile(r"[^a-z0-9._-]+")
_VALID_LOGIN = re.compile(r"[a-z0-9._+@ -]{1,25}")


def _stamp(moment: datetime) -> str:
    """A date as Taguette stores it: naive UTC, with microseconds."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def login_for(name: str) -> str:
    """A Taguette login made from a person's name: lower case ASCII letters, digits and . _ -."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return _LOGIN_CHARACTERS.sub(".", ascii_name).strip("._-")[:LOGIN_LIMIT].strip("._-") or "user"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Losses:
    """Counts of what the database cannot hold, with an example each."""

    def __init__(self) -> None:
        self.items: dict[str, list[Any]] = {}

    def add(self, what: str, example: str = "", count: int = 1) -> None:
        entry = self.items.setdefault(what, [0, example])
        entry[0] += count

    def report(self) -> list[Loss]:
        return [Loss(what, count, f"e.g. {example}" if example else "")
                for what, (count, example) in self.items.items() if count]


class _Writer:
    def __init__(self, project: Project, connection: sqlite3.Connection, owners: list[str],
                 separator: str) -> None:
        self.project = project
        self.db = connection
        self.owners = owners
        self.separator = separator
        self.loss = _Losses()
        self.logins: dict[str, str] = {}  # user guid_key -> login
        self.project_id = 0
        self.created = project.created or project.modified or datetime.now(UTC)  # Taguette needs a date

    # ---------------------------------------------------------------- users and the project

    def users(self) -> None:
        taken = set(self.owners)
        for user in self.project.users:
            name = user.name or user.id or user.guid
            login = base = login_for(name)
            if base in self.owners:  # the owner as a coder (a Taguette database read back)
                self.logins[guid_key(user.guid)] = base
                continue
            number = 2
            while login in taken:
                login = f"{base[: LOGIN_LIMIT - 1 - len(str(number))]}-{number}"
                number += 1
            taken.add(login)
            self.logins[guid_key(user.guid)] = login
            if login != name:
                self.loss.add("user names (kept as Taguette logins)", f"{name!r} as {login!r}")
        created = _stamp(self.created)
        coders = [login for login in dict.fromkeys(self.logins.values()) if login not in self.owners]
        self.db.executemany("INSERT INTO users (login, created, disabled) VALUES (?, ?, 0)",
                            [(login, created) for login in [*self.owners, *coders]])
        name = self.project.name or "Untitled"
        if len(name) > NAME_LIMIT:
            self.loss.add("project name longer than 50 characters (shortened)", repr(name))
        cursor = self.db.execute("INSERT INTO projects (name, description, created) VALUES (?, ?, ?)",
                                 (_shorten(name, NAME_LIMIT), self._description(self.project.description), created))
        self.project_id = cursor.lastrowid
        members = [(login, "ADMIN") for login in self.owners] + [(login, "TAG") for login in coders]
        self.db.executemany("INSERT INTO project_members (project_id, user_login, privileges) VALUES (?, ?, ?)",
                            [(self.project_id, login, privileges) for login, privileges in members])

    def _description(self, text: str | None) -> str:
        text = text or ""
        if len(text) > DESCRIPTION_LIMIT:
            self.loss.add("descriptions longer than 102,400 characters (shortened)", repr(text[:40]))
        return text[:DESCRIPTION_LIMIT]

    def login(self, user_guid: str | None) -> str:
        return self.logins.get(guid_key(user_guid), self.owners[0]) if user_guid else self.owners[0]

    def command(self, login: str, when: datetime | None, document_id: int | None, payload: dict[str, Any]) -> None:
        self.db.execute("INSERT INTO commands (date, user_login, project_id, document_id, payload) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (_stamp(when or self.created), login, self.project_id, document_id,
                         json.dumps(payload, sort_keys=True)))

    # ---------------------------------------------------------------- tags

    def tags(self) -> dict[str, int]:
        """A tag per code, its path the code's path joined with the separator; tag ids by code guid_key."""
        ids: dict[str, int] = {}
        by_path: dict[str, int] = {}
        for entry in walk_codes(self.project):
            code = entry.code
            if self.separator in code.name:
                self.loss.add("code names holding the tag path separator (they read back split)", repr(code.name))
            if not code.codable:
                self.loss.add("theme flags (themes become ordinary tags)", repr(code.name))
            path = self.separator.join(" ".join(part.split()) for part in entry.path)
            if len(path) > TAG_PATH_LIMIT:
                self.loss.add("tag paths longer than 200 characters (shortened)", repr(path))
                path = _shorten(path, TAG_PATH_LIMIT)
            if path in by_path:
                self.loss.add("codes with the same tag path as another (merged)", repr(path))
                ids[guid_key(code.guid)] = by_path[path]
                continue
            description = self._description(code.description)
            cursor = self.db.execute("INSERT INTO tags (project_id, path, description) VALUES (?, ?, ?)",
                                     (self.project_id, path, description))
            by_path[path] = ids[guid_key(code.guid)] = cursor.lastrowid
            self.command(self.owners[0], self.created, None,
                         {"type": "tag_add", "tag_id": cursor.lastrowid, "tag_path": path,
                          "description": description})
        return ids

    # ---------------------------------------------------------------- documents and highlights

    def documents(self, tags: dict[str, int]) -> None:
        written: set[int] = set()
        for source in self.project.sources:
            text = source.text if source.kind == "Text" else None
            if text is None:
                if source.kind == "Text":
                    self.loss.add("text sources without their text", repr(source.name))
                continue
            written.add(id(source))
            self._document(source, text, tags)
        for source in walk_sources(self.project):
            if id(source) not in written and source.kind != "Note":
                self._drop_coded(source)

    def _drop_coded(self, source: Source) -> None:
        """What was coded in a source Taguette cannot hold (media, PDFs, their texts, transcripts)."""
        count = sum(1 + len(selection.codings) for selection in source.selections)  # whole-source: the core's
        if count:
            self.loss.add("selections and codings in sources that are not text documents", repr(source.name), count)

    def _document(self, source: Source, text: str, tags: dict[str, int]) -> None:
        made = text_to_html(text)
        if made.line_ends:
            self.loss.add("CR LF line ends (made LF: HTML has no CR)", repr(source.name), made.line_ends)
        if made.replaced:
            self.loss.add("control characters (replaced by spaces)", repr(source.name), made.replaced)
        name = source.name or "Untitled document"
        if len(name) > NAME_LIMIT:
            self.loss.add("document names longer than 50 characters (shortened)", repr(name))
        native = source.native if (source.native or {}).get("program") == "taguette" else {}
        direction = native.get("text_direction") or ("RIGHT_TO_LEFT" if right_to_left(made.text) else "LEFT_TO_RIGHT")
        filename = native.get("filename") or _filename(name)
        created = source.created or self.created
        description = self._description(source.description)
        cursor = self.db.execute(
            "INSERT INTO documents (name, description, filename, created, project_id, text_direction, contents) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (_shorten(name, NAME_LIMIT), description, filename[:FILENAME_LIMIT], _stamp(created), self.project_id,
             direction, made.html))
        document_id = cursor.lastrowid
        self.command(self.login(source.creating_user), created, document_id,
                     {"type": "document_add", "document_name": _shorten(name, NAME_LIMIT),
                      "description": description, "text_direction": direction})
        to_carried = PositionMap(text, "lf").to_unit if made.line_ends else None
        offsets, snippets = PositionMap(made.text, "utf8"), Snippets(made.text)
        for selection in source.selections:
            if selection.kind != "PlainText":
                continue  # media selections of a text source do not exist; counted by the core if any
            start, end = selection.start or 0, selection.end if selection.end is not None else 0
            start, end = max(0, min(start, len(text))), max(0, min(end, len(text)))
            if to_carried is not None:
                start, end = to_carried(start), to_carried(end)
            if start >= end or not made.text[start:end].strip("\r\n\t"):
                self.loss.add("empty text selections and their codings", repr(selection.name),
                              1 + len(selection.codings))
                continue
            if selection.description:
                self.loss.add("selection descriptions (Taguette highlights have no memo)",
                              repr(selection.description[:40]))
            if selection.name and selection.name != excerpt_name(made.text[start:end]):
                self.loss.add("selection names (read back as the excerpt's first six words)",
                              repr(selection.name))
            self._highlight(document_id, snippets, offsets, start, end, selection, tags)

    def _highlight(self, document_id: int, snippets: Snippets, offsets: PositionMap, start: int, end: int,
                   selection: Selection, tags: dict[str, int]) -> None:
        start_offset, end_offset = offsets.to_unit(start), offsets.to_unit(end)
        cursor = self.db.execute("INSERT INTO highlights (document_id, start_offset, end_offset, snippet) "
                                 "VALUES (?, ?, ?, ?)",
                                 (document_id, start_offset, end_offset, snippets.snippet(start, end)))
        highlight_id = cursor.lastrowid
        tag_ids: list[int] = []
        for coding in selection.codings:
            tag = tags.get(guid_key(coding.code))
            if tag is None:
                self.loss.add("codings whose code is not in the project", coding.code)
            elif tag not in tag_ids:
                tag_ids.append(tag)
        self.db.executemany("INSERT INTO highlight_tags (highlight_id, tag_id) VALUES (?, ?)",
                            [(highlight_id, tag) for tag in sorted(tag_ids)])
        coder = selection.creating_user or next((c.creating_user for c in selection.codings if c.creating_user), None)
        when = selection.created or next((c.created for c in selection.codings if c.created), None)
        self.command(self.login(coder), when, document_id,
                     {"type": "highlight_add", "highlight_id": highlight_id, "start_offset": start_offset,
                      "end_offset": end_offset, "tags": sorted(tag_ids)})


def _filename(name: str) -> str:
    stem = re.sub(r"[\\/\x00]+", "_", name).strip() or "document"
    return f"{stem[:FILENAME_LIMIT - 4]}.txt"


def owners_for(user: Any) -> list[str]:
    owners = [OWNER]
    if user not in (None, ""):
        login = str(user).strip()
        if not _VALID_LOGIN.fullmatch(login):
            raise WriteError(f"user={login!r} is not a Taguette login: use up to 25 lower-case letters, digits "
                             "and . _ - + @ or spaces")
        if login != OWNER:
            owners.append(login)
    return owners


def write_database(project: Project, path: Path, user: Any = None, separator: Any = None) -> list[Loss]:
    """Write `project` to a new Taguette database at `path`; returns what it could not hold."""
    owners = owners_for(user)
    joiner = separator_of(separator)
    if joiner is None:
        raise WriteError("separator=none cannot be written: tag paths need a separator to keep the code tree "
                         "(leave the option out for ' > ')")
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # auto_vacuum as Taguette makes its databases (before any table); the file is a temporary one that
        # is discarded on failure, so it needs no journal and no syncing until it is complete
        connection.executescript("PRAGMA auto_vacuum=1; PRAGMA foreign_keys=ON; PRAGMA journal_mode=MEMORY; "
                                 f"PRAGMA synchronous=OFF; BEGIN; {SCHEMA}")
        connection.execute("INSERT INTO alembic_version (version_num) VALUES (?)", (ALEMBIC_REVISION,))
        writer = _Writer(project, connection, owners, joiner)
        writer.users()
        tags = writer.tags()
        writer.documents(tags)
        connection.execute("COMMIT")
        connection.execute(f"PRAGMA application_id={APPLICATION_ID}")
    except sqlite3.Error as exc:
        raise WriteError(f"{path}: cannot write the Taguette database ({exc})") from None
    finally:
        connection.close()
    with open(path, "rb+") as stream:  # on disk before the core renames it into place
        os.fsync(stream.fileno())
    return writer.loss.report()
