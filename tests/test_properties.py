"""Property tests: random projects survive every lossless format, and damaged files fail only as QdaconvError.

The strategies build whole `qdaconv.model` projects: unicode names and texts (astral characters,
CR/LF, tabs), code trees, text sources with selections inside their text, codings, users,
variables of all six types on cases, notes and note references, sets, links and graphs. Runs are
bounded and derandomized so that CI sees the same examples every time.

Characters XML 1.0 cannot carry (C0 controls other than tab, CR, LF; U+FFFE, U+FFFF) are kept out
of the round-trip projects: the REFI-QDA writer must either raise WriteError for them or write a
replacement and report it as loss, which `test_refi_writer_does_not_drop_illegal_characters_silently`
checks.
"""

from __future__ import annotations

import io
import random
import struct
import tempfile
import zipfile
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qdaconv
from qdaconv.errors import QdaconvError, WriteError
from qdaconv.model import (
    VARIABLE_TYPES,
    Case,
    Code,
    Coding,
    Edge,
    Graph,
    Link,
    Project,
    Selection,
    Set,
    Source,
    User,
    Variable,
    VariableValue,
    Vertex,
    new_guid,
    walk_codes,
    walk_sources,
)
from qdaconv.registry import default_registry

PROPERTIES = settings(max_examples=30, deadline=None, derandomize=True, database=None,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
LOSSLESS = {"refi-qdpx": ".qdpx", "tables-csv": ".csv.zip", "tables-xlsx": ".xlsx"}

XML_ILLEGAL = "".join(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF])
CHARACTERS = st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters=XML_ILLEGAL)
#: Text that leans on what breaks converters: line ends, tabs, astral characters, markup characters.
AWKWARD = st.sampled_from(["\r\n", "\n", "\r", "\t", "😀", "𝔘", "“", "&", "<", "]]>", '"', "'", " ", "\u00a0",
                           "=1+1", "\u200b", "é", "e\u0301"])
TEXT = st.lists(st.one_of(st.text(CHARACTERS, max_size=12), AWKWARD), max_size=12).map("".join)
NAME = st.lists(st.one_of(st.text(CHARACTERS, min_size=1, max_size=8), AWKWARD), min_size=1, max_size=4).map(
    "".join).filter(str.strip)
OPTIONAL_TEXT = st.none() | TEXT.filter(bool)
MOMENT = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2099, 12, 31),
                      timezones=st.just(UTC)).map(lambda moment: moment.replace(microsecond=0))
COLOR = st.none() | st.integers(0, 0xFFFFFF).map(lambda rgb: f"#{rgb:06X}")
VALUES = {
    "Text": TEXT,
    "Boolean": st.booleans(),
    "Integer": st.integers(-(2**31), 2**31 - 1),
    "Float": st.decimals(min_value=-10**9, max_value=10**9, places=3, allow_nan=False, allow_infinity=False),
    "Date": st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    "DateTime": MOMENT,
}


class Guids:
    """Unique GUIDs for one project, in the letter case the project's tool would use."""

    def __init__(self, rng: random.Random, upper: bool) -> None:
        self.rng = rng
        self.upper = upper

    def __call__(self) -> str:
        value = "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}".format(*(self.rng.getrandbits(bits)
                                                                 for bits in (32, 16, 12, 12, 48)))
        return value.upper() if self.upper else value


@st.composite
def code_trees(draw: st.DrawFn, new: Guids, depth: int = 0) -> list[Code]:
    codes = []
    for _ in range(draw(st.integers(0 if depth else 1, 3 if depth < 2 else 0))):
        code = Code(new(), draw(NAME), codable=draw(st.booleans()), color=draw(COLOR),
                    description=draw(OPTIONAL_TEXT))
        code.children = draw(code_trees(new, depth + 1))
        codes.append(code)
    return codes


def pick(draw: st.DrawFn, items: list[str], most: int = 3) -> list[str]:
    """A few distinct items, in the order drawn."""
    if not items:
        return []
    return draw(st.lists(st.sampled_from(items), max_size=most, unique=True))


@st.composite
def projects(draw: st.DrawFn) -> Project:
    """A whole, consistent project: every reference points at something that exists."""
    new = Guids(random.Random(draw(st.integers(0, 2**32))), upper=draw(st.booleans()))
    users = [User(new(), draw(NAME), draw(st.none() | NAME)) for _ in range(draw(st.integers(0, 2)))]
    user_ids = [user.guid for user in users]
    maybe_user = st.none() | st.sampled_from(user_ids) if user_ids else st.none()
    codes = draw(code_trees(new))
    code_ids = [entry.code.guid for entry in walk_codes(Project(codes=codes))]
    notes = [Source(new(), "Note", draw(NAME), plain_text=draw(TEXT), creating_user=draw(maybe_user))
             for _ in range(draw(st.integers(0, 2)))]
    note_ids = [note.guid for note in notes]
    for entry in walk_codes(Project(codes=codes)):
        entry.code.note_refs = pick(draw, note_ids, 2)

    sources = []
    for _ in range(draw(st.integers(0, 3))):
        text = draw(TEXT)
        source = Source(new(), "Text", draw(NAME), description=draw(OPTIONAL_TEXT), plain_text=text,
                        creating_user=draw(maybe_user), created=draw(st.none() | MOMENT),
                        note_refs=pick(draw, note_ids, 2))
        for _ in range(draw(st.integers(0, 4))):
            start = draw(st.integers(0, len(text)))
            end = draw(st.integers(start, len(text)))
            selection = Selection(new(), "PlainText", name=draw(st.none() | NAME), start=start, end=end,
                                  creating_user=draw(maybe_user), created=draw(st.none() | MOMENT))
            selection.codings = [Coding(new(), code, draw(maybe_user), draw(st.none() | MOMENT))
                                 for code in pick(draw, code_ids, 2)]
            source.selections.append(selection)
        sources.append(source)
    source_ids = [source.guid for source in sources]
    selection_ids = [selection.guid for source in sources for selection in source.selections]

    variables = [Variable(new(), f"{kind} {draw(NAME)}", kind, draw(OPTIONAL_TEXT))
                 for kind in draw(st.lists(st.sampled_from(VARIABLE_TYPES), max_size=6, unique=True))]
    cases = []
    for _ in range(draw(st.integers(0, 3))):
        values = [VariableValue(variable.guid, variable.type, draw(VALUES[variable.type]))
                  for variable in variables if draw(st.booleans())]
        cases.append(Case(new(), draw(NAME), draw(OPTIONAL_TEXT), pick(draw, code_ids), values,
                          pick(draw, source_ids), pick(draw, selection_ids)))
    sets = [Set(new(), draw(NAME), draw(OPTIONAL_TEXT), pick(draw, code_ids), pick(draw, source_ids),
                pick(draw, note_ids)) for _ in range(draw(st.integers(0, 2)))]
    anything = code_ids + source_ids + note_ids
    links = [Link(new(), draw(st.none() | NAME), draw(st.sampled_from(["Associative", "OneWay", "Bidirectional"])),
                  draw(COLOR), draw(st.sampled_from(anything)), draw(st.sampled_from(anything)),
                  pick(draw, note_ids, 1))
             for _ in range(draw(st.integers(0, 2) if anything else st.just(0)))]
    graphs = []
    for _ in range(draw(st.integers(0, 1))):
        vertices = [Vertex(new(), draw(st.integers(0, 2000)), draw(st.integers(0, 2000)),
                           represented=draw(st.none() | st.sampled_from(anything)) if anything else None,
                           name=draw(st.none() | NAME), color=draw(COLOR))
                    for _ in range(draw(st.integers(1, 3)))]
        ids = [vertex.guid for vertex in vertices]
        edges = [Edge(new(), draw(st.sampled_from(ids)), draw(st.sampled_from(ids)), name=draw(st.none() | NAME),
                      direction=draw(st.sampled_from(["Associative", "OneWay", "Bidirectional"])))
                 for _ in range(draw(st.integers(0, 2)))]
        graphs.append(Graph(new(), draw(st.none() | NAME), vertices, edges))
    return Project(name=draw(NAME), origin=draw(st.none() | NAME), description=draw(OPTIONAL_TEXT),
                   creating_user=draw(maybe_user), created=draw(st.none() | MOMENT), users=users, codes=codes,
                   variables=variables, cases=cases, sources=sources, notes=notes, links=links, sets=sets,
                   graphs=graphs, note_refs=pick(draw, note_ids, 1))


# ------------------------------------------------------------------------------------------ round trips


@pytest.mark.parametrize("fmt", sorted(LOSSLESS))
@PROPERTIES
@given(project=projects())
def test_every_project_survives_each_lossless_format(fmt: str, project: Project) -> None:
    writer = default_registry().get(fmt)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"project{LOSSLESS[fmt]}"
        report = qdaconv.write(project, path, fmt)
        assert report.lossless, report.summary()
        back = qdaconv.read(path, fmt)
        result = qdaconv.diff(project, back, features=writer.capabilities)
        assert result.same, result.render_text()


def test_two_spans_ending_inside_a_word_after_a_lone_line_end_keep_their_positions(tmp_path: Path) -> None:
    text = "0" * 17 + "\r00"  # the unit that counts line ends twice would put both ends on a word boundary
    source = Source(guid=new_guid(), kind="Text", name="0", plain_text=text,
                    selections=[Selection(guid=new_guid(), kind="PlainText", start=0, end=19) for _ in range(2)])
    path = tmp_path / "project.qdpx"
    qdaconv.write(Project(name="0", sources=[source]), path)
    assert [(s.start, s.end) for s in qdaconv.read(path).sources[0].selections] == [(0, 19), (0, 19)]


PLACES = {
    "code name": lambda project, bad: setattr(project.codes[0], "name", f"theme{bad}"),
    "code description": lambda project, bad: setattr(project.codes[0], "description", f"a{bad}b"),
    "source text": lambda project, bad: setattr(project.sources[0], "plain_text", f"a{bad}b"),
    "project name": lambda project, bad: setattr(project, "name", f"a{bad}b"),
    "note text": lambda project, bad: setattr(project.notes[0], "plain_text", f"{bad}"),
    "case name": lambda project, bad: setattr(project.cases[0], "name", f"Anna{bad}"),
}


@PROPERTIES
@given(bad=st.sampled_from(XML_ILLEGAL), where=st.sampled_from(sorted(PLACES)))
def test_refi_writer_does_not_drop_illegal_characters_silently(bad: str, where: str) -> None:
    """A character XML cannot hold is refused (WriteError) or replaced and reported as loss: never silently lost."""
    project = _seed_project()
    PLACES[where](project, bad)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "project.qdpx"
        try:
            report = qdaconv.write(project, path)
        except WriteError:
            assert list(Path(folder).iterdir()) == []
            return
        back = qdaconv.read(path)
        same = qdaconv.diff(project, back).same
        assert same or not report.lossless, f"{bad!r} in the {where} was changed without a loss report"


# ------------------------------------------------------------------------------------------ corruptions


def _seed_project() -> Project:
    """A small project that uses most parts of each format, with text files and unicode."""
    example = Project(name="seed ✓", origin="tests", description="line\r\nbreak 😀")
    trust = Code("C0DE0000-0000-4000-8000-000000000001", "trust", color="#FF0000", description="=1+1")
    example.codes = [Code("C0DE0000-0000-4000-8000-000000000002", "theme", codable=False, children=[trust])]
    example.variables = [Variable("7A000000-0000-4000-8000-000000000001", "age", "Integer")]
    text = "Anna: we met 😀 every week.\r\nNeil: “trust” grew."
    source = Source("50C00000-0000-4000-8000-000000000001", "Text", "Anna", plain_text=text,
                    selections=[Selection("5E1E0000-0000-4000-8000-000000000001", start=6, end=12,
                                          codings=[Coding("C0D10000-0000-4000-8000-000000000001", trust.guid)])])
    example.sources = [source]
    example.cases = [Case("CA5E0000-0000-4000-8000-000000000001", "Anna",
                          variable_values=[VariableValue("7A000000-0000-4000-8000-000000000001", "Integer", 41)],
                          source_refs=[source.guid])]
    example.notes = [Source("40000000-0000-4000-8000-000000000001", "Note", "memo", plain_text="a memo")]
    return example


_SEEDS: dict[str, bytes] = {}
CORRUPTIBLE = {"refi-qdpx": ".qdpx", "refi-qde": ".qde", "tables-csv": ".csv.zip", "tables-xlsx": ".xlsx",
               "nvivo-codebook-xlsx": ".xlsx", "refi-qdc": ".qdc"}


def seed_bytes(fmt: str) -> bytes:
    """The seed project written in `fmt` (once per session): texts as files, except a .qde that holds them inline."""
    if fmt not in _SEEDS:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"seed{CORRUPTIBLE[fmt]}"
            options = {"refi-qde": {"inline_text": True}, "refi-qdpx": {"text_files": True}}.get(fmt, {})
            qdaconv.write(_seed_project(), path, fmt, **options)
            _SEEDS[fmt] = path.read_bytes()
    return _SEEDS[fmt]


def member_regions(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each zip member's packed bytes, so that damage can aim inside one member."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        return []
    regions = []
    for info in infos:
        name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
        start = info.header_offset + 30 + name_length + extra_length
        if info.compress_size:
            regions.append((start, start + info.compress_size))
    return regions


@st.composite
def corruptions(draw: st.DrawFn, data: bytes) -> bytes:
    """The file with a few bytes flipped, cut off, inserted or overwritten, anywhere or inside one zip member."""
    damaged = bytearray(data)
    regions = member_regions(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite", "member"]))
        at = draw(st.integers(0, max(len(damaged) - 1, 0)))
        if kind == "member" and regions and len(damaged) == len(data):
            start, end = draw(st.sampled_from(regions))
            damaged[draw(st.integers(start, end - 1))] ^= 1 << draw(st.integers(0, 7))
        elif kind == "flip" and damaged:
            damaged[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del damaged[at:]
        elif kind == "insert":
            damaged[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            chunk = draw(st.binary(min_size=1, max_size=16))
            damaged[at:at + len(chunk)] = chunk
    return bytes(damaged)


def read_everything(path: Path, fmt: str | None) -> None:
    """Read the file and every source text the project holds, as a conversion would."""
    project = qdaconv.read(path, fmt)
    for source in walk_sources(project):
        _ = source.text
        for blob in (source.file, source.rich_file):
            if blob is not None:
                blob.read_bytes()


def assert_clear(exc: QdaconvError, path: Path) -> None:
    """A refusal a user can act on: one line that names the file and says what is wrong."""
    message = str(exc)
    assert path.name in message, message
    assert "\n" not in message and "Traceback" not in message, message
    assert len(message) > len(str(path)) + 10, message


@pytest.mark.parametrize("fmt", sorted(CORRUPTIBLE))
@PROPERTIES
@given(data=st.data())
def test_damaged_files_fail_only_with_qdaconv_errors(fmt: str, data: st.DataObject) -> None:
    damaged = data.draw(corruptions(seed_bytes(fmt)))
    forced = data.draw(st.booleans())
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{CORRUPTIBLE[fmt]}"
        path.write_bytes(damaged)
        try:
            read_everything(path, fmt if forced else None)
        except QdaconvError as exc:
            assert_clear(exc, path)


@pytest.mark.parametrize("fmt", ["refi-qdpx", "tables-csv"])
@PROPERTIES
@given(data=st.data())
def test_converting_a_damaged_file_leaves_nothing_behind(fmt: str, data: st.DataObject) -> None:
    damaged = data.draw(corruptions(seed_bytes(fmt)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{CORRUPTIBLE[fmt]}"
        path.write_bytes(damaged)
        target = Path(folder) / "out" / "converted.xlsx"
        target.parent.mkdir()
        try:
            qdaconv.convert(path, target, fmt)
        except QdaconvError:
            assert list(target.parent.iterdir()) == []
        else:
            assert [p.name for p in target.parent.iterdir()] == ["converted.xlsx"]
            assert zipfile.is_zipfile(target)


@pytest.mark.parametrize("fmt", ["refi-qdpx", "refi-qde", "refi-qdc"])
@PROPERTIES
@given(data=st.data())
def test_validating_a_damaged_file_finds_no_internal_failure(fmt: str, data: st.DataObject) -> None:
    """The validator reports damage as findings; a check or reader that breaks on it is a bug."""
    from qdaconv.validation import validate

    damaged = data.draw(corruptions(seed_bytes(fmt)))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"damaged{CORRUPTIBLE[fmt]}"
        path.write_bytes(damaged)
        report = validate(path)
    broken = [str(issue) for issue in report.issues
              if issue.rule == "CHECK-FAILED" or "reader failed" in issue.message]
    assert broken == []


@PROPERTIES
@given(data=st.binary(max_size=2048), suffix=st.sampled_from(sorted(
    {ext for fmt in default_registry() for ext in fmt.extensions})))
def test_random_bytes_fail_only_with_qdaconv_errors(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"random{suffix}"
        path.write_bytes(data)
        try:
            read_everything(path, None)
        except QdaconvError as exc:
            assert_clear(exc, path)


def test_the_strategy_makes_rich_projects() -> None:
    """The generated projects do use the parts the round trip is meant to cover."""
    seen: set[str] = set()

    @PROPERTIES
    @given(project=projects())
    def collect(project: Project) -> None:
        seen.update(kind for kind, used in [
            ("tree", any(code.children for code in project.codes)), ("selections", any(
                source.selections for source in project.sources)), ("cases", bool(project.cases)),
            ("variables", len(project.variables) >= 3), ("sets", bool(project.sets)),
            ("links", bool(project.links)), ("graphs", bool(project.graphs)), ("notes", bool(project.notes)),
            ("astral", any(ord(c) > 0xFFFF for s in project.sources for c in s.plain_text or "")),
            ("crlf", any("\r\n" in (s.plain_text or "") for s in project.sources)),
        ] if used)

    collect()
    assert seen == {"tree", "selections", "cases", "variables", "sets", "links", "graphs", "notes", "astral",
                    "crlf"}
