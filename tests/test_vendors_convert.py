"""Vendor exports into REFI-QDA (schema-valid) and tidy tables, and the study's code tree through each codebook."""

from __future__ import annotations

import zipfile

import pytest
from conftest import FIXTURES, ROOT, STUDY
from lxml import etree

import qdaconv
from qdaconv.model import walk_codes
from qdaconv.registry import default_registry

VENDORS = FIXTURES / "vendors"
SOURCES = VENDORS / "sources"
EXPORTS = sorted(p for p in VENDORS.iterdir() if p.suffix in {".xlsx", ".csv"})
CODEBOOK_WRITERS = [("nvivo-codebook-xlsx", ".xlsx"), ("maxqda-codebook-xlsx", ".xlsx"),
                    ("taguette-codebook-csv", ".csv")]


@pytest.fixture(scope="module")
def project_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(ROOT / "schemas" / "Project-mrt2019.xsd")))


@pytest.mark.parametrize("with_sources", [False, True], ids=["text-only", "sources"])
@pytest.mark.parametrize("export", EXPORTS, ids=lambda p: p.name)
def test_export_becomes_a_schema_valid_qdpx(export, with_sources, tmp_path, project_schema):
    target = tmp_path / "out.qdpx"
    options = {"sources": str(SOURCES)} if with_sources else {}
    qdaconv.convert(export, target, to="refi-qdpx", **options)
    with zipfile.ZipFile(target) as archive:
        qde = next(n for n in archive.namelist() if n.endswith(".qde"))
        document = etree.fromstring(archive.read(qde))
    assert project_schema.validate(document), project_schema.error_log.last_error
    original = qdaconv.read(export, **options)
    back = qdaconv.read(target)
    assert [e.path for e in walk_codes(back)] == [e.path for e in walk_codes(original)]
    assert [s.text for s in back.sources] == [s.text for s in original.sources]


@pytest.mark.parametrize("export", EXPORTS, ids=lambda p: p.name)
def test_export_becomes_tidy_tables(export, tmp_path):
    target = tmp_path / "tables.xlsx"
    report = qdaconv.convert(export, target, to="tables-xlsx", sources=str(SOURCES))
    assert report.lossless
    back = qdaconv.read(target, "tables-xlsx")
    original = qdaconv.read(export, sources=SOURCES)
    result = qdaconv.diff(original, back, match="content")
    assert result.same, result.render_text()


def code_tree(project) -> dict:
    return {e.path: (e.code.codable, e.code.color, e.code.description) for e in walk_codes(project)}


@pytest.mark.parametrize("name,suffix", CODEBOOK_WRITERS)
def test_the_study_code_tree_round_trips(name, suffix, tmp_path):
    study = qdaconv.read(STUDY)
    fmt = default_registry().get(name)
    target = tmp_path / f"codebook{suffix}"
    qdaconv.write(study, target, name)
    back = qdaconv.read(target, name)
    changes = qdaconv.diff(study, back, match="content", features=fmt.capabilities).changes
    assert [str(c) for c in changes if c.kind == "code"] == []
    expected = code_tree(study)
    if qdaconv.Feature.CODE_COLORS not in fmt.capabilities:
        expected = {path: (codable, None, text) for path, (codable, _c, text) in expected.items()}
    assert code_tree(back) == expected


def test_cli_converts_an_export_with_its_sources(cli, tmp_path):
    target = tmp_path / "maxqda.qdpx"
    result = cli("convert", str(VENDORS / "maxqda24-segments.xlsx"), str(target),
                 "--option", f"sources={SOURCES}")
    assert result.returncode == 0, result.stderr
    project = qdaconv.read(target)
    assert len(project.sources) == 3 and any(s.name == "Anna interview 1" for s in project.sources)


def test_cli_lists_the_vendor_formats(cli):
    result = cli("formats")
    assert result.returncode == 0, result.stderr
    for name in ("nvivo-codebook-xlsx", "maxqda-segments-xlsx", "maxqda-segments-csv", "maxqda-codebook-xlsx",
                 "atlasti-quotations", "atlasti-codes", "dedoose-excerpts", "dedoose-codes",
                 "taguette-codebook-csv", "taguette-highlights-csv", "qualcoder-codebook-csv",
                 "qualcoder-segments-csv"):
        assert name in result.stdout
