"""The REFI-QDA formats: refi-qdpx (the project archive), refi-qde (its XML alone), refi-qdc (a codebook)."""

from __future__ import annotations

import re
import zipfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import qdaconv
from qdaconv import progress
from qdaconv.errors import WriteError
from qdaconv.files import bom_encoding, zip_names
from qdaconv.formats import ALL_FEATURES, CODEBOOK_FEATURES, ZIP_LIMIT_OPTIONS, Format, Loss, Option
from qdaconv.issues import Issue, info, warning
from qdaconv.model import Project, Source, guid_key, walk_sources
from qdaconv.plugins.refi.codebook import write_codebook
from qdaconv.plugins.refi.container import SourceFiles, find_qde, qde_member
from qdaconv.plugins.refi.reader import QdeReader
from qdaconv.plugins.refi.rules import READER_RULES
from qdaconv.plugins.refi.units import mark_origin, read_positions, unit_for_profile
from qdaconv.plugins.refi.writer import (
    MAX_INTERNAL_SIZE,
    FilePlan,
    GuidMap,
    ProjectWriter,
    name_sources,
    plan_files,
    write_beside,
    write_qdpx,
)
from qdaconv.positions import UNITS
from qdaconv.safety import ZipLimits, open_zip

ALLOW_EXTERNAL = Option("allow_external", "read source files outside the project's folder (absolute:// and "
                        "relative:// paths)", bool, False, flag=True)
READ_OPTIONS = (
    Option("positions", "unit of text positions in the input: auto (by origin, checked on the coded spans), "
           "codepoint, utf16, lf (CRLF counted once), crlf (line ends counted twice) or utf8", str, "auto",
           ("auto", *UNITS), flag=True),
    ALLOW_EXTERNAL,
    *ZIP_LIMIT_OPTIONS,
)
WRITE_OPTIONS = (
    Option("profile", "position counting of the target: standard (code points), nvivo (UTF-16), maxqda "
           "(line ends as two), atlasti (CRLF as one), qualcoder (code points; every text and note a file "
           "without a byte order mark; every source named)", str, "standard", read=False, write=True, flag=True),
    Option("text_files", "write every text as a file in sources/, also those the project holds inline",
           bool, False, read=False, write=True),
)
QDPX_OPTIONS = (
    Option("max_internal_size", "largest file kept inside the .qdpx, in bytes; larger ones go beside it",
           int, MAX_INTERNAL_SIZE, read=False, write=True),
)
QDE_OPTIONS = (
    Option("inline_text", "put every text in the XML (PlainTextContent) and write no files beside it; "
           "rich-text, PDF and media files then stay references only", bool, False, read=False, write=True),
)

_ROOT = re.compile(rb"<(?:[\w.-]+:)?(Project|CodeBook|Codebook)[\s/>]")
_QDA_NS = re.compile(rb"urn:QDA-XML:(project|codebook)", re.IGNORECASE)


def _head(path: Path, size: int = 65536) -> bytes:
    with open(path, "rb") as stream:
        head = stream.read(size)
    if bom_encoding(head) not in (None, "utf-8-sig"):
        return head.decode(bom_encoding(head), errors="ignore").encode("utf-8")
    return head


def sniff_xml(path: Path) -> tuple[str | None, bool]:
    """(root element name: Project or CodeBook, whether a QDA-XML namespace appears) of an XML file."""
    return _sniffed(_head(path))


@lru_cache(maxsize=1)  # the .qde and the .qdc format sniff the same file in turn: the same head, judged once
def _sniffed(head: bytes) -> tuple[str | None, bool]:
    if b"<" not in head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n"):
        return None, False
    body = re.sub(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", b"", head, flags=re.DOTALL)
    match = _ROOT.search(body)
    if not match:
        return None, False
    root = "Project" if match.group(1) == b"Project" else "CodeBook"
    return root, bool(_QDA_NS.search(head))


def _score_xml(path: Path, root: str, extension: str) -> float:
    try:
        found, qda = sniff_xml(path)
    except OSError:
        return 0.0
    if found != root:
        return 0.0
    own = path.suffix.lower() == extension
    if qda:
        return 1.0 if own else 0.9
    return 0.6 if own else 0.3


def read_project(path: Path, **options: Any) -> Project:
    """Read a .qdpx, or a bare .qde/.qdc, into a Project with positions in code points."""
    path = Path(path)
    if zipfile.is_zipfile(path) or path.suffix.lower() == ".qdpx":
        project = _read_archive(path, options)
    else:
        files = SourceFiles(path, None, bool(options.get("allow_external")))
        reader = QdeReader(path, files)
        with open(path, "rb") as stream:
            project = reader.read(progress.counted(stream, "reading", path.stat().st_size))
        project.warnings.extend(reader.notes.issues(str(path)) + files.finish())
    project.warnings.extend(read_positions(project, options.get("positions")))
    project.warnings.extend(_dialect_notes(project, str(path)))
    return project


def _read_archive(path: Path, options: dict[str, Any]) -> Project:
    with open_zip(path, ZipLimits.from_options(options)) as archive:
        member, note = qde_member(archive)
        files = SourceFiles(path, archive, bool(options.get("allow_external")))
        reader = QdeReader(path, files, member)
        with archive.open(member) as stream:
            project = reader.read(progress.counted(stream, "reading", archive.getinfo(member).file_size))
        issues: list[Issue] = []
        if note:
            issues.append(warning("REFI-QDE-NAME", note, file=str(path), hint="written back as project.qde"))
        issues += reader.notes.issues(str(path)) + files.finish()
        unused = files.unused_members(member)
        if unused:
            more = f" and {len(unused) - 1} more" if len(unused) > 1 else ""
            issues.append(warning("REFI-UNUSED-FILE", f"files in the archive that no source names: {unused[0]!r}"
                                  f"{more}", file=str(path), hint="they are not carried over"))
    project.warnings.extend(issues)
    return project


def _dialect_notes(project: Project, file: str) -> list[Issue]:
    """Notes on selection layouts that differ between tools: repeated spans, several codings per span."""
    repeated = several = 0
    for source in walk_sources(project):
        if not source.selections:  # most notes
            continue
        spans = [(selection.start, selection.end) for selection in source.selections if selection.kind == "PlainText"]
        repeated += len(spans) - len(set(spans))  # each span beyond the first with the same extent
        several += sum(len(selection.codings) > 1 for selection in source.selections)
    issues = []
    if repeated:
        issues.append(info("REFI-SELECTION-REPEAT", f"{repeated} text selections repeat the span of another "
                           "selection of the same source (one selection per coding, as NVivo writes)",
                           file=file, hint="kept as they are"))
    if several:
        issues.append(info("REFI-MULTI-CODING", f"{several} selections carry several codings "
                           "(as ATLAS.ti and qc write)", file=file, hint="kept as they are"))
    return issues


class _RefiFormat(Format):
    """What the three REFI-QDA formats share: reading, the reader's rules, and the container and schema checks."""

    rules = READER_RULES

    def read(self, path: Path, **options: Any) -> Project:
        return read_project(path, **options)

    def check(self, path: Path, **options: Any) -> list[Issue]:
        from qdaconv.plugins.refi.checks import check_file

        return check_file(Path(path), self.name)


def _for_qualcoder(options: dict[str, Any]) -> bool:
    """Whether the profile is QualCoder's, whose REFI import takes only notes stored as files, keeps a
    byte order mark as a character of the text, and whose export stops on a source without a name."""
    unit_for_profile(options.get("profile"))  # an unknown profile is an error before any work
    return str(options.get("profile") or "").lower().replace("-", "").replace(".", "") == "qualcoder"


def _plan(project: Project, guids: GuidMap, options: dict[str, Any], max_internal: int,
          inline_text: bool = False) -> FilePlan:
    qualcoder = _for_qualcoder(options)
    if qualcoder and inline_text:
        raise WriteError("the qualcoder profile writes every text as a file; leave out inline_text")
    return plan_files(project, guids, max_internal=max_internal, inline_text=inline_text,
                      text_files=qualcoder or bool(options.get("text_files")), without_bom=qualcoder,
                      inline_notes=_qualcoder_annotations(project) if qualcoder else frozenset())


def _qualcoder_annotations(project: Project) -> frozenset[str]:
    """Notes QualCoder takes as annotations of a text: a text source refers to them and they hold a text
    selection of their own. It reads their text only from PlainTextContent, so they stay inline."""
    referenced = {guid_key(ref) for source in project.sources if source.kind == "Text" for ref in source.note_refs}
    return frozenset(guid_key(note.guid) for note in project.notes if guid_key(note.guid) in referenced
                     and any(selection.kind == "PlainText" for selection in note.selections))


def _writer(project: Project, plan: FilePlan, guids: GuidMap, options: dict[str, Any], **kwargs: Any
            ) -> tuple[ProjectWriter, list[Loss]]:
    """The XML writer for the options' profile, and the Loss items of names the profile gave."""
    unit = unit_for_profile(options.get("profile"))
    qualcoder = _for_qualcoder(options)
    if qualcoder and "ATLAS" in (project.origin or ""):
        # QualCoder reads a text with CRLF as one line end when the origin names ATLAS.ti (as ATLAS.ti
        # counts), and as two otherwise; the origin is written as it is, so count as QualCoder will
        unit = "lf"
    origin = mark_origin(project.origin, unit, qdaconv.__version__)
    names, named = name_sources(project) if qualcoder else ({}, [])
    return ProjectWriter(project, plan, guids, unit=unit, origin=origin, names=names, **kwargs), named


class QdpxFormat(_RefiFormat):
    name = "refi-qdpx"
    title = "REFI-QDA project archive (.qdpx)"
    extensions = (".qdpx",)
    primary = True
    side_files = True  # files too large for the archive go beside it
    capabilities = ALL_FEATURES
    options = (*READ_OPTIONS, *WRITE_OPTIONS, *QDPX_OPTIONS)

    def sniff(self, path: Path) -> float:
        own = path.suffix.lower() == ".qdpx"
        names = zip_names(path)
        if names is None:
            return 0.5 if own and path.is_file() else 0.0
        try:
            find_qde(names)
        except LookupError:
            return 0.5 if own else 0.0
        return 1.0 if own else 0.9

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        guids = GuidMap()
        plan = _plan(project, guids, options, int(options.get("max_internal_size") or MAX_INTERNAL_SIZE))
        base_path = project.base_path
        if plan.beside and not base_path:
            base_path = "./"
        writer, named = _writer(project, plan, guids, options, base_path=base_path)
        write_qdpx(project, Path(path), writer)
        return writer.loss_items() + named


class QdeFormat(_RefiFormat):
    """The project XML alone, with its files in a sources/ folder beside it (the .qdpx unpacked).

    With `inline_text`, a single self-contained XML: texts inline, other files referenced only.
    """

    name = "refi-qde"
    title = "REFI-QDA project XML (.qde, files in sources/ beside it)"
    extensions = (".qde",)
    side_files = True
    capabilities = ALL_FEATURES
    options = (*READ_OPTIONS, *WRITE_OPTIONS, *QDE_OPTIONS)

    def sniff(self, path: Path) -> float:
        return _score_xml(path, "Project", ".qde")

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        guids = GuidMap()
        inline = bool(options.get("inline_text"))
        plan = _plan(project, guids, options, 2**63, inline_text=inline)
        writer, named = _writer(project, plan, guids, options, base_path=project.base_path)
        with open(path, "wb") as stream:
            writer.write(stream)
        write_beside(plan, Path(path).parent)
        extra = []
        if inline:
            left = sum(1 for source in walk_sources(project) if _has_other_file(source))
            if left:
                extra.append(Loss("rich-text, PDF and media files (their paths are kept)", left))
        return writer.loss_items() + named + extra


def _has_other_file(source: Source) -> bool:
    return source.file is not None or source.rich_file is not None


class QdcFormat(_RefiFormat):
    name = "refi-qdc"
    title = "REFI-QDA codebook (.qdc)"
    extensions = (".qdc",)
    capabilities = CODEBOOK_FEATURES
    options = (ALLOW_EXTERNAL,)

    def sniff(self, path: Path) -> float:
        return _score_xml(path, "CodeBook", ".qdc")

    def write(self, project: Project, path: Path, **options: Any) -> list[Loss]:
        if not project.codes:
            raise WriteError(f"{path}: the project has no codes, and a .qdc needs at least one")
        return write_codebook(project, Path(path))
