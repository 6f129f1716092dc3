"""The tables as pandas DataFrames, both ways, and `coded_segments`, a frame ready for analysis.

`project_to_frames` gives one DataFrame per table of the layout (see `schema`), with pandas
dtypes (`string`, `Int64`, `boolean`; dates and variable values stay Python objects, so time
zones, decimals and types survive), a `files` frame (path, size and the lazy `Blob` of every
file) and `coded_segments`. `project_from_frames` reads the layout's frames back; it ignores
`coded_segments` and any frame or column it does not know.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from qdaconv.model import Blob, Project, coded_segments, guid_key

from .build import build_project
from .flatten import Flattener
from .rows import TableReader
from .schema import CODE_PATH_SEPARATOR, Table

ANALYSIS_FRAME = "coded_segments"
FILES_FRAME = "files"
_DTYPES = {"string": "string", "integer": "Int64", "boolean": "boolean", "datetime": "object", "any": "object"}


def _frame(table: Table, rows: Iterator[list[Any]]) -> pd.DataFrame:
    # column by column, so object columns keep Python datetimes rather than pandas Timestamps
    columns = list(zip(*rows, strict=True)) or [()] * len(table.columns)
    return pd.DataFrame({column.name: pd.Series(list(values), dtype=_DTYPES[column.type])
                         for column, values in zip(table.columns, columns, strict=True)})


def project_to_frames(project: Project) -> dict[str, pd.DataFrame]:
    """Every table as a DataFrame, plus `files` and the `coded_segments` analysis frame."""
    flat = Flattener(project)
    frames = {table.name: _frame(table, rows) for table, rows in flat.tables()}
    frames[FILES_FRAME] = pd.DataFrame({
        "file": pd.Series(list(flat.files), dtype="string"),
        "size": pd.Series([blob.size for blob in flat.files.values()], dtype="Int64"),
        "blob": pd.Series(list(flat.files.values()), dtype="object"),
    })
    frames[ANALYSIS_FRAME] = coded_segments_frame(project)
    return frames


class FramesReader(TableReader):
    """Typed rows from DataFrames; values are taken as they are (no spreadsheet escapes)."""

    def __init__(self, frames: Mapping[str, pd.DataFrame]) -> None:
        super().__init__("<frames>")
        self.frames = frames
        self.files: dict[str, Blob] = {}
        files = frames.get(FILES_FRAME)
        if files is not None:
            for relative, blob in zip(files["file"], files["blob"], strict=True):
                self.files[str(relative)] = blob if isinstance(blob, Blob) else Blob(str(relative), data=bytes(blob))

    def raw_rows(self, table: Table) -> Iterator[tuple[int, list[Any]]]:
        frame = self.frames.get(table.name)
        if frame is None:
            return
        yield 0, list(frame.columns)
        for label, cells in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
            yield label, list(cells)

    def decode(self, cell: Any) -> Any:
        if cell is None or isinstance(cell, str):
            return cell
        if pd.api.types.is_scalar(cell) and pd.isna(cell):
            return None
        if isinstance(cell, pd.Timestamp):
            return cell.to_pydatetime()
        if isinstance(cell, datetime):
            return cell
        return cell.item() if hasattr(cell, "item") else cell

    def place(self, table: str, number: int, column: str, index: int) -> str:
        return f"frame {table!r}, row {number!r}, column {column!r}"

    def blob(self, relative: str) -> Blob | None:
        return self.files.get(relative)


def project_from_frames(frames: Mapping[str, pd.DataFrame]) -> Project:
    """The project that frames in the layout of `project_to_frames` describe."""
    return build_project(FramesReader(frames))


def coded_segments_frame(project: Project) -> pd.DataFrame:
    """One row per coding, with its text, code path, coder, case and the case's variables.

    Ready for analysis: `frame.groupby(["case", "code_path"]).size()` counts codes by case;
    merging the frame with itself on `selection_guid` gives co-occurring codes. The rows are
    `qdaconv.model.coded_segments`, and the case of a row is the segment's first case by its rule
    (the first case that names the selection, else the first that names the source).
    """
    on_cases = {guid_key(value.variable) for case in project.cases for value in case.variable_values}
    variables = {guid_key(v.guid): v.name for v in project.variables if guid_key(v.guid) in on_cases}
    cases = {guid_key(case.guid): case for case in project.cases}
    fixed = ["coding_guid", "selection_guid", "source_guid", "source", "code_guid", "code", "code_path", "text",
             "start", "end", "coder", "created", "case_guid", "case"]
    variable_columns = {key: (name if name not in fixed else f"{name} (variable)") for key, name in variables.items()}
    rows: list[dict[str, Any]] = []
    for segment in coded_segments(project):
        case = cases.get(guid_key(segment.case_guid)) if segment.case_guid else None
        row = {
            "coding_guid": segment.coding_guid, "selection_guid": segment.selection_guid,
            "source_guid": segment.source_guid, "source": segment.source_name, "code_guid": segment.code_guid,
            "code": segment.code, "code_path": CODE_PATH_SEPARATOR.join(segment.code_path), "text": segment.text,
            "start": segment.start, "end": segment.end, "coder": segment.coder, "created": segment.created,
            "case_guid": segment.case_guid, "case": case.name if case else None,
        }
        if case is not None:
            for value in case.variable_values:
                column = variable_columns.get(guid_key(value.variable))
                if column is not None:
                    row.setdefault(column, value.value)  # a variable given twice: the first value counts
        rows.append(row)
    columns = fixed + list(dict.fromkeys(variable_columns.values()))
    frame = pd.DataFrame.from_records(rows, columns=columns)
    strings = [c for c in fixed if c not in ("start", "end", "created")]
    return frame.astype({**dict.fromkeys(strings, "string"), "start": "Int64", "end": "Int64"})


__all__ = ["ANALYSIS_FRAME", "FILES_FRAME", "coded_segments_frame", "project_from_frames",
           "project_to_frames"]
