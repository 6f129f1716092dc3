"""Position evidence per source, excerpt names in quotation marks, codebook sets, zip members in odd folders,
and batches that report in order."""

from __future__ import annotations

import zipfile
from pathlib import Path

import qdaconv
from qdaconv.model import Project, Selection, Source, new_guid, walk_selections
from qdaconv.plugins.refi.container import Members
from qdaconv.positions import PositionMap, TextEvidence
from qdaconv.validation import expand_paths, model_issues, validate, validate_many

NS = "urn:QDA-XML:project:1.0"
CODE = "8D4E3C6A-0F2B-4A5E-9C11-2B6F0E7A1D01"


def lines_with_emoji(label: str, count: int) -> tuple[str, list[tuple[int, int, str]]]:
    """A text whose every line holds an emoji, and the code point span and text of each line's phrase."""
    text = "".join(f"{label} {n} 🎉 speaks about the careful plan number {n}.\n" for n in range(count))
    spans = []
    for n in range(count):
        phrase = f"the careful plan number {n}"
        start = text.index(phrase + ".")
        spans.append((start, start + len(phrase), phrase))
    return text, spans


def selection_xml(start: int, end: int, name: str) -> str:
    return (f'<PlainTextSelection guid="{new_guid().upper()}" name="{name}" startPosition="{start}" '
            f'endPosition="{end}"><Coding guid="{new_guid().upper()}"><CodeRef targetGUID="{CODE}"/></Coding>'
            "</PlainTextSelection>")


def write_qdpx(path: Path, origin: str, texts: list[tuple[str, str, list[tuple[int, int, str]]]],
               members: dict[str, str] | None = None, folder: str = "sources") -> dict[str, str]:
    """A .qdpx whose sources have the given texts and selections (positions as given); their GUIDs by name."""
    guids = {name: new_guid().upper() for name, _text, _spans in texts}
    sources = "".join(
        f'<TextSource guid="{guids[name]}" name="{name}" plainTextPath="internal://{guids[name]}.txt">'
        + "".join(selection_xml(*span) for span in spans) + "</TextSource>"
        for name, _text, spans in texts)
    xml = (f'<?xml version="1.0" encoding="utf-8"?><Project xmlns="{NS}" name="merged" origin="{origin}">'
           f'<CodeBook><Codes><Code guid="{CODE}" name="plan" isCodable="true"/></Codes></CodeBook>'
           f"<Sources>{sources}</Sources></Project>")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", xml)
        for name, text, _spans in texts:
            archive.writestr(f"{folder}/{guids[name]}.txt", text.encode("utf-8"))
        for member, data in (members or {}).items():
            archive.writestr(member, data)
    return guids


def test_each_source_of_a_merged_project_is_read_in_its_own_unit(tmp_path):
    nvivo_text, nvivo_spans = lines_with_emoji("NVivo line", 12)
    other_text, other_spans = lines_with_emoji("QualCoder line", 12)
    utf16 = PositionMap(nvivo_text, "utf16")
    counted_in_utf16 = [(utf16.to_unit(s), utf16.to_unit(e), name) for s, e, name in nvivo_spans]
    path = tmp_path / "merged.qdpx"
    write_qdpx(path, "NVivo 14", [("from nvivo", nvivo_text, counted_in_utf16),
                                  ("from qualcoder", other_text, other_spans)])
    project = qdaconv.read(path)
    for source, selection in walk_selections(project):
        assert source.text[selection.start:selection.end] == selection.name, source.name
    assert any("in another unit than the project's" in w.message for w in project.warnings)
    report = validate(path)
    assert report.valid and "INTEROP-POS-UNIT" not in report.rule_ids()
    # forcing one unit still reads every source in it
    forced = qdaconv.read(path, positions="utf16")
    wrong = [s for source, s in walk_selections(forced) if source.text[s.start:s.end] != s.name]
    assert len(wrong) == 12


def test_names_that_are_the_start_of_their_excerpt_match_with_quotation_marks():
    turns = [f"“Quoted {n}” said the leader about the plan, and then more words {n}.\n" for n in range(6)]
    turns += [f"”Closing {n} first, then the team went on with the meeting {n}.\n" for n in range(6)]
    text = "".join(turns)
    selections = []
    for turn in turns:
        start = text.index(turn)
        end = start + len(turn) - 2
        selections.append(Selection(new_guid(), start=start, end=end, name=text[start:start + 40]))
    project = Project(sources=[Source(new_guid(), name="quotes", plain_text=text, selections=selections)])
    assert model_issues(project) == []
    selections[0].name = "an entirely different quotation of words"
    assert {issue.rule for issue in model_issues(project)} == {"INTEROP-EXCERPT-NAME"}


def test_a_codebook_with_sets_draws_no_empty_container_warning(tmp_path):
    path = tmp_path / "codes.qdc"
    path.write_text(f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="{CODE}" name="plan" '
                    f'isCodable="true"/></Codes><Sets><Set guid="{new_guid().upper()}" name="group">'
                    f'<MemberCode guid="{CODE}"/></Set></Sets></CodeBook>', encoding="utf-8")
    report = validate(path)
    assert report.valid and report.issues == [], [str(i) for i in report.issues]
    assert len(qdaconv.read(path).sets) == 1
    empty = tmp_path / "empty.qdc"
    empty.write_text(f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="{CODE}" name="plan" '
                     'isCodable="true"/></Codes><Sets/></CodeBook>', encoding="utf-8")
    assert "REFI-EMPTY-CONTAINER" in validate(empty).rule_ids()


def test_the_reader_and_the_validator_agree_on_a_member_in_an_unusual_folder(tmp_path):
    text, spans = lines_with_emoji("line", 3)
    path = tmp_path / "odd.qdpx"
    write_qdpx(path, "hand", [("odd", text, spans)], folder="export/files")
    project = qdaconv.read(path)
    assert project.sources[0].text == text
    assert "REFI-FILE-MISSING" not in {w.rule for w in project.warnings}
    report = validate(path)
    assert not {"ZIP-MISSING-FILE", "ZIP-UNREFERENCED", "REFI-FILE-MISSING"} & report.rule_ids()
    assert "ZIP-SOURCES-FOLDER" in report.rule_ids()
    # two members of that name in odd folders: neither is taken, by the reader or by the validator
    twice = tmp_path / "twice.qdpx"
    guids = write_qdpx(twice, "hand", [("odd", text, spans)], folder="a")
    with zipfile.ZipFile(twice, "a") as archive:
        archive.writestr(f"b/{guids['odd']}.txt", text)
    assert qdaconv.read(twice).sources[0].plain_file is None
    assert {"ZIP-MISSING-FILE", "ZIP-UNREFERENCED"} <= validate(twice).rule_ids()


def test_members_are_found_by_one_rule():
    members = Members(["project.qde", "Sources/A.txt", "sources/b.txt", "deep/er/C.txt", "x/D.txt", "y/D.txt",
                       "sources/D.txt", "__MACOSX/E.txt"])
    assert members.find("a.txt") == "Sources/A.txt"
    assert members.find("sources\\b.txt") == "sources/b.txt"
    assert members.find("C.txt") == "deep/er/C.txt"
    assert members.find("D.txt") == "sources/D.txt"
    assert members.find("E.txt") is None


def test_evidence_builds_each_map_once_and_only_when_asked():
    text, spans = lines_with_emoji("line", 10)
    evidence = TextEvidence(text)
    assert evidence.differs("utf16") and evidence.differs("crlf") and not evidence.differs("lf")
    assert evidence._maps == {}  # deciding that a unit differs builds no map
    guess = evidence.guess([(s, e, name) for s, e, name in spans])
    assert guess.unit == "codepoint" and not guess.changed and list(guess.scores) == ["codepoint"]
    assert evidence._maps == {}  # code points explain every span: no other unit was tried
    assert evidence.map("utf16") is evidence.map("utf16")


def test_a_batch_reports_in_the_order_of_its_files(tmp_path):
    text, spans = lines_with_emoji("line", 3)
    for n in range(7):
        write_qdpx(tmp_path / f"p{n}.qdpx", "hand", [("s", text, spans)])
    (tmp_path / "p3.qdpx").write_bytes(b"not a zip")
    files = expand_paths([tmp_path])
    seen: list[str] = []
    reports = validate_many(files, jobs=2, progress=lambda report: seen.append(report.file))
    assert seen == [str(f) for f in files] == [r.file for r in reports]
    assert [r.valid for r in reports] == [True, True, True, False, True, True, True]


def test_the_core_catalogue_names_no_reader_rule_and_the_formats_declare_theirs(tmp_path):
    from qdaconv.registry import default_registry
    from qdaconv.validation import RULES, catalogue

    core_text = repr(list(RULES.values()))
    reader_rules = {rule.id for rule in default_registry().get("refi-qdpx").rules}
    assert {"REFI-FILE-MISSING", "REFI-PATH-VARIANT", "REFI-POSITIONS"} <= reader_rules
    assert not any(rule_id in core_text for rule_id in reader_rules)
    everything = catalogue()
    assert set(RULES) | reader_rules <= set(everything)
    assert everything["REFI-FILE-MISSING"].superseded_by == ("ZIP-MISSING-FILE",)
    # a file the project names but the zip lacks: the validator's finding replaces the reader's
    text, spans = lines_with_emoji("line", 3)
    path = tmp_path / "missing.qdpx"
    write_qdpx(path, "hand", [("gone", text, spans)], folder="sources")
    with zipfile.ZipFile(path) as archive, zipfile.ZipFile(tmp_path / "cut.qdpx", "w") as out:
        for info in archive.infolist():
            if not info.filename.startswith("sources/"):
                out.writestr(info, archive.read(info))
    rules = validate(tmp_path / "cut.qdpx").rule_ids()
    assert "ZIP-MISSING-FILE" in rules and "REFI-FILE-MISSING" not in rules


def test_selections_and_codings_sharing_guids_are_found():
    from qdaconv.model import Case, Code, Coding

    code = Code(new_guid(), "plan")
    text, spans = lines_with_emoji("line", 3)
    selections = [Selection(new_guid(), start=s, end=e, codings=[Coding(new_guid(), code.guid)])
                  for s, e, _name in spans]
    selections[1].guid = selections[0].guid.lower()  # the same GUID in another case
    selections[2].codings[0].guid = selections[2].guid  # a coding sharing its selection's GUID
    source = Source(new_guid(), name="s", plain_text=text, selections=selections)
    case = Case(new_guid(), "anna", selection_refs=[selections[2].guid], source_refs=[selections[0].codings[0].guid])
    issues = model_issues(Project(codes=[code], sources=[source], cases=[case]))
    found = {(issue.rule, issue.message.split(":")[0]) for issue in issues}
    assert ("GUID-DUPLICATE", f"GUID {selections[0].guid.lower()} is used by 2 PlainTextSelection objects") in found
    assert ("GUID-SHARED", f"GUID {selections[2].guid.lower()} is shared by PlainTextSelection and Coding") in found
    wrong = [issue for issue in issues if issue.rule == "REF-WRONG-KIND"]
    assert len(wrong) == 1 and "is a Coding, not" in wrong[0].message


def test_the_streaming_schema_check_never_expands_entities(tmp_path):
    """A declaration hidden behind a prolog longer than the streamed check looks at is still refused unread."""
    from qdaconv.plugins.refi.checks import check_file
    from qdaconv.validation.schema import load_schema, stream_check

    padding = "<!--" + "x" * (2 << 20) + "-->"
    hidden = (f'<?xml version="1.0"?>{padding}<!DOCTYPE Project [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
              f'<Project xmlns="{NS}" name="&secret;"/>')
    path = tmp_path / "hidden.qde"
    path.write_text(hidden, encoding="utf-8")
    with open(path, "rb") as stream:
        assert not stream_check(stream, load_schema("Project-mrt2019.xsd"), [], [f"{{{NS}}}Project"],
                                lambda element: None).valid
    issues = check_file(path, "refi-qde")  # parsed whole then, with entities off: refused or malformed, unexpanded
    assert {issue.rule for issue in issues} <= {"XML-UNSAFE", "XML-MALFORMED"} and issues
    assert "root:" not in str(issues)
    plain = tmp_path / "plain.qde"
    plain.write_text(f'<?xml version="1.0"?><Project xmlns="{NS}" name="p"/>', encoding="utf-8")
    with open(plain, "rb") as stream:
        assert stream_check(stream, load_schema("Project-mrt2019.xsd"), [], [f"{{{NS}}}Project"],
                            lambda element: None).valid


def test_the_evidence_guess_agrees_with_guess_unit():
    import random

    from qdaconv.positions import Span, guess_on_texts, guess_unit

    rng = random.Random(7)
    pieces = ["plan ", "we ", "naïve ", "🎉 ", "\n", "\r\n", "“quoted” ", "team. "]
    for _ in range(200):
        texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(5, 40))) for _ in range(rng.randint(1, 3))]
        samples, spans = [], []
        for text in texts:
            own = []
            for _ in range(rng.randint(0, 12)):
                start = rng.randint(0, len(text))
                end = rng.randint(start, len(text) + 3)
                name = text[start:start + rng.randint(0, 12)] if rng.random() < 0.7 else None
                own.append((start, end, name))
                spans.append(Span(text, start, end, name))
            samples.append((TextEvidence(text), own))
        for preferred in ("codepoint", "utf16", "lf", "crlf"):
            expected, found = guess_unit(spans, preferred), guess_on_texts(samples, preferred)
            assert (found.unit, found.changed) == (expected.unit, expected.changed)


def test_evidence_is_shared_only_when_every_text_fits():
    """A small project's texts are all kept for the rules; a large one's none (a share would save little)."""
    from qdaconv.positions import EvidenceCache

    small = EvidenceCache(100)
    texts = [TextEvidence("x" * 40), TextEvidence("y" * 40)]
    for number, evidence in enumerate(texts):
        small.put(number, evidence)
    assert [small.take(0), small.take(1)] == texts
    large = EvidenceCache(100)
    for number, evidence in enumerate([*texts, TextEvidence("z" * 40)]):
        large.put(number, evidence)
    assert [large.take(number) for number in range(3)] == [None, None, None]
