"""Making and checking an archive package: the study in open formats, with checksums, for a data repository.

`make_package` writes, into a temporary folder beside the output and then renamed into place:
the original input untouched, the project as a validated .qdpx, the tidy CSV tables with
datapackage.json, every source and note as a plain file, the codebook (.qdc, Markdown, HTML), a
README, and BagIt checksum manifests. The same input gives the same bytes. `verify_package`
checks the checksums and that the package's .qdpx and tables still describe the same study.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import qdaconv
from qdaconv.api import commit_output, detect, read, refuse_read_warnings, temporary_path, write, write_bytes
from qdaconv.errors import FormatError, WriteError
from qdaconv.issues import Severity
from qdaconv.model import Blob, Project, Source, walk_sources
from qdaconv.plugins.archive.bag import (
    Package,
    PackageError,
    checksum_problems,
    files_under,
    finish_bag,
    normalise_zip,
    write_zip,
)
from qdaconv.plugins.archive.codebook import codebook_html, codebook_markdown
from qdaconv.plugins.archive.readme import MediaFile, deidentified_text, readme_text
from qdaconv.redaction import (
    Matcher,
    Redaction,
    TermsLeftError,
    check_log_path,
    find_terms,
    read_terms,
    redact_project,
    terms_left_message,
)
from qdaconv.registry import default_registry

PROJECT_FORMAT = "refi-qdpx"
CODEBOOK_FORMAT = "refi-qdc"
TABLES_FORMAT = "tables-csv"
#: Source kinds whose file is stored once, in the package's .qdpx.
MEDIA_KINDS = ("PDF", "Picture", "Audio", "Video")
_UNSAFE = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')
_MAX_NAME = 100


@dataclass(slots=True)
class Verdict:
    """What `verify_package` found: the files checked and the problems, each naming its file."""

    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def safe_name(name: str, fallback: str) -> str:
    """A file name that every file system accepts: no separators or reserved characters, not too long."""
    cleaned = _UNSAFE.sub("_", name).strip(" .")
    return cleaned[:_MAX_NAME].rstrip(" .") or fallback


def package_folder_name(src: Path) -> str:
    """The package's folder inside a zip, and the default output name: the input's name plus "-archive"."""
    return safe_name(src.name.split(".")[0], "study") + "-archive"


class _Names:
    """Unique file names in one folder, compared without case (for Windows and macOS)."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def claim(self, stem: str, suffix: str) -> str:
        candidate, number = f"{stem}{suffix}", 2
        while candidate.lower() in self.taken:
            candidate, number = f"{stem} ({number}){suffix}", number + 1
        self.taken.add(candidate.lower())
        return candidate


# ---------------------------------------------------------------- making a package


def make_package(src: Path, out: Path, from_: str | None = None, force: bool = False,
                 on_read: Callable[[Project], None] | None = None, **options: Any) -> Path:
    """Package the study at `src` into `out` (a folder, or a .zip), atomically; returns `out`.
    `on_read(project)` is called once the input is read."""
    _make(src, out, from_, force, None, options, on_read)
    return out


@dataclass(slots=True)
class _Deidentify:
    """How to de-identify a package: the terms, where the log goes, what to do about what cannot be redacted."""

    matcher: Matcher
    log: Path | None
    strict: bool
    include_codes: bool
    redaction: Redaction | None = None


def make_redacted_package(src: Path, out: Path, terms_file: Path, *, log: Path | None = None,
                          from_: str | None = None, force: bool = False, strict: bool = False,
                          include_codes: bool = False, on_read: Callable[[Project], None] | None = None,
                          **options: Any) -> Redaction:
    """Package a de-identified copy of the study at `src` (see `qdaconv.redaction`); returns what was replaced.

    The original input is left out (it is not de-identified), the package is searched for any term
    before it is put in place, and the log of replacements goes only to `log`, never into the package.
    """
    matcher = Matcher(read_terms(terms_file))
    if log is not None:
        check_log_path(log, [out, src, terms_file], force=force)
    step = _Deidentify(matcher, log, strict, include_codes)
    _make(src, out, from_, force, step, options, on_read)
    assert step.redaction is not None
    return step.redaction


def _make(src: Path, out: Path, from_: str | None, force: bool, deidentify: _Deidentify | None,
          options: dict[str, Any], on_read: Callable[[Project], None] | None) -> None:
    if out.exists() and not force:
        raise WriteError(f"{out}: already exists; pass --force to replace it")
    if not out.parent.is_dir():
        raise WriteError(f"{out}: the folder {out.parent} does not exist; create it first")
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise WriteError(f"{out}: cannot be the input or inside it; choose another output path")
    reader = default_registry().get(from_) if from_ else detect(src)
    project = read(src, reader.name, **options)
    if on_read is not None:
        on_read(project)
    if deidentify is not None:
        if deidentify.strict:
            refuse_read_warnings(project, out)
        deidentify.redaction = redact_project(project, deidentify.matcher, include_codes=deidentify.include_codes)
        deidentify.redaction.refuse(str(out), strict=deidentify.strict)
    as_zip = out.suffix.lower() == ".zip"
    staging = temporary_path(out)
    root = staging / "bag" if as_zip else staging
    try:
        extra_inputs = [Path(options["case_variables"])] if options.get("case_variables") else []
        _fill(project, src, reader.title or reader.name, root, extra_inputs, deidentify)
        done = root
        if as_zip:
            done = staging / "package.zip"
            # named after the input, not the output, so the bytes depend on the input alone
            write_zip(root, done, prefix=package_folder_name(src))
        if deidentify is not None:
            _verify_and_log(deidentify, done, out)
        try:
            commit_output(done, out)
        except BaseException:
            if deidentify is not None and deidentify.log is not None:
                deidentify.log.unlink(missing_ok=True)
            raise
    except TermsLeftError:
        raise
    except WriteError as exc:  # a step's error names its place in the staging folder: name the user's path
        raise WriteError(str(exc).replace(str(root), str(out)).replace(str(staging), str(out))) from None
    except OSError as exc:
        raise WriteError(f"{out}: cannot write the package: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _verify_and_log(deidentify: _Deidentify, package: Path, out: Path) -> None:
    """Search the finished package for any term, then write the log (outside it)."""
    found = find_terms(package, deidentify.matcher)
    if found:
        raise TermsLeftError(terms_left_message(found, f"{out}: not written: terms are left in the package"))
    if deidentify.log is not None:
        assert deidentify.redaction is not None
        write_bytes(deidentify.redaction.log_csv(), deidentify.log, force=True)


def _fill(project: Project, src: Path, src_title: str, root: Path, extra_inputs: list[Path],
          deidentify: _Deidentify | None = None) -> None:
    data = root / "data"
    data.mkdir(parents=True)
    contents: dict[str, list[str]] = {}
    if deidentify is None:  # the original is not de-identified: it stays out of a de-identified package
        contents["original"] = _copy_original(src, extra_inputs, data / "original")
    qdpx = _write_project(project, data / "project")
    contents["project"] = [qdpx]
    # the rest describes the study as the package's .qdpx holds it, whose media files it only names
    packed = read(data / "project" / qdpx, PROJECT_FORMAT)
    media = _leave_media_out(packed, f"project/{qdpx}")
    contents["tables"] = _write_tables(packed, data / "tables")
    contents["sources"] = _write_sources(packed, data / "sources")
    contents["notes"] = _write_notes(packed, data / "notes")
    contents["codebook"] = _write_codebook(packed, data / "codebook")
    deidentified = None
    if deidentify is not None and deidentify.redaction is not None:
        deidentified = deidentified_text(deidentify.redaction)
    (root / "README.md").write_text(readme_text(project, src.name, src_title, data, contents, media, deidentified),
                                    encoding="utf-8", newline="\n")
    finish_bag(root, {
        "External-Description": f"{project.name}: qualitative study in open formats (REFI-QDA, CSV)",
        "External-Identifier": src.name,
        "Bag-Software-Agent": f"qdaconv {qdaconv.__version__}",
    })


def _copy_original(src: Path, extra_inputs: list[Path], target: Path) -> list[str]:
    """The input as given, and the other files the reader used (a case variables CSV)."""
    target.mkdir()
    if src.is_dir():
        shutil.copytree(src, target / src.name, copy_function=shutil.copyfile)
    else:
        shutil.copyfile(src, target / src.name)
    for extra in extra_inputs:
        if not (target / extra.name).exists():
            shutil.copyfile(extra, target / extra.name)
    return files_under(target)


def _write_project(project: Project, folder: Path) -> str:
    folder.mkdir()
    path = folder / f"{safe_name(project.name, 'project')}.qdpx"
    _write(project, path, PROJECT_FORMAT)
    normalise_zip(path)
    fmt = default_registry().get(PROJECT_FORMAT)
    errors = [issue for issue in fmt.check(path) if issue.severity is Severity.ERROR]
    if errors:
        shown = "; ".join(str(issue) for issue in errors[:3])
        raise WriteError(f"the project does not validate as REFI-QDA, so no package was made: {shown}"
                         + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""))
    return path.name


def _write(project: Project, path: Path, fmt: str) -> None:
    try:
        write(project, path, fmt)
    except FormatError as exc:
        raise WriteError(f"making the archive needs the {fmt} format, which is not available: {exc}") from None


def _leave_media_out(project: Project, qdpx: str) -> list[MediaFile]:
    """Take the PDF, picture, audio and video files out of the project, so that the tables and
    data/sources do not copy them again, and say where in the package's .qdpx each one is."""
    media = []
    for source in walk_sources(project):
        if source.kind in MEDIA_KINDS and source.file is not None:
            scheme, _sep, rest = (source.path or "").partition("://")
            rest = rest.lstrip("/")
            # the .qdpx holds its files in sources/; one too large for a zip lies beside it (relative://)
            where = f"data/{qdpx} → sources/{rest}" if scheme == "internal" else f"data/project/{rest}"
            media.append(MediaFile(source.name or source.guid, source.kind, where, _blob_size(source.file)))
            source.file = None
    return media


def _blob_size(blob: Blob) -> int:
    if blob.size is not None:
        return blob.size
    with blob.open() as stream:
        return sum(len(chunk) for chunk in iter(lambda: stream.read(1 << 20), b""))


def _write_tables(project: Project, folder: Path) -> list[str]:
    _write(project, folder, TABLES_FORMAT)
    return files_under(folder)


def _write_blob(blob: Blob, path: Path) -> None:
    with blob.open() as source, open(path, "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)


def _write_text_document(document: Source, stem: str, folder: Path, names: _Names) -> list[str]:
    """A text document as .txt (its original bytes when it has a file) plus its .docx when present."""
    written = []
    if document.plain_file is not None:
        name = names.claim(stem, ".txt")
        _write_blob(document.plain_file, folder / name)
        written.append(name)
    elif document.plain_text is not None:
        name = names.claim(stem, ".txt")
        # a leading U+FEFF would read as a byte order mark; the exact text is in the package's .qdpx
        (folder / name).write_text(document.plain_text.removeprefix("\ufeff"), encoding="utf-8", newline="")
        written.append(name)
    if document.rich_file is not None:
        name = names.claim(stem, ".docx")
        _write_blob(document.rich_file, folder / name)
        written.append(name)
    return written


def _write_sources(project: Project, folder: Path) -> list[str]:
    folder.mkdir()
    names = _Names()
    written: list[str] = []
    for source in project.sources:
        stem = safe_name(source.name or "", source.guid)
        if source.file is not None:
            suffix = Path(source.file.name).suffix or Path(source.path or "").suffix
            name = names.claim(stem, suffix.lower())
            _write_blob(source.file, folder / name)
            written.append(name)
        written += _write_text_document(source, stem, folder, names)
        nested = [(source.representation, ".text"), (source.text_description, ".description")]
        nested += [(transcript, ".transcript") for transcript in source.transcripts]
        for document, label in nested:
            if document is not None:
                written += _write_text_document(document, f"{stem}{label}", folder, names)
    return written


def _write_notes(project: Project, folder: Path) -> list[str]:
    if not project.notes:
        return []
    folder.mkdir()
    names = _Names()
    written: list[str] = []
    for note in project.notes:
        written += _write_text_document(note, safe_name(note.name or "", note.guid), folder, names)
    return written


def _write_codebook(project: Project, folder: Path) -> list[str]:
    folder.mkdir()
    written = []
    if CODEBOOK_FORMAT in default_registry().formats and project.codes:  # a .qdc needs at least one code
        _write(project, folder / "codebook.qdc", CODEBOOK_FORMAT)
        written.append("codebook.qdc")
    (folder / "codebook.md").write_text(codebook_markdown(project), encoding="utf-8", newline="\n")
    (folder / "codebook.html").write_text(codebook_html(project), encoding="utf-8", newline="\n")
    return [*written, "codebook.md", "codebook.html"]


# ---------------------------------------------------------------- checking a package


def verify_package(path: Path) -> Verdict:
    """Check a package's checksums, then that its .qdpx and its tables hold the same study.

    Raises PackageError when the package cannot be checked at all.
    """
    if not path.exists():
        raise PackageError(f"{path}: no such file or folder")
    package = Package(path)
    try:
        verdict = Verdict(files=len(package.files()))
        verdict.problems += checksum_problems(package)
        if verdict.ok:
            verdict.problems += _agreement_problems(package)
        return verdict
    finally:
        package.close()


def _agreement_problems(package: Package) -> list[str]:
    """The package's project and tables compared with the production diff, within what tables carry."""
    from qdaconv.diff import diff

    projects = [name for name in package.files() if re.fullmatch(r"data/project/[^/]+\.qdpx", name)]
    if len(projects) != 1:
        return [f"data/project: expected one .qdpx, found {len(projects)}"]
    if not any(name.startswith("data/tables/") for name in package.files()):
        return ["data/tables: missing"]
    registry = default_registry()
    with tempfile.TemporaryDirectory(prefix="qdaconv-verify-") as temporary:
        project_path = package.extract(projects[0], Path(temporary))
        tables_path = package.extract("data/tables", Path(temporary))
        from_project = read(project_path, PROJECT_FORMAT)
        from_tables = read(tables_path, TABLES_FORMAT)
        # the tables name the media files the .qdpx holds (the checksums vouch for those); packages
        # made before media were stored once have them in the tables too
        _leave_media_out(from_project, "")
        _leave_media_out(from_tables, "")
        features = registry.get(TABLES_FORMAT).capabilities & registry.get(PROJECT_FORMAT).capabilities
        # inside the with: the diff reads source files, which live in the temporary folder
        result = diff(from_project, from_tables, features=features)
    if result.same:
        return []
    shown = "; ".join(str(change).splitlines()[0] for change in result.changes[:5])
    return [f"data/tables: disagrees with {projects[0]} in {len(result.changes)} places: {shown}"]
