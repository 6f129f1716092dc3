"""Reading side of the containers: rows typed by the layout, with the place of every cell for errors."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qdaconv.errors import ReadError
from qdaconv.model import Blob

from .cells import coerce
from .schema import Table


@dataclass(slots=True)
class Row:
    """One data row: typed values by column name (None for empty cells and absent columns)."""

    table: str
    number: int
    values: dict[str, Any]

    def __getitem__(self, column: str) -> Any:
        return self.values.get(column)


class TableReader:
    """A container's tables as typed rows. Subclasses give the raw cells and the files.

    `raw_rows(table)` yields (row number, cells) with the header first; `decode(cell)` turns a
    raw cell into None, an unescaped string or a native value; `place(table, number, column)`
    says where a cell is, for error messages; `blob(path)` is the file at a relative path.
    """

    def __init__(self, path: object) -> None:
        self.path = path
        self._positions: dict[str, dict[str, int]] = {}

    def raw_rows(self, table: Table) -> Iterator[tuple[int, list[Any]]]:
        raise NotImplementedError

    def decode(self, cell: Any) -> Any:
        raise NotImplementedError

    def place(self, table: str, number: int, column: str, index: int) -> str:
        raise NotImplementedError

    def blob(self, relative: str) -> Blob | None:
        raise NotImplementedError

    def error(self, row: Row, column: str, message: str, hint: str | None = None) -> ReadError:
        index = self._positions.get(row.table, {}).get(column, -1)
        return ReadError(self.path, message, location=self.place(row.table, row.number, column, index), hint=hint)

    def rows(self, table: Table) -> Iterator[Row]:
        """The table's data rows, typed; blank rows are skipped, unknown columns ignored."""
        raw = self.raw_rows(table)
        header = next(raw, None)
        if header is None:
            return
        positions: dict[str, int] = {}
        for index, cell in enumerate(header[1]):
            name = self.decode(cell)
            if isinstance(name, str) and name.strip() in table.names:
                positions.setdefault(name.strip(), index)
        self._positions[table.name] = positions
        wanted = [(c.name, c.type, positions[c.name]) for c in table.columns if c.name in positions]
        decode = self.decode
        for number, cells in raw:
            values: dict[str, Any] = {}
            width = len(cells)
            for name, type_, index in wanted:
                value = decode(cells[index]) if index < width else None
                if value is not None and (type_ != "string" or not isinstance(value, str)):
                    try:
                        value = coerce(type_, value)
                    except ValueError as exc:
                        raise self.error(Row(table.name, number, values), name, str(exc)) from None
                values[name] = value
            if any(value is not None for value in values.values()):
                yield Row(table.name, number, values)
