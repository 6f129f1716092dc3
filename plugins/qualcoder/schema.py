"""QualCoder's database: the tables and columns its new-project code creates today, and its versions.

A QualCoder project is a folder `NAME.qda/` holding the SQLite database `data.qda` and the folders
`documents/`, `images/`, `audio/` and `video/`. The tables below are the ones QualCoder's
`MainWindow.new_project()` creates at database version v17 (QualCoder's source, December 2026),
with the `coder_names` table and the four `*_visible` views its `update_coder_names()` adds. Older
projects (v1 to v16) lack some later columns and tables; QualCoder adds them when it opens the
project, and the reader here selects only the columns a database has.
"""

from __future__ import annotations

#: The database version written, as QualCoder's `project.databaseversion` holds it.
DATABASE_VERSION = "v17"
#: Every version QualCoder's `open_project()` upgrades from: the versions found in the wild.
KNOWN_VERSIONS = tuple(f"v{n}" for n in range(1, 18))
#: QualCoder refuses a database whose `project.about` does not contain this word.
ABOUT = "QualCoder project written by qdaconv"
#: The coder QualCoder adds to every project for speaker markings (`speakers.speaker_coder_name`).
SPEAKER_CODER = "\N{PUSHPIN} Speaker coding"

DATA_FILE = "data.qda"
FOLDERS = ("documents", "images", "audio", "video")
#: How `source.mediapath` names a file inside the project folder, by prefix, and the folder it is in.
INTERNAL_PREFIXES = {"/docs/": "documents", "/images/": "images", "/audio/": "audio", "/video/": "video"}
#: How `source.mediapath` names a linked file outside the project (the prefix, then the absolute path).
LINKED_PREFIXES = {"docs:": "documents", "images:": "images", "audio:": "audio", "video:": "video"}

#: The tables (name, columns with their declared types, table constraints) of a new v17 project.
TABLES: dict[str, tuple[tuple[tuple[str, str], ...], str]] = {
    "project": ((("databaseversion", "text"), ("date", "text"), ("memo", "text"), ("about", "text"),
                 ("bookmarkfile", "integer"), ("bookmarkpos", "integer"), ("codername", "text"),
                 ("recently_used_codes", "text"), ("avbookmarkfile", "integer"), ("avbookmarkmsec", "integer"),
                 ("avbookmarktextpos", "integer")), ""),
    "source": ((("id", "integer primary key"), ("name", "text"), ("fulltext", "text"), ("mediapath", "text"),
                ("memo", "text"), ("owner", "text"), ("date", "text"), ("av_text_id", "integer"),
                ("risid", "integer")), "unique(name)"),
    "code_image": ((("imid", "integer primary key"), ("id", "integer"), ("x1", "integer"), ("y1", "integer"),
                    ("width", "integer"), ("height", "integer"), ("cid", "integer"), ("memo", "text"),
                    ("date", "text"), ("owner", "text"), ("important", "integer"), ("pdf_page", "integer")), ""),
    "code_av": ((("avid", "integer primary key"), ("id", "integer"), ("pos0", "integer"), ("pos1", "integer"),
                 ("cid", "integer"), ("memo", "text"), ("date", "text"), ("owner", "text"),
                 ("important", "integer")), ""),
    "annotation": ((("anid", "integer primary key"), ("fid", "integer"), ("pos0", "integer"), ("pos1", "integer"),
                    ("memo", "text"), ("owner", "text"), ("date", "text")), "unique(fid,pos0,pos1,owner)"),
    "attribute_type": ((("name", "text primary key"), ("date", "text"), ("owner", "text"), ("memo", "text"),
                        ("caseOrFile", "text"), ("valuetype", "text")), ""),
    "attribute": ((("attrid", "integer primary key"), ("name", "text"), ("attr_type", "text"), ("value", "text"),
                   ("id", "integer"), ("date", "text"), ("owner", "text")), "unique(name,attr_type,id)"),
    "case_text": ((("id", "integer primary key"), ("caseid", "integer"), ("fid", "integer"), ("pos0", "integer"),
                   ("pos1", "integer"), ("owner", "text"), ("date", "text"), ("memo", "text")), ""),
    "cases": ((("caseid", "integer primary key"), ("name", "text"), ("memo", "text"), ("owner", "text"),
               ("date", "text")), "constraint ucm unique(name)"),
    "code_cat": ((("catid", "integer primary key"), ("name", "text"), ("owner", "text"), ("date", "text"),
                  ("memo", "text"), ("supercatid", "integer")), "unique(name)"),
    "code_text": ((("ctid", "integer primary key"), ("cid", "integer"), ("fid", "integer"), ("seltext", "text"),
                   ("pos0", "integer"), ("pos1", "integer"), ("owner", "text"), ("date", "text"), ("memo", "text"),
                   ("avid", "integer"), ("important", "integer")), "unique(cid,fid,pos0,pos1, owner)"),
    "code_name": ((("cid", "integer primary key"), ("name", "text"), ("memo", "text"), ("catid", "integer"),
                   ("owner", "text"), ("date", "text"), ("color", "text"), ("supercid", "integer")), "unique(name)"),
    "journal": ((("jid", "integer primary key"), ("name", "text"), ("jentry", "text"), ("date", "text"),
                 ("owner", "text")), "unique(name)"),
    "stored_sql": ((("title", "text"), ("description", "text"), ("grouper", "text"), ("ssql", "text")),
                   "unique(title)"),
    "graph": ((("grid", "integer primary key"), ("name", "text"), ("description", "text"), ("date", "text"),
               ("scene_width", "integer"), ("scene_height", "integer")), "unique(name)"),
    "gr_cdct_text_item": ((("gtextid", "integer primary key"), ("grid", "integer"), ("x", "integer"),
                           ("y", "integer"), ("supercatid", "integer"), ("catid", "integer"), ("cid", "integer"),
                           ("font_size", "integer"), ("bold", "integer"), ("isvisible", "integer"),
                           ("displaytext", "text")), ""),
    "gr_case_text_item": ((("gcaseid", "integer primary key"), ("grid", "integer"), ("x", "integer"),
                           ("y", "integer"), ("caseid", "integer"), ("font_size", "integer"), ("bold", "integer"),
                           ("color", "text"), ("displaytext", "text")), ""),
    "gr_file_text_item": ((("gfileid", "integer primary key"), ("grid", "integer"), ("x", "integer"),
                           ("y", "integer"), ("fid", "integer"), ("font_size", "integer"), ("bold", "integer"),
                           ("color", "text"), ("displaytext", "text")), ""),
    "gr_free_text_item": ((("gfreeid", "integer primary key"), ("grid", "integer"), ("freetextid", "integer"),
                           ("x", "integer"), ("y", "integer"), ("free_text", "text"), ("font_size", "integer"),
                           ("bold", "integer"), ("color", "text"), ("tooltip", "text"), ("ctid", "integer"),
                           ("memo_ctid", "integer"), ("memo_imid", "integer"), ("memo_avid", "integer")), ""),
    "gr_cdct_line_item": ((("glineid", "integer primary key"), ("grid", "integer"), ("fromcatid", "integer"),
                           ("fromcid", "integer"), ("tocatid", "integer"), ("tocid", "integer"), ("color", "text"),
                           ("linewidth", "real"), ("linetype", "text"), ("isvisible", "integer"), ("label", "text"),
                           ("arrow_mode", "text")), ""),
    "gr_free_line_item": ((("gflineid", "integer primary key"), ("grid", "integer"), ("fromfreetextid", "integer"),
                           ("fromcatid", "integer"), ("fromcid", "integer"), ("fromcaseid", "integer"),
                           ("fromfileid", "integer"), ("fromimid", "integer"), ("fromavid", "integer"),
                           ("tofreetextid", "integer"), ("tocatid", "integer"), ("tocid", "integer"),
                           ("tocaseid", "integer"), ("tofileid", "integer"), ("toimid", "integer"),
                           ("toavid", "integer"), ("color", "text"), ("linewidth", "real"), ("linetype", "text"),
                           ("label", "text"), ("arrow_mode", "text")), ""),
    "gr_memo_item": ((("gmemoid", "integer primary key"), ("grid", "integer"), ("memo_source_type", "text"),
                      ("memo_source_id", "integer"), ("x", "integer"), ("y", "integer"), ("color", "text"),
                      ("font_size", "integer")), ""),
    "gr_pix_item": ((("grpixid", "integer primary key"), ("grid", "integer"), ("imid", "integer"), ("x", "integer"),
                     ("y", "integer"), ("px", "integer"), ("py", "integer"), ("w", "integer"), ("h", "integer"),
                     ("filepath", "text"), ("tooltip", "text"), ("pdf_page", "integer")), ""),
    "gr_av_item": ((("gr_avid", "integer primary key"), ("grid", "integer"), ("avid", "integer"), ("x", "integer"),
                    ("y", "integer"), ("pos0", "integer"), ("pos1", "integer"), ("filepath", "text"),
                    ("tooltip", "text"), ("color", "text")), ""),
    "ris": ((("risid", "integer"), ("tag", "text"), ("longtag", "text"), ("value", "text")), ""),
    "manage_files_display": ((("mfid", "integer primary key"), ("name", "text"), ("tblrows", "text"),
                              ("tblcolumns", "text"), ("owner", "text")), ""),
    "files_filter": ((("filterid", "integer primary key"), ("name", "text"), ("filter", "text"),
                      ("owner", "text")), ""),
    "coder_names": ((("name", "TEXT UNIQUE NOT NULL"),
                     ("visibility", "INTEGER NOT NULL DEFAULT 1 CHECK (visibility IN (0, 1))")), ""),
}

#: Views over the coding tables that hide the codings of coders marked invisible in `coder_names`.
VISIBLE_VIEWS = ("code_image", "code_text", "code_av", "annotation")

#: Tables every QualCoder database has had since v1; a database holding them all is a QualCoder project.
CORE_TABLES = frozenset({"project", "source", "code_name", "code_cat", "code_text"})


def create_statements() -> list[str]:
    """The SQL that creates an empty project database at `DATABASE_VERSION`."""
    statements = []
    for table, (columns, constraint) in TABLES.items():
        parts = [f"{name} {declared}" for name, declared in columns]
        if constraint:
            parts.append(constraint)
        statements.append(f"CREATE TABLE {table} ({', '.join(parts)})")
    for table in VISIBLE_VIEWS:
        statements.append(
            f"CREATE VIEW {table}_visible AS SELECT t.* FROM {table} t WHERE NOT EXISTS "
            "(SELECT 1 FROM coder_names c WHERE c.name = t.owner AND c.visibility = 0)")
    return statements


def columns_of(table: str) -> tuple[str, ...]:
    return tuple(name for name, _declared in TABLES[table][0])
