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

CAPABILITIES = frozenset({
    Feature.USERS, Feature.CODES, Feature.CODE_TREE, Feature.DESCRIPTIONS,
    Feature.VARIABLES, Feature.CASES, Feature.TEXT_SOURCES, Feature.RICH_TEXT, Feature.PDF_SOURCES,
    Feature.PICTURE_SOURCES, Feature.AUDIO_SOURCES, Feature.VIDEO_SOURCES, Feature.TEXT_SELECTIONS,
    Feature.MEDIA_SELECTIONS, Feature.CODINGS, Feature.NOTES,
})
# Not carried whole, so reported by the core: colours (categories have none), note links (only those
# from text excerpts survive, as annotations), authorship (no modifying user, dates without a zone),
# project information (the name is the folder's), whole-source codings, transcripts, sets, links, graphs.


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on")


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
        return QualCoderReader(Path(path), _flag(options.get("allow_external", False))).read()

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        return write_project(project, Path(path))


@hookimpl
def qdaconv_register_formats(register) -> None:
    register(QualCoderProject())
