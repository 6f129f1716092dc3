"""Read a QualCoder project (any database version, v1 to v17) into the model.

How QualCoder's tables map onto the study:
- `source` rows are sources: a row with text is a Text source holding `fulltext` inline (its
  original document in `documents/`, if any, is kept: a .docx as the rich-text copy, a PDF as a
  PDF source whose representation is the text); pictures, audio and video are media sources
  whose files are in `images/`, `audio/`, `video/` or linked outside the project.
- `code_cat` (categories) and `code_name` (codes) are one code tree: categories are codes that
  cannot be applied (isCodable false); `supercid` nests a code under a code.
- `code_text`, `code_image` and `code_av` rows are codings; rows on the same span (or the same
  rectangle, or the same stretch of time) of a source share one selection, as they do in REFI-QDA.
  A coding memo is the selection's description; `important` is kept in `native`.
- Owners (coders) are users, named by the coder name.
- Memos of sources, codes, categories, cases and attribute types are descriptions; the project
  memo is the project's description.
- Journals are notes. An annotation is a note attached to the text span it annotates; an
  annotation whose text is exactly a journal's text is taken as a link to that journal's note
  (that is how the writer keeps a note referred to from several excerpts).
- `cases` are cases; a `case_text` row covering a whole file is a link to the source, one
  covering a span is a link to a selection of that span.
- `attribute_type`s are variables (numeric ones are Integer when every value is a whole
  number, else Float; character ones are Boolean, Date or DateTime when every value has that
  form, else Text); `attribute` rows are their values on cases and sources (empty values are
  QualCoder's placeholders and are skipped).
QualCoder's own ids are kept in `native["qualcoder"]`, and GUIDs are made from them with
`stable_guid`, so two reads of a project give the same GUIDs.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from qdaconv.errors import ReadError
from qdaconv.issues import Issue, warning
from qdaconv.model import (
    Blob,
    Case,
    Code,
    Coding,
    Project,
    Selection,
    Source,
    SyncPoint,
    User,
    Variable,
    VariableValue,
    stable_guid,
)
from qdaconv.positions import remap_text_positions

from .database import database_path, open_database, project_folder
from .lineends import LineEnds, normalise
from .schema import INTERNAL_PREFIXES, LINKED_PREFIXES, SPEAKER_CODER, TABLES

_PICTURE = (".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?$")


def parse_date(text: Any) -> datetime | None:
    """A QualCoder date ("2024-05-01 14:03:22": the coder's local time, without a zone), taken as UTC.

    The zone is not known; UTC keeps every read of a project the same and is what the writer writes.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    known = _DATES.get(text)
    if known is None:
        if len(_DATES) > 65536:
            _DATES.clear()
        known = _DATES[text] = _parse_date(text)
    return known


_DATES: dict[str, datetime | None] = {}  # codings made in one session share their dates


def _parse_date(text: str) -> datetime | None:
    value = text.strip().replace("T", " ").removesuffix("Z")
    for form in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class _Tables:
    """Rows of the tables a database has, with only the columns it has (older versions lack some)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.columns: dict[str, set[str]] = {}
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            if table in TABLES:  # only QualCoder's own tables are read (a name from the file is not put into SQL)
                self.columns[table] = {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}

    def rows(self, table: str, wanted: tuple[str, ...], order: str = "rowid") -> list[dict[str, Any]]:
        """Rows as dicts of the wanted columns; absent columns read as None, an absent table as no rows."""
        have = self.columns.get(table)
        if have is None:
            return []
        present = [name for name in wanted if name in have]
        select = ", ".join(["rowid", *(f'"{name}"' for name in present)])
        result = []
        kinds = [_COLUMN_KINDS.get((table, name), "text") for name in present]
        for row in self.connection.execute(f'SELECT {select} FROM "{table}" ORDER BY {order}'):
            record = dict.fromkeys(wanted)
            record["rowid"] = row[0]
            # a value of another type than the column's (SQLite allows any) is made one, or None
            record.update((name, _as(kind, value)) for name, kind, value in zip(present, kinds, row[1:], strict=True))
            result.append(record)
        return result


#: (table, column) -> "integer", "real" or "text", as QualCoder declares them
_COLUMN_KINDS = {(table, name): declared.split()[0].lower() for table, (columns, _constraint) in TABLES.items()
                 for name, declared in columns}


def _as(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if kind == "text":
        return value if isinstance(value, str) else str(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if number != number or number in (float("inf"), float("-inf")):
        return None
    return number if kind == "real" else round(number)


class QualCoderReader:
    """Reads one project; `read()` returns the Project with its warnings."""

    def __init__(self, path: Path, allow_external: bool = False) -> None:
        self.path = Path(path)
        self.folder = project_folder(self.path).resolve()
        self.allow_external = allow_external
        self.issues: list[Issue] = []
        self.users: dict[str, User] = {}
        self._originals: list[tuple[Source, Blob]] = []
        self.key = ""  # the project's creation date: part of every GUID, as ids repeat across projects

    # ------------------------------------------------------------------ helpers

    def guid(self, *parts: object) -> str:
        return stable_guid("qualcoder", self.key, *parts)

    def user(self, owner: Any) -> str | None:
        if owner is None or str(owner).strip() == "":
            return None
        name = str(owner)
        user = self.users.get(name)
        if user is None:
            user = self.users[name] = User(self.guid("user", name), name=name)
        return user.guid

    def warn(self, rule: str, message: str, hint: str | None = None) -> None:
        self.issues.append(warning(rule, message, file=str(self.path), hint=hint))

    # ------------------------------------------------------------------ the whole project

    def read(self) -> Project:
        try:
            with open_database(self.path) as connection:
                return self._read(connection)
        except sqlite3.DatabaseError as exc:
            raise ReadError(database_path(self.path), f"the SQLite database cannot be read ({exc})",
                            hint="the file is damaged or not a QualCoder database; restore a backup") from None

    def _read(self, connection: sqlite3.Connection) -> Project:
        tables = _Tables(connection)
        info = (tables.rows("project", ("databaseversion", "date", "memo", "about", "codername")) or [{}])[0]
        self.key = info.get("date") or ""
        name = self.folder.name.removesuffix(".qda") if self.folder.name.endswith(".qda") else self.folder.name
        project = Project(name=name, origin=info.get("about") or None, created=parse_date(info.get("date")),
                          description=info.get("memo") or None)
        project.native = {"qualcoder": {"databaseversion": info.get("databaseversion"),
                                        "codername": info.get("codername")}}
        if info.get("codername"):
            self.user(info["codername"])
        for row in tables.rows("coder_names", ("name", "visibility")):
            if row["name"] != SPEAKER_CODER:  # QualCoder adds it to every project; it is a user once it codes
                self.user(row["name"])
                self.users[row["name"]].native = {"qualcoder": {"visibility": row["visibility"]}}
        codes = self._codes(tables, project)
        sources = self._sources(tables)
        texts = {fid: source for fid, source in sources.items() if _text_of(source) is not None}
        selections: dict[tuple, Selection] = {}
        self._text_codings(tables, codes, texts, selections)
        self._media_codings(tables, codes, sources)
        self._variables(tables, project, sources)
        journals = self._journals(tables, project)
        self._annotations(tables, project, texts, selections, journals)
        self._cases(tables, project, sources, texts, selections)
        self._restore_line_ends()
        transcripts = self._transcripts(sources)
        project.sources = [source for fid, source in sources.items() if fid not in transcripts]
        project.users = list(self.users.values())
        project.warnings.extend(self.issues)
        return project

    # ------------------------------------------------------------------ codes

    def _codes(self, tables: _Tables, project: Project) -> dict[int, Code]:
        categories = tables.rows("code_cat", ("catid", "name", "owner", "date", "memo", "supercatid"))
        code_rows = tables.rows("code_name", ("cid", "name", "memo", "catid", "owner", "date", "color", "supercid"))
        by_cat: dict[int, Code] = {}
        for row in categories:
            by_cat[row["catid"]] = Code(self.guid("category", row["catid"]), row["name"] or "", codable=False,
                                        description=row["memo"] or None,
                                        native={"qualcoder": {"catid": row["catid"], "owner": row["owner"],
                                                              "date": row["date"]}})
        by_cid: dict[int, Code] = {}
        for row in code_rows:
            by_cid[row["cid"]] = Code(self.guid("code", row["cid"]), row["name"] or "", codable=True,
                                      color=row["color"] or None, description=row["memo"] or None,
                                      native={"qualcoder": {"cid": row["cid"], "owner": row["owner"],
                                                            "date": row["date"]}})
        for row in [*categories, *code_rows]:
            self.user(row["owner"])
        # a code or category in a loop of parents (a damaged project; QualCoder repairs it on opening)
        # goes to the top of the tree
        cat_parent = {row["catid"]: row["supercatid"] for row in categories}
        for row in categories:
            parent = None if _in_cycle(cat_parent, row["catid"]) else by_cat.get(row["supercatid"])
            (parent.children if parent else project.codes).append(by_cat[row["catid"]])
        code_parent = {row["cid"]: row["supercid"] for row in code_rows}
        for row in code_rows:
            parent = None if _in_cycle(code_parent, row["cid"]) else by_cid.get(row["supercid"])
            parent = parent or by_cat.get(row["catid"])
            (parent.children if parent else project.codes).append(by_cid[row["cid"]])
        return by_cid

    # ------------------------------------------------------------------ sources

    def _sources(self, tables: _Tables) -> dict[int, Source]:
        rows = tables.rows("source", ("id", "name", "fulltext", "mediapath", "memo", "owner", "date",
                                      "av_text_id", "risid"), order="id")
        sources: dict[int, Source] = {}
        for row in rows:
            sources[row["id"]] = self._source(row)
        return sources

    def _source(self, row: dict[str, Any]) -> Source:
        mediapath = row["mediapath"] or ""
        fid = row["id"]
        native = {"id": fid, "mediapath": row["mediapath"], "av_text_id": row["av_text_id"], "risid": row["risid"]}
        common = {"name": row["name"], "description": row["memo"] or None, "creating_user": self.user(row["owner"]),
                  "created": parse_date(row["date"]), "native": {"qualcoder": native}}
        folder, location = self._media_location(mediapath)
        media_kind = {"images": "Picture", "audio": "Audio", "video": "Video"}.get(folder or "")
        if media_kind is not None and row["fulltext"] in (None, ""):
            source = Source(self.guid("source", fid), kind=media_kind, **common)
            self._attach_file(source, location, mediapath, "file")
            return source
        text = row["fulltext"] if row["fulltext"] is not None else ""
        if folder == "documents" and mediapath.lower().endswith(".pdf"):
            source = Source(self.guid("source", fid), kind="PDF", **common)
            self._attach_file(source, location, mediapath, "file")
            source.representation = Source(self.guid("representation", fid), kind="Representation",
                                           name=row["name"], plain_text=text, native={"qualcoder": {"id": fid}})
            return source
        source = Source(self.guid("source", fid), kind="Text", plain_text=text, **common)
        if folder == "documents" and mediapath.lower().endswith(".docx"):
            self._attach_file(source, location, mediapath, "rich")
        elif folder == "documents":
            blob = self._blob(location, mediapath, source.name) if location is not None else None
            native["document"] = blob  # the original (odt, txt, html ...) for a QualCoder project written back
            if blob is not None and mediapath.lower().endswith(".txt") and (blob.size or 0) < 1 << 28:
                self._originals.append((source, blob))
        return source

    def _restore_line_ends(self) -> None:
        """Give back a text's own line ends where its original file in documents/ is the same text."""
        for source, blob in self._originals:
            try:
                original = blob.read_bytes().decode("utf-8-sig")
            except (OSError, UnicodeDecodeError):
                continue
            if original == source.plain_text or normalise(original) != source.plain_text:
                continue
            ends = LineEnds(original)
            source.plain_text = original
            remap_text_positions(source, ends.to_original)

    def _media_location(self, mediapath: str) -> tuple[str | None, Path | None]:
        """The kind of folder a mediapath names and the file it points at (None when there is none)."""
        for prefix, folder in INTERNAL_PREFIXES.items():
            if mediapath.startswith(prefix):
                return folder, self.folder / folder / mediapath[len(prefix):]
        for prefix, folder in LINKED_PREFIXES.items():
            if mediapath.startswith(prefix):
                return folder, Path(mediapath[len(prefix):])
        return None, None

    def _attach_file(self, source: Source, location: Path | None, mediapath: str, slot: str) -> None:
        if location is None:
            return
        reference = self._reference(location, mediapath)
        blob = self._blob(location, mediapath, source.name)
        if slot == "rich":
            source.rich_text_path, source.rich_file = reference, blob
        else:
            source.path, source.file = reference, blob

    def _reference(self, location: Path, mediapath: str) -> str:
        if mediapath.startswith("/"):
            return "internal://" + location.name
        return "absolute://" + location.as_posix()

    def _blob(self, location: Path, mediapath: str, owner: str | None) -> Blob | None:
        inside = _inside(location, self.folder)
        if not inside and not self.allow_external:
            self.warn("QUALCODER-FILE-EXTERNAL", f"the linked file {mediapath!r} of {owner!r} lies outside the "
                      "project's folder and was not read",
                      hint="the path is kept; pass --allow-external (allow_external=True) to read it")
            return None
        try:
            resolved = location.resolve()
        except OSError:
            resolved = location
        if inside and not _inside(resolved, self.folder):  # a link inside the project pointing out of it
            self.warn("QUALCODER-FILE-EXTERNAL", f"the file {mediapath!r} of {owner!r} is a link that leads out "
                      "of the project's folder and was not read", hint="replace the link by the file itself")
            return None
        if not resolved.is_file():
            self.warn("QUALCODER-FILE-MISSING", f"the file {mediapath!r} of {owner!r} is missing",
                      hint="the source is kept without its file")
            return None
        return Blob(resolved.name, file=str(resolved), size=resolved.stat().st_size)

    def _transcripts(self, sources: dict[int, Source]) -> set[int]:
        """Nest each audio or video file's transcript (`av_text_id`) in it, as REFI-QDA does.

        The transcript's coded spans become transcript selections between sync points at their
        positions; QualCoder keeps times only as marks in the text, so the sync points have none.
        """
        nested: set[int] = set()
        for media in sources.values():
            fid = media.native["qualcoder"].get("av_text_id")
            transcript = sources.get(fid) if media.kind in ("Audio", "Video") else None
            if transcript is None or transcript.kind != "Text" or fid in nested:
                continue
            nested.add(fid)
            transcript.kind = "Transcript"
            points: dict[int, str] = {}
            for selection in transcript.selections:
                for position in (selection.start, selection.end):
                    if position not in points:
                        points[position] = self.guid("sync", fid, position)
                selection.kind, selection.from_sync, selection.to_sync = "Transcript", points[selection.start], \
                    points[selection.end]
                selection.start = selection.end = None
            transcript.sync_points = [SyncPoint(guid, position=position) for position, guid in sorted(points.items())]
            if transcript.variable_values:
                self.warn("QUALCODER-TRANSCRIPT-VALUES", f"the transcript {transcript.name!r} has attribute "
                          "values, which a transcript cannot hold in the model", hint="they are left out")
                transcript.variable_values = []
            media.transcripts.append(transcript)
        return nested

    # ------------------------------------------------------------------ codings

    def _text_codings(self, tables: _Tables, codes: dict[int, Code], texts: dict[int, Source],
                      selections: dict[tuple, Selection]) -> None:
        rows = tables.rows("code_text", ("ctid", "cid", "fid", "seltext", "pos0", "pos1", "owner", "date", "memo",
                                         "avid", "important"))
        dropped = 0
        for row in rows:
            code, source = codes.get(row["cid"]), texts.get(row["fid"])
            if code is None or source is None or row["pos0"] is None or row["pos1"] is None:
                dropped += 1
                continue
            start, end = int(row["pos0"]), int(row["pos1"])
            if start == 0 and end > 0 and end == len(_text_of(source) or "") and not row["memo"]:
                source.codings.append(self._coding("code_text", row, code))  # the whole text: the source is coded
                continue
            selection = self._text_selection(source, selections, start, end, row)
            selection.codings.append(self._coding("code_text", row, code))
            _add_memo(selection, row["memo"])
        if dropped:
            self.warn("QUALCODER-DANGLING", f"{dropped} text codings name a code or file that does not exist",
                      hint="QualCoder deletes them when it opens the project; they are left out")

    def _text_selection(self, source: Source, selections: dict[tuple, Selection], start: int, end: int,
                        row: dict[str, Any] | None) -> Selection:
        fid = source.native["qualcoder"]["id"]
        key = ("text", fid, start, end)
        selection = selections.get(key)
        if selection is None:
            target = source.representation if source.kind == "PDF" else source
            selection = Selection(self.guid("text-selection", fid, start, end), kind="PlainText", start=start,
                                  end=end)
            if row is not None:
                selection.creating_user = self.user(row["owner"])
                selection.created = parse_date(row["date"])
            selections[key] = selection
            target.selections.append(selection)
        return selection

    def _coding(self, table: str, row: dict[str, Any], code: Code) -> Coding:
        native = {"table": table, "id": row["rowid"], "important": bool(row.get("important"))}
        if row.get("avid") is not None:
            native["avid"] = row["avid"]
        return Coding(self.guid(table, row["rowid"]), code.guid, creating_user=self.user(row["owner"]),
                      created=parse_date(row["date"]), native={"qualcoder": native})

    def _media_codings(self, tables: _Tables, codes: dict[int, Code], sources: dict[int, Source]) -> None:
        grouped: dict[tuple, Selection] = {}
        dropped = 0
        for row in tables.rows("code_image", ("imid", "id", "x1", "y1", "width", "height", "cid", "memo", "date",
                                              "owner", "important", "pdf_page")):
            code, source = codes.get(row["cid"]), sources.get(row["id"])
            if code is None or source is None or None in (row["x1"], row["y1"], row["width"], row["height"]):
                dropped += 1
                continue
            x1, y1 = round(row["x1"]), round(row["y1"])
            x2, y2 = round(row["x1"] + row["width"]), round(row["y1"] + row["height"])
            page = row["pdf_page"]
            key = ("image", row["id"], x1, y1, x2, y2, page)
            selection = grouped.get(key)
            if selection is None:
                kind = "PDF" if page is not None or source.kind == "PDF" else "Picture"
                selection = Selection(self.guid("image-selection", *key[1:]), kind=kind, page=page,
                                      first_x=x1, first_y=y1, second_x=x2, second_y=y2,
                                      creating_user=self.user(row["owner"]), created=parse_date(row["date"]))
                grouped[key] = selection
                source.selections.append(selection)
            selection.codings.append(self._coding("code_image", row, code))
            _add_memo(selection, row["memo"])
        for row in tables.rows("code_av", ("avid", "id", "pos0", "pos1", "cid", "memo", "date", "owner",
                                           "important")):
            code, source = codes.get(row["cid"]), sources.get(row["id"])
            if code is None or source is None or row["pos0"] is None or row["pos1"] is None:
                dropped += 1
                continue
            key = ("av", row["id"], int(row["pos0"]), int(row["pos1"]))
            selection = grouped.get(key)
            if selection is None:
                kind = source.kind if source.kind in ("Audio", "Video") else "Audio"
                selection = Selection(self.guid("av-selection", *key[1:]), kind=kind, start=key[2], end=key[3],
                                      creating_user=self.user(row["owner"]), created=parse_date(row["date"]))
                grouped[key] = selection
                source.selections.append(selection)
            selection.codings.append(self._coding("code_av", row, code))
            _add_memo(selection, row["memo"])
        if dropped:
            self.warn("QUALCODER-DANGLING", f"{dropped} picture or audio/video codings name a code or file that "
                      "does not exist", hint="QualCoder deletes them when it opens the project; they are left out")

    # ------------------------------------------------------------------ variables

    def _variables(self, tables: _Tables, project: Project, sources: dict[int, Source]) -> None:
        types = tables.rows("attribute_type", ("name", "date", "owner", "memo", "caseOrFile", "valuetype"))
        values = tables.rows("attribute", ("attrid", "name", "attr_type", "value", "id", "date", "owner"))
        by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in values:
            if row["value"] is not None and str(row["value"]).strip() != "":
                by_name[row["name"]].append(row)
        self._case_values: dict[int, list[VariableValue]] = defaultdict(list)
        kinds = {row["name"]: row["caseOrFile"] for row in types}
        for row in types:
            name = row["name"]
            if _file_twin(name, kinds) is not None:
                continue  # read with its case twin, below
            twin = next((other for other in types if _file_twin(other["name"], kinds) == name), None)
            rows = by_name.get(name, []) + (by_name.get(twin["name"], []) if twin else [])
            kind = _variable_type(row["valuetype"], [str(r["value"]) for r in rows])
            variable = Variable(self.guid("attribute_type", name), name, kind, description=row["memo"] or None,
                                native={"qualcoder": {"caseOrFile": row["caseOrFile"], "valuetype": row["valuetype"],
                                                      "owner": row["owner"], "date": row["date"]}})
            project.variables.append(variable)
            self.user(row["owner"])
            for value_row in rows:
                value = VariableValue(variable.guid, kind, _typed(kind, str(value_row["value"])))
                if value_row["attr_type"] == "case":
                    self._case_values[value_row["id"]].append(value)
                elif value_row["id"] in sources:
                    sources[value_row["id"]].variable_values.append(value)

    # ------------------------------------------------------------------ notes

    def _journals(self, tables: _Tables, project: Project) -> dict[str, str]:
        by_text: dict[str, str] = {}
        for row in tables.rows("journal", ("jid", "name", "jentry", "date", "owner")):
            note = Source(self.guid("journal", row["rowid"]), kind="Note", name=row["name"],
                          plain_text=row["jentry"] or "", creating_user=self.user(row["owner"]),
                          created=parse_date(row["date"]), native={"qualcoder": {"table": "journal",
                                                                                   "id": row["rowid"]}})
            project.notes.append(note)
            if row["jentry"]:
                by_text.setdefault(row["jentry"], note.guid)
        return by_text

    def _annotations(self, tables: _Tables, project: Project, texts: dict[int, Source],
                     selections: dict[tuple, Selection], journals: dict[str, str]) -> None:
        for row in tables.rows("annotation", ("anid", "fid", "pos0", "pos1", "memo", "owner", "date")):
            source = texts.get(row["fid"])
            if source is None or row["pos0"] is None or row["pos1"] is None:
                self.warn("QUALCODER-DANGLING", f"annotation {row['rowid']} belongs to no text file",
                          hint="it is left out")
                continue
            selection = self._text_selection(source, selections, int(row["pos0"]), int(row["pos1"]), None)
            memo = row["memo"] or ""
            guid = journals.get(memo)
            if guid is None:
                # named by what QualCoder keeps unique for it, so that it survives a rewrite renumbering it
                note = Source(self.guid("annotation", row["fid"], row["pos0"], row["pos1"], row["owner"]),
                              kind="Note", plain_text=memo,
                              creating_user=self.user(row["owner"]), created=parse_date(row["date"]),
                              native={"qualcoder": {"table": "annotation", "id": row["rowid"]}})
                project.notes.append(note)
                guid = note.guid
            if guid not in selection.note_refs:
                selection.note_refs.append(guid)

    # ------------------------------------------------------------------ cases

    def _cases(self, tables: _Tables, project: Project, sources: dict[int, Source], texts: dict[int, Source],
               selections: dict[tuple, Selection]) -> None:
        cases: dict[int, Case] = {}
        for row in tables.rows("cases", ("caseid", "name", "memo", "owner", "date")):
            case = Case(self.guid("case", row["caseid"]), name=row["name"], description=row["memo"] or None,
                        variable_values=self._case_values.get(row["caseid"], []),
                        native={"qualcoder": {"caseid": row["caseid"], "owner": row["owner"], "date": row["date"]}})
            self.user(row["owner"])
            cases[row["caseid"]] = case
            project.cases.append(case)
        for row in tables.rows("case_text", ("id", "caseid", "fid", "pos0", "pos1", "owner", "date", "memo")):
            case, source = cases.get(row["caseid"]), sources.get(row["fid"])
            if case is None or source is None:
                continue
            text = texts.get(row["fid"])
            length = len(_text_of(text) or "") if text else 0
            start, end = row["pos0"] or 0, row["pos1"] or 0
            if start <= 0 and (end <= 0 or end >= length):
                if source.guid not in case.source_refs:
                    case.source_refs.append(source.guid)
            else:
                selection = self._text_selection(text, selections, start, end, None)
                if selection.guid not in case.selection_refs:
                    case.selection_refs.append(selection.guid)


def _in_cycle(parents: dict[Any, Any], start: Any) -> bool:
    """Whether following the parents from `start` comes back to it."""
    seen = set()
    node = parents.get(start)
    while node is not None and node not in seen:
        if node == start:
            return True
        seen.add(node)
        node = parents.get(node)
    return False


def _text_of(source: Source) -> str | None:
    """The text QualCoder codes: a text source's own, or a PDF's extracted text."""
    if source.kind == "PDF":
        return source.representation.plain_text if source.representation is not None else None
    return source.plain_text


def _inside(path: Path, folder: Path) -> bool:
    try:
        Path(path).absolute().relative_to(folder)
    except ValueError:
        return False
    return ".." not in Path(path).parts


def _file_twin(name: str, kinds: dict[str, Any]) -> str | None:
    """The case attribute that a file attribute "NAME (file)" is the twin of, as the writer splits a
    variable that both cases and sources have (QualCoder's attribute types are of one kind)."""
    base = name.removesuffix(" (file)")
    if base != name and kinds.get(name) == "file" and kinds.get(base) == "case":
        return base
    return None


def _add_memo(selection: Selection, memo: Any) -> None:
    """A coding memo becomes the selection's description; different memos on one span are joined."""
    if not memo or not str(memo).strip():
        return
    if selection.description is None:
        selection.description = str(memo)
    elif str(memo) not in selection.description.split("\n\n"):
        selection.description += "\n\n" + str(memo)


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", text.strip()) is not None


def _is_number(text: str) -> bool:
    try:
        Decimal(text.strip())
    except InvalidOperation:
        return False
    return True


def _variable_type(valuetype: Any, values: list[str]) -> str:
    """The REFI-QDA type of an attribute type: QualCoder knows "numeric" and "character" only."""
    if valuetype == "numeric":
        if values and all(_is_int(v) for v in values):
            return "Integer"
        return "Float" if all(_is_number(v) for v in values) else "Text"
    if values and all(v in ("true", "false") for v in values):
        return "Boolean"
    if values and all(_DATE.match(v) for v in values):
        return "Date"
    if values and all(_DATETIME.match(v) for v in values):
        return "DateTime"
    return "Text"


def _typed(kind: str, text: str) -> Any:
    if kind == "Integer":
        return int(text.strip())
    if kind == "Float":
        return Decimal(text.strip())
    if kind == "Boolean":
        return text == "true"
    if kind == "Date":
        return date.fromisoformat(text)
    if kind == "DateTime":
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    return text
