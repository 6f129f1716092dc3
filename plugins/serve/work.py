"""What the page can ask for, as plain blocking functions the server runs in worker threads.

The same data as the command line: `summary` is `qdaconv info --json`, `check` is `qdaconv
validate --json`, `convert` is `qdaconv convert`, `redact` is `qdaconv redact` (through the core's
`qdaconv.redaction`), `agree` is `qdaconv agree --json` (through `qdaconv.agreement`), and the
tools (archive package, HTML report) are the commands other plugins registered through
`qdaconv_register_commands`, run in this process.
Targets "by program" are resolved against the registry at each request, so formats that other
plugins add (a QualCoder or Taguette project) are used as soon as they are installed.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from qdaconv import api, validation
from qdaconv.cli import project_counts
from qdaconv.errors import FormatError, QdaconvError, WriteError
from qdaconv.formats import Feature, Format, LossReport, features_used
from qdaconv.model import Project
from qdaconv.redaction import (
    DEFAULT_PLACEHOLDER,
    Matcher,
    TermsLeftError,
    find_terms,
    read_terms,
    redact_project,
    terms_left_message,
)
from qdaconv.registry import Registry, default_registry


@dataclass(frozen=True)
class ProgramTarget:
    """A choice on the page, named for the program the researcher wants to open the result in.

    `candidates` are (format, profile, what the result is) in order of preference; the first
    format that is registered and writable is used.
    """

    id: str
    label: str
    candidates: tuple[tuple[str, str | None, str], ...]


PROGRAM_TARGETS = (
    ProgramTarget("nvivo", "for NVivo", (
        ("refi-qdpx", "nvivo", "A REFI-QDA project (.qdpx) with text positions counted as NVivo counts them, "
                               "for NVivo's REFI-QDA import."),)),
    ProgramTarget("atlasti", "for ATLAS.ti", (
        ("refi-qdpx", "atlasti", "A REFI-QDA project (.qdpx) with line ends counted as ATLAS.ti counts them, "
                                 "for ATLAS.ti's REFI-QDA import."),)),
    ProgramTarget("maxqda", "for MAXQDA", (
        ("refi-qdpx", "maxqda", "A REFI-QDA project (.qdpx) with line ends counted as MAXQDA counts them, "
                                "for MAXQDA's REFI-QDA import."),)),
    ProgramTarget("qualcoder", "for QualCoder", (
        ("qualcoder-project", None, "A QualCoder project, to open in QualCoder."),
        ("refi-qdpx", None, "A REFI-QDA project (.qdpx) for QualCoder's REFI-QDA import."))),
    ProgramTarget("taguette", "for Taguette", (
        ("taguette-db", None, "A Taguette project database, to import in Taguette."),
        ("taguette-codebook-csv", None, "The codebook as CSV, the one file Taguette imports from other programs; "
                                        "documents and highlights stay behind."))),
    ProgramTarget("tables", "open tables (Excel/CSV)", (
        ("tables-xlsx", None, "One Excel workbook with a sheet per table (codes, segments, cases, ...): "
                              "nothing is lost, and it converts back."),)),
)


@dataclass(frozen=True)
class Tool:
    """A qdaconv command the page runs on the upload to make one file (registered by a plugin).

    `template` is the command's argument list, with `{study}` and `{out}` filled in. `fields` are
    the multipart file fields the request carries; the page offers the tools the server lists.
    (Redaction and agreement take more than files and answer more than one file, so they have
    their own functions below, over the core's modules.)
    """

    name: str
    label: str
    ending: str
    note: str
    template: tuple[str, ...]
    fields: tuple[str, ...] = ("file",)

    def arguments(self, study: Path, out: Path) -> list[str]:
        return [part.format(study=study, out=out) for part in self.template]


TOOLS = (
    Tool("archive", "archive package", "-archive.zip",
         "A package for a data repository (BagIt): the original file, the project, open tables, the codebook, "
         "plain-text sources and checksums.", ("{study}", "{out}")),
    Tool("report", "HTML report", "-report.html",
         "One web page about the study: counts, code tree, code by case, co-occurrence, diagrams and coders.",
         ("{study}", "-o", "{out}")),
)


def _writable(registry: Registry, name: str) -> Format | None:
    fmt = registry.formats.get(name)
    return fmt if fmt is not None and fmt.can_write else None


def resolve(target: ProgramTarget, registry: Registry) -> tuple[Format, str | None, str] | None:
    """The format, profile and description a program target uses with the plugins installed now, or None."""
    for name, profile, note in target.candidates:
        if (fmt := _writable(registry, name)) is not None:
            return fmt, profile, note
    return None


def registered_command(name: str, registry: Registry | None = None) -> click.Command | None:
    """The command a plugin adds under `name`, asked of the plugins through their hook."""
    group = click.Group()
    (registry or default_registry()).manager.hook.qdaconv_register_commands(cli=group)
    return group.commands.get(name)


def choices(registry: Registry | None = None) -> dict[str, Any]:
    """Everything the page offers: the program targets, every writable format, and the tools."""
    registry = registry or default_registry()
    targets = []
    for target in PROGRAM_TARGETS:
        if (found := resolve(target, registry)) is not None:
            fmt, profile, note = found
            targets.append({"id": target.id, "label": target.label, "kind": "convert", "format": fmt.name,
                            "profile": profile, "note": note})
    for tool in TOOLS:
        if registered_command(tool.name, registry) is not None:
            targets.append({"id": tool.name, "label": tool.label, "kind": "tool", "tool": tool.name,
                            "fields": list(tool.fields), "note": tool.note})
    formats = [{"name": fmt.name, "title": fmt.title, "extensions": list(fmt.extensions), "folder": fmt.folder}
               for fmt in registry if fmt.can_write]
    return {"targets": targets, "formats": formats}


def rules() -> dict[str, dict[str, str]]:
    """The validation rules in plain words, by id, for explaining a verdict."""
    return {rule.id: {"severity": rule.severity.value, "meaning": rule.meaning, "fix": rule.fix}
            for rule in validation.RULES.values()}


# ------------------------------------------------------------------------------------------ the work


def summary(study: Path, from_: str | None, shown: str) -> dict[str, Any]:
    """What `qdaconv info --json` says of the study (the file named as the user named it)."""
    fmt = default_registry().get(from_) if from_ else api.detect(study)
    project = api.read(study, fmt.name)
    used = features_used(project)
    return {
        "file": shown, "format": fmt.name, "name": project.name, "origin": project.origin,
        "counts": project_counts(project),
        "features": {feature.label: used[feature] for feature in Feature if used[feature]},
        "warnings": [str(issue) for issue in project.warnings],
    }


def check(study: Path, from_: str | None, shown: str) -> list[dict[str, Any]]:
    """What `qdaconv validate --json` says of the study: a list with one report."""
    report = validation.validate(study, from_)
    report.file = shown
    for issue in report.issues:
        issue.file = shown
    return [report.as_dict()]


def stem_of(shown: str, registry: Registry | None = None) -> str:
    """The upload's name without its format's ending (`study.csv.zip` -> `study`)."""
    registry = registry or default_registry()
    endings = {ending for fmt in registry for ending in fmt.extensions} | {".zip"}
    lowered = shown.lower()
    for index, char in enumerate(shown):
        if char == "." and index > 0 and lowered[index:] in endings:
            return shown[:index]
    return shown.rsplit(".", 1)[0] if "." in shown[1:] else shown


def convert(study: Path, from_: str | None, to: str, profile: str | None, out: Path, stem: str) -> tuple[Path,
                                                                                                       LossReport]:
    """Convert the study into the folder `out`; returns the file to download and what the target cannot hold."""
    return write_download(api.read(study, from_), to, profile, out, stem)


def write_download(project: Project, to: str, profile: str | None, out: Path, stem: str) -> tuple[Path, LossReport]:
    """Write `project` as `to` into the folder `out`; returns the file to download and what the target cannot hold.

    A format that writes several files (a .qde with its sources/ folder) or a folder is zipped.
    """
    writer = default_registry().for_target(out, to)
    options = {"profile": profile} if profile else {}
    ending = writer.extensions[0] if writer.extensions else ""  # a folder format without one is zipped below
    name = f"{stem}-{profile}{ending}" if profile else f"{stem}{ending}"
    build = out / "build"
    build.mkdir()
    target = build / name
    report = api.write(project, target, writer.name, **options)
    report.target = name
    made = list(build.iterdir())
    if made == [target] and target.is_file():
        return target, report
    bundle = out / f"{stem}-{writer.name}.zip"
    zip_folder(build, bundle)
    report.target = bundle.name
    return bundle, report


def zip_folder(folder: Path, bundle: Path) -> None:
    """Zip everything under `folder` (names relative to it, in a stable order)."""
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())


def run_tool(chosen: Tool, study: Path, from_: str | None, out: Path, stem: str) -> Path:
    """Run a registered command (archive, report) on the study, in this process; returns its output file."""
    command = registered_command(chosen.name)
    if command is None:
        raise FormatError(f"the {chosen.name!r} command is not installed")
    target = out / f"{stem}{chosen.ending}"
    arguments = chosen.arguments(study, target) + (["--from", from_] if from_ else [])
    try:
        status = command.main(args=arguments, prog_name=f"qdaconv {chosen.name}", standalone_mode=False)
    except click.ClickException as exc:
        raise QdaconvError(exc.format_message()) from None
    if status not in (None, 0) or not target.is_file():
        raise WriteError(f"qdaconv {chosen.name} did not make {target.name}")
    return target


# ------------------------------------------------------------------------------------------ redaction


@dataclass(frozen=True)
class Redacted:
    """A de-identified copy made for download, and the log of replacements (the key to the identities) as CSV."""

    copy: Path
    report: LossReport
    log: str
    replacements: int
    places: int

    def figures(self) -> dict[str, Any]:
        return {"replacements": self.replacements, "places": self.places, "terms_left": 0}


def redact(study: Path, from_: str | None, terms_file: Path, placeholder: str | None, include_codes: bool,
           to: str | None, profile: str | None, out: Path, stem: str) -> Redacted:
    """A de-identified copy of the study as `to` (default: the study's own format), as `qdaconv redact` makes it.

    The copy is written into `out`, then it, every member of it and its name are searched for every
    term (`qdaconv.redaction.find_terms`): a copy with a term left is refused with TermsLeftError
    and never offered. A bad terms file is the command line's ReadError. The log stays in memory.
    """
    matcher = Matcher(read_terms(terms_file, placeholder or DEFAULT_PLACEHOLDER))
    if to is None:
        fmt = default_registry().get(from_) if from_ else api.detect(study)
        if not fmt.can_write:
            raise FormatError(f"qdaconv cannot write {fmt.name}; name the target format: to=FORMAT")
        to = fmt.name
    project = api.read(study, from_)
    name = f"{stem}-deidentified" if matcher.search(stem) is None else "deidentified"  # a name may hold a term
    redaction = redact_project(project, matcher, include_codes=include_codes)
    redaction.refuse(name)
    copy, report = write_download(project, to, profile, out, name)
    report.items[:0] = redaction.losses
    found = find_terms(copy, matcher)
    if found:
        raise TermsLeftError(terms_left_message(found, f"{copy.name}: not offered: terms are left in the copy"))
    places = len({(item.kind, item.guid, item.field) for item in redaction.replacements})
    return Redacted(copy, report, redaction.log_csv(), len(redaction.replacements), places)


# ------------------------------------------------------------------------------------------ agreement


def coders_in(study: Path, from_: str | None) -> list[dict[str, Any]]:
    """The users who made codings in the study, most codings first, for choosing two to compare."""
    from qdaconv.agreement import coders  # loads numpy: only when asked

    return [{"guid": coder.guid, "name": coder.name, "codings": coder.codings}
            for coder in coders(api.read(study, from_))]


def agree(study: Path, second: Path | None, from_: str | None, names: tuple[str, str],
          pair: tuple[str, str] | None, overlap: float) -> dict[str, Any]:
    """What `qdaconv agree --json` says: two users of one study (`pair`, else the two with most codings),
    or the two files `study` and `second`, one coder each (named by `names`, the files' names)."""
    from qdaconv.agreement import agreement, agreement_between  # loads numpy: only when asked

    first = api.read(study, from_)
    if second is not None:
        result = agreement_between(first, api.read(second, from_), names=names, overlap=overlap / 100)
        inputs = list(names)
    else:
        result = agreement(first, pair, overlap=overlap / 100)
        inputs = [names[0]]
    return {"inputs": inputs, **result.as_dict()}
