"""QualCoder's own project: a folder NAME.qda holding the SQLite database data.qda and its files.

Read from every database version found in the wild (v1 to v17) without changing the input, and
written at the version and with the tables the current QualCoder creates for a new project, so
that it opens the result without an upgrade. See `reader` and `writer` for how QualCoder's tables
map onto the study, and `schema` for the tables themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qdaconv.formats import Feature, Format, Loss, Option
from qdaconv.hookspecs import hookimpl
from qdaconv.model import Project

from .database import sniff_project
from .reader import QualCoderReader
from .writer import write_project

#: What a QualCoder project holds. Where it holds a feature only in part (categories have no colour,
#: only text excerpts take notes, sync points have no times ...), the writer reports that part as a
#: Loss named by the feature's label, with a count and the detail.
CAPABILITIES = frozenset(Feature) - {Feature.PROJECT_INFO, Feature.SETS, Feature.LINKS, Feature.GRAPHS,
                                     Feature.AUTHORSHIP}


class QualCoderProject(Format):
    name = "qualcoder-project"
    title = "QualCoder project (a NAME.qda folder with its data.qda SQLite database)"
    extensions = (".qda",)
    folder = True
    keeps_guids = False
    capabilities = CAPABILITIES
    options = (
        Option("allow_external", "read files a project links to outside its folder (docs:, images:, audio:, "
               "video: paths)", type=bool, default=False),
    )

    def sniff(self, path: Path) -> float:
        return sniff_project(Path(path))

    def read(self, path: Path, **options: Any) -> Project:
        return QualCoderReader(Path(path), bool(options.get("allow_external"))).read()  # typed by the core

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        return write_project(project, Path(path))


@hookimpl
def qdaconv_register_formats(register) -> None:
    register(QualCoderProject())
