"""The spreadsheet and CSV exports of NVivo, MAXQDA, ATLAS.ti, Dedoose, Taguette and QualCoder.

Each layout is a format of its own, recognised by its header row; codebook tables that a program
imports (NVivo, MAXQDA, Taguette) can also be written.
"""

from __future__ import annotations

from collections.abc import Callable

from qdaconv.formats import Format
from qdaconv.hookspecs import hookimpl

from .atlasti import AtlasCodes, AtlasQuotations
from .dedoose import DedooseCodes, DedooseExcerpts
from .maxqda import MaxqdaCodebook, MaxqdaSegmentsCsv, MaxqdaSegmentsXlsx
from .nvivo import NvivoCodebook
from .qualcoder import QualcoderCodebook, QualcoderSegments
from .taguette import TaguetteCodebook, TaguetteCodebookXlsx, TaguetteHighlights, TaguetteHighlightsXlsx

FORMATS: tuple[type[Format], ...] = (
    NvivoCodebook, MaxqdaSegmentsXlsx, MaxqdaSegmentsCsv, MaxqdaCodebook, AtlasQuotations, AtlasCodes,
    DedooseExcerpts, DedooseCodes, TaguetteCodebook, TaguetteHighlights, QualcoderCodebook, QualcoderSegments,
    TaguetteCodebookXlsx, TaguetteHighlightsXlsx,
)


@hookimpl
def qdaconv_register_formats(register: Callable[[Format], None]) -> None:
    for fmt in FORMATS:
        register(fmt())
