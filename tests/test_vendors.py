"""The vendor spreadsheet and CSV exports: detection by header row, reading, placing excerpts, writing codebooks."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from conftest import FIXTURES

import qdaconv
from qdaconv.errors import FormatError, ReadError
from qdaconv.model import Code, Project, coded_segments, walk_codes, walk_codings, walk_selections
from qdaconv.registry import default_registry

VENDORS = FIXTURES / "vendors"
SOURCES = VENDORS / "sources"

#: fixture -> (format, codes, sources, selections, codings, users, sets, variables), read with sources=
EXPECTED = {
    "nvivo-codebook.xlsx": ("nvivo-codebook-xlsx", 12, 0, 0, 0, 0, 0, 0),
    "nvivo-codebook-nested.xlsx": ("nvivo-codebook-xlsx", 12, 0, 0, 0, 0, 0, 0),
    "nvivo-nodes.csv": ("nvivo-codebook-xlsx", 12, 0, 0, 0, 0, 0, 0),
    "maxqda-segments.xlsx": ("maxqda-segments-xlsx", 12, 3, 11, 12, 2, 2, 0),
    "maxqda24-segments.xlsx": ("maxqda-segments-xlsx", 12, 3, 11, 12, 2, 2, 0),
    "maxqda-segments-de.csv": ("maxqda-segments-csv", 12, 3, 11, 12, 2, 2, 0),
    "maxqda-codebook.xlsx": ("maxqda-codebook-xlsx", 12, 0, 0, 0, 0, 0, 0),
    "atlasti-quotations.xlsx": ("atlasti-quotations", 9, 3, 11, 12, 2, 2, 0),
    "atlasti-quotations-semicolon.csv": ("atlasti-quotations", 9, 3, 11, 12, 2, 2, 0),
    "atlasti-quotations-tab.csv": ("atlasti-quotations", 9, 3, 11, 12, 2, 2, 0),
    "atlasti-codes.xlsx": ("atlasti-codes", 12, 0, 0, 0, 0, 2, 0),
    "dedoose-excerpts.xlsx": ("dedoose-excerpts", 12, 3, 11, 12, 2, 0, 2),
    "dedoose-codes.xlsx": ("dedoose-codes", 12, 0, 0, 0, 0, 0, 0),
    "taguette-codebook.csv": ("taguette-codebook-csv", 12, 0, 0, 0, 0, 0, 0),
    "taguette-highlights.csv": ("taguette-highlights-csv", 12, 3, 11, 12, 0, 0, 0),
    "qualcoder-codebook.csv": ("qualcoder-codebook-csv", 12, 0, 0, 0, 0, 0, 0),
    "qualcoder-segments.csv": ("qualcoder-segments-csv", 12, 4, 11, 13, 2, 0, 1),
}

VENDOR_FORMATS = {
    "nvivo-codebook-xlsx": True, "maxqda-segments-xlsx": False, "maxqda-segments-csv": False,
    "maxqda-codebook-xlsx": True, "atlasti-quotations": False, "atlasti-codes": False,
    "dedoose-excerpts": False, "dedoose-codes": False, "taguette-codebook-csv": True,
    "taguette-highlights-csv": False, "qualcoder-codebook-csv": False, "qualcoder-segments-csv": False,
}


def paths(project: Project) -> list[tuple[str, ...]]:
    return [entry.path for entry in walk_codes(project)]


def tree(project: Project) -> dict[tuple[str, ...], tuple]:
    return {e.path: (e.code.codable, e.code.color, e.code.description) for e in walk_codes(project)}


def test_every_vendor_format_is_registered_and_never_primary():
    registry = default_registry()
    for name, writable in VENDOR_FORMATS.items():
        fmt = registry.get(name)
        assert fmt.can_read and fmt.can_write == writable, name
        assert not fmt.primary and not fmt.keeps_guids, name


def test_every_fixture_is_listed():
    on_disk = {p.name for p in VENDORS.iterdir() if p.is_file() and p.suffix in {".xlsx", ".csv"}}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_is_detected_and_read(name):
    fmt, codes, sources, selections, codings, users, sets, variables = EXPECTED[name]
    path = VENDORS / name
    assert qdaconv.detect(path).name == fmt
    project = qdaconv.read(path, sources=SOURCES)
    counts = (len(paths(project)), len(project.sources), len(list(walk_selections(project))),
              len(list(walk_codings(project))), len(project.users), len(project.sets), len(project.variables))
    assert counts == (codes, sources, selections, codings, users, sets, variables)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sniff_scores_separate_the_layouts(name):
    scores = sorted((fmt.sniff(VENDORS / name), fmt.name) for fmt in default_registry() if fmt.can_read)
    (second, _), (best, winner) = scores[-2], scores[-1]
    assert winner == EXPECTED[name][0]
    assert best - second >= 0.15, scores[-3:]


def test_sniff_leaves_other_files_alone(tmp_path):
    text = tmp_path / "notes.csv"
    text.write_text("date,temperature\n2024-01-01,3\n", encoding="utf-8")
    binary = tmp_path / "picture.xlsx"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    for fmt in default_registry():
        if fmt.name in VENDOR_FORMATS:
            assert fmt.sniff(text) == 0.0 and fmt.sniff(binary) == 0.0
            assert fmt.sniff(tmp_path / "missing.csv") == 0.0


#: Tables that share a word or two with some layout's header but are about something else.
UNRELATED = {
    "people.csv": "name,age\nAnn,34\n",  # `name` is a Taguette, NVivo and ATLAS.ti alias
    "contacts.csv": "Name,Description,Email,Phone,Age\nAnn,lead,ann@example.org,123,34\n",
    "codes.csv": "code\nA12\nB07\n",  # one matching column is a coincidence, not a layout
    "inventory.csv": "ID;Document;Codes;Shelf;Room;Owner;Bought;Price\n1;a;x;2;B;Ann;2020;3\n",
}


@pytest.mark.parametrize("name", sorted(UNRELATED))
def test_a_table_that_only_shares_column_names_is_claimed_by_no_vendor(tmp_path, name):
    path = tmp_path / name
    path.write_text(UNRELATED[name], encoding="utf-8")
    assert {fmt.name: fmt.sniff(path) for fmt in default_registry() if fmt.name in VENDOR_FORMATS} == \
        dict.fromkeys(VENDOR_FORMATS, 0.0)
    with pytest.raises(FormatError, match="not a format qdaconv can read; pass --from"):
        qdaconv.detect(path)


def test_an_unrelated_csv_is_refused_on_the_command_line(tmp_path, cli):
    path = tmp_path / "people.csv"
    path.write_text(UNRELATED["people.csv"], encoding="utf-8")
    info = cli("info", str(path))
    assert info.returncode == 2 and "not a format qdaconv can read; pass --from" in info.stderr
    checked = cli("validate", str(path))
    assert checked.returncode == 1 and "FORMAT-UNKNOWN" in checked.stdout + checked.stderr


def test_a_header_convinces_with_two_known_columns_and_no_more_unknown_than_known():
    from qdaconv.plugins.vendors.dedoose import EXCERPTS
    from qdaconv.plugins.vendors.tabular import match_header
    from qdaconv.plugins.vendors.taguette import CODEBOOK

    assert match_header(CODEBOOK, ["tag", "description"]).score() > 0
    assert match_header(CODEBOOK, ["tag", "description", "colour", "group"]).score() > 0  # two and two
    assert match_header(CODEBOOK, ["tag", "description", "a", "b", "c"]).score() == 0
    assert match_header(CODEBOOK, ["tag"]).score() == 0
    assert match_header(CODEBOOK, ["description", "number of highlights"]).score() == 0  # `tag` is required
    # an open layout expects descriptor columns beside its own
    header = ["Media Title", "Excerpt Copy", "school", "district", "grade", "role"]
    assert match_header(EXCERPTS, header).score() > 0


def test_a_one_column_codebook_is_read_when_its_format_is_named(tmp_path):
    path = tmp_path / "tags.csv"
    path.write_text("Exported tags\ntag\nConnecting\nConnecting > Relational connecting\n", encoding="utf-8")
    with pytest.raises(FormatError):
        qdaconv.detect(path)
    project = qdaconv.read(path, "taguette-codebook-csv")
    assert paths(project) == [("Connecting",), ("Connecting", "Relational connecting")]


# ---------------------------------------------------------------- placing excerpts


def test_excerpts_are_placed_in_the_source_text():
    project = qdaconv.read(VENDORS / "maxqda-segments.xlsx", sources=SOURCES)
    anna = next(s for s in project.sources if s.name == "Anna interview 1")
    assert anna.plain_text == (SOURCES / "Anna interview 1.txt").read_text(encoding="utf-8")
    for selection in anna.selections:
        assert anna.plain_text[selection.start:selection.end] in selection.name.rstrip("…") or \
            selection.name.rstrip("…") in anna.plain_text[selection.start:selection.end]
    broker = [s for s in anna.selections if "honest broker" in (s.name or "")]
    assert len(broker) == 1 and len(broker[0].codings) == 2  # two rows, one excerpt, two codes
    emoji = next(s for s in anna.selections if "directions" in (s.name or ""))
    assert anna.plain_text[emoji.end - 1] == "😟"  # code points, not UTF-16 units


def test_an_excerpt_with_other_white_space_is_still_placed():
    project = qdaconv.read(VENDORS / "maxqda-segments.xlsx", sources=SOURCES)
    neil = next(s for s in project.sources if s.name == "Neil interview 1")
    vision = next(s for s in neil.selections if (s.name or "").startswith("I keep coming back"))
    assert neil.plain_text[vision.start:vision.end] == \
        "I keep coming back to the picture of care closer to home; that is our vision."


def test_excerpts_not_found_are_reported_and_kept():
    project = qdaconv.read(VENDORS / "taguette-highlights.csv", sources=SOURCES)
    rules = [w.rule for w in project.warnings]
    assert rules == ["VENDOR-EXCERPT-NOT-FOUND"]
    assert "GPs on board" in project.warnings[0].message
    overflow = next(s for s in project.sources if s.name == "Neil interview 1 [excerpts not found]")
    assert overflow.plain_text == "We never did get the GPs on board."
    assert [c.code for c in overflow.selections[0].codings]


def test_without_sources_each_document_is_a_stand_in_of_its_excerpts():
    project = qdaconv.read(VENDORS / "atlasti-quotations.xlsx")
    assert [w.rule for w in project.warnings] == ["VENDOR-TEXT-ONLY"]
    for source in project.sources:
        assert "Stand-in" in source.description
        for selection in source.selections:
            excerpt = source.plain_text[selection.start:selection.end]
            assert excerpt and selection.name.rstrip("…") in excerpt + "…"
    segments = coded_segments(project)
    assert len(segments) == 12 and all(s.text for s in segments)


def test_quotation_rows_sharing_an_id_are_one_selection(tmp_path):
    project = qdaconv.read(VENDORS / "atlasti-quotations-tab.csv")
    anna = next(s for s in project.sources if s.name == "Anna interview 1")
    assert sorted(len(s.codings) for s in anna.selections) == [1, 1, 1, 1, 1, 2]


# ---------------------------------------------------------------- hierarchies, codes, columns


def test_every_codebook_layout_gives_the_same_tree():
    reference = tree(qdaconv.read(VENDORS / "maxqda-codebook.xlsx"))
    assert ("In vivo", "honest broker") in reference
    for name in ("nvivo-codebook.xlsx", "nvivo-codebook-nested.xlsx", "dedoose-codes.xlsx",
                 "taguette-codebook.csv"):
        found = tree(qdaconv.read(VENDORS / name))
        assert {p: d[2] for p, d in found.items()} == {p: d[2] for p, d in reference.items()}, name
    colours = {p: d[1] for p, d in tree(qdaconv.read(VENDORS / "nvivo-nodes.csv")).items() if d[1]}
    assert colours == {("Connecting",): "#1F77B4", ("Connecting", "Relational connecting"): "#AEC7E8",
                       ("Disconnection",): "#D62728", ("Role-modelling",): "#2CA02C"}


def test_maxqda_versions_and_languages_agree():
    def segment_rows(name: str) -> list[tuple]:
        project = qdaconv.read(VENDORS / name, sources=SOURCES)
        return sorted((s.source, s.code_path, s.start, s.coder) for s in coded_segments(project))

    older = segment_rows("maxqda-segments.xlsx")
    assert older == segment_rows("maxqda24-segments.xlsx") == segment_rows("maxqda-segments-de.csv")
    project = qdaconv.read(VENDORS / "maxqda-segments-de.csv")
    created = {c.created for _s, _sel, c in walk_codings(project)}
    assert min(created).isoformat() == "2023-03-01T10:15:00"  # day-first German dates
    groups = {g.name: len(g.member_sources) for g in project.sets}
    assert groups == {"Directors": 1, "Programme managers": 1}  # blank grouped cells filled down


def test_german_headers_are_accepted_and_windows_1252_is_decoded():
    project = qdaconv.read(VENDORS / "atlasti-quotations-semicolon.csv")
    names = [selection.name for _source, selection in walk_selections(project)]
    assert any("“honest broker”" in (n or "") for n in names)
    assert "VENDOR-ENCODING" in [w.rule for w in project.warnings]


def test_atlasti_colon_codes_can_become_a_tree():
    flat = qdaconv.read(VENDORS / "atlasti-codes.xlsx")
    assert ("Connecting: Relational connecting",) in paths(flat)
    nested = qdaconv.read(VENDORS / "atlasti-codes.xlsx", colon_tree="true")
    assert ("Connecting", "Relational connecting") in paths(nested)
    themes = next(s for s in nested.sets if s.name == "Themes")
    assert len(themes.member_codes) == 2


def test_qualcoder_categories_are_not_codable_and_media_codes_the_whole_file():
    project = qdaconv.read(VENDORS / "qualcoder-segments.csv", sources=SOURCES)
    found = tree(project)
    assert found[("Connecting",)][0] is False and found[("Connecting", "Relational connecting")][0] is True
    recording = next(s for s in project.sources if s.name == "Focus group recording")
    assert len(recording.codings) == 1 and not recording.selections
    assert [v.name for v in project.variables] == ["Role"]


def test_dedoose_descriptors_become_variables_and_weights_are_reported():
    project = qdaconv.read(VENDORS / "dedoose-excerpts.xlsx", sources=SOURCES)
    assert sorted(v.name for v in project.variables) == ["Pair", "Role"]
    anna = next(s for s in project.sources if s.name == "Anna interview 1")
    assert len(anna.variable_values) == 2
    assert any(w.rule == "VENDOR-NOT-CARRIED" and "weight" in w.message for w in project.warnings)


# ---------------------------------------------------------------- rejections


def test_a_file_of_another_layout_is_rejected_with_its_columns_and_its_real_format():
    with pytest.raises(ReadError) as caught:
        qdaconv.read(VENDORS / "maxqda-segments.xlsx", "nvivo-codebook-xlsx")
    message = str(caught.value)
    assert "missing column(s) 'Name'" in message and "unexpected column(s)" in message
    assert "--from maxqda-segments-xlsx" in message
    with pytest.raises(ReadError) as caught:
        qdaconv.read(VENDORS / "taguette-codebook.csv", "taguette-highlights-csv")
    assert "'id', 'document', 'content'" in str(caught.value)
    assert "--from taguette-codebook-csv" in str(caught.value)


def test_a_csv_is_not_read_as_an_excel_only_format():
    with pytest.raises(ReadError, match="read from xlsx, not csv"):
        qdaconv.read(VENDORS / "maxqda-segments-de.csv", "maxqda-segments-xlsx")


def test_an_unreadable_header_says_so(tmp_path):
    path = tmp_path / "quotations.csv"
    path.write_text("??;????????;????\n1:1;x;y\n", encoding="utf-8")
    with pytest.raises(ReadError, match="header row is unreadable"):
        qdaconv.read(path, "atlasti-quotations")


def test_an_old_binary_workbook_is_refused_clearly(tmp_path):
    path = tmp_path / "codes.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(ReadError, match=r"\.xls"):
        qdaconv.read(path, "maxqda-codebook-xlsx")


def test_formulas_are_never_evaluated(tmp_path):
    path = tmp_path / "codes.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.append(["Code", "Memo"])
    workbook.active.append(["Adapting", "=1+1"])
    workbook.save(path)
    project = qdaconv.read(path, "maxqda-codebook-xlsx")
    assert project.codes[0].description is None  # no value stored by a spreadsheet program, nothing computed


# ---------------------------------------------------------------- writing codebooks


def themed_project() -> Project:
    child = Code("C1", "=SUM(A1:A3)", description="+starts like a formula", color="#00FF00")
    odd = Code("C2", "@mention", description="'=already quoted")
    theme = Code("T1", "Connecting", codable=False, description="-theme", children=[child, odd],
                 color="#112233")
    return Project(name="themes", codes=[theme, Code("C3", "Adapting")])


@pytest.mark.parametrize("name,suffix,colours", [("nvivo-codebook-xlsx", ".xlsx", True),
                                                 ("maxqda-codebook-xlsx", ".xlsx", False),
                                                 ("taguette-codebook-csv", ".csv", False)])
def test_codebooks_round_trip_their_tree(tmp_path, name, suffix, colours):
    project = themed_project()
    target = tmp_path / f"codes{suffix}"
    report = qdaconv.write(project, target, name)
    back = qdaconv.read(target, name)
    expected = tree(project)
    if not colours:
        expected = {p: (c, None, d) for p, (c, _colour, d) in expected.items()}
        assert "code colours" in report.summary()
    assert tree(back) == expected


def test_formula_like_cells_are_neutralised_when_written(tmp_path):
    xlsx = tmp_path / "codes.xlsx"
    qdaconv.write(themed_project(), xlsx, "maxqda-codebook-xlsx")
    sheet = openpyxl.load_workbook(xlsx).active  # not data_only: a formula would show as one
    cells = [cell for row in sheet.iter_rows() for cell in row if isinstance(cell.value, str)]
    assert all(cell.data_type == "s" for cell in cells)
    assert any(cell.value == "Connecting\\=SUM(A1:A3)" for cell in cells)
    assert next(c for c in cells if c.value == "-theme").quotePrefix
    taguette = tmp_path / "codes.csv"
    qdaconv.write(themed_project(), taguette, "taguette-codebook-csv")
    rows = list(csv.reader(taguette.open(encoding="utf-8-sig")))
    assert rows[1][:2] == ["Connecting", "'-theme"]
    assert rows[3][1] == "''=already quoted"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_names_holding_the_separator_are_reported_as_loss(tmp_path):
    project = Project(codes=[Code("A", "Before > after", children=[Code("B", "child")])])
    report = qdaconv.write(project, tmp_path / "codes.csv", "taguette-codebook-csv")
    assert "path separator" in report.summary()


def test_the_nvivo_writer_uses_hierarchical_names(tmp_path):
    target = tmp_path / "codebook.xlsx"
    qdaconv.write(themed_project(), target, "nvivo-codebook-xlsx")
    rows = list(openpyxl.load_workbook(target, read_only=True).active.iter_rows(values_only=True))
    assert rows[0] == ("Name", "Description", "Files", "References", "Color", "Codable")
    assert rows[2][0] == "Codes\\\\Connecting\\=SUM(A1:A3)" and rows[1][5] == "No"


def test_reader_options_pass_through_convert(tmp_path):
    target = tmp_path / "out.xlsx"
    qdaconv.convert(VENDORS / "atlasti-codes.xlsx", target, to="maxqda-codebook-xlsx", colon_tree="true")
    assert ("Disconnection", "Workstreams not aligned") in paths(qdaconv.read(target, "maxqda-codebook-xlsx"))


def test_sources_folder_must_exist(tmp_path):
    with pytest.raises(ReadError, match="sources folder does not exist"):
        qdaconv.read(VENDORS / "taguette-highlights.csv", sources=tmp_path / "nowhere")


def test_paths_are_reported_relative_to_what_was_read():
    project = qdaconv.read(VENDORS / "qualcoder-segments.csv", sources=SOURCES)
    assert all(w.file and Path(w.file).name == "qualcoder-segments.csv" for w in project.warnings)
