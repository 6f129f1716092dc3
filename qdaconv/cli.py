"""The `qdaconv` command line; the only module that talks to the terminal.

Exit codes, as diff(1): 0 fine; 1 a negative verdict (invalid, different, lossy under --strict);
2 a usage or processing error. Results go to stdout, diagnostics to stderr.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from qdaconv import api, progress
from qdaconv.diff import diff as diff_projects
from qdaconv.errors import PluginError, QdaconvError, QdaconvWarning
from qdaconv.formats import Feature, Option, features_used
from qdaconv.issues import Severity
from qdaconv.model import Project, walk_codes, walk_codings, walk_selections, walk_sources
from qdaconv.registry import Registry, default_registry

DEBUG_ENV = "QDACONV_DEBUG"


class QdaconvGroup(click.Group):
    """Turns QdaconvError into one clean line on stderr and its exit code; never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except QdaconvError as exc:
            click.echo(f"qdaconv: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            _stdout_closed()
        except KeyboardInterrupt:
            click.echo("qdaconv: interrupted", err=True)
            ctx.exit(2)
        except Exception as exc:  # the outer edge: anything else is a bug, shown as one line, not a traceback
            if os.environ.get(DEBUG_ENV):
                traceback.print_exc()
            click.echo(f"qdaconv: internal error: {type(exc).__name__}: {exc} (this is a bug in qdaconv; "
                       f"please report it with the input if you can; set {DEBUG_ENV}=1 for details)", err=True)
            ctx.exit(2)


def parse_options(pairs: tuple[str, ...], **named: Any) -> dict[str, Any]:
    """Reader and writer options from named flags and repeated `--option KEY=VALUE`.

    The values stay text; the core checks them against the formats' declarations and types them.
    """
    options = {key: value for key, value in named.items() if value not in (None, False)}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        options[key.strip().replace("-", "_")] = value
    return options


#: a rule with more reader warnings than this shows the first few, then how many more
WARNINGS_PER_RULE = 10
WARNINGS_SHOWN_OF_MANY = 5


def show_read_warnings(project: Project, path: str | os.PathLike | None = None) -> None:
    """Reader warnings on stderr: the first few of each rule, then how many more there are; `path` names
    the input for a warning that does not name its file (a command reading several inputs gives it).

    Notes of severity info (dialects the schema allows) are left to `qdaconv validate`.
    """
    by_rule: dict[str, list] = {}
    for issue in project.warnings:
        if issue.severity is not Severity.INFO:
            by_rule.setdefault(issue.rule, []).append(issue)
    for rule, issues in by_rule.items():
        shown = issues if len(issues) <= WARNINGS_PER_RULE else issues[:WARNINGS_SHOWN_OF_MANY]
        for issue in shown:
            click.echo(f"qdaconv: {issue}" if issue.file or path is None else f"qdaconv: {path}: {issue}", err=True)
        if len(shown) < len(issues):
            click.echo(f"qdaconv: ... and {len(issues) - len(shown)} more {rule} "
                       "(`qdaconv validate --json` lists them all)", err=True)


@click.group(cls=QdaconvGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="qdaconv")
def cli() -> None:
    """Move qualitative studies between QDA programs, check them, and archive them in open formats."""


# ------------------------------------------------------------------------------------------ formats


def formats_markdown(registry: Registry) -> str:
    """The formats table the README shows."""
    lines = ["| name | title | extensions | read | write |", "|---|---|---|---|---|"]
    for fmt in registry:
        endings = ", ".join(f"`{e}`" for e in fmt.extensions) + (" folder" if fmt.folder else "")
        title = fmt.title.replace("|", "\\|")
        lines.append(f"| `{fmt.name}` | {title} | {endings.strip()} | {'yes' if fmt.can_read else '-'} "
                     f"| {'yes' if fmt.can_write else '-'} |")
    return "\n".join(lines)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print the formats as JSON.")
@click.option("--markdown", is_flag=True, help="Print the formats as a Markdown table.")
def formats(as_json: bool, markdown: bool) -> None:
    """List the formats qdaconv can read and write."""
    registry = default_registry()
    if markdown:
        click.echo(formats_markdown(registry))
        return
    rows = [{
        "name": fmt.name, "title": fmt.title, "extensions": list(fmt.extensions), "folder": fmt.folder,
        "read": fmt.can_read, "write": fmt.can_write,
        "capabilities": sorted(feature.label for feature in fmt.capabilities),
        "options": [option.as_dict() for option in fmt.options
                    if (option.read and fmt.can_read) or (option.write and fmt.can_write)],
        "plugin": fmt.plugin, "version": fmt.version,
    } for fmt in registry]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max((len(r["name"]) for r in rows), default=4)
    click.echo(f"{'name':<{width}}  read  write  {'extensions':<20}  title")
    for row in rows:
        endings = " ".join(row["extensions"] + (["(folder)"] if row["folder"] else []))
        click.echo(f"{row['name']:<{width}}  {'yes' if row['read'] else '-':<4}  {'yes' if row['write'] else '-':<5}  "
                   f"{endings:<20}  {row['title']}")


# ------------------------------------------------------------------------------------------ convert

_reader_flags = [
    click.option("--from", "from_", metavar="FORMAT", help="Input format name (default: detected)."),
    click.option("--option", "option_pairs", multiple=True, metavar="KEY=VALUE",
                 help="A format option (repeatable); `qdaconv formats --json` lists each format's options."),
]
#: Commands that take reader options (their own, and plugins' commands that use `reader_flags`):
#: `main` gives them a flag for every reader option a format declares with `flag=True`.
_READER_COMMANDS: list[Any] = []
#: Commands that also take writer options: they get a flag for every such writer option too.
_WRITER_COMMANDS: list[Any] = []


def reader_flags(func):
    """Give a command `--from`, `--option` and the formats' own reader flags (added when plugins load)."""
    for flag in reversed(_reader_flags):
        func = flag(func)
    _READER_COMMANDS.append(func)
    return func


def writer_flags(func):
    """Give a command the formats' own writer flags (added when plugins load)."""
    _WRITER_COMMANDS.append(func)
    return func


def _flag_for(option: Option, formats: list[str]) -> click.Option:
    which = ", ".join(formats)
    text = f"{option.help[:1].upper()}{option.help[1:]} ({which}; same as --option {option.name}=...)."
    name = "--" + option.name.replace("_", "-")
    if option.type is bool:
        return click.Option([name, option.name], is_flag=True, default=None, help=text)
    return click.Option([name, option.name], metavar=option.type_name.upper().replace("/", "_"), help=text)


def add_format_flags(group: click.Group, registry: Registry) -> None:
    """Add the flags that formats declare (`Option(flag=True)`) to the commands that take options."""
    declared: dict[tuple[str, str], tuple[Option, list[str]]] = {}
    for fmt in registry:
        for option in fmt.options:
            if not option.flag:
                continue
            for side, used in (("read", option.read and fmt.can_read), ("write", option.write and fmt.can_write)):
                if used:
                    declared.setdefault((side, option.name), (option, []))[1].append(fmt.name)
    for command in [*group.commands.values()]:
        callback = getattr(command, "callback", None)
        sides = [side for side, commands in (("read", _READER_COMMANDS), ("write", _WRITER_COMMANDS))
                 if callback in commands or getattr(callback, "__wrapped__", None) in commands]
        taken = {param.name for param in command.params}
        for (side, name), (option, formats) in declared.items():
            if side in sides and name not in taken:
                command.params.append(_flag_for(option, formats))
                taken.add(name)


@cli.command()
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("dst", type=click.Path(path_type=Path))
@reader_flags
@writer_flags
@click.option("--to", metavar="FORMAT", help="Output format name (default: by the output's extension).")
@click.option("--strict", is_flag=True, help="Fail (exit 1) and write nothing if anything would be lost.")
@click.option("--force", is_flag=True, help="Replace DST if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the loss report as JSON.")
def convert(src: Path, dst: Path, from_: str | None, to: str | None, strict: bool, force: bool, as_json: bool,
            option_pairs: tuple[str, ...], **named: Any) -> None:
    """Convert SRC into DST (the format is chosen by DST's extension, or --to)."""
    options = parse_options(option_pairs, **named)
    with progress_line(not as_json) as clear_line:
        report = api.convert(src, dst, from_, to, strict=strict, force=force,
                             on_read=lambda project: (clear_line(), show_read_warnings(project)), **options)
    for item in report.items:
        click.echo(f"qdaconv: warning: {report.target} cannot hold {item.count} {item.what}"
                   + (f" ({item.detail})" if item.detail else ""), err=True)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(f"wrote {dst} ({report.target}; {report.summary()})")


# ------------------------------------------------------------------------------------------ info


def project_counts(project: Project) -> dict[str, int]:
    """How many objects of each kind the project holds."""
    counts: Counter[str] = Counter()
    for source in walk_sources(project):
        counts[f"sources.{source.kind}"] += 1
    for _source, selection in walk_selections(project):
        counts[f"selections.{selection.kind}"] += 1
    codes = list(walk_codes(project))
    counts.update({
        "users": len(project.users), "codes": len(codes),
        "codes.codable": sum(e.code.codable for e in codes),
        "codings": sum(1 for _ in walk_codings(project)), "variables": len(project.variables),
        "cases": len(project.cases), "notes": len(project.notes), "sets": len(project.sets),
        "links": len(project.links), "graphs": len(project.graphs),
        "code_tree_depth": max((e.depth for e in codes), default=0),
    })
    return dict(sorted(counts.items()))


@cli.command()
@click.argument("file", type=click.Path(path_type=Path))
@reader_flags
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def info(file: Path, from_: str | None, as_json: bool, option_pairs: tuple[str, ...], **named: Any) -> None:
    """Summarise a study: format, origin, counts of every kind, features used."""
    fmt = default_registry().get(from_) if from_ else api.detect(file)
    project = api.read(file, fmt.name, **parse_options(option_pairs, **named))
    used = features_used(project)
    summary = {
        "file": str(file), "format": fmt.name, "name": project.name, "origin": project.origin,
        "counts": project_counts(project),
        "features": {feature.label: used[feature] for feature in Feature if used[feature]},
        "warnings": [str(issue) for issue in project.warnings],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2, ensure_ascii=False))
        return
    show_read_warnings(project)
    click.echo(f"{file}: {fmt.title} ({fmt.name})")
    click.echo(f"  project: {project.name}")
    if project.origin:
        click.echo(f"  origin:  {project.origin}")
    click.echo("  counts:")
    for key, value in summary["counts"].items():
        click.echo(f"    {key:<22} {value}")
    click.echo("  features used: " + ", ".join(summary["features"]))


# ------------------------------------------------------------------------------------------ diff


@cli.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
@click.option("--match", type=click.Choice(["guid", "content"]), default="guid", show_default=True,
              help="Match objects by GUID, or by content (code path, source name, span) for tools that "
                   "regenerate GUIDs.")
@click.option("--from", "from_", metavar="FORMAT", help="Format of both inputs (default: detected).")
@click.option("--json", "as_json", is_flag=True, help="Print the differences as JSON.")
def diff(a: Path, b: Path, match: str, from_: str | None, as_json: bool) -> None:
    """Show what differs between two studies; exit 1 when they differ."""
    result = diff_projects(api.read(a, from_), api.read(b, from_), match=match)  # type: ignore[arg-type]
    click.echo(result.to_json() if as_json else result.render_text())
    sys.exit(0 if result.same else 1)


# ------------------------------------------------------------------------------------------ progress

#: Seconds of work before progress is shown, so quick commands stay silent.
PROGRESS_AFTER_ENV = "QDACONV_PROGRESS_AFTER"


class _ProgressLine:
    """One line on stderr saying how far the work in one file is (`reading 42%`), redrawn in place."""

    def __init__(self, after: float) -> None:
        self.started = time.monotonic()
        self.after = after
        self.shown = ""

    def __call__(self, step: progress.Step) -> None:
        if time.monotonic() - self.started < self.after:
            return
        text = f"qdaconv: {step.stage} {step.done * 100 // max(step.total, 1)}%"
        if text != self.shown:
            click.echo(f"\r{text:<{len(self.shown)}}", err=True, nl=False)
            self.shown = text

    def clear(self) -> None:
        if self.shown:
            click.echo("\r" + " " * len(self.shown) + "\r", err=True, nl=False)
            self.shown = ""


@contextmanager
def progress_line(wanted: bool) -> Iterator[Callable[[], None]]:
    """Show the progress of long work in one file on stderr, when `wanted` and stderr is a terminal;
    gives a function that clears the line, to call before printing anything else on stderr."""
    if not wanted or not sys.stderr.isatty():
        yield lambda: None
        return
    line = _ProgressLine(float(os.environ.get(PROGRESS_AFTER_ENV) or 1.0))
    try:
        with progress.reporting(line):
            yield line.clear
    finally:
        line.clear()


# ------------------------------------------------------------------------------------------ validate


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option("--junit", type=click.Path(path_type=Path), metavar="FILE", help="Also write a JUnit XML report.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Parallel workers (default: the CPU count).")
@click.option("--rules", metavar="IDS", help="Comma-separated rule ids or prefixes to run (default: all).")
@click.option("--strict", is_flag=True, help="Warnings count as failures too.")
@click.option("--executor", type=click.Choice(["process", "dask"]), default="process", show_default=True,
              help="Run the per-file checks in local processes or on a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler address (with --executor dask).")
def validate(paths: tuple[str, ...], as_json: bool, junit: Path | None, jobs: int | None,
             rules: str | None, strict: bool, executor: str, scheduler: str | None) -> None:
    """Check files against the REFI-QDA schemas and the rules schemas cannot express."""
    from qdaconv import validation

    files = validation.expand_paths(list(paths))
    # The program's own objects (modules, plugins, their tables) are set aside from the cycle collector,
    # here and in the workers forked from here: its full passes walked them all again for every few files.
    gc.freeze()
    rule_list = [r.strip() for r in rules.split(",") if r.strip()] if rules else None
    show_progress = sys.stderr.isatty() and len(files) > 1 and not as_json
    with click.progressbar(length=len(files), label="validating", file=sys.stderr,
                           hidden=not show_progress) as bar, progress_line(len(files) == 1 and not as_json):
        reports = validation.validate_many(files, jobs=jobs, rules=rule_list, executor=executor,
                                           scheduler=scheduler, progress=lambda _report: bar.update(1))
    if junit is not None:
        api.write_bytes(validation.render_junit(reports, strict=strict), junit, force=True)
    click.echo(validation.render_json(reports) if as_json else validation.render_text(reports))
    sys.exit(validation.exit_status(reports, strict=strict))


# ------------------------------------------------------------------------------------------ entry point


def main(argv: list[str] | None = None) -> None:
    """Load the plugins (they may add commands), then run the command line."""
    try:
        registry = default_registry()
    except PluginError as exc:
        click.echo(f"qdaconv: error: {exc}", err=True)
        sys.exit(2)
    registry.manager.hook.qdaconv_register_commands(cli=cli)
    add_format_flags(cli, registry)
    try:
        try:
            with warnings.catch_warnings():
                warnings.showwarning = _show_warning
                cli.main(args=argv, prog_name="qdaconv")
        finally:
            sys.stdout.flush()  # here, not at exit, where a closed pipe would print a traceback
    except BrokenPipeError:
        _stdout_closed()


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """qdaconv's own warnings as one line on stderr; others as Python shows them."""
    if issubclass(category, QdaconvWarning):
        click.echo(f"qdaconv: warning: {message}", err=True)
    else:
        click.echo(warnings.formatwarning(message, category, filename, lineno, line), err=True, nl=False)


#: The exit code of a program whose reader went away (128 + SIGPIPE), as the shell reports it.
EXIT_PIPE_CLOSED = 141


def _stdout_closed() -> None:
    """The reader of our output went away (`qdaconv formats | head -3`): stop quietly, as Unix tools do."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # what is left in the buffer goes nowhere
    sys.exit(EXIT_PIPE_CLOSED)
