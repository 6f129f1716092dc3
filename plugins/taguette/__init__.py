"""The Taguette plugin: Taguette's own database (`taguette-db`), read and written.

Taguette keeps every project in one SQLite database, and its only whole-project export is a database
of the same schema (`/project/<id>/export/project.sqlite3`). This format reads such a database
(detected by its tables, opened read-only) and writes one that Taguette serves as it is. Taguette's
spreadsheet exports are formats of the vendors plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qdaconv.formats import Feature, Format, Loss, Option
from qdaconv.hookspecs import hookimpl
from qdaconv.model import Project
from qdaconv.sqlite import sniff_tables

from .database import CORE_TABLES
from .reader import read_database
from .writer import write_database

SEPARATOR_HELP = ("text between parent and child in a tag path (default ' > '); 'none' keeps tags flat, "
                  "'.' or '/' for databases that use those")


class TaguetteDatabase(Format):
    name = "taguette-db"
    title = "Taguette database (SQLite; its project export)"
    extensions = (".sqlite3", ".db")
    keeps_guids = False
    capabilities = frozenset({Feature.CODES, Feature.CODE_TREE, Feature.DESCRIPTIONS, Feature.TEXT_SOURCES,
                              Feature.TEXT_SELECTIONS, Feature.CODINGS})
    options = (
        Option("project", "the id or name of the Taguette project to read (default: every project, each a set)"),
        Option("separator", SEPARATOR_HELP, default=" > ", write=True),
        Option("user", "a Taguette login that owns the project besides admin", read=False, write=True),
    )

    def sniff(self, path: Path) -> float:
        tables = sniff_tables(Path(path))
        if not tables or not CORE_TABLES <= tables:
            return 0.0
        return 0.95 if {"alembic_version", "commands"} <= tables else 0.85

    def read(self, path: Path, **options: Any) -> Project:
        return read_database(path, project=options.get("project"), separator=options.get("separator"))

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        return write_database(project, path, user=options.get("user"), separator=options.get("separator"))


@hookimpl
def qdaconv_register_formats(register: Callable[[Format], None]) -> None:
    register(TaguetteDatabase())
