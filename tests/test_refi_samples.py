"""The real exports in ../shared/samples: read them all; write the valid ones back, valid and unchanged."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from conftest import SAMPLES
from lxml import etree

import qdaconv
from qdaconv.model import walk_selections
from qdaconv.plugins.refi.container import qde_bytes
from qdaconv.positions import on_word_boundaries

ALL = sorted(p for p in SAMPLES.glob("*/*") if p.suffix in (".qdpx", ".qde", ".qdc")) if SAMPLES.is_dir() else []
INVALID = {"example-codebook.qdc", "openqda-early-export.qde", "taguette-1.4.1-codebook.qdc",
           "transana-3.22b2-spec-annexA3.qde"}
#: What each invalid sample's warnings must mention.
INVALID_WARNINGS = {"example-codebook.qdc": "REFI-ID-NOT-GUID", "openqda-early-export.qde": "REFI-UNKNOWN-ATTRIBUTE",
                    "taguette-1.4.1-codebook.qdc": "REFI-EMPTY-CONTAINER",
                    "transana-3.22b2-spec-annexA3.qde": "REFI-NAMESPACE"}


def _schema(root: str) -> etree.XMLSchema:
    name = "Project-mrt2019.xsd" if root == "Project" else "Codebook.xsd"
    with resources.as_file(resources.files("qdaconv.schemas") / name) as path:
        return etree.XMLSchema(etree.parse(str(path)))


@pytest.fixture(params=ALL or [None], ids=lambda p: p.name if p else "none")
def sample(request, samples_dir) -> Path:
    if request.param is None:
        pytest.skip("no samples")
    return request.param


def test_every_sample_is_read_and_written_back_valid(sample, tmp_path):
    project = qdaconv.read(sample)
    assert project.codes
    target = tmp_path / ("out.qdc" if sample.suffix == ".qdc" else "out.qdpx")
    qdaconv.write(project, target)
    root = etree.fromstring(qde_bytes(target)[0])
    schema = _schema(etree.QName(root).localname)
    assert schema.validate(root), schema.error_log
    back = qdaconv.read(target)
    result = qdaconv.diff(project, back)
    if sample.name in INVALID:
        assert INVALID_WARNINGS[sample.name] in {w.rule for w in project.warnings}
        if sample.name != "example-codebook.qdc":  # its non-GUID ids are replaced on writing
            assert result.same, result.render_text()
    else:
        assert result.same, result.render_text()


def test_nvivo_excerpts_fall_on_word_boundaries(samples_dir):
    path = samples_dir / "NVivo" / "nvivo-win12.6-oltas.qdpx"
    converted = qdaconv.read(path)
    raw = qdaconv.read(path, positions="codepoint")

    def on_boundaries(project) -> tuple[int, int]:
        spans = [(source.text, sel) for source, sel in walk_selections(project) if sel.kind == "PlainText"]
        return sum(on_word_boundaries(text, sel.start, sel.end) for text, sel in spans), len(spans)

    good, total = on_boundaries(converted)
    assert total == 97 and good == total
    assert on_boundaries(raw)[0] < total
    assert any(w.rule == "REFI-POSITIONS" for w in converted.warnings)


def test_dialects_are_named_in_warnings(samples_dir):
    def rules(name: str) -> set[str]:
        return {w.rule for w in qdaconv.read(samples_dir / name).warnings}

    assert {"REFI-PATH-VARIANT", "REFI-SELECTION-REPEAT", "REFI-GUID-FORM"} <= rules("NVivo/nvivo-win12.6-oltas.qdpx")
    assert "REFI-PATH-VARIANT" in rules("qc/qc-1.3.2-demo.qdpx")
    assert "REFI-MULTI-CODING" in rules("qc/qc-1.3.2-demo.qdpx")
    assert "REFI-FILE-EXTERNAL" in rules("ATLAS.ti/atlas-mac8.4-standard-project.qde")
    assert "REFI-DATETIME" in rules("OpenQDA/openqda-early-export.qde")
    assert "REFI-COLOR" in rules("MAXQDA/maxqda24-icls.qdpx")
