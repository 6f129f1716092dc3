"""One pass over a project's texts: each decoded once, checked by every rule that needs it, then let go.

Holding every text of a large project at once would cost more memory than the project itself,
so the integrity rules (ranges, sync points) and the interoperability rules (units, word splits,
excerpt names, empty files) each see a text while it is in hand, and keep only their findings.
"""

from __future__ import annotations

from qdaconv import progress
from qdaconv.files import close_open_zips
from qdaconv.model import Selection, Source
from qdaconv.positions import TextEvidence, shared_evidence
from qdaconv.validation.integrity import text_checks
from qdaconv.validation.interop import empty_text_check, span_checks
from qdaconv.validation.places import Index, TextFindings

_TEXT_KINDS = frozenset({"Text", "Note", "Representation", "TextDescription", "Transcript"})


def read_text(source: Source) -> str | None:
    """The source's text, or None when it has none or it cannot be read (the container layer says why)."""
    if source.plain_text is not None or source.plain_file is None:
        return source.plain_text
    try:
        return source.text
    except Exception:  # an unreadable file is reported by the container layer, not here
        return None


def within_text(selections: list[Selection], text: str) -> list[Selection]:
    """The plain-text selections whose extent lies within the text, in order: those the integrity rules find
    no fault with and the interoperability rules judge as excerpts (usually every selection)."""
    length = len(text)
    return [s for s in selections if s.kind == "PlainText" and s.start is not None and s.end is not None
            and 0 <= s.start <= s.end <= length]


def text_findings(index: Index) -> TextFindings:
    """Every text-based finding of the project, reading each text once."""
    findings = TextFindings()
    total = len(index.located)
    for number, item in enumerate(index.located, 1):
        source = item.source
        wanted = source.kind in _TEXT_KINDS and (source.selections or source.sync_points
                                                 or source.plain_file is not None)
        evidence = shared_evidence(source) if wanted else None  # the reader's, when it kept it
        text = evidence.text if evidence is not None else (read_text(source) if wanted else None)
        spans = within_text(source.selections, text) if text is not None else []
        findings.positions += text_checks(item, text, spans)
        if text is not None:
            empty_text_check(item, text, findings)
            if spans:
                span_checks(item, evidence or TextEvidence(text), spans, findings)
        progress.advance("checking texts", number, total)
    # the texts came through the blobs' cache of open zips; a large project's zip directory holds megabytes
    # (10,000 members: 4 MB), which the rules after this pass do not need
    close_open_zips()
    return findings
