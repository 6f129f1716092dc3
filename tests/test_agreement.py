"""Agreement between coders: kappa checked against scikit-learn, alpha against hand-worked coincidence matrices."""

from __future__ import annotations

import itertools
import json
import math
import random
from fractions import Fraction

import krippendorff
import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

import qdaconv
from qdaconv.agreement import (
    AgreementError,
    CharTable,
    agreement,
    agreement_between,
    coders,
    krippendorff_alpha,
    value_counts,
)
from qdaconv.model import Code, Coding, Project, Selection, Source, User, guid_key, walk_sources

# ------------------------------------------------------------------ vectors built here, from the raw selections


def _coder_of(coding: Coding, selection: Selection) -> str:
    return guid_key(coding.creating_user or selection.creating_user)


def reference_vectors(project: Project, user_a: str, user_b: str) -> tuple[list[Source], dict[str, tuple]]:
    """Shared texts and, per code, the two coders' 0/1 vectors over every character of them."""
    texts = [s for s in walk_sources(project) if s.kind == "Text"]
    coded_by = {user_a: set(), user_b: set()}
    for source in texts:
        for selection in source.selections:
            for coding in selection.codings:
                if _coder_of(coding, selection) in coded_by:
                    coded_by[_coder_of(coding, selection)].add(source.guid)
    shared = [s for s in texts if s.guid in coded_by[user_a] and s.guid in coded_by[user_b]]
    codes = sorted({guid_key(c.code) for s in shared for sel in s.selections for c in sel.codings
                    if _coder_of(c, sel) in coded_by})
    vectors = {}
    for code in codes:
        parts_a, parts_b = [], []
        for source in shared:
            a = np.zeros(len(source.text), dtype=int)
            b = np.zeros(len(source.text), dtype=int)
            for selection in source.selections:
                for coding in selection.codings:
                    if guid_key(coding.code) != code:
                        continue
                    target = {user_a: a, user_b: b}.get(_coder_of(coding, selection))
                    if target is not None:
                        target[selection.start:selection.end] = 1
            parts_a.append(a)
            parts_b.append(b)
        vectors[code] = (np.concatenate(parts_a), np.concatenate(parts_b))
    return shared, vectors


def assert_matches_sklearn(result, vectors) -> None:
    assert {guid_key(c.guid) for c in result.codes} == set(vectors)
    for code in result.codes:
        a, b = vectors[guid_key(code.guid)]
        expected = cohen_kappa_score(a, b)
        if math.isnan(expected):
            assert code.characters.kappa is None
        else:
            assert code.characters.kappa == pytest.approx(expected, abs=1e-9), code.name
        assert code.characters.percent == pytest.approx(100 * float(np.mean(a == b)), abs=1e-9)
        assert code.characters.both == int(np.sum(a & b))
    every_a = np.concatenate([v[0] for v in vectors.values()])
    every_b = np.concatenate([v[1] for v in vectors.values()])
    assert result.overall.characters.kappa == pytest.approx(cohen_kappa_score(every_a, every_b), abs=1e-9)


def test_the_study_has_three_coders(study_path):
    assert [c.name for c in coders(qdaconv.read(study_path))] == ["Priya Shah", "Tomás Ruiz", "Helen Carter"]


def test_kappa_on_the_study_agrees_with_sklearn_for_every_pair_of_coders(study_path):
    project = qdaconv.read(study_path)
    for first, second in itertools.combinations(coders(project), 2):
        result = agreement(project, (first.name, second.name))
        shared, vectors = reference_vectors(project, guid_key(first.guid), guid_key(second.guid))
        assert [g for g, _n, _c in result.sources] == sorted((s.guid for s in shared),
                                                           key=lambda g: next(s.name for s in shared if s.guid == g))
        assert_matches_sklearn(result, vectors)


# ------------------------------------------------------------------ made-up coder pairs

TEXT = ("Interviewer: How did the programme start? Anna: We trusted each other, and the board listened. "
        "Later the budget got tight and people stopped coming to the meetings. Interviewer: What changed? "
        "Anna: Honestly, the vision was never shared by the executives, so the workstreams drifted apart.\n")


def made_up(a_spans: list[tuple[int, int, str]], b_spans: list[tuple[int, int, str]]) -> Project:
    """Two texts (the same words twice), codes X, Y, Z, and each coder's (start, end, code) spans in both."""
    users = [User("A0000000-0000-4000-8000-000000000001", "Ann"), User("B0000000-0000-4000-8000-000000000002", "Bo")]
    codes = [Code(f"C0000000-0000-4000-8000-00000000000{i}", name) for i, name in enumerate("XYZ", start=1)]
    by_name = {code.name: code.guid for code in codes}
    sources = []
    counter = itertools.count(1)
    for number in (1, 2):
        source = Source(f"50000000-0000-4000-8000-00000000000{number}", "Text", f"interview {number}",
                        plain_text=TEXT * number)
        for user, spans in ((users[0], a_spans), (users[1], b_spans)):
            for start, end, name in spans:
                n = next(counter)
                source.selections.append(Selection(
                    f"E0000000-0000-4000-8000-{n:012d}", start=start, end=end, creating_user=user.guid,
                    codings=[Coding(f"F0000000-0000-4000-8000-{n:012d}", by_name[name], user.guid)]))
        sources.append(source)
    return Project(name="made up", users=users, codes=codes, sources=sources)


BASE = [(13, 43, "X"), (50, 97, "Y"), (98, 168, "Z"), (203, 230, "X")]

PAIRS = {
    "identical": BASE,
    "shifted boundaries": [(15, 43, "X"), (50, 95, "Y"), (90, 168, "Z"), (200, 233, "X")],
    "dropped excerpts": BASE[:2],
    "added excerpts": [*BASE, (236, 290, "Y"), (0, 12, "Z")],
    "recoded excerpts": [(13, 43, "Y"), (50, 97, "Y"), (98, 168, "X"), (203, 230, "X")],
    "everything at once": [(16, 40, "X"), (98, 168, "X"), (236, 290, "Y"), (203, 233, "Z")],
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_kappa_on_made_up_pairs_agrees_with_sklearn(name):
    project = made_up(BASE, PAIRS[name])
    result = agreement(project, ("Ann", "Bo"))
    _shared, vectors = reference_vectors(project, guid_key(project.users[0].guid), guid_key(project.users[1].guid))
    assert_matches_sklearn(result, vectors)
    if name == "identical":
        assert all(code.characters.kappa == 1 for code in result.codes)
        assert result.overall.segments.percent == 100 and result.overall.alpha == pytest.approx(1)


def test_segments_match_by_overlap_of_the_two_spans_together():
    # X: 13-43 against 15-43 overlaps 28 of 30 characters (93%); Z: 98-168 against 90-168 70 of 78 (90%)
    project = made_up(BASE, PAIRS["shifted boundaries"])
    codes = {code.name: code for code in agreement(project, ("Ann", "Bo"), overlap=0.9).codes}
    assert (codes["X"].segments.matched_a, codes["X"].segments.segments_a) == (2, 4)  # 27 of 33 is 82%
    assert codes["Z"].segments.matched_a == 0  # 70/78 = 0.897 < 0.9
    looser = {code.name: code for code in agreement(project, ("Ann", "Bo"), overlap=0.8).codes}
    assert looser["X"].segments.matched_a == 4 and looser["Z"].segments.matched_b == 2
    assert looser["Y"].segments.percent == 100  # 45 of 47
    # Brennan and Prediger: chance is 1 / the number of codes compared (3)
    overall = looser["X"].segments
    expected = ((overall.matched_a + overall.matched_b) / (overall.segments_a + overall.segments_b) - 1 / 3) / (2 / 3)
    assert overall.kappa(3) == pytest.approx(expected)


def test_dropped_excerpts_are_unmatched_on_one_side_only():
    result = agreement(made_up(BASE, PAIRS["dropped excerpts"]), ("Ann", "Bo"))
    codes = {code.name: code for code in result.codes}
    assert (codes["Z"].segments.segments_a, codes["Z"].segments.segments_b) == (2, 0)
    assert codes["Z"].characters.kappa == 0 and codes["Y"].characters.kappa == 1
    assert codes["X"].segments.as_dict(3)["percent_b"] == 100 and codes["X"].segments.as_dict(3)["percent_a"] == 50


# ------------------------------------------------------------------ Krippendorff's alpha by hand


def hand_alpha(coincidences: np.ndarray) -> float:
    """Nominal alpha from a coincidence matrix: 1 - (n - 1) * sum(o_ck, c != k) / sum(n_c n_k, c != k)."""
    n_c = coincidences.sum(axis=1)
    n = n_c.sum()
    off = coincidences.sum() - np.trace(coincidences)
    expected_off = n_c.sum() ** 2 - (n_c ** 2).sum()
    return 1 - (n - 1) * off / expected_off


def test_alpha_of_one_table_matches_the_hand_computation():
    # 10 characters: 3 coded by both, 1 only by the first coder, 6 by neither.
    # Coincidences: o00 = 2*6 = 12, o11 = 2*3 = 6, o01 = o10 = 1; n0 = 13, n1 = 7, n = 20.
    # alpha = 1 - 19 * 2 / (2 * 13 * 7) = 1 - 38/182
    table = CharTable(both=3, only_a=1, only_b=0, neither=6)
    assert hand_alpha(np.array([[12, 1], [1, 6]])) == pytest.approx(1 - 38 / 182)
    assert krippendorff.alpha(value_counts=value_counts([table]), level_of_measurement="nominal") == \
        pytest.approx(1 - 38 / 182, abs=1e-12)
    assert krippendorff_alpha([table]) == pytest.approx(1 - 38 / 182, abs=1e-12)
    # the same characters one by one, as a coders x units matrix
    full = np.array([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]])
    assert krippendorff.alpha(reliability_data=full, level_of_measurement="nominal") == \
        pytest.approx(1 - 38 / 182, abs=1e-12)


def test_pooled_alpha_over_two_codes_matches_the_hand_computation():
    # code 1: both 2, only_a 1, only_b 1, neither 4; code 2: both 0, only_a 0, only_b 2, neither 6
    # o00 = 2*(4+6) = 20, o11 = 2*2 = 4, o01 = o10 = 1+1+2 = 4; n0 = 24, n1 = 8, n = 32
    tables = [CharTable(2, 1, 1, 4), CharTable(0, 0, 2, 6)]
    expected = 1 - 31 * 8 / (2 * 24 * 8)
    assert hand_alpha(np.array([[20, 4], [4, 4]])) == pytest.approx(expected)
    assert krippendorff_alpha(tables) == pytest.approx(expected, abs=1e-12)


def test_alpha_of_a_made_up_pair_equals_the_package_on_every_character():
    project = made_up(BASE, PAIRS["everything at once"])
    result = agreement(project, ("Ann", "Bo"))
    _shared, vectors = reference_vectors(project, guid_key(project.users[0].guid), guid_key(project.users[1].guid))
    for code in result.codes:
        a, b = vectors[guid_key(code.guid)]
        assert code.alpha == pytest.approx(krippendorff.alpha(reliability_data=np.vstack([a, b]),
                                                              level_of_measurement="nominal"), abs=1e-9)


def test_alpha_is_none_when_only_one_value_occurs():
    assert krippendorff_alpha([CharTable(0, 0, 0, 10)]) is None


# ------------------------------------------------------------------ what is left out


def test_fewer_than_two_coders_is_an_error():
    project = made_up(BASE, [])
    with pytest.raises(AgreementError, match="needs two coders"):
        agreement(project)


def test_coders_without_shared_texts_is_an_error_naming_the_texts():
    project = made_up(BASE, BASE)
    project.sources[0].selections = [s for s in project.sources[0].selections if s.creating_user.startswith("A")]
    project.sources[1].selections = [s for s in project.sources[1].selections if s.creating_user.startswith("B")]
    with pytest.raises(AgreementError, match="no text in common.*interview 1, interview 2"):
        agreement(project, ("Ann", "Bo"))


def test_a_third_coder_and_non_text_codings_are_named_as_left_out():
    project = made_up(BASE, BASE)
    third = User("C0000000-0000-4000-8000-0000000000FF", "Cy")
    project.users.append(third)
    project.sources[0].selections.append(Selection("E1000000-0000-4000-8000-000000000001", start=0, end=5,
                                                   codings=[Coding("F1000000-0000-4000-8000-000000000001",
                                                                   project.codes[0].guid, third.guid)]))
    project.sources.append(Source("50000000-0000-4000-8000-0000000000AA", "Picture", "photo", selections=[
        Selection("E2000000-0000-4000-8000-000000000001", "Picture", first_x=0, first_y=0, second_x=5, second_y=5,
                  codings=[Coding("F2000000-0000-4000-8000-000000000001", project.codes[0].guid,
                                  project.users[0].guid)])]))
    result = agreement(project)
    assert set(result.coders) == {"Ann", "Bo"}
    assert any("Cy" in note for note in result.left_out)
    assert "1 codings on Picture sources (left out)" in result.left_out


def test_two_files_match_texts_by_content_and_codes_by_path(tmp_path):
    first, second = made_up(BASE, []), made_up(PAIRS["shifted boundaries"], [])
    for source in second.sources:  # a program that makes new GUIDs on export
        source.guid = source.guid.replace("5000", "6000")
    for code in second.codes:
        code.guid = code.guid.replace("C000", "D000")
        for source in second.sources:
            for selection in source.selections:
                for coding in selection.codings:
                    if coding.code == code.guid.replace("D000", "C000"):
                        coding.code = code.guid
    by_files = agreement_between(first, second, ("ann.qdpx", "bo.qdpx"))
    together = agreement(made_up(BASE, PAIRS["shifted boundaries"]), ("Ann", "Bo"))
    assert [c.as_dict(3) for c in by_files.codes] == [c.as_dict(3) for c in together.codes]


# ------------------------------------------------------------------ the command line


def test_agree_json_has_one_object_per_code_with_every_figure(study_path, cli):
    done = cli("agree", str(study_path), "--coders", "Tomás Ruiz,Priya Shah", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["coders"] == ["Tomás Ruiz", "Priya Shah"] and data["overlap"] == 0.9
    assert data["codes"]
    assert {"guid", "name", "path", "characters", "segments", "alpha", "sources"} <= set(data["codes"][0])
    assert {"kappa", "percent", "both", "only_a", "only_b", "neither"} <= set(data["codes"][0]["characters"])
    assert {"percent_a", "percent_b", "kappa"} <= set(data["codes"][0]["segments"])
    assert "coded by only one of the coders" in done.stderr


def test_agree_text_is_sorted_by_kappa_and_names_the_least_agreed(study_path, cli, tmp_path):
    done = cli("agree", str(study_path), "--coders", "Helen Carter,Priya Shah", "--csv", str(tmp_path / "a.csv"))
    assert done.returncode == 0, done.stderr
    kappas = [float(line.split()[0]) for line in done.stdout.splitlines()[4:] if line[:7].strip()
              .replace("-", "").replace(".", "").isdigit()]
    assert kappas == sorted(kappas) and len(kappas) > 5
    assert "least agreement: " in done.stdout
    rows = (tmp_path / "a.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("code_guid,code,path,kappa") and rows[-1].split(",")[1] == "all codes"


@pytest.mark.parametrize("args, message", [
    (["fixtures/edge/media.qdpx"], "media.qdpx: the project has codings by Helen Carter: agreement needs two coders"),
    (["fixtures/study.qdpx", "--coders", "Helen Carter,Nobody"], "study.qdpx: no coder named 'Nobody'"),
    (["fixtures/study.qdpx", "fixtures/edge/media.qdpx"], "coded no text in common"),
])
def test_agree_refuses_what_it_cannot_compute_with_exit_2(args, message, cli):
    from conftest import ROOT

    done = cli("agree", *args, cwd=ROOT)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("qdaconv: error:") == 1
    assert message in done.stderr


def test_coders_with_two_files_is_a_usage_error_before_anything_is_read(cli):
    from conftest import ROOT

    done = cli("agree", "fixtures/study.qdpx", "no-such-file.qdpx", "--coders", "A,B", cwd=ROOT)
    assert done.returncode == 2 and "--coders chooses users inside one project" in done.stderr
    assert "no-such-file" not in done.stderr  # the second file was never opened


# ------------------------------------------------------------------ the report


def test_the_report_charts_per_code_kappa_for_each_pair_of_coders(study_path):
    from qdaconv.plugins.report import render_report

    page = render_report(qdaconv.read(study_path))
    section = page[page.index('<section id="agreement">'):]
    section = section[:section.index("</section>")]
    assert section.count("<h3>") == 3 and "Priya Shah and Tomás Ruiz" in section
    result = agreement(qdaconv.read(study_path), ("Priya Shah", "Tomás Ruiz"))
    first_chart = section[:section.index("</svg>")]
    assert first_chart.count("<rect ") == len(result.codes)
    lowest = result.by_kappa()[0]
    assert first_chart.index(lowest.path[-1]) < first_chart.index(result.by_kappa()[-1].path[-1])
    assert '<script' not in section


def test_the_report_has_no_agreement_section_with_one_coder():
    from qdaconv.plugins.report import render_report

    assert 'id="agreement"' not in render_report(made_up(BASE, []))
    assert 'id="agreement"' in render_report(made_up(BASE, PAIRS["recoded excerpts"]))


def test_codings_without_a_coder_are_named_as_left_out():
    project = made_up(BASE, PAIRS["recoded excerpts"])
    anonymous = project.sources[0].selections[0]
    anonymous.creating_user = anonymous.codings[0].creating_user = None
    result = agreement(project, ("Ann", "Bo"))
    assert "1 codings without a coder (no creating user) (left out)" in result.left_out


def test_transcript_selections_count_through_their_sync_points():
    from qdaconv.model import SyncPoint

    project = made_up([(13, 43, "X")], [(13, 43, "X")])
    points = [SyncPoint(f"90000000-0000-4000-8000-00000000000{n}", position, position * 10)
              for n, position in enumerate((13, 43, 50), start=1)]
    transcript = Source("70000000-0000-4000-8000-000000000001", "Transcript", "recording", plain_text=TEXT,
                        sync_points=points)
    for number, (user, last) in enumerate(((project.users[0], points[1]), (project.users[1], points[2])), start=1):
        transcript.selections.append(Selection(
            f"E3000000-0000-4000-8000-00000000000{number}", "Transcript", from_sync=points[0].guid,
            to_sync=last.guid, creating_user=user.guid,
            codings=[Coding(f"F3000000-0000-4000-8000-00000000000{number}", project.codes[1].guid, user.guid)]))
    project.sources.append(Source("70000000-0000-4000-8000-000000000002", "Audio", "recording",
                                  transcripts=[transcript]))
    result = agreement(project, ("Ann", "Bo"))
    assert "recording" in [name for _g, name, _c in result.sources]
    y = next(code for code in result.codes if code.name == "Y")
    assert (y.characters.both, y.characters.only_b, y.characters.only_a) == (30, 7, 0)


# ------------------------------------------------------------------ the fast path against a straightforward one


def straightforward(project: Project, user_a: str, user_b: str, overlap: float) -> dict[str, dict]:
    """Per code: the 2x2 character table of each shared text, from one 0/1 vector per coder and
    character, and the segments matched, from every pair of segments; as `agreement` counts them."""
    spans: dict[str, dict[str, set]] = {}  # text -> code -> {(side, start, end)}
    lengths, names = {}, {}
    for source in project.sources:
        length = len(source.text)
        for selection in source.selections:
            start, end = max(0, selection.start), min(selection.end, length)
            for coding in selection.codings:
                side = {user_a: 0, user_b: 1}.get(_coder_of(coding, selection))
                if side is not None and start < end:
                    spans.setdefault(source.guid, {}).setdefault(guid_key(coding.code), set()).add((side, start, end))
                    lengths[source.guid], names[source.guid] = length, source.name
    shared = [text for text, by_code in spans.items()
              if {side for found in by_code.values() for side, _s, _e in found} == {0, 1}]
    figures: dict[str, dict] = {}
    codes = {code for text in shared for code in spans[text]}
    for text in sorted(shared, key=lambda text: names[text]):
        for code in codes:  # every character of every shared text counts for every code
            found = spans[text].get(code, set())
            vectors = np.zeros((2, lengths[text]), dtype=bool)
            for side, start, end in found:
                vectors[side, start:end] = True
            a, b = vectors
            entry = figures.setdefault(code, {"tables": [], "segments": [0, 0, 0, 0], "a": [], "b": []})
            if found:
                entry["tables"].append((names[text], int(np.sum(a & b)), int(np.sum(a & ~b)), int(np.sum(~a & b)),
                                        int(np.sum(~a & ~b))))
            entry["a"].append(a)
            entry["b"].append(b)
            for side in (0, 1):
                mine = [(s, e) for d, s, e in found if d == side]
                theirs = [(s, e) for d, s, e in found if d != side]
                entry["segments"][side] += len(mine)
                entry["segments"][2 + side] += sum(
                    any(min(e, e2) - max(s, s2) > 0 and min(e, e2) - max(s, s2) >= (overlap - 1e-12) *
                        (max(e, e2) - min(s, s2)) for s2, e2 in theirs) for s, e in mine)
    return figures


def random_pair(rng: random.Random) -> Project:
    """Texts of various lengths, three codes, and two coders' spans: some the same, some shifted, some
    overlapping their own, some running past the end of the text, some empty."""
    project = made_up([], [])
    project.sources = [Source(f"50000000-0000-4000-8000-0000000000{n:02d}", "Text", f"text {n % 3}",
                              plain_text=TEXT * rng.randint(1, 4)) for n in range(rng.randint(1, 5))]
    counter = itertools.count(1)
    for source in project.sources:
        length = len(source.text)
        for _ in range(rng.randint(0, 25)):
            start = rng.randint(-3, length)
            end = start + rng.choice([0, 1, 3, 40, 200, rng.randint(1, length + 5)])
            spans = [(start, end)]
            if rng.random() < 0.5:  # the other coder's version
                spans.append((start + rng.randint(-6, 6), end + rng.randint(-6, 6)))
            for (first, last), user in zip(spans, rng.sample(project.users, len(spans)), strict=True):
                n = next(counter)
                source.selections.append(Selection(
                    f"E0000000-0000-4000-8000-{n:012d}", start=first, end=last, creating_user=user.guid,
                    codings=[Coding(f"F0000000-0000-4000-8000-{n:012d}", rng.choice(project.codes).guid)]))
    return project


@pytest.mark.parametrize("seed", range(40))
def test_the_figures_equal_a_straightforward_count_character_by_character_and_pair_by_pair(seed):
    rng = random.Random(seed)
    project = random_pair(rng)
    overlap = rng.choice([0.9, 0.5, 1.0, 0.01])
    user_a, user_b = (guid_key(user.guid) for user in project.users)
    expected = straightforward(project, user_a, user_b, overlap)
    try:
        result = agreement(project, ("Ann", "Bo"), overlap=overlap)
    except AgreementError:
        assert not expected
        return
    assert {guid_key(code.guid) for code in result.codes} == set(expected)
    for code in result.codes:
        figures = expected[guid_key(code.guid)]
        assert [(s.name, s.characters.both, s.characters.only_a, s.characters.only_b, s.characters.neither)
                for s in code.sources] == figures["tables"]
        segments = code.segments
        assert [segments.segments_a, segments.segments_b, segments.matched_a, segments.matched_b] == figures["segments"]
        a, b = np.concatenate(figures["a"]), np.concatenate(figures["b"])
        assert code.characters.both == int(np.sum(a & b)) and code.characters.neither == int(np.sum(~a & ~b))
        if a.any() or b.any():
            assert code.alpha == pytest.approx(krippendorff.alpha(reliability_data=np.vstack([a, b]).astype(int),
                                                                  level_of_measurement="nominal"), abs=1e-9)


def exact_coincidences(counts: np.ndarray) -> list[list[Fraction]]:
    """The coincidence matrix of value counts, in exact arithmetic (Krippendorff's definition)."""
    matrix = [[Fraction(0), Fraction(0)], [Fraction(0), Fraction(0)]]
    for row in counts.tolist():
        values = [int(v) for v in row]
        pairable = sum(values)
        if pairable < 2:
            continue
        for c in (0, 1):
            for k in (0, 1):
                matrix[c][k] += Fraction(values[c] * (values[k] - (c == k)), pairable - 1)
    return matrix


@pytest.mark.parametrize("table", [
    CharTable(0, 0, 0, 0), CharTable(0, 0, 0, 1), CharTable(1, 0, 0, 0), CharTable(0, 1, 0, 0), CharTable(0, 1, 1, 0),
    CharTable(3, 1, 0, 6), CharTable(1, 5, 4, 1), CharTable(2, 7, 0, 3), CharTable(0, 9, 0, 100),
    CharTable(5, 100, 80, 2), CharTable(40_000, 3_001, 2_000, 900_000), CharTable(10**6, 10**6, 10**6, 10**6),
    CharTable(2 * 10**9, 3 * 10**7, 10**7, 3 * 10**9)])
def test_reliability_data_give_exactly_the_coincidences_of_the_characters_in_a_few_units(table):
    counts = value_counts([table])
    disagree = table.only_a + table.only_b
    assert exact_coincidences(counts) == [[2 * table.neither, disagree], [disagree, 2 * table.both]]
    assert counts.max(initial=0) <= 2 ** 26  # every unit's share of the matrix is exact in float64
    if min(table.both, table.neither) >= disagree:
        assert len(counts) <= 2 + 2 * (disagree > 1) + (disagree % 2) + 2 * (table.neither + table.both) // 2 ** 25
    if table.characters <= 2_000:  # alpha as from one unit per character
        a = np.repeat([1, 1, 0, 0], [table.both, table.only_a, table.only_b, table.neither])
        b = np.repeat([1, 0, 1, 0], [table.both, table.only_a, table.only_b, table.neither])
        if len(set(a) | set(b)) > 1:
            assert krippendorff_alpha([table]) == pytest.approx(
                krippendorff.alpha(reliability_data=np.vstack([a, b]), level_of_measurement="nominal"), abs=1e-12)


def test_agree_json_is_what_json_dumps_with_an_indent_gives(study_path, cli):
    from qdaconv.plugins.coders import json_pieces

    done = cli("agree", str(study_path), "--coders", "Helen Carter,Priya Shah", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout == json.dumps(json.loads(done.stdout), indent=2, ensure_ascii=False) + "\n"
    for value in ({"a": [{"x": '}, {"', "y": "line\nbreak", "z": None}, {"x": 1.5, "y": True, "z": -0.0}],
                   "b": [], "c": {}, "d": [1, "2", None], "e": [[1], {"q": [{}]}], "f": "é\u2028\x00"},
                  [], {}, 1, "x", [{"a": 1}], [{"a": 1}, {}], [{}, {}], {"k": [{"a": {"b": 1}}]},
                  [float("nan"), 1e300], {"t": (1, (2, {"u": ()}))}, [(1, 2), ("a",)]):
        assert "".join(json_pieces(value)) == json.dumps(value, indent=2, ensure_ascii=False)
