"""De-identified copies: `qdaconv redact`, `qdaconv.redaction` and `qdaconv archive --redact`.

The study's excerpts are checked against an independent redaction (plain `re` with word boundaries
over the same short list), and every file of every output is searched for the terms.
"""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import random
import re
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest

import qdaconv
from qdaconv.cli import project_counts
from qdaconv.errors import ReadError
from qdaconv.model import (
    Blob,
    Case,
    Code,
    Coding,
    Project,
    Selection,
    Source,
    SyncPoint,
    walk_codes,
    walk_codings,
    walk_selections,
    walk_sources,
)
from qdaconv.redaction import Matcher, Term, find_terms, read_terms, redact_project

ROOT = Path(__file__).resolve().parent.parent
MEDIA = ROOT / "fixtures" / "edge" / "media.qdpx"
UNICODE = ROOT / "fixtures" / "edge" / "unicode.qdpx"

#: The study's participants (STUDY.md) and the other people its transcripts name. It names no places.
STUDY_TERMS = {
    "Anna": "P1", "Neil": "P2", "Daniel": "P3", "Rachel": "P4", "Andrea": "P5", "Jane": "P6",
    "Nina": "P7", "Ellen": "P8", "Siobhán": "[colleague]", "Marguerite": "[colleague]",
}


def _terms_file(path: Path, terms: dict[str, str]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["term", "replacement"])
        writer.writerows(terms.items())
    return path


def _independent(terms: dict[str, str]):
    """A plain redaction to compare with: `re`, word boundaries, no case, longest term first."""
    by_key = {term.lower(): replacement for term, replacement in terms.items()}
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)) + r")\b",
                         re.IGNORECASE)

    def redact(text: str) -> str:
        return pattern.sub(lambda found: by_key[found.group().lower()], unicodedata.normalize("NFC", text))

    return pattern, redact


def _member_texts(path: Path):
    """(name, decoded text) of every member of a zip, zips inside it opened too."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            yield name, name
            if data[:4] == b"PK\x03\x04":
                inner = path.parent / f"inner-{hashlib.sha1(name.encode()).hexdigest()}.zip"
                inner.write_bytes(data)
                yield from ((f"{name}!{n}", t) for n, t in _member_texts(inner))
                inner.unlink()
            else:
                yield name, html.unescape(unicodedata.normalize("NFC", data.decode("utf-8", errors="replace")))


def _no_term_in(path: Path, pattern: re.Pattern[str]) -> None:
    left = [(name, found.group()) for name, text in _member_texts(path) if (found := pattern.search(text))]
    assert not left, left[:5]


@pytest.fixture(scope="module")
def redacted_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("study")
    terms = _terms_file(folder / "terms.csv", STUDY_TERMS)
    out, log = folder / "out.qdpx", folder / "log.csv"
    from conftest import run_cli

    before = hashlib.sha256((ROOT / "fixtures" / "study.qdpx").read_bytes()).hexdigest()
    result = run_cli("redact", str(ROOT / "fixtures" / "study.qdpx"), str(out), "--terms", str(terms),
                     "--log", str(log))
    assert result.returncode == 0, result.stderr
    assert hashlib.sha256((ROOT / "fixtures" / "study.qdpx").read_bytes()).hexdigest() == before
    return out, log, result


def test_study_no_term_left_in_any_member(redacted_study) -> None:
    out, _log, result = redacted_study
    pattern, _redact = _independent(STUDY_TERMS)
    _no_term_in(out, pattern)
    assert "no term left" in result.stdout


def test_study_every_excerpt_reads_as_the_original_redacted(redacted_study, study_path) -> None:
    out, _log, _result = redacted_study
    original, project = qdaconv.read(study_path), qdaconv.read(out)
    _pattern, redact = _independent(STUDY_TERMS)
    after = _by_guid(project)
    texts = {guid: source.text for guid, source in after.items()}
    checked = changed = 0
    for source, selection in walk_selections(original):
        if selection.kind != "PlainText":
            continue
        excerpt = source.text[selection.start:selection.end]
        out_selection = next(s for s in after[source.guid].selections if s.guid == selection.guid)
        assert texts[source.guid][out_selection.start:out_selection.end] == redact(excerpt), selection.guid
        assert out_selection.name == redact(selection.name or "") or not selection.name
        checked += 1
        changed += redact(excerpt) != excerpt
    assert checked == 298 and changed > 20


def _by_guid(project: Project) -> dict[str, Source]:
    return {source.guid: source for source in walk_sources(project)}


def test_study_counts_and_guids_unchanged(redacted_study, study_path) -> None:
    out, _log, _result = redacted_study
    before, after = qdaconv.read(study_path), qdaconv.read(out)
    assert project_counts(before) == project_counts(after)

    def guids(project: Project) -> dict[str, list[str]]:
        return {
            "sources": [s.guid for s in walk_sources(project)],
            "selections": [s.guid for _source, s in walk_selections(project)],
            "codings": [c.guid for _s, _sel, c in walk_codings(project)],
            "codes": [e.code.guid for e in walk_codes(project)],
            "cases": [c.guid for c in project.cases],
            "links": [link.guid for link in project.links],
        }

    assert guids(before) == guids(after)
    assert [e.code.name for e in walk_codes(before)] == [e.code.name for e in walk_codes(after)]
    assert sorted(c.name for c in after.cases)[:2] == ["P1", "P1 & P2"]


def test_study_output_is_schema_valid(redacted_study, cli) -> None:
    out, _log, _result = redacted_study
    result = cli("validate", str(out))
    assert result.returncode == 0, result.stdout


def test_study_log_is_complete(redacted_study, study_path) -> None:
    out, log, _result = redacted_study
    rows = list(csv.DictReader(log.open(encoding="utf-8")))
    assert rows and set(rows[0]) >= {"kind", "guid", "field", "start", "end", "out_start", "out_end", "term",
                                     "replacement"}
    before, after = _by_guid(qdaconv.read(study_path)), _by_guid(qdaconv.read(out))
    pattern, _redact = _independent(STUDY_TERMS)
    texts = [row for row in rows if row["field"] == "text"]
    assert len(texts) == sum(len(pattern.findall(s.text or "")) for s in before.values())
    # the log's rows for each text rebuild the output from the original, so none is missing
    for guid, source in before.items():
        rebuilt, done = [], 0
        for row in (r for r in texts if r["guid"] == guid):
            start, end = int(row["start"]), int(row["end"])
            assert source.text[start:end].lower() == row["term"].lower()
            rebuilt += [source.text[done:start], row["replacement"]]
            assert after[guid].text[int(row["out_start"]):int(row["out_end"])] == row["replacement"]
            done = end
        assert "".join(rebuilt) + source.text[done:] == after[guid].text
    assert not out.with_name("log.csv").samefile(out)
    assert "log.csv" not in [name for name, _text in _member_texts(out)]


# ---------------------------------------------------------------- the matcher, in a small project

TEXT_ID = "00000000-0000-4000-8000-000000000001"


def _project(text: str, spans: list[tuple[int, int]], in_file: bool = False) -> Project:
    selections = [Selection(f"00000000-0000-4000-8000-1000000000{i:02d}", start=start, end=end,
                            name=text[start:end], codings=[Coding(f"00000000-0000-4000-8000-2000000000{i:02d}",
                                                                  "00000000-0000-4000-8000-300000000001")])
                  for i, (start, end) in enumerate(spans)]
    source = Source(TEXT_ID, "Text", name="interview", selections=selections)
    if in_file:
        source.plain_text_path = f"internal://{TEXT_ID}.txt"
        source.plain_file = Blob(f"{TEXT_ID}.txt", data=b"\xef\xbb\xbf" + text.encode("utf-8"))
    else:
        source.plain_text = text
    return Project(codes=[Code("00000000-0000-4000-8000-300000000001", "a code")], sources=[source])


def _redact(text: str, terms: dict[str, str], spans: list[tuple[int, int]] = ()) -> tuple[str, list[str]]:
    project = _project(text, list(spans))
    redact_project(project, Matcher([Term(t, r) for t, r in terms.items()]))
    source = project.sources[0]
    return source.text, [source.text[s.start:s.end] for s in source.selections]


def test_terms_across_line_breaks_and_spaces() -> None:
    text, _ = _redact("I met Anna\nSmith, then anna  \r\n SMITH again.", {"Anna Smith": "P1"})
    assert text == "I met P1, then P1 again."


def test_terms_touching_punctuation() -> None:
    text, _ = _redact("(Anna), Anna's and Anna’s view; “Anna”—Anna. Anna-Marie? Anna!", {"Anna": "X"})
    assert text == "(X), X's and X’s view; “X”—X. X-Marie? X!"


def test_terms_inside_longer_words_are_kept() -> None:
    text, _ = _redact("Annabel, Hanna, Annas, Neill, Danielle, Anna2 met Anna_1 and Anna.",
                      {"Anna": "X", "Neil": "Y", "Daniel": "Z"})
    assert text == "Annabel, Hanna, Annas, Neill, Danielle, Anna2 met X_1 and X."


def test_non_ascii_terms_match_in_any_normal_form_and_case() -> None:
    text, _ = _redact("Siobhán, SIOBHÁN, Siobha\u0301n and Siobhan; Zoe\u0308 and Zoë; Łukasz from Shenzhen "
                      "and 李娜 in 我是李娜; Йован, И\u0306ован but not Иован; Siobhánne stays.",
                      {"Siobhán": "S", "Zoë": "Z", "ŁUKASZ": "L", "Shenzhen": "[city]", "李娜": "N", "Йован": "J"})
    assert text == ("S, S, S and S; Z and Z; L from [city] and N in 我是N; J, J but not Иован; "
                    "Siobhánne stays.")


def test_apostrophes_and_hyphens_stand_for_one_another() -> None:
    text, _ = _redact("O’Brien, o'brien, O‘BRIEN; Anne‑Marie and Anne-Marie.",
                      {"O'Brien": "P", "Anne-Marie": "Q"})
    assert text == "P, P, P; Q and Q."


def test_overlapping_terms_longest_first_then_leftmost() -> None:
    terms = {"Anna": "A", "Anna Smith": "AS", "New York": "NY", "York City": "YC"}
    text, _ = _redact("Anna Smith and Anna; Anna Smithson; New York City; York City.", terms)
    assert text == "AS and A; A Smithson; NY City; YC."


def test_selection_boundaries_inside_a_term_move_to_its_replacement() -> None:
    original = "Hello there, Anna Smith said so 😀 and Neil agreed."
    anna, neil = original.index("Anna"), original.index("Neil")
    spans = [
        (anna + 2, original.index(" said")),            # starts inside the term
        (0, anna + 3),                                  # ends inside the term
        (anna + 1, anna + 3),                           # inside the term altogether
        (anna, neil + 4),                               # exactly on the terms
        (original.index("said"), original.index("agreed")),  # between the terms, after an emoji
        (neil + 4, len(original)),                      # right after a term
    ]
    text, excerpts = _redact(original, {"Anna Smith": "[P1]", "Neil": "[Participant 2]"}, spans)
    assert text == "Hello there, [P1] said so 😀 and [Participant 2] agreed."
    assert excerpts == ["[P1]", "Hello there, [P1]", "[P1]", "[P1] said so 😀 and [Participant 2]",
                        "said so 😀 and [Participant 2] ", " agreed."]


def test_sync_points_and_transcripts_are_redacted_and_moved() -> None:
    transcript = Source("00000000-0000-4000-8000-000000000009", "Transcript", plain_text="Nina: hello. Nina: bye.",
                        sync_points=[SyncPoint("00000000-0000-4000-8000-00000000000a", 0, 0),
                                     SyncPoint("00000000-0000-4000-8000-00000000000b", 13, 500),
                                     SyncPoint("00000000-0000-4000-8000-00000000000c", 15, 900),
                                     SyncPoint("00000000-0000-4000-8000-00000000000d", 19, 1200)])
    audio = Source("00000000-0000-4000-8000-000000000008", "Audio", name="Nina interview", path="internal://a.wav",
                   file=Blob("a.wav", data=b"RIFF"), transcripts=[transcript])
    project = Project(sources=[audio])
    redaction = redact_project(project, Matcher([Term("Nina", "P7")]))
    assert transcript.plain_text == "P7: hello. P7: bye."
    # 15 was inside the second "Nina": it moves to the start of its replacement
    assert [p.position for p in transcript.sync_points] == [0, 11, 11, 15]
    assert audio.name == "P7 interview" and audio.file is None and audio.path is None
    assert [loss.count for loss in redaction.losses] == [1] and "audio" in redaction.losses[0].what


def test_file_texts_are_replaced_whole_and_rich_text_is_dropped() -> None:
    project = _project("Ellen said hello", [(0, 16)], in_file=True)
    source = project.sources[0]
    source.rich_text_path, source.rich_file = f"internal://{TEXT_ID}.docx", Blob("x.docx", data=b"PK\x03\x04Ellen")
    redaction = redact_project(project, Matcher([Term("Ellen", "P8")]))
    assert source.plain_file.read_bytes() == b"P8 said hello"
    assert source.rich_file is None and source.rich_text_path is None
    assert "rich-text" in redaction.losses[0].what
    assert (source.selections[0].start, source.selections[0].end) == (0, 13)


def test_everything_but_codes_is_redacted_unless_codes_are_included() -> None:
    project = _project("text", [])
    project.name, project.description = "Study of Jane", "Jane's team"
    project.codes[0].name = "Jane's way"
    project.cases = [Case("00000000-0000-4000-8000-400000000001", "Jane", description="Jane, PM")]
    project.sources[0].selections = [Selection("00000000-0000-4000-8000-500000000001", start=0, end=4,
                                               codings=[Coding("00000000-0000-4000-8000-500000000002", "x")])]
    project.sources[0].selections[0].codings[0].native = {"memo": ["Jane said so", 3], "Jane": True}
    redaction = redact_project(project, Matcher([Term("Jane", "P6")]))
    assert (project.name, project.description, project.cases[0].name) == ("Study of P6", "P6's team", "P6")
    assert project.sources[0].selections[0].codings[0].native == {"memo": ["P6 said so", 3], "P6": True}
    assert project.codes[0].name == "Jane's way" and redaction.left
    redaction = redact_project(project, Matcher([Term("Jane", "P6")]), include_codes=True)
    assert project.codes[0].name == "P6's way" and not redaction.left


def test_find_terms_looks_into_nested_zips_names_and_entities(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("project.qde", '<Project name="O&apos;Brien"/>')
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as archive:
        archive.writestr("data/study.qdpx", inner.getvalue())
        archive.writestr("data/Rachel.txt", "nothing here")
        guid = "F6EC4453-CAFE-4BEC-AE0E-6CFC6B5C821A"
        archive.writestr(f"data/{guid}.txt", f"{'x' * 100} {guid}")
    terms = [Term("O'Brien", "P"), Term("Rachel", "R"), Term("Café", "C")]
    found = find_terms(tmp_path / "outer.zip", Matcher(terms))
    assert len(found) == 2 and any("project.qde" in place for place in found)
    assert any("Rachel.txt (its name)" in place for place in found)


def _encrypted_zip() -> bytes:
    """A zip whose one member is flagged as encrypted: zipfile will not open it."""
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("notes.txt", "Rachel said so")
    raw = bytearray(data.getvalue())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        start = raw.index(signature)
        raw[start + flags_at] |= 0x01
    return bytes(raw)


@pytest.mark.parametrize("inner", [_encrypted_zip(), b"PK\x03\x04" + b"\x00" * 60], ids=["encrypted", "damaged"])
def test_find_terms_refuses_a_nested_zip_it_cannot_open(tmp_path: Path, inner: bytes) -> None:
    # its compressed members cannot be searched as bytes: passing it would pass what was never searched
    with zipfile.ZipFile(tmp_path / "outer.zip", "w") as archive:
        archive.writestr("data/rich.docx", inner)
        archive.writestr("data/plain.txt", "nothing here")
    found = find_terms(tmp_path / "outer.zip", Matcher([Term("Rachel", "R")]))
    assert len(found) == 1
    assert found[0].startswith("outer.zip!data/rich.docx: not searched (a zip that cannot be opened")


def test_find_terms_refuses_zips_nested_too_deep(tmp_path: Path) -> None:
    data = b"Rachel"
    for level in range(6):
        holder = io.BytesIO()
        with zipfile.ZipFile(holder, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(f"level{level}.zip" if level else "deep.txt", data)
        data = holder.getvalue()
    (tmp_path / "outer.zip").write_bytes(data)
    found = find_terms(tmp_path / "outer.zip", Matcher([Term("Rachel", "R")]))
    assert len(found) == 1 and "not searched (a zip nested more than" in found[0]


# ---------------------------------------------------------------- the fast paths find what the plain ones find

#: Terms of every kind the matcher builds (word and non-word starts, phrases, accents as marks, CJK, digits)
#: and pieces of text around and between them, to put together at random.
TRICKY_TERMS = ["Anna", "Anna Smith", "José", "O'Brien", "Zoë", "Dr.", "中文", "'Bob", "Йорк", "≠x", "?a", "R2D2",
                "St Mary's Hospital", "a b", "Łukasz", "Øyvind", "Ἀθῆναι", "x-y", "ab", "Élise", "ΣΟΦΙΑΣ"]
TRICKY_PIECES = TRICKY_TERMS + [
    "anna", "ANNA", "jose\u0301", "JOSÉ", "o’brien", "O`BRIEN", "zoe", "ZOË", "dr", "中", "文", "bob", "й",
    "и\u0306", "=\u0338x", "≠", "?", "r2d2", "st  mary’s\nhospital", "a\u00a0b", "a\u2028b", "a\x1cb", "lukasz",
    "ÉLISE", "elise", "σοφιας", "Σ", " ", " ", "\n", "   \n  ", ".", "_", "-", "x", "\u0301", "\u0300", "é", "ß", "İ",
    "😀", "a", "b", "s", "ø", "ŁUKASZ", "&amp;", "\udc80"]


def _tricky_texts(count: int, seed: int):
    rng = random.Random(seed)
    for _ in range(count):
        yield "".join(rng.choice(TRICKY_PIECES) for _ in range(rng.randint(0, 14)))


@pytest.mark.parametrize("fold_each", [0, 10 ** 9], ids=["around-each-place", "whole-text"])
def test_the_prefilter_finds_what_the_regular_expression_finds(monkeypatch, fold_each: int) -> None:
    from qdaconv import redaction

    matcher = Matcher([Term(term, "[X]") for term in TRICKY_TERMS])
    monkeypatch.setattr(redaction, "_PREFILTER_FROM", 0)  # every text through the prefilter, in pieces of 5
    monkeypatch.setattr(redaction, "_PIECE", 5)
    monkeypatch.setattr(redaction, "_FOLD_EACH", fold_each)
    places = 0
    for text in _tricky_texts(4000, fold_each):
        folded = redaction.fold_text(text)
        assert matcher.spans(folded) == [found.span() for found in matcher.pattern.finditer(folded)], text
        every = [(at, found.end()) for at in range(len(folded)) if (found := matcher.pattern.match(folded, at))]
        assert list(matcher.occurrences(text)) == every, text
        assert list(matcher.occurrences(text, 3, 9)) == [place for place in every if 3 <= place[0] < 9], text
        places += len(every)
    assert places > 1000


def test_short_texts_searched_together_find_what_each_finds_alone() -> None:
    from qdaconv.redaction import Redaction, _Redactor, fold_text

    matcher = Matcher([Term(term, "[X]") for term in TRICKY_TERMS])
    texts = list(_tricky_texts(3000, 11))
    together = _Redactor(matcher, Redaction())
    together.prepare([*texts, None, ""])
    assert len(together.found) > 2000  # all but those with İ or NUL, once each
    for text in texts:
        if text in together.found:
            assert together.found[text] == matcher.spans(fold_text(text)), text
    assert sum(map(len, together.found.values())) > 1000


def test_fold_text_folds_each_character_alone_whatever_the_length() -> None:
    from qdaconv.redaction import fold_text

    for short in _tricky_texts(2000, 7):
        for text in (short, short * 20, short * 400):  # each way fold_text takes
            if "\u03a3" not in text:  # Σ folds by its neighbours (σ, or ς at the end of a word)
                assert fold_text(text) == "".join(fold_text(char) for char in text), text
    assert fold_text("ΣΟΦΙΑΣ " * 10) == "σοφιας " * 10 and fold_text("Σ") == "σ"
    assert fold_text("JOSÉ O’Brien ` İ") == "jose o'brien ' i"


def test_folding_tables_fill_as_characters_are_met() -> None:
    done = subprocess.run([sys.executable, "-c", "import qdaconv.redaction as r; a = len(r._FOLD); "
                           "r.fold_text('Ǽlfrida Ŭlla Ǽlfrida Ŭlla and Zoë'); print(a, len(r._FOLD) - a)"],
                          capture_output=True, text=True, check=True)
    at_import, met = map(int, done.stdout.split())
    assert at_import <= 256 and met == 2  # Latin-1 (for the prefilter) at import, then what is met


def test_verification_finds_a_term_across_pieces_whatever_white_space_it_spans(tmp_path: Path, monkeypatch) -> None:
    from qdaconv import redaction

    monkeypatch.setattr(redaction, "_CHUNK", 64)  # bytes read at a time
    monkeypatch.setattr(redaction, "_OVERLAP", 8)  # and the least carried over
    matcher = Matcher([Term("honest broker", "[role]"), Term("O'Brien", "[P]"), Term("Cafe", "[C]")])
    cases = {
        "spaces.txt": "x " * 100 + "honest" + " " * 5000 + "\n broker" + " y" * 100,
        "marks.txt": "x " * 100 + "hone\u0301st" + "\u0301" * 300 + " broker" + " y" * 100,
        "entity.xml": "<a>" + "x" * 58 + " O&apos;Brien" + "</a>" * 40,
    }
    clean = {
        "word.txt": "x " * 31 + "Cafeteria" + " y" * 100,  # a piece ends inside a longer word
        "guid.xml": "".join(f'<a guid="F6EC4453-CAFE-4BEC-AE0E-6CFC6B5C821{i % 10}"/>' for i in range(60)),
        "entities.xml": "<a>" + "&amp;apos;" * 40 + "</a>",  # unescaped once: &apos; is not an apostrophe here
    }
    for name, text in {**cases, **clean}.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = find_terms(tmp_path, matcher)
    assert sorted(place.split(":")[0] for place in found) == sorted(cases), found
    assert all(len(text.encode()) > 64 * 2 for text in {**cases, **clean}.values())


# ---------------------------------------------------------------- terms files and the command line


@pytest.mark.parametrize("content, message", [
    (None, "no such terms file"),
    ("", "empty"),
    ("name,replacement\nAnna,P1\n", "no `term` column"),
    ("term,replacement\nA,P1\n", "too short"),
    ("term\n\n", "no terms"),
    ("term,replacement\nAnna,P1\nANNA,P2\n", "another replacement"),
    ("term,replacement\nAnna,Anna B.\n", "contains the term"),
])
def test_bad_terms_files_exit_2_and_write_nothing(tmp_path: Path, cli, study_path, content, message) -> None:
    terms = tmp_path / "terms.csv"
    if content is not None:
        terms.write_text(content, encoding="utf-8")
    out, log = tmp_path / "out.qdpx", tmp_path / "log.csv"
    result = cli("redact", str(study_path), str(out), "--terms", str(terms), "--log", str(log))
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == (["terms.csv"] if content is not None else [])


def test_terms_file_with_bom_and_default_placeholder(tmp_path: Path) -> None:
    path = tmp_path / "terms.csv"
    path.write_bytes("\ufeffTerm,Replacement\nAnna,P1\n  Neil Smith ,\n\n".encode())
    assert read_terms(path, "[X]") == [Term("Anna", "P1", 2), Term("Neil Smith", "[X]", 3)]
    with pytest.raises(ReadError, match="line 3: the replacement .Anna. contains the term"):
        read_terms(tmp_path / "terms.csv", "Anna")


def test_strict_refuses_media_and_default_drops_it_loudly(tmp_path: Path, cli) -> None:
    terms = _terms_file(tmp_path / "terms.csv", {"Zoë": "Z"})
    out = tmp_path / "out.qdpx"
    result = cli("redact", str(MEDIA), str(out), "--terms", str(terms), "--strict")
    assert result.returncode == 1 and "audio files removed" in result.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["terms.csv"]
    result = cli("redact", str(MEDIA), str(out), "--terms", str(terms))
    assert result.returncode == 0, result.stderr
    for what in ("PDF", "picture", "audio", "video"):
        assert f"1 {what} files removed" in result.stderr
    with zipfile.ZipFile(out) as archive:
        assert not [n for n in archive.namelist() if n.endswith((".wav", ".mp4", ".png", ".pdf"))]
    assert project_counts(qdaconv.read(out)) == project_counts(qdaconv.read(MEDIA))


def test_json_says_what_was_replaced_and_what_was_lost(tmp_path: Path, cli) -> None:
    terms = _terms_file(tmp_path / "terms.csv", {"Zoë": "Z"})
    out = tmp_path / "out.qdpx"
    result = cli("redact", str(MEDIA), str(out), "--terms", str(terms), "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["output"] == str(out) and answer["log"] is None and not answer["lossless"]
    assert any(item["what"].startswith("audio files removed") and item["count"] == 1 for item in answer["lost"])
    assert answer["replacements"] >= 0 and answer["places"] >= 0


def test_terms_left_in_codes_fail_unless_codes_are_included(tmp_path: Path, cli, study_path) -> None:
    code = next(e.code.name for e in walk_codes(qdaconv.read(study_path)) if " " not in e.code.name)
    terms = _terms_file(tmp_path / "terms.csv", {code: "[code]", "Anna": "P1"})
    out = tmp_path / "out.qdpx"
    result = cli("redact", str(study_path), str(out), "--terms", str(terms))
    assert result.returncode == 1 and "--include codes" in result.stderr and not out.exists()
    result = cli("redact", str(study_path), str(out), "--terms", str(terms), "--include", "codes")
    assert result.returncode == 0, result.stderr
    pattern, _ = _independent({code: "", "Anna": ""})
    _no_term_in(out, pattern)


def test_log_never_inside_the_output_and_no_overwrite(tmp_path: Path, cli, study_path) -> None:
    terms = _terms_file(tmp_path / "terms.csv", {"Anna": "P1"})
    out = tmp_path / "tables"
    result = cli("redact", str(study_path), str(out), "--terms", str(terms), "--log", str(out / "log.csv"))
    assert result.returncode == 2 and "kept apart" in result.stderr and not out.exists()
    (tmp_path / "taken.qdpx").write_bytes(b"mine")
    result = cli("redact", str(study_path), str(tmp_path / "taken.qdpx"), "--terms", str(terms))
    assert result.returncode == 2 and (tmp_path / "taken.qdpx").read_bytes() == b"mine"


@pytest.mark.parametrize("name", ["out.xlsx", "out.csv.zip", "out.qde"])
def test_other_output_formats_hold_no_term(tmp_path: Path, cli, study_path, name) -> None:
    terms = _terms_file(tmp_path / "terms.csv", STUDY_TERMS)
    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / name
    result = cli("redact", str(study_path), str(out), "--terms", str(terms))
    assert result.returncode == 0, result.stderr
    assert not find_terms(tmp_path / "out", Matcher([Term(t, r) for t, r in STUDY_TERMS.items()]))
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".qdaconv")]
    read_back = qdaconv.read(out)
    assert sum(1 for _ in walk_selections(read_back)) == 298


def test_unicode_fixture_redacts_non_ascii_names(tmp_path: Path, cli) -> None:
    terms = {"Zoë": "Z", "José": "J", "Siobhán": "S", "Łukasz": "L", "李娜": "N", "Shenzhen": "[city]"}
    out = tmp_path / "out.qdpx"
    result = cli("redact", str(UNICODE), str(out), "--terms", str(_terms_file(tmp_path / "t.csv", terms)))
    assert result.returncode == 0, result.stderr
    assert not find_terms(out, Matcher([Term(t, r) for t, r in terms.items()]))
    assert "Z: J, S, L, and Dr N from the [city] partnership." in "".join(
        s.text or "" for s in walk_sources(qdaconv.read(out)))


def test_archive_redact_keeps_the_log_and_the_original_out(tmp_path: Path, cli, study_path) -> None:
    terms = _terms_file(tmp_path / "terms.csv", STUDY_TERMS)
    package, log = tmp_path / "package.zip", tmp_path / "log.csv"
    result = cli("archive", str(study_path), str(package), "--redact", str(terms), "--redact-log", str(log))
    assert result.returncode == 0, result.stderr
    names = [name for name, _text in _member_texts(package)]
    assert log.is_file() and not [n for n in names if n.endswith("log.csv") or "/data/original/" in n]
    pattern, _redact = _independent(STUDY_TERMS)
    _no_term_in(package, pattern)
    assert cli("archive", "--verify", str(package)).returncode == 0
    result = cli("archive", str(MEDIA), str(tmp_path / "media.zip"), "--redact", str(terms), "--strict")
    assert result.returncode == 1 and not (tmp_path / "media.zip").exists()
    result = cli("archive", str(study_path), str(tmp_path / "plain.zip"), "--redact-log", str(tmp_path / "l.csv"))
    assert result.returncode == 2 and "go with --redact" in result.stderr and not (tmp_path / "plain.zip").exists()
    result = cli("archive", str(study_path), str(tmp_path / "p2.zip"), "--redact", str(terms), "--redact-log",
                 str(tmp_path / "p2.zip"))
    assert result.returncode == 2 and "kept apart" in result.stderr and not (tmp_path / "p2.zip").exists()


@pytest.mark.parametrize("sample, terms", [
    ("NVivo/nvivo-win12.6-oltas.qdpx", {"Peter": "P1", "Michael": "P2", "John": "P3"}),  # UTF-16 positions
    ("qc/qc-1.3.2-demo.qdpx", {"John": "P3"}),
])
def test_real_exports_keep_every_excerpt(samples_dir: Path, tmp_path: Path, cli, sample, terms) -> None:
    source = samples_dir / sample
    if not source.exists():
        pytest.skip(f"{sample} is not among the samples")
    out = tmp_path / "out.qdpx"
    result = cli("redact", str(source), str(out), "--terms", str(_terms_file(tmp_path / "t.csv", terms)))
    assert result.returncode == 0, result.stderr
    _pattern, redact = _independent(terms)
    before, after = qdaconv.read(source), _by_guid(qdaconv.read(out))
    excerpts = 0
    for document, selection in walk_selections(before):
        if selection.kind == "PlainText" and document.text is not None:
            moved = next(s for s in after[document.guid].selections if s.guid == selection.guid)
            assert (after[document.guid].text[moved.start:moved.end]
                    == redact(document.text[selection.start:selection.end])), selection.guid
            excerpts += 1
    assert excerpts > 50 and not find_terms(out, Matcher([Term(t, r) for t, r in terms.items()]))


def test_a_term_formed_by_a_replacement_fails_verification_and_leaves_nothing(tmp_path: Path, cli) -> None:
    source = tmp_path / "in"
    source.mkdir()
    qdaconv.write(_project("We met Anna Smith there.", [(7, 17)], in_file=True), source / "study.qdpx")
    terms = _terms_file(tmp_path / "terms.csv", {"Anna": "Dr", "Dr Smith": "[doctor]"})
    out, log = tmp_path / "out" / "study.qdpx", tmp_path / "log.csv"
    out.parent.mkdir()
    result = cli("redact", str(source / "study.qdpx"), str(out), "--terms", str(terms), "--log", str(log))
    assert result.returncode == 1 and "terms are left in the output" in result.stderr and "Dr Smith" in result.stderr
    assert not list(out.parent.iterdir()) and not log.exists()


def test_placeholder_for_terms_without_replacement(tmp_path: Path, cli) -> None:
    source = tmp_path / "study.qdpx"
    qdaconv.write(_project("Rachel and Daniel spoke.", [(0, 6), (11, 17)]), source)
    terms = tmp_path / "terms.csv"
    terms.write_text("term\nRachel\nDaniel\n", encoding="utf-8")
    out = tmp_path / "out.qdpx"
    result = cli("redact", str(source), str(out), "--terms", str(terms), "--placeholder", "[name]")
    assert result.returncode == 0, result.stderr
    redacted = qdaconv.read(out).sources[0]
    assert redacted.text == "[name] and [name] spoke."
    assert [redacted.text[s.start:s.end] for s in redacted.selections] == ["[name]", "[name]"]


def test_reader_options_go_to_the_reader_and_writer_options_to_the_writer(tmp_path: Path, cli) -> None:
    folder = tmp_path / "transcripts"
    folder.mkdir()
    (folder / "P01_interview1.txt").write_text("Anna: I live in Leeds.\n", encoding="utf-8")
    terms = _terms_file(tmp_path / "terms.csv", {"Leeds": "CITY"})
    out = tmp_path / "out.qdpx"
    done = cli("redact", str(folder), str(out), "--terms", str(terms), "--case-pattern", "{case}_interview{wave}",
               "--profile", "nvivo")
    assert done.returncode == 0, done.stderr
    project = qdaconv.read(out)
    assert [case.name for case in project.cases] == ["P01"]
    assert project.sources[0].text == "Anna: I live in CITY.\n"
