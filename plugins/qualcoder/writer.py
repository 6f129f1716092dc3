"""Write a project as a QualCoder project folder that the current QualCoder opens without an upgrade.

The folder gets `data.qda` with exactly the tables of QualCoder's new-project code at database
version v17 (see `schema`), and `documents/`, `images/`, `audio/`, `video/` with the files of
the sources. What goes where (the reader reads it back the same way):
- Texts are stored in `source.fulltext`, as QualCoder stores imported text, with CR LF and CR
  line ends made LF (QualCoder's editor shows them so; positions move with them). A .docx copy
  goes to `documents/`; a PDF goes to `documents/` with its text in `fulltext`; pictures, audio
  and video are copied to their folders, and files that were not read stay linked (`images:/...`).
- The code tree: codes that cannot be applied are categories (`code_cat`), the others codes
  (`code_name`, under a category through `catid` or under a code through `supercid`). Names are
  made unique in each table, as QualCoder requires; categories have no colour.
- Codings: one row per coding in `code_text`, `code_image` or `code_av`; the selection's
  description is the coding memo.
- Notes: a note with a name, or referred to from anything but one text excerpt, is a journal;
  each text excerpt's reference to a note is an annotation holding the note's text, so the note
  shows where it belongs (the reader takes such an annotation back as a link to the journal).
- Cases link to whole files (`case_text` 0 to the text's length) and to text spans.
- Variables are attribute types of cases or of files (QualCoder has "numeric" and "character";
  Boolean, Date and DateTime values are written as text the reader recognises), with QualCoder's
  empty placeholder values for the cases or files without a value.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter, defaultdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from qdaconv.errors import WriteError
from qdaconv.formats import Feature, Loss
from qdaconv.model import Blob, Case, Code, Project, Selection, Source, guid_key, walk_sources

from .lineends import LineEnds
from .schema import ABOUT, DATA_FILE, DATABASE_VERSION, FOLDERS, SPEAKER_CODER, create_statements

DEFAULT_COLOR = "#C8C8C8"  # a grey of QualCoder's palette, for codes without a colour
_MEDIA_FOLDER = {"Picture": "images", "Audio": "audio", "Video": "video", "PDF": "documents"}
_MEDIA_EXT = {"Picture": ".jpg", "Audio": ".mp3", "Video": ".mp4", "PDF": ".pdf"}


def qualcoder_date(value: datetime | date | None, fallback: str) -> str:
    """QualCoder's date form, "YYYY-MM-DD HH:MM:SS"; a time with a zone is written in UTC."""
    if value is None:
        return fallback
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return value.strftime("%Y-%m-%d 00:00:00")


class _Unique:
    """Names made unique the way a user would: "Name", "Name (2)", ... (case-insensitively, as SQLite
    compares them case-sensitively but people do not)."""

    def __init__(self) -> None:
        self.used: set[str] = set()
        self.renamed = 0

    def __call__(self, name: str) -> str:
        candidate, n = name, 1
        while candidate.lower() in self.used:
            n += 1
            candidate = f"{name} ({n})"
        if n > 1:
            self.renamed += 1
        self.used.add(candidate.lower())
        return candidate


class QualCoderWriter:
    """Writes one project to a new folder; `write()` returns the losses beyond the capabilities."""

    def __init__(self, project: Project, path: Path) -> None:
        self.project = project
        self.path = Path(path)
        #: (a Feature that is carried only in part, or a free text; the detail) -> count
        self.losses: Counter[tuple[Feature | str, str]] = Counter()
        self.now = qualcoder_date(project.modified or project.created, datetime.now().strftime("%Y-%m-%d %H:%M:%S"))
        self.users = {guid_key(user.guid): user.name or user.id or user.guid for user in project.users}
        self.cids: dict[str, int] = {}
        self.catids: dict[str, int] = {}
        self.fids: dict[str, int] = {}
        self.texts: dict[str, tuple[int, LineEnds]] = {}
        self.file_names = {folder: set() for folder in FOLDERS}
        self.selections: dict[str, tuple[Source, Selection]] = {}
        self.code_text: list[tuple] = []

    def owner(self, guid: str | None) -> str | None:
        return self.users.get(guid_key(guid), guid) if guid else None

    def write(self) -> list[Loss]:
        self.path.mkdir()
        for folder in FOLDERS:
            (self.path / folder).mkdir()
        # one transaction and no syncing: the folder is a temporary one until the core moves it in place
        connection = sqlite3.connect(self.path / DATA_FILE, isolation_level=None)
        try:
            cur = connection.cursor()
            cur.execute("PRAGMA synchronous = OFF")
            cur.execute("BEGIN")
            for statement in create_statements():
                cur.execute(statement)
            self._project(cur)
            self._codes(cur)
            self._sources(cur)
            self._flush_text_codings(cur)
            self._notes(cur)
            self._cases(cur)
            self._variables(cur)
            self._coders(cur)
            cur.execute("COMMIT")
        except sqlite3.Error as exc:
            raise WriteError(f"{self.path}: cannot write the QualCoder database ({exc})") from None
        finally:
            connection.close()
        return [Loss(what.label if isinstance(what, Feature) else what, count, detail)
                for (what, detail), count in self.losses.items() if count]

    # ------------------------------------------------------------------ project

    def _project(self, cur: sqlite3.Cursor) -> None:
        project = self.project
        native = (project.native or {}).get("qualcoder", {})
        coder = native.get("codername") or self.owner(project.creating_user)
        if coder is None and project.users:
            coder = project.users[0].name or project.users[0].id
        cur.execute("INSERT INTO project (databaseversion, date, memo, about, bookmarkfile, bookmarkpos, codername,"
                    " recently_used_codes) VALUES (?, ?, ?, ?, 0, 0, ?, '')",
                    (DATABASE_VERSION, qualcoder_date(project.created, self.now), project.description or "", ABOUT,
                     coder or ""))

    # ------------------------------------------------------------------ codes

    def _codes(self, cur: sqlite3.Cursor) -> None:
        code_names, cat_names = _Unique(), _Unique()

        def place(code: Code, category: int | None, supercode: int | None) -> None:
            native = (code.native or {}).get("qualcoder", {})
            owner, when = native.get("owner"), native.get("date") or self.now
            if code.codable:
                cur.execute("INSERT INTO code_name (name, memo, catid, owner, date, color, supercid)"
                            " VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (code_names(code.name), code.description or "", category if supercode is None else None,
                             owner, when, code.color or DEFAULT_COLOR, supercode))
                self.losses[Feature.CODE_COLORS, "codes without a colour, given QualCoder's grey"] += not code.color
                self.cids[guid_key(code.guid)] = cid = cur.lastrowid
                for child in code.children:
                    if not child.codable:
                        self.losses[Feature.CODE_TREE, "code groups under a code, moved up to the code's category"] += 1
                        place(child, category, None)
                    else:
                        place(child, category, cid)
                return
            cur.execute("INSERT INTO code_cat (name, owner, date, memo, supercatid) VALUES (?, ?, ?, ?, ?)",
                        (cat_names(code.name), owner, when, code.description or "", category))
            self.catids[guid_key(code.guid)] = catid = cur.lastrowid
            self.losses[Feature.CODE_COLORS, "colours of code groups: QualCoder's categories have none"] += bool(
                code.color)
            for child in code.children:
                place(child, catid, None)

        for code in self.project.codes:
            place(code, None, None)
        self.losses[Feature.CODES, "code names made unique, as QualCoder requires"] += code_names.renamed
        self.losses[Feature.CODES, "code group names made unique, as QualCoder requires"] += cat_names.renamed

    # ------------------------------------------------------------------ sources

    def _sources(self, cur: sqlite3.Cursor) -> None:
        names = self._names = _Unique()
        for number, source in enumerate(self.project.sources, 1):
            name = names(source.name or f"source {number}")
            if source.kind in ("Text", "PDF"):
                self._text_source(cur, source, name)
            else:
                self._media_source(cur, source, name)
        self.losses[Feature.TEXT_SOURCES, "source names made unique, as QualCoder requires"] += names.renamed

    def _insert_source(self, cur: sqlite3.Cursor, source: Source, name: str, fulltext: str | None,
                       mediapath: str | None) -> int:
        cur.execute("INSERT INTO source (name, fulltext, mediapath, memo, owner, date) VALUES (?, ?, ?, ?, ?, ?)",
                    (name, fulltext, mediapath, source.description or "", self.owner(source.creating_user),
                     qualcoder_date(source.created, self.now)))
        fid = cur.lastrowid
        self.fids[guid_key(source.guid)] = fid
        return fid

    def _text_source(self, cur: sqlite3.Cursor, source: Source, name: str) -> None:
        document = source.representation if source.kind == "PDF" else source
        text = document.text if document is not None else None
        if text is None:
            self.losses[Feature.TEXT_SOURCES, "texts that were not available, written empty"] += 1
            text = ""
        ends = LineEnds(text)
        mediapath = None
        if source.kind == "PDF":
            mediapath = self._file(source.file, source.path, "documents", name, ".pdf", "docs")
        elif source.rich_file is not None:
            mediapath = self._file(source.rich_file, source.rich_text_path, "documents", name, ".docx", "docs")
        elif ends.changed:  # the text as it was, beside QualCoder's copy with LF line ends
            original = source.plain_file if source.kind == "Text" and source.plain_file else None
            blob = original or Blob(name, data=text.encode("utf-8"))
            mediapath = self._file(blob, None, "documents", name, ".txt", "docs")
        else:
            original = ((source.native or {}).get("qualcoder") or {}).get("document")
            if isinstance(original, Blob):
                mediapath = self._file(original, None, "documents", original.name, "", "docs")
        if ends.changed and not (mediapath or "").lower().endswith(".txt"):
            self.losses[Feature.TEXT_SOURCES, "CR LF line ends made LF, as QualCoder shows them"] += 1
        fid = self._insert_source(cur, source, name, ends.text, mediapath)
        self.texts[guid_key(source.guid)] = (fid, ends)
        for selection in document.selections if document is not None else []:
            self.selections[guid_key(selection.guid)] = (source, selection)
            if selection.kind != "PlainText":
                self.losses[Feature.MEDIA_SELECTIONS, "selections of a kind QualCoder cannot hold in a text"] += 1
                continue
            self._text_codings(cur, fid, ends, selection)
            self.losses["names of text selections", "QualCoder shows an excerpt by its text"] += bool(selection.name)
        if source.kind == "PDF":
            if document is not None and document.name not in (None, source.name):
                self.losses[Feature.PDF_SOURCES, "names of the text of PDFs: QualCoder names it as the PDF"] += 1
            for selection in source.selections:
                self.selections[guid_key(selection.guid)] = (source, selection)
                self._image_codings(cur, fid, selection)
                self.losses[Feature.PDF_SOURCES, "texts of PDF selections"] += selection.representation is not None
        for coding in source.codings + (document.codings if document is not source and document else []):
            cid = self._cid(coding.code)
            if cid is not None:
                self._insert_text_coding(cur, cid, fid, ends.text, 0, len(ends.text), coding, None)

    def _media_source(self, cur: sqlite3.Cursor, source: Source, name: str) -> None:
        folder = _MEDIA_FOLDER.get(source.kind, "documents")
        prefix = {"images": "images", "audio": "audio", "video": "video"}.get(folder, "docs")
        mediapath = self._file(source.file, source.path, folder, name, _MEDIA_EXT.get(source.kind, ""), prefix)
        fid = self._insert_source(cur, source, name, None, mediapath)
        if source.text_description is not None:
            self.losses[Feature.PICTURE_SOURCES, "text descriptions of pictures"] += 1
        for selection in source.selections:
            self.selections[guid_key(selection.guid)] = (source, selection)
            if selection.kind in ("Picture", "PDF"):
                self._image_codings(cur, fid, selection)
            elif selection.kind in ("Audio", "Video"):
                self._av_codings(cur, fid, selection)
            else:
                self.losses[Feature.MEDIA_SELECTIONS, "selections of a kind QualCoder cannot hold"] += 1
        self.losses[Feature.SOURCE_CODINGS, "of pictures, audio and video"] += len(source.codings)
        for transcript in source.transcripts:
            self._transcript(cur, transcript, fid, name)

    def _transcript(self, cur: sqlite3.Cursor, transcript: Source, media_fid: int, media_name: str) -> None:
        """A transcript is a text source named after its audio or video and linked through av_text_id."""
        name = self._names(transcript.name or f"{media_name}.txt")
        ends = LineEnds(transcript.text or "")
        self.losses[Feature.TRANSCRIPTS, "CR LF line ends made LF, as QualCoder shows them"] += ends.changed
        fid = self._insert_source(cur, transcript, name, ends.text, None)
        cur.execute("UPDATE source SET av_text_id = ? WHERE id = ? AND av_text_id IS NULL", (fid, media_fid))
        self.texts[guid_key(transcript.guid)] = (fid, ends)
        positions = {guid_key(point.guid): point.position for point in transcript.sync_points}
        self.losses[Feature.TRANSCRIPTS, "times of sync points: QualCoder keeps times as marks in the text"] += sum(
            point.timestamp is not None for point in transcript.sync_points)
        if not transcript.name:
            self.losses[Feature.TRANSCRIPTS, "names given to unnamed transcripts"] += 1
        times = {guid_key(point.guid) for point in transcript.sync_points if point.timestamp is not None}
        for selection in transcript.selections:
            self.selections[guid_key(selection.guid)] = (transcript, selection)
            if selection.kind == "Transcript":
                self.losses[Feature.MEDIA_SELECTIONS, "times of transcript selections: their text spans are kept"] += (
                    guid_key(selection.from_sync) in times or guid_key(selection.to_sync) in times)
                start = positions.get(guid_key(selection.from_sync))
                end = positions.get(guid_key(selection.to_sync))
                if start is None or end is None:
                    self.losses[Feature.MEDIA_SELECTIONS, "transcript selections without sync point positions"] += 1
                    continue
                selection = Selection(selection.guid, start=start, end=end, codings=selection.codings,
                                      description=selection.description, note_refs=selection.note_refs,
                                      creating_user=selection.creating_user, created=selection.created)
            self._text_codings(cur, fid, ends, selection)

    def _file(self, blob: Blob | None, reference: str | None, folder: str, name: str, ext: str,
              prefix: str) -> str | None:
        """Copy a source's file into the project folder and give its mediapath (or link it when unread).

        A picture, recording or PDF whose file is missing keeps a path in its folder, so that
        QualCoder still knows its kind and reports the file as missing.
        """
        if blob is None:
            if reference and reference.startswith("absolute://"):
                return f"{prefix}:{reference[len('absolute://'):]}"
            if reference:
                self.losses["files missing from the input", "their sources are kept without them"] += 1
            if not reference or (folder == "documents" and ext != ".pdf"):
                return None
        filename = PurePosixPath(name.replace("\\", "/")).name or "file"
        actual = PurePosixPath(blob.name if blob is not None else split_reference(reference)).suffix
        if ext and not filename.lower().endswith(ext.lower()) and actual:
            ext = actual
        if ext and not filename.lower().endswith(ext.lower()):
            filename += ext
        used = self.file_names[folder]
        stem, suffix, n = PurePosixPath(filename).stem, PurePosixPath(filename).suffix, 1
        while filename.lower() in used or filename in (".", ".."):
            n += 1
            filename = f"{stem} ({n}){suffix}"
        used.add(filename.lower())
        if blob is not None:
            with blob.open() as stream, open(self.path / folder / filename, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
        return f"/{prefix}/{filename}"

    # ------------------------------------------------------------------ codings

    def _cid(self, code_guid: str) -> int | None:
        cid = self.cids.get(guid_key(code_guid))
        if cid is None:
            if guid_key(code_guid) in self.catids:
                self.losses[Feature.CODINGS, "with a code group: QualCoder codes only with codes"] += 1
            else:
                self.losses[Feature.CODINGS, "with a code that does not exist"] += 1
        return cid

    def _text_codings(self, cur: sqlite3.Cursor, fid: int, ends: LineEnds, selection: Selection) -> None:
        if selection.start is None or selection.end is None:
            self.losses[Feature.TEXT_SELECTIONS, "without positions"] += 1
            return
        start, end = ends.to_lf(selection.start), ends.to_lf(selection.end)
        for coding in selection.codings:
            cid = self._cid(coding.code)
            if cid is not None:
                self._insert_text_coding(cur, cid, fid, ends.text, start, end, coding, selection)

    def _insert_text_coding(self, cur: sqlite3.Cursor, cid: int, fid: int, text: str, start: int, end: int,
                            coding, selection: Selection | None) -> None:
        native = (coding.native or {}).get("qualcoder", {})
        created = coding.created or (selection.created if selection else None)
        self.code_text.append((cid, fid, text[start:end], start, end, self.owner(coding.creating_user) or "",
                               qualcoder_date(created, self.now),
                               (selection.description if selection else None) or "",
                               1 if native.get("important") else None))

    def _flush_text_codings(self, cur: sqlite3.Cursor) -> None:
        """All text codings at once (the bulk of a project); a repeat of code, span and coder is dropped."""
        cur.executemany("INSERT OR IGNORE INTO code_text (cid, fid, seltext, pos0, pos1, owner, date, memo, important)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self.code_text)
        self.losses[Feature.CODINGS, "repeating a code on the same text by the same coder"] += (
            len(self.code_text) - cur.rowcount)
        self.code_text.clear()

    def _image_codings(self, cur: sqlite3.Cursor, fid: int, selection: Selection) -> None:
        box = (selection.first_x, selection.first_y, selection.second_x, selection.second_y)
        if None in box:
            self.losses[Feature.MEDIA_SELECTIONS, "picture or PDF selections without a rectangle"] += 1
            return
        x1, y1, x2, y2 = box
        for coding in selection.codings:
            cid = self._cid(coding.code)
            if cid is None:
                continue
            native = (coding.native or {}).get("qualcoder", {})
            cur.execute("INSERT INTO code_image (id, x1, y1, width, height, cid, memo, date, owner, important,"
                        " pdf_page) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (fid, x1, y1, x2 - x1, y2 - y1, cid, selection.description or "",
                         qualcoder_date(coding.created or selection.created, self.now),
                         self.owner(coding.creating_user) or "", 1 if native.get("important") else None,
                         selection.page if selection.kind == "PDF" else None))

    def _av_codings(self, cur: sqlite3.Cursor, fid: int, selection: Selection) -> None:
        if selection.start is None or selection.end is None:
            self.losses[Feature.MEDIA_SELECTIONS, "audio/video selections without times"] += 1
            return
        for coding in selection.codings:
            cid = self._cid(coding.code)
            if cid is None:
                continue
            native = (coding.native or {}).get("qualcoder", {})
            cur.execute("INSERT INTO code_av (id, pos0, pos1, cid, memo, date, owner, important)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (fid, selection.start, selection.end, cid, selection.description or "",
                         qualcoder_date(coding.created or selection.created, self.now),
                         self.owner(coding.creating_user) or "", 1 if native.get("important") else None))

    # ------------------------------------------------------------------ notes

    def _unheld_note_refs(self) -> int:
        """Note links QualCoder has no place for: all but those from text excerpts (annotations)."""
        project = self.project
        count = len(project.note_refs) + sum(len(link.note_refs) for link in project.links)
        stack = list(project.codes)
        while stack:
            code = stack.pop()
            count += len(code.note_refs)
            stack.extend(code.children)
        for source in walk_sources(project):
            count += len(source.note_refs) + sum(len(coding.note_refs) for coding in source.codings)
            for selection in source.selections:
                count += sum(len(coding.note_refs) for coding in selection.codings)
                if selection.kind != "PlainText":
                    count += len(selection.note_refs)
        return count

    def _notes(self, cur: sqlite3.Cursor) -> None:
        self.losses[Feature.NOTE_REFS, "from codes, sources, codings, links, media selections and the project; "
                    "the notes are kept as journals"] += self._unheld_note_refs()
        referrers: dict[str, list[Selection]] = defaultdict(list)
        for _source, selection in self.selections.values():
            for ref in selection.note_refs:
                referrers[guid_key(ref)].append(selection)
        project_refs = {guid_key(ref) for ref in self.project.note_refs}
        names = _Unique()
        for number, note in enumerate(self.project.notes, 1):
            key = guid_key(note.guid)
            refs = referrers.get(key, [])
            text = note.text or ""
            only_annotation = (not note.name and len(refs) == 1 and refs[0].kind == "PlainText"
                               and key not in project_refs)
            if not only_annotation:
                self.losses[Feature.NOTES, "names given to unnamed notes, kept as journals"] += not note.name
                name = names(note.name or _title(text, number))
                cur.execute("INSERT INTO journal (name, jentry, date, owner) VALUES (?, ?, ?, ?)",
                            (name, text, qualcoder_date(note.created, self.now), self.owner(note.creating_user)))
            for selection in refs:
                self._annotation(cur, selection, note, text)
            self.losses[Feature.NOTES, "selections inside notes"] += len(note.selections)
        self.losses[Feature.NOTES, "journal names made unique, as QualCoder requires"] += names.renamed

    def _annotation(self, cur: sqlite3.Cursor, selection: Selection, note: Source, text: str) -> None:
        if selection.kind != "PlainText" or selection.start is None or selection.end is None:
            return
        owner_source = self._source_of(selection)
        if owner_source is None:
            self.losses[Feature.NOTE_REFS, "from excerpts of texts QualCoder does not keep"] += 1
            return
        fid, ends = self.texts[guid_key(owner_source.guid)]
        cur.execute("INSERT OR IGNORE INTO annotation (fid, pos0, pos1, memo, owner, date) VALUES (?, ?, ?, ?, ?, ?)",
                    (fid, ends.to_lf(selection.start), ends.to_lf(selection.end), text,
                     self.owner(note.creating_user) or "", qualcoder_date(note.created, self.now)))
        if cur.rowcount == 0:
            self.losses[Feature.NOTE_REFS, "a second note on one text span by one coder: QualCoder keeps one"] += 1

    def _source_of(self, selection: Selection) -> Source | None:
        found = self.selections.get(guid_key(selection.guid))
        if found is None:
            return None
        source = found[0]
        return source if guid_key(source.guid) in self.texts else None

    # ------------------------------------------------------------------ cases and variables

    def _cases(self, cur: sqlite3.Cursor) -> None:
        names = _Unique()
        self.caseids: dict[str, int] = {}
        for number, case in enumerate(self.project.cases, 1):
            native = (case.native or {}).get("qualcoder", {})
            cur.execute("INSERT INTO cases (name, memo, owner, date) VALUES (?, ?, ?, ?)",
                        (names(case.name or f"case {number}"), case.description or "", native.get("owner"),
                         native.get("date") or self.now))
            caseid = self.caseids[guid_key(case.guid)] = cur.lastrowid
            self._case_links(cur, case, caseid)
            self.losses[Feature.CASES, "codes linked to cases"] += len(case.code_refs)
        self.losses[Feature.CASES, "case names made unique, as QualCoder requires"] += names.renamed

    def _case_links(self, cur: sqlite3.Cursor, case: Case, caseid: int) -> None:
        native = (case.native or {}).get("qualcoder", {})
        owner, when = native.get("owner"), native.get("date") or self.now
        links: list[tuple[int, int, int]] = []
        for ref in case.source_refs:
            key = guid_key(ref)
            if key in self.texts:
                fid, ends = self.texts[key]
                links.append((fid, 0, len(ends.text)))
            elif key in self.fids:
                links.append((self.fids[key], 0, 0))
            else:
                self.losses[Feature.CASES, "links to sources that do not exist"] += 1
        for ref in case.selection_refs:
            found = self.selections.get(guid_key(ref))
            source = self._source_of(found[1]) if found else None
            if found is None:
                self.losses[Feature.CASES, "links to selections that do not exist"] += 1
            elif source is not None and found[1].kind == "PlainText" and found[1].start is not None:
                fid, ends = self.texts[guid_key(source.guid)]
                links.append((fid, ends.to_lf(found[1].start), ends.to_lf(found[1].end)))
            else:
                self.losses[Feature.CASES, "links to picture or audio/video selections, made links to the file"] += 1
                links.append((self.fids[guid_key(found[0].guid)], 0, 0))
        for fid, start, end in dict.fromkeys(links):
            cur.execute("INSERT INTO case_text (caseid, fid, pos0, pos1, owner, date, memo)"
                        " VALUES (?, ?, ?, ?, ?, ?, '')", (caseid, fid, start, end, owner, when))

    def _variables(self, cur: sqlite3.Cursor) -> None:
        on_cases: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        on_files: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        for case in self.project.cases:
            for value in case.variable_values:
                on_cases[guid_key(value.variable)].append((self.caseids[guid_key(case.guid)], value.value))
        for source in self.project.sources:
            fid = self.fids.get(guid_key(source.guid))
            for value in source.variable_values:
                if fid is not None:
                    on_files[guid_key(value.variable)].append((fid, value.value))
        empty = sum(value in (None, "") for values in (*on_cases.values(), *on_files.values())
                    for _ident, value in values)
        self.losses[Feature.VARIABLES, "empty values, which QualCoder cannot tell from no value"] += empty
        names = _Unique()
        for variable in self.project.variables:
            key = guid_key(variable.guid)
            native = (variable.native or {}).get("qualcoder", {})
            numeric = variable.type in ("Integer", "Float")
            if variable.type in ("Boolean", "Date", "DateTime"):
                self.losses["Boolean, Date and DateTime variables", "kept as text, and read back by their values"] += 1
            kinds = [kind for kind, values in (("case", on_cases[key]), ("file", on_files[key])) if values]
            if not kinds:
                kinds = ["file" if native.get("caseOrFile") == "file" else "case"]
            if len(kinds) == 2:
                self.losses["variables of both cases and sources, written as two attribute types", ""] += 1
            for kind in kinds:
                name = names(variable.name if kind == kinds[0] else f"{variable.name} ({kind})")
                cur.execute("INSERT INTO attribute_type (name, date, owner, memo, caseOrFile, valuetype)"
                            " VALUES (?, ?, ?, ?, ?, ?)",
                            (name, native.get("date") or self.now, native.get("owner"), variable.description or "",
                             kind, "numeric" if numeric else "character"))
                values = dict((on_cases if kind == "case" else on_files)[key])
                ids = self.caseids.values() if kind == "case" else self.fids.values()
                cur.executemany("INSERT OR IGNORE INTO attribute (name, attr_type, value, id, date, owner)"
                                " VALUES (?, ?, ?, ?, ?, ?)",
                                [(name, kind, _value_text(values.get(ident)), ident, self.now, native.get("owner"))
                                 for ident in ids])
        self.losses[Feature.VARIABLES, "variable names made unique, as QualCoder requires"] += names.renamed

    def _coders(self, cur: sqlite3.Cursor) -> None:
        """The coder names table QualCoder keeps: every user, and the speaker-coding coder it adds itself."""
        names = [user.name or user.id or user.guid for user in self.project.users]
        cur.execute("SELECT owner FROM code_text UNION SELECT owner FROM code_image UNION SELECT owner FROM code_av"
                    " UNION SELECT owner FROM annotation UNION SELECT owner FROM journal UNION SELECT owner FROM source"
                    " UNION SELECT codername FROM project")
        names += [row[0] for row in cur.fetchall() if row[0]]
        hidden = {user.name for user in self.project.users
                  if ((user.native or {}).get("qualcoder") or {}).get("visibility") == 0}
        cur.executemany("INSERT OR IGNORE INTO coder_names (name, visibility) VALUES (?, ?)",
                        [(name, 0 if name in hidden else 1) for name in [*names, SPEAKER_CODER]])
        self.losses[Feature.USERS, "user ids: QualCoder knows a coder by name"] += sum(
            bool(user.id and user.name and user.id != user.name) for user in self.project.users)


def split_reference(reference: str | None) -> str:
    """The file name part of a REFI-QDA path (`internal://x.png`, `relative:///a/x.png`)."""
    return (reference or "").split("://", 1)[-1]


def _title(text: str, number: int) -> str:
    """A journal name for a note without one: its first line, shortened."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return (first[:60].rstrip() + "…") if len(first) > 60 else (first or f"note {number}")


def _value_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def write_project(project: Project, path: Path) -> list[Loss]:
    """Write `project` as a QualCoder project folder at `path` (which must not exist)."""
    return QualCoderWriter(project, path).write()
