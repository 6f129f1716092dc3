"""pandas: qdaconv.to_frames / from_frames and the coded_segments analysis frame."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pandas as pd
import pytest
from test_tables import CEST, exact, first_difference, full_project, g

import qdaconv
from qdaconv.errors import ReadError
from qdaconv.model import Blob, walk_codes
from qdaconv.plugins.tables.schema import TABLES


def test_frames_have_every_table_with_proper_dtypes():
    frames = qdaconv.to_frames(full_project())
    assert set(frames) == {t.name for t in TABLES} | {"files", "coded_segments"}
    for table in TABLES:
        assert list(frames[table.name].columns) == list(table.names)
    segments = frames["segments"]
    assert segments["start"].dtype == "Int64" and segments["guid"].dtype == "string"
    assert frames["codes"]["codable"].dtype == "boolean"
    values = frames["values"]["value"].tolist()
    assert values[:6] == ["Director", False, -3, Decimal("2.50"), date(1970, 1, 31),
                          datetime(2019, 3, 1, 9, 30, 5, 123456, tzinfo=CEST)]
    assert type(values[4]) is date  # a Date stays a date, not a midnight datetime
    assert values[5].utcoffset() == CEST.utcoffset(None)  # the offset is kept, not made UTC
    assert all(isinstance(blob, Blob) for blob in frames["files"]["blob"])


def test_coded_segments_joins_text_code_coder_case_and_variables():
    frame = qdaconv.to_frames(full_project())["coded_segments"]
    hello = frame[frame["coding_guid"] == g(41)].iloc[0]
    assert hello["text"] == full_project().sources[0].text[13:25]
    assert hello["code_path"] == "Connecting > relational"
    assert hello["coder"] == "Anna" and hello["case"] == "Anna"
    assert hello["role"] == "Director" and bool(hello["consent"]) is False
    by_case = frame.groupby(["case", "code_path"]).size()
    assert by_case[("Anna", "Connecting > relational")] == 1
    pairs = frame.merge(frame, on="selection_guid")
    pairs = pairs[pairs["code_path_x"] < pairs["code_path_y"]]
    assert ("Connecting > 'quoted' and -dash", "Connecting > relational") in set(
        zip(pairs["code_path_x"], pairs["code_path_y"], strict=True))


def test_from_frames_takes_edits_made_in_pandas():
    original = full_project()
    frames = qdaconv.to_frames(original)
    new_row = pd.DataFrame({"name": ["made in pandas"], "parent": ["Connecting"]}).astype("string")
    frames["codes"] = pd.concat([frames["codes"], new_row], ignore_index=True)
    back = qdaconv.from_frames(frames)
    changes = qdaconv.diff(original, back).changes
    assert [(c.kind, c.action) for c in changes] == [("code", "added")]
    assert ("Connecting", "made in pandas") in {e.path for e in walk_codes(back)}


def test_from_frames_reports_where_a_reference_is_broken():
    frames = qdaconv.to_frames(full_project())
    frames["codings"].loc[2, "code"] = "nothing at all"
    with pytest.raises(ReadError, match=r"frame 'codings', row 2, column 'code'"):
        qdaconv.from_frames(frames)


def test_frames_survive_a_trip_through_the_workbook(tmp_path):
    project = full_project()
    target = tmp_path / "study.xlsx"
    qdaconv.write(qdaconv.from_frames(qdaconv.to_frames(project)), target)
    left, right = exact(project), exact(qdaconv.read(target))
    assert left == right, first_difference(left, right)
