"""The table layout: every table and column of the lossless tidy tables, with its type and meaning.

This is the one description the CSV writer, the workbook writer, `datapackage.json`, the pandas
frames and the readers all follow. Column types: `string`, `integer`, `boolean`, `datetime`
(ISO 8601, with the offset when the date has one) and `any` (the typed value of a variable,
written as text and read back by the row's `type`). A `derived` column is written for people
and ignored on read, except as a fallback where its reference column is left empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LAYOUT_VERSION = "1"
#: Written into datapackage.json so readers can tell these tables from other data packages.
PROFILE = "qdaconv-tables"
CODE_PATH_SEPARATOR = " > "


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str = "string"
    description: str = ""
    derived: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(column.name for column in self.columns))


def _c(name: str, type_: str = "string", description: str = "", derived: bool = False) -> Column:
    return Column(name, type_, description, derived)


_AUTHORSHIP = (
    _c("creating_user", description="GUID (or name) of the user who created it"),
    _c("created", "datetime", "when it was created"),
    _c("modifying_user", description="GUID (or name) of the user who last changed it"),
    _c("modified", "datetime", "when it was last changed"),
)

_DOCUMENT_COLUMNS = (
    _c("guid", description="the document's GUID; left empty, a new one is made"),
    _c("kind", description="Text, PDF, Picture, Audio, Video, Note, Representation, TextDescription "
                           "or Transcript"),
    _c("role", description="where it sits: source, note, representation, text_description, transcript "
                           "or selection_representation"),
    _c("name"),
    _c("parent", description="for nested documents: GUID of the source that holds it"),
    _c("selection", description="for selection_representation: GUID of the PDF selection that holds it"),
    _c("description"),
    _c("text_file", description="relative path of the file with the plain text"),
    _c("text_inline", "boolean", "true when the text was inline in the project rather than a file of its own"),
    _c("text_length", "integer", "length of the plain text in characters (Unicode code points)", True),
    _c("plain_text_path", description="the text file's path as written in the project (internal://...)"),
    _c("rich_text_path", description="the styled DOCX copy's path as written in the project"),
    _c("rich_file", description="relative path of the file with the styled DOCX copy"),
    _c("path", description="the media file's path as written in the project"),
    _c("current_path", description="the media file's original location"),
    _c("media_file", description="relative path of the file with the PDF, picture, audio or video"),
    *_AUTHORSHIP,
)

TABLES: tuple[Table, ...] = (
    Table("project", "the project itself, in one row", (
        _c("name"), _c("origin", description="the program that made the project"),
        _c("description"), _c("base_path", description="the folder relative:// paths start from"),
        *_AUTHORSHIP,
    )),
    Table("users", "the people who worked on the project", (
        _c("guid"), _c("name"), _c("id", description="the user's id in the program that made the project"),
    )),
    Table("codes", "the codebook, parents before children, in tree order", (
        _c("guid", description="the code's GUID; left empty, a new one is made"),
        _c("name"),
        _c("parent", description="GUID or path of the parent code; empty at the top"),
        _c("path", description="the names from the top of the tree, joined by ' > '", derived=True),
        _c("codable", "boolean", "false for codes that only group others (themes)"),
        _c("color", description="colour as #RRGGBB"),
        _c("description"),
    )),
    Table("variables", "case and source attributes", (
        _c("guid"), _c("name"),
        _c("type", description="Text, Boolean, Integer, Float, Date or DateTime"),
        _c("description"),
    )),
    Table("cases", "cases: participants, sites, groups", (
        _c("guid"), _c("name"), _c("description"),
    )),
    Table("case_members", "what belongs to each case, in order", (
        _c("case", description="GUID or name of the case"),
        _c("kind", description="code, source or selection"),
        _c("member", description="GUID of the code, source or selection (codes also by path)"),
        _c("member_name", description="name or path of the member", derived=True),
    )),
    Table("values", "variable values of cases and sources", (
        _c("owner_type", description="case or source"),
        _c("owner", description="GUID or name of the case or source"),
        _c("owner_name", derived=True),
        _c("variable", description="GUID or name of the variable"),
        _c("variable_name", derived=True),
        _c("type", description="the value's type: Text, Boolean, Integer, Float, Date or DateTime"),
        _c("value", "any", "the value: text, true/false, a whole or decimal number, an ISO 8601 date"),
    )),
    Table("sources", "sources and the text documents nested in them", _DOCUMENT_COLUMNS),
    Table("notes", "notes, memos and microstories", _DOCUMENT_COLUMNS),
    Table("transcripts", "transcripts of audio and video sources", _DOCUMENT_COLUMNS),
    Table("sync_points", "points that tie a transcript's text to its media", (
        _c("transcript", description="GUID of the transcript"),
        _c("guid"),
        _c("position", "integer", "character position in the transcript"),
        _c("timestamp", "integer", "time in the media, in milliseconds"),
    )),
    Table("segments", "selections: coded or annotated parts of sources", (
        _c("guid", description="the selection's GUID; left empty, a new one is made"),
        _c("source", description="GUID (or name) of the document the selection is in"),
        _c("source_name", derived=True),
        _c("kind", description="PlainText, PDF, Picture, Audio, Video or Transcript"),
        _c("name"), _c("description"),
        _c("start", "integer", "text: first character (code points from 0); audio, video: milliseconds"),
        _c("end", "integer", "text: character after the last one; audio, video: milliseconds"),
        _c("page", "integer", "PDF page"),
        _c("first_x", "integer"), _c("first_y", "integer"), _c("second_x", "integer"), _c("second_y", "integer"),
        _c("from_sync", description="transcript selections: GUID of the first sync point"),
        _c("to_sync", description="transcript selections: GUID of the last sync point"),
        _c("excerpt", description="the selected text", derived=True),
        *_AUTHORSHIP,
    )),
    Table("codings", "codes applied to selections, or to whole sources when selection is empty", (
        _c("guid", description="the coding's GUID; left empty, a new one is made"),
        _c("source", description="GUID (or name) of the document"),
        _c("selection", description="GUID of the selection; empty for a whole-source coding"),
        _c("code", description="GUID or path of the code"),
        _c("code_path", description="path of the code; used when code is empty", derived=True),
        _c("coder", description="GUID (or name) of the user who coded it"),
        _c("created", "datetime"),
    )),
    Table("note_links", "notes attached to objects (NoteRef), in order", (
        _c("owner_type", description="project, code, source, selection, coding or link"),
        _c("owner", description="GUID of the object the note is attached to (empty for the project)"),
        _c("source", description="for selections and codings: GUID of their document"),
        _c("selection", description="for codings on a selection: its GUID"),
        _c("note", description="GUID (or name) of the note"),
        _c("note_name", derived=True),
    )),
    Table("sets", "sets of codes, sources and notes", (
        _c("guid"), _c("name"), _c("description"),
    )),
    Table("set_members", "members of each set, in order", (
        _c("set", description="GUID or name of the set"),
        _c("kind", description="code, source or note"),
        _c("member", description="GUID of the member (codes also by path)"),
        _c("member_name", derived=True),
    )),
    Table("links", "relations between any two objects", (
        _c("guid"), _c("name"), _c("direction", description="Associative, OneWay or Bidirectional"),
        _c("color"), _c("origin", description="GUID of the object the link starts from"),
        _c("target", description="GUID of the object the link points to"),
    )),
    Table("graphs", "diagrams", (_c("guid"), _c("name"))),
    Table("vertices", "the boxes of the diagrams", (
        _c("graph", description="GUID or name of the graph"),
        _c("guid"),
        _c("first_x", "integer"), _c("first_y", "integer"), _c("second_x", "integer"), _c("second_y", "integer"),
        _c("represented", description="GUID of the object the box stands for"),
        _c("name"), _c("shape"), _c("color"),
    )),
    Table("edges", "the lines of the diagrams", (
        _c("graph", description="GUID or name of the graph"),
        _c("guid"),
        _c("source_vertex", description="GUID of the vertex the line starts from"),
        _c("target_vertex", description="GUID of the vertex the line ends at"),
        _c("represented", description="GUID of the object the line stands for"),
        _c("name"), _c("color"), _c("direction"), _c("line_style"),
    )),
)

TABLE_BY_NAME: dict[str, Table] = {table.name: table for table in TABLES}
DOCUMENT_TABLES: tuple[str, ...] = ("sources", "notes", "transcripts")

#: The workbook keeps the project's files in one more sheet, in pieces small enough for a cell.
FILES_TABLE = Table("files", "the project's files (texts, rich-text copies, media), in pieces", (
    _c("file", description="relative path, as the other sheets refer to it"),
    _c("part", "integer", "piece number, from 1"),
    _c("encoding", description="text (UTF-8) or base64"),
    _c("data"),
))
