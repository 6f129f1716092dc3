"""Taguette's database and spreadsheets, against the real program (the `taguette` package).

Databases are built with Taguette's own models and functions (sanitising, snippet extraction, its
command history); the real Taguette server is started on a free loopback port to serve what qdaconv
writes, and its own exports (highlights CSV and xlsx, codebook xlsx, the project database) are read
back. Taguette asks its message server for news at start-up; the tests switch that call off so that
nothing but the loopback address is contacted.
"""

from __future__ import annotations

import csv
import hashlib
import http.cookiejar
import io
import json
import os
import queue
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURES, STUDY, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

import qdaconv
from qdaconv.errors import ReadError, WriteError
from qdaconv.model import walk_codes, walk_selections
from qdaconv.plugins.taguette.database import ALEMBIC_REVISION
from qdaconv.plugins.taguette.html import document_text, snippet_html, text_to_html
from qdaconv.positions import PositionMap
from qdaconv.registry import default_registry

with warnings.catch_warnings():  # Taguette's models use SQLAlchemy 1.4 APIs that 2.0 removes
    warnings.simplefilter("ignore", DeprecationWarning)
    from bs4 import BeautifulSoup, NavigableString  # installed with Taguette (the test extra)
    from taguette import convert, database, extract

SERVER_START_S = 60
HTTP_TIMEOUT_S = 60


# ----------------------------------------------------------------------------- Taguette's own view


def taguette_text(contents: str) -> str:
    """A document's text as Taguette's server counts offsets: the html5lib tree's strings, in order."""
    soup = BeautifulSoup(contents, "html5lib")
    return "".join(str(node) for node in soup.descendants
                   if isinstance(node, NavigableString) and type(node).__name__ in ("NavigableString", "Comment"))


def byte_span(text: str, excerpt: str) -> tuple[int, int]:
    """The UTF-8 byte offsets of `excerpt` in `text`, as Taguette's browser code computes a selection."""
    index = text.index(excerpt)
    start = len(text[:index].encode("utf-8"))
    return start, start + len(excerpt.encode("utf-8"))


def tag_path(entry) -> str:
    return " > ".join(entry.path)


def squeeze(text: str) -> str:
    return " ".join(text.split())


# ----------------------------------------------------------------------------- a database made by Taguette

JOANA = """<html><head><title>Entrevista</title><style>p { color: red }</style></head><body>
<h1>Entrevista com Joana</h1>
<p>A <strong>família</strong> é tudo para mim &amp; para o meu filho 😀.</p>
<p>Quando a mãe adoeceu, mudámo-nos para São Paulo.</p>
<ul><li>primeiro ponto</li><li>segundo ponto — ça va</li></ul>
<p>Fim&nbsp;da conversa.</p>
</body></html>"""
RTL = "<p>مرحبا بالعالم</p>\n<p>العائلة مهمة جدا</p>"

#: (project, document, excerpt, tags, user); the excerpt of one spans two paragraphs, one has no tags.
HIGHLIGHTS = [
    ("A", "Joana", "família é tudo", ["Família"], "admin"),
    ("A", "Joana", None, ["Família", "émotions"], "maria"),  # "filho 😀." to "a mãe adoeceu"
    ("A", "Joana", "Quando a mãe adoeceu", ["Família > Mãe", "émotions"], "admin"),
    ("A", "Joana", "segundo ponto — ça va", ["😀 joy"], "maria"),
    ("A", "Joana", "Fim\xa0da conversa", [], "admin"),
    ("B", "Árabe", "العائلة مهمة", ["émotions"], "admin"),
]


@dataclass
class Made:
    path: Path
    projects: dict[str, int]
    texts: dict[str, str]  # document name -> Taguette's text
    excerpts: list[tuple[str, str, str, list[str], str]]  # (project, document, excerpt, tags, user)


def build_taguette_database(path: Path) -> Made:
    """Three projects made with Taguette's models and functions, as its web handlers make them."""
    session = database.connect(f"sqlite:///{path}")()
    admin, maria = database.User(login="admin"), database.User(login="maria")
    session.add_all([admin, maria])
    projects = {"A": database.Project(name="Entrevistas — São Paulo", description="Famílias migrantes"),
                "B": database.Project(name="Projet Ω", description=""),
                "C": database.Project(name="Empty", description="no documents yet")}
    for project in projects.values():
        session.add(project)
        session.add(database.ProjectMember(project=project, user=admin, privileges=database.Privileges.ADMIN))
    session.add(database.ProjectMember(project=projects["A"], user=maria, privileges=database.Privileges.TAG))
    session.flush()
    documents = {
        "Joana": database.Document(name="Joana", description="primeira entrevista", filename="joana.html",
                                   project=projects["A"], text_direction=database.TextDirection.LEFT_TO_RIGHT,
                                   contents=convert.get_html_body(JOANA)),
        "Árabe": database.Document(name="Árabe", description="", filename="arabe.html", project=projects["B"],
                                   text_direction=database.TextDirection.RIGHT_TO_LEFT,
                                   contents=convert.get_html_body(RTL)),
    }
    session.add_all(documents.values())
    session.flush()
    for document in documents.values():
        session.add(database.Command.document_add("admin", document))
    tags: dict[tuple[str, str], database.Tag] = {}
    for key, _document, _excerpt, names, _user in HIGHLIGHTS:
        for name in names:
            if (key, name) not in tags:
                tags[key, name] = database.Tag(project=projects[key], path=name, description=f"about {name}")
                session.add(tags[key, name])
    session.flush()
    texts = {name: taguette_text(document.contents) for name, document in documents.items()}
    joana = texts["Joana"]
    spanning = joana[joana.index("filho"):joana.index("adoeceu") + len("adoeceu")]
    excerpts = []
    for key, name, excerpt, tag_names, user in HIGHLIGHTS:
        excerpt = excerpt if excerpt is not None else spanning
        document = documents[name]
        start, end = byte_span(texts[name], excerpt)
        highlight = database.Highlight(document=document, start_offset=start, end_offset=end,
                                       snippet=extract.extract(document.contents, start, end),
                                       tags=[tags[key, t] for t in tag_names])
        session.add(highlight)
        session.flush()
        session.add(database.Command.highlight_add(user, document, highlight, sorted(tags[key, t].id
                                                                                    for t in tag_names)))
        excerpts.append((key, name, excerpt, tag_names, user))
    session.commit()
    ids = {key: project.id for key, project in projects.items()}
    session.close()
    return Made(path, ids, texts, excerpts)


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Made:
    return build_taguette_database(tmp_path_factory.mktemp("taguette") / "taguette.sqlite3")


def _selections(project) -> dict[str, list]:
    found: dict[str, list] = {}
    paths = {e.code.guid: tag_path(e) for e in walk_codes(project)}
    for source, selection in walk_selections(project):
        text = source.text[selection.start:selection.end]
        found.setdefault(text, []).append((source.name, sorted(paths[c.code] for c in selection.codings),
                                           selection, source))
    return found


def test_a_database_made_by_taguette_is_detected_and_read(made):
    assert qdaconv.detect(made.path).name == "taguette-db"
    project = qdaconv.read(made.path, project=made.projects["A"])
    assert project.name == "Entrevistas — São Paulo" and project.description == "Famílias migrantes"
    (source,) = project.sources
    assert source.name == "Joana" and source.text == made.texts["Joana"]
    assert source.native["text_direction"] == "LEFT_TO_RIGHT" and source.native["filename"] == "joana.html"
    found = _selections(project)
    users = {u.guid: u.name for u in project.users}
    for key, _name, excerpt, tags, user in made.excerpts:
        if key != "A":
            continue
        (name, paths, selection, _source), = found[excerpt]  # every highlight's text at its place
        assert name == "Joana" and paths == sorted(tags)
        assert users[selection.creating_user] == user
        assert all(users[c.creating_user] == user for c in selection.codings)
    assert found["Fim\xa0da conversa"][0][2].codings == []  # the highlight without tags
    mother = next(e for e in walk_codes(project) if e.code.name == "Mãe")
    assert mother.path == ("Família", "Mãe") and mother.code.description == "about Família > Mãe"
    assert sorted(u.name for u in project.users) == ["admin", "maria"]


def test_two_reads_give_the_same_guids(made):
    first, second = qdaconv.read(made.path), qdaconv.read(made.path)
    assert [s.guid for _, s in walk_selections(first)] == [s.guid for _, s in walk_selections(second)]
    assert [e.code.guid for e in walk_codes(first)] == [e.code.guid for e in walk_codes(second)]
    assert {s.native["highlight_id"] for _, s in walk_selections(first)} == set(range(1, len(HIGHLIGHTS) + 1))


def test_every_project_is_a_set_when_none_is_chosen(made):
    project = qdaconv.read(made.path)
    assert [s.name for s in project.sets] == ["Entrevistas — São Paulo", "Projet Ω", "Empty"]
    assert [len(s.member_sources) for s in project.sets] == [1, 1, 0]
    emotions = [e.code for e in walk_codes(project) if e.code.name == "émotions"]
    assert len(emotions) == 1  # one code for the tag both projects have
    assert all(emotions[0].guid in s.member_codes for s in project.sets[:2])
    assert {w.rule for w in project.warnings} == {"TAGUETTE-PROJECTS"}
    (rtl,) = [s for s in project.sources if s.name == "Árabe"]
    assert rtl.native["text_direction"] == "RIGHT_TO_LEFT"
    assert _selections(project)["العائلة مهمة"][0][1] == ["émotions"]


def test_a_project_is_chosen_by_name_and_an_unknown_one_is_refused(made):
    assert qdaconv.read(made.path, project="projet ω").name == "Projet Ω"
    with pytest.raises(ReadError, match="no project with the id or name 'Nope'.*1: Entrevistas"):
        qdaconv.read(made.path, project="Nope")


def test_a_database_from_before_text_directions_and_members_is_read(made, tmp_path):
    old = tmp_path / "taguette-2021.sqlite3"
    shutil.copyfile(made.path, old)
    with sqlite3.connect(old) as connection:  # as revision 43d6c240309d had it
        connection.execute("ALTER TABLE documents DROP COLUMN text_direction")
        connection.execute("DROP TABLE project_members")
        connection.execute("UPDATE alembic_version SET version_num = '43d6c240309d'")
    project = qdaconv.read(old, project=made.projects["B"])
    assert project.origin == "Taguette (database revision 43d6c240309d)"
    (source,) = project.sources
    assert source.native["text_direction"] == "LEFT_TO_RIGHT" and source.text == made.texts["Árabe"]
    assert [u.name for u in project.users] == ["admin"]  # known from the history only


def test_a_taguette_database_becomes_a_qdpx_with_every_highlight_in_place(made, tmp_path):
    target = tmp_path / "joana.qdpx"
    done = run_cli("convert", str(made.path), str(target), "--option", f"project={made.projects['A']}")
    assert done.returncode == 0, done.stderr
    back = qdaconv.read(target)
    found = _selections(back)
    for key, name, excerpt, tags, _user in made.excerpts:
        if key == "A":
            assert [(n, p) for n, p, _sel, _src in found[excerpt]] == [(name, sorted(tags))]
    assert qdaconv.validate(target).valid


def test_a_taguette_database_is_archived_and_the_package_verifies(made, tmp_path):
    package = tmp_path / "deposit.zip"
    done = run_cli("archive", str(made.path), str(package))
    assert done.returncode == 0, done.stderr
    verified = run_cli("archive", "--verify", str(package))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "project and tables agree" in verified.stdout


# ----------------------------------------------------------------------------- text and offsets as Taguette counts


SAMPLES = [
    JOANA, RTL, "<p>a</p>\n\n<p></p>\n<p>z</p>", "  \n<p>x</p>  ", "hello <b>w</b>\r\nx", "<pre>\nline</pre>",
    "<pre>\n\nline</pre>", "<table>\n<tr><td>a</td></tr>\n</table>", "<p>a<!-- note -->b</p>",
    "<ul><li>one<li>two</ul>", "&nbsp;x&copy;&#x1F600;&amp;", "a<br/>b<img src=x>c", "<h1>T</h1>\n<p>p</p>\n",
]


@pytest.mark.parametrize("contents", SAMPLES)
def test_the_text_is_taguettes(contents):
    assert document_text(contents) == taguette_text(contents)
    sanitised = convert.get_html_body(contents)
    assert document_text(sanitised) == taguette_text(sanitised)


_TAGS = ["p", "strong", "em", "b", "u", "h1", "h2", "li", "ul", "blockquote", "pre", "code", "td", "tr", "table",
         "br", "q", "sub", "a", "span", "div", "font"]
_pieces = st.one_of(
    st.sampled_from([f"<{t}>" for t in _TAGS] + [f"</{t}>" for t in _TAGS] + ["&amp;", "&lt;", "&nbsp;", "\n",
                                                                               "\r\n", "  ", "<br/>"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=8))


@settings(max_examples=60, deadline=None)
@given(st.lists(_pieces, max_size=25))
def test_the_text_of_sanitised_html_is_taguettes(pieces):
    contents = convert.get_html_body("".join(pieces))  # what Taguette stores for an uploaded HTML file
    assert document_text(contents) == taguette_text(contents)


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_byte_offsets_map_exactly(text):
    offsets = PositionMap(text, "utf8")  # what the reader and the writer count Taguette's offsets with
    for point in range(len(text) + 1):
        byte = len(text[:point].encode("utf-8"))
        assert offsets.to_unit(point) == byte and offsets.to_codepoint(byte) == point
    for byte in range(len(text.encode("utf-8")) + 1):  # inside a character: Taguette moves past it
        assert offsets.to_codepoint(byte) == len(extract.split_utf8(text, byte)[0])


@settings(max_examples=40, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"), min_size=1,
               max_size=30), st.data())
def test_written_html_and_snippets_are_taguettes(text, data):
    made_text = text_to_html(text)
    assert convert.is_html_safe(made_text.html)
    assert taguette_text(made_text.html) == made_text.text
    start = data.draw(st.integers(0, len(made_text.text) - 1))
    end = data.draw(st.integers(start + 1, len(made_text.text)))
    offsets = PositionMap(made_text.text, "utf8")
    assert snippet_html(made_text.text, start, end) == extract.extract(
        made_text.html, offsets.to_unit(start), offsets.to_unit(end))


# ----------------------------------------------------------------------------- writing


@pytest.fixture(scope="module")
def study_db(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("written") / "study.sqlite3"
    done = run_cli("convert", str(STUDY), str(target))
    assert done.returncode == 0, done.stderr
    return target


def _schema(path: Path) -> dict[str, list]:
    with sqlite3.connect(path) as connection:
        tables = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {table: (list(connection.execute(f"PRAGMA table_info({table})")),
                        sorted(row[1:3] for row in connection.execute(f"PRAGMA index_list({table})")))
                for table in tables}


def test_the_written_database_has_taguettes_schema_and_revision(study_db, tmp_path):
    import alembic.config
    from alembic.script import ScriptDirectory

    config = alembic.config.Config()
    config.set_main_option("script_location", "taguette:migrations")
    assert ScriptDirectory.from_config(config).get_heads() == [ALEMBIC_REVISION]
    fresh = tmp_path / "fresh.sqlite3"
    database.connect(f"sqlite:///{fresh}")().close()  # what Taguette creates for a new database
    assert _schema(study_db) == _schema(fresh)
    with sqlite3.connect(study_db) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(ALEMBIC_REVISION,)]
        assert connection.execute("PRAGMA application_id").fetchone()[0] == 0x54677474


def test_the_written_documents_and_highlights_are_as_taguette_keeps_them(study_db):
    study = qdaconv.read(STUDY)
    texts = {s.name: s.text for s in study.sources}
    session = database.connect(f"sqlite:///{study_db}")()
    try:
        owner = session.query(database.ProjectMember).filter_by(user_login="admin").one()
        assert owner.privileges is database.Privileges.ADMIN
        documents = session.query(database.Document).all()
        assert sorted(d.name for d in documents) == sorted(texts)
        coded = 0
        for document in documents:
            assert convert.is_html_safe(document.contents)
            text = taguette_text(document.contents)
            assert text == texts[document.name]
            for highlight in document.highlights:
                assert highlight.snippet == extract.extract(document.contents, highlight.start_offset,
                                                            highlight.end_offset)
                assert convert.is_html_safe(highlight.snippet)
                coded += len(highlight.tags)
        assert coded == 341
        logins = {m.user_login for m in session.query(database.ProjectMember)}
        assert logins == {"admin", "helen.carter", "tomas.ruiz", "priya.shah"}
    finally:
        session.close()


def test_the_owner_can_be_another_login(tmp_path):
    target = tmp_path / "out.sqlite3"
    qdaconv.write(qdaconv.read(FIXTURES / "edge" / "unicode.qdpx"), target, user="maria")
    with sqlite3.connect(target) as connection:
        members = dict(connection.execute("SELECT user_login, privileges FROM project_members"))
    assert members["admin"] == members["maria"] == "ADMIN"
    with pytest.raises(WriteError, match="not a Taguette login"):
        qdaconv.write(qdaconv.read(STUDY), tmp_path / "bad.sqlite3", user="Maria Silva!")
    assert not (tmp_path / "bad.sqlite3").exists()


def test_right_to_left_texts_are_marked_so(tmp_path):
    from qdaconv.model import Project, Source

    project = Project(name="RTL", sources=[Source("A", "Text", name="ar", plain_text="العائلة مهمة جدا\nnote"),
                                            Source("B", "Text", name="en", plain_text="Family matters")])
    qdaconv.write(project, tmp_path / "rtl.sqlite3")
    with sqlite3.connect(tmp_path / "rtl.sqlite3") as connection:
        directions = dict(connection.execute("SELECT name, text_direction FROM documents"))
    assert directions == {"ar": "RIGHT_TO_LEFT", "en": "LEFT_TO_RIGHT"}
    back = qdaconv.read(tmp_path / "rtl.sqlite3")
    assert [s.native["text_direction"] for s in back.sources] == ["RIGHT_TO_LEFT", "LEFT_TO_RIGHT"]


LOSS_WORDS = {  # what a difference after a round trip is, and the loss report's words for it
    "theme": "theme flags", "crlf": "CR LF line ends", "name": "selection names",
    "description": "selection descriptions", "document name": "document names longer",
    "not text": "sources that are not text documents", "empty": "empty text selections",
}


def _explain(change, changed_texts: set[str], dropped: set[str]) -> str | None:
    """Which loss accounts for a difference; None when the difference is no loss at all."""
    fields = set(change.fields)
    where = change.label.rsplit(" in ", 1)[-1]
    if change.kind == "code" and fields == {"codable"}:
        return "theme"
    if change.kind == "source" and fields <= {"plain_text_inline", "plain_bytes", "text"}:
        return "crlf" if "text" in fields else None  # the same text, held inline or as a file
    if change.kind in ("selection", "coding") and where in changed_texts:
        return "crlf"
    if change.kind in ("selection", "coding") and where in dropped:
        return "not text"
    if change.kind == "selection" and fields <= {"name", "description"}:
        return "name" if "name" in fields else "description"
    if change.kind == "source" and fields == {"name"}:
        return "document name"
    return "unexplained"


@pytest.mark.parametrize("fixture", [STUDY, *sorted((FIXTURES / "edge").glob("*.qdpx"))], ids=lambda p: p.name)
def test_a_round_trip_differs_only_by_what_the_loss_report_names(fixture, tmp_path):
    fmt = default_registry().get("taguette-db")
    original = qdaconv.read(fixture)
    report = qdaconv.write(original, tmp_path / "out.sqlite3")
    back = qdaconv.read(tmp_path / "out.sqlite3")
    result = qdaconv.diff(original, back, match="content", features=fmt.capabilities)
    changed_texts = {s.name for s in original.sources if s.text is not None and "\r" in s.text}
    dropped = {s.name for s in original.sources if s.kind != "Text"}
    dropped |= {d.name for s in original.sources for d in [s.representation, s.text_description, *s.transcripts]
                if d is not None}
    summary = report.summary()
    for change in result.changes:
        cause = _explain(change, changed_texts, dropped)
        assert cause != "unexplained", f"not in the loss report: {change}"
        assert cause is None or LOSS_WORDS[cause] in summary, f"{change} but the loss report says: {summary}"
    if fixture == STUDY:  # what the study loses, and nothing of its coded text
        assert not [c for c in result.changes if c.kind in ("selection", "coding")]
        assert "9 theme flags" in summary and "3 users" in summary and "53 notes" in summary


# ----------------------------------------------------------------------------- the real Taguette server


@dataclass
class Server:
    url: str
    opener: urllib.request.OpenerDirector
    cookies: http.cookiejar.CookieJar

    def get(self, path: str) -> bytes:
        with self.opener.open(self.url + path, timeout=HTTP_TIMEOUT_S) as response:
            assert response.status == 200
            return response.read()

    def post_file(self, path: str, fields: dict[str, str], upload: Path) -> dict:
        """A form with a file, as Taguette's pages send it (with the XSRF token of its cookie)."""
        token = next(c.value for c in self.cookies if c.name == "_xsrf")
        boundary = "qdaconv-form-boundary"
        body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
                        for name, value in fields.items())
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{upload.name}"\r\n'
                 "Content-Type: application/vnd.sqlite3\r\n\r\n").encode() + upload.read_bytes()
        body += f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.url + path, data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "X-XSRFToken": token})
        with self.opener.open(request, timeout=HTTP_TIMEOUT_S) as response:
            return json.loads(response.read())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


#: Taguette's own command line, with its call to its message server switched off (loopback only).
_TAGUETTE = ("import sys, taguette.web.base as base; "
             "base.Application.check_messages = lambda self: self.messages_event.set(); "
             "from taguette.main import main; sys.argv[0] = 'taguette'; main()")


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    """Starts `taguette --no-browser --port P --database FILE` and logs in as its single user admin."""
    processes: list[subprocess.Popen] = []

    def start(database_file: Path) -> Server:
        port = _free_port()
        home = tmp_path_factory.mktemp("home")
        process = subprocess.Popen(
            [sys.executable, "-c", _TAGUETTE, "--no-browser", "--bind", "127.0.0.1", "--port", str(port),
             "--database", str(database_file)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env={**os.environ, "HOME": str(home)})
        processes.append(process)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
        seen, deadline = [], time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                assert process.poll() is None, "Taguette stopped:\n" + "".join(seen)
                continue
            seen.append(line)
            if found := re.search(r"http://localhost:(\d+)/\?token=(\w+)", line):
                url = f"http://127.0.0.1:{found.group(1)}"
                cookies = http.cookiejar.CookieJar()
                server = Server(url, urllib.request.build_opener(urllib.request.HTTPCookieProcessor(cookies)), cookies)
                index = server.get(f"/?token={found.group(2)}")  # logs in as admin, then shows its projects
                assert b'href="/project/1"' in index, index[:500]
                return server
        raise AssertionError("Taguette printed no login link in time:\n" + "".join(seen))

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def served_study(study_db, serve, tmp_path_factory) -> Server:
    copy = tmp_path_factory.mktemp("served") / "served.sqlite3"
    shutil.copyfile(study_db, copy)
    return serve(copy)


def _expected_excerpts() -> list[tuple[str, str, str]]:
    study = qdaconv.read(STUDY)
    paths = {e.code.guid: tag_path(e) for e in walk_codes(study)}
    return sorted((source.name, paths[coding.code], squeeze(source.text[sel.start:sel.end]))
                  for source, sel in walk_selections(study) if source.kind == "Text" for coding in sel.codings)


def test_taguette_serves_what_qdaconv_wrote_and_exports_every_coded_excerpt(served_study):
    page = served_study.get("/project/1").decode("utf-8")
    assert "Allegiance to an emergent future world" in page
    rows = list(csv.DictReader(io.StringIO(served_study.get("/project/1/export/highlights/.csv").decode("utf-8"))))
    exported = sorted((row["document"], row["tag"], squeeze(row["content"])) for row in rows)
    assert exported == _expected_excerpts()
    contents = served_study.get("/api/project/1/document/1/contents").decode("utf-8")
    assert "Interview 1 with Anna" in contents


def test_taguettes_workbooks_of_what_qdaconv_wrote_are_read(served_study, tmp_path):
    highlights, codebook = tmp_path / "all_tags.xlsx", tmp_path / "codebook.xlsx"
    highlights.write_bytes(served_study.get("/project/1/export/highlights/.xlsx"))
    codebook.write_bytes(served_study.get("/project/1/export/codebook.xlsx"))
    assert qdaconv.detect(highlights).name == "taguette-highlights-xlsx"
    assert qdaconv.detect(codebook).name == "taguette-codebook-xlsx"
    read = qdaconv.read(highlights)
    paths = {e.code.guid: tag_path(e) for e in walk_codes(read)}
    found = sorted((source.name, paths[coding.code], squeeze(source.text[sel.start:sel.end]))
                   for source, sel in walk_selections(read) for coding in sel.codings)
    assert found == _expected_excerpts()
    study_codes = {e.path: e.code.description for e in walk_codes(qdaconv.read(STUDY))}
    assert {e.path: e.code.description for e in walk_codes(qdaconv.read(codebook))} == study_codes


def test_taguettes_own_project_export_reads_back(served_study, tmp_path):
    exported = tmp_path / "project.sqlite3"
    exported.write_bytes(served_study.get("/project/1/export/project.sqlite3"))  # Taguette validates every row
    back = qdaconv.read(exported)
    paths = {e.code.guid: tag_path(e) for e in walk_codes(back)}
    found = sorted((source.name, paths[coding.code], squeeze(source.text[sel.start:sel.end]))
                   for source, sel in walk_selections(back) for coding in sel.codings)
    assert found == _expected_excerpts()


def test_taguettes_workbooks_of_its_own_database_are_read(made, serve, tmp_path):
    copy = tmp_path / "served.sqlite3"
    shutil.copyfile(made.path, copy)
    server = serve(copy)
    workbook = tmp_path / "highlights.xlsx"
    workbook.write_bytes(server.get(f"/project/{made.projects['A']}/export/highlights/.xlsx"))
    project = qdaconv.read(workbook)
    paths = {e.code.guid: tag_path(e) for e in walk_codes(project)}
    found = sorted((paths[c.code], squeeze(s.text[sel.start:sel.end]))
                   for s, sel in walk_selections(project) for c in sel.codings)
    expected = sorted((tag, squeeze(excerpt)) for key, _n, excerpt, tags, _u in made.excerpts if key == "A"
                      for tag in tags)
    assert found == expected  # Taguette leaves the highlight without tags out of its export


def test_taguette_imports_what_qdaconv_wrote(made, study_db, serve, tmp_path):
    copy = tmp_path / "workspace.sqlite3"
    shutil.copyfile(made.path, copy)
    server = serve(copy)
    server.get("/project/1")  # sets the XSRF cookie
    listed = server.post_file("/api/import", {}, study_db)
    assert [p["name"] for p in listed["projects"]] == ["Allegiance to an emergent future world: NHS leade…"]
    imported = server.post_file("/api/import", {"project_id": str(listed["projects"][0]["id"])}, study_db)
    new = imported["project_id"]
    rows = list(csv.DictReader(io.StringIO(server.get(f"/project/{new}/export/highlights/.csv").decode("utf-8"))))
    assert sorted((row["document"], row["tag"], squeeze(row["content"])) for row in rows) == _expected_excerpts()


# ----------------------------------------------------------------------------- safety


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _crash_while_writing(path: Path) -> None:
    """A writer that dies in the middle of a transaction, leaving a hot journal beside the database."""
    code = ("import os, sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('PRAGMA cache_size=1')\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "c.execute(\"UPDATE documents SET name = 'half-written'\")\n"
            "c.execute('DELETE FROM highlights')\n"
            "os._exit(1)\n")
    subprocess.run([sys.executable, "-c", code, str(path)], check=False, timeout=60)


def test_a_hot_journal_is_recovered_on_a_copy_and_the_input_never_changes(study_db, tmp_path):
    path = tmp_path / "crashed.sqlite3"
    shutil.copyfile(study_db, path)
    _crash_while_writing(path)
    journal = Path(f"{path}-journal")
    assert journal.stat().st_size > 0
    before = (_digest(path), _digest(journal), sorted(os.listdir(tmp_path)))
    project = qdaconv.read(path)
    assert "half-written" not in {s.name for s in project.sources}  # the last committed state
    assert sum(len(s.selections) for s in project.sources) == 298
    assert (_digest(path), _digest(journal), sorted(os.listdir(tmp_path))) == before


def test_reading_leaves_the_file_as_it_was(made):
    before = (_digest(made.path), sorted(os.listdir(made.path.parent)))
    qdaconv.read(made.path)
    assert (_digest(made.path), sorted(os.listdir(made.path.parent))) == before


def _one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def _foreign(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE people (name TEXT, age INTEGER)")
        connection.execute("INSERT INTO people VALUES ('Ana', 41)")
    return path


def _damaged(path: Path, source: Path) -> Path:
    data = bytearray(source.read_bytes())
    data[4096:12288] = os.urandom(8192)  # pages of the schema and the tables
    path.write_bytes(bytes(data))
    return path


def _truncated(path: Path, source: Path) -> Path:
    path.write_bytes(source.read_bytes()[: 3 * 4096 + 100])
    return path


def _encrypted(path: Path, source: Path) -> Path:
    path.write_bytes(os.urandom(len(source.read_bytes())))
    return path


@pytest.mark.parametrize("kind", ["foreign", "damaged", "truncated", "encrypted"])
def test_other_sqlite_files_are_refused_in_one_line(kind, study_db, tmp_path):
    path = tmp_path / f"{kind}.sqlite3"
    if kind == "foreign":
        _foreign(path)
    else:
        {"damaged": _damaged, "truncated": _truncated, "encrypted": _encrypted}[kind](path, study_db)
    before = _digest(path)
    line = _one_line_error(run_cli("convert", str(path), str(tmp_path / "out.qdpx"), "--from", "taguette-db"))
    assert str(path) in line
    expected = {"foreign": "without Taguette's tables", "damaged": "damaged", "truncated": "damaged",
                "encrypted": "not a SQLite database"}[kind]
    assert expected in line
    if kind in ("foreign", "encrypted"):
        assert "not a format qdaconv can read" in _one_line_error(run_cli("info", str(path)))
    assert _digest(path) == before and not (tmp_path / "out.qdpx").exists()


def test_a_schema_that_would_run_functions_is_refused_in_one_line(tmp_path):
    path = tmp_path / "hostile.sqlite3"
    with sqlite3.connect(path) as connection:  # `projects` is a view that loads a library when it is read
        connection.executescript(
            "CREATE VIEW projects AS SELECT 1 AS id, load_extension('/tmp/qdaconv-no-such-library') AS name,"
            " '' AS description, '2024-01-01' AS created;"
            "CREATE TABLE documents (id, project_id, name, description, filename, created, contents);"
            "CREATE TABLE tags (id, project_id, path, description);"
            "CREATE TABLE highlights (id, document_id, start_offset, end_offset, snippet);"
            "CREATE TABLE highlight_tags (highlight_id, tag_id);")
    assert "not a format qdaconv can read" in _one_line_error(run_cli("info", str(path)))
    line = _one_line_error(run_cli("convert", str(path), str(tmp_path / "out.qdpx"), "--from", "taguette-db"))
    assert str(path) in line and "without Taguette's tables (missing projects" in line


def test_a_locked_database_is_refused_in_one_line(study_db, tmp_path):
    path = tmp_path / "locked.sqlite3"
    shutil.copyfile(study_db, path)
    code = ("import sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE')\n"
            "c.execute(\"UPDATE documents SET name = 'busy'\")\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        line = _one_line_error(run_cli("info", str(path), "--from", "taguette-db"))
        assert "locked" in line and str(path) in line
    finally:
        holder.communicate(timeout=30)


def test_a_qualcoder_like_database_is_not_taken_for_taguette(tmp_path):
    path = tmp_path / "data.qda"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE source (id INTEGER PRIMARY KEY, name TEXT, fulltext TEXT)")
        connection.execute("CREATE TABLE code_name (cid INTEGER PRIMARY KEY, name TEXT)")
    assert default_registry().get("taguette-db").sniff(path) == 0.0


def test_writing_separator_none_is_refused(tmp_path):
    with pytest.raises(WriteError, match="separator=none"):
        qdaconv.write(qdaconv.read(STUDY), tmp_path / "flat.sqlite3", separator="none")
