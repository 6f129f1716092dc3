"""Round trips generated from the registry: every writer x every fixture, read back and diffed.

A newly registered format is tested here the moment it is installed: the comparison is limited
to the features the format declares it can carry, and matched by content when it keeps no GUIDs.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURES, STUDY

import qdaconv
from qdaconv.errors import WriteError
from qdaconv.formats import CODEBOOK_FEATURES, Feature, features_used
from qdaconv.registry import default_registry

FIXTURE_FILES = sorted([STUDY, *(FIXTURES / "edge").glob("*.qdpx")])
#: Programs' own databases lose what no Feature names (CR LF line ends, names they have no field for);
#: their own tests check that every difference after a round trip is one their loss report names.
OWN_ROUND_TRIP_TESTS = {"taguette-db"}
WRITERS = [fmt for fmt in default_registry() if fmt.can_write and fmt.name not in OWN_ROUND_TRIP_TESTS]


def _target(tmp_path: Path, fmt) -> Path:
    if fmt.folder and not fmt.extensions:
        return tmp_path / "out"
    return tmp_path / f"out{fmt.extensions[0]}"


def test_the_fixtures_exist():
    assert STUDY.is_file(), "fixtures/study.qdpx is missing; run python fixtures/make_study.py"
    assert len(FIXTURE_FILES) > 3, "the edge-case projects in fixtures/edge are missing"


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", WRITERS, ids=lambda f: f.name)
def test_write_then_read_back(fmt, fixture, tmp_path):
    original = qdaconv.read(fixture)
    target = _target(tmp_path, fmt)
    try:
        report = qdaconv.write(original, target, fmt.name)
    except WriteError as refused:  # only a codebook of no codes may be refused, and clearly
        assert Feature.CODES not in features_used(original) and fmt.capabilities <= CODEBOOK_FEATURES
        assert "no codes" in str(refused) and str(target) in str(refused) and not target.exists()
        return
    assert target.exists()
    if not fmt.can_read:
        return
    back = qdaconv.read(target, fmt.name)
    match = "guid" if fmt.keeps_guids else "content"
    # a feature the writer reports as carried only in part (a Loss named by its label) is not compared
    partly = {feature for feature in Feature if any(item.what == feature.label for item in report.items)}
    result = qdaconv.diff(original, back, match=match, features=fmt.capabilities - partly)
    assert result.same, f"{fmt.name} lost or changed data:\n{result.render_text()}\n(loss report: {report.summary()})"
