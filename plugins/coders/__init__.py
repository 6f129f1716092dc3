"""The coders plugin: `qdaconv merge` joins several coders' copies of a study, `qdaconv agree` measures agreement.

Both are thin command lines over the core (`qdaconv.merge`, `qdaconv.agreement`), so that the
report and any other front end compute the same figures.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from qdaconv import api
from qdaconv.cli import parse_options, reader_flags, show_read_warnings, writer_flags
from qdaconv.errors import WriteError
from qdaconv.hookspecs import hookimpl
from qdaconv.model import Project

if TYPE_CHECKING:  # the agreement module loads numpy: only when `agree` runs
    from qdaconv.agreement import Agreement


def _read(path: Path, from_: str | None, options: dict[str, Any]) -> Project:
    project = api.read(path, from_, **options)
    show_read_warnings(project, path)
    return project


@contextmanager
def _kept_from_the_collector() -> Iterator[None]:
    """While a command works with the projects it read, keep the cycle collector off them.

    Readers build millions of objects with the collector paused, and its first passes afterwards
    would walk them all again, a tenth of a second for nothing: the model holds no cycles.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


# ------------------------------------------------------------------------------------------ merge


@click.command("merge")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="The merged project (its format from the name, or --to).")
@click.option("--match", type=click.Choice(["guid", "content"]), default="guid", show_default=True,
              help="Match objects by GUID, or by content (source text, code path, names, spans) for programs "
                   "that make new GUIDs on every export.")
@reader_flags
@writer_flags
@click.option("--to", metavar="FORMAT", help="Output format name (default: by the output's extension).")
@click.option("--strict", is_flag=True, help="Fail (exit 1) and write nothing on any conflict or loss.")
@click.option("--force", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print the conflicts and what was added as JSON.")
def merge_command(inputs: tuple[Path, ...], output: Path, match: str, from_: str | None, to: str | None,
                  strict: bool, force: bool, as_json: bool, option_pairs: tuple[str, ...], **named: Any) -> None:
    """Merge the coders' copies INPUTS into one project OUTPUT.

    Sources, codes, cases, variables and notes are matched by GUID (or content); every coder's
    selections and codings are kept with their user, each once. Where two copies differ (a
    renamed code, a changed text, a different variable value) the first input's value is kept
    and the conflict is listed; --strict makes any conflict an error.
    """
    from qdaconv.merge import merge

    if len(inputs) < 2:
        raise click.UsageError("give at least two projects to merge")
    for path in inputs:
        if output.exists() and path.exists() and output.resolve() == path.resolve():
            raise WriteError(f"{output}: is an input; choose another output path")
    if output.exists() and not force:
        raise WriteError(f"{output}: already exists; pass --force to replace it")
    options = parse_options(option_pairs, **named)
    write_options: dict[str, Any] = {}
    projects = []
    for path in inputs:
        read_options, write_options = api.split_options(options, path, output, from_, to)
        projects.append(_read(path, from_, read_options))
        if strict:
            api.refuse_read_warnings(projects[-1], output)
    with _kept_from_the_collector():
        result = merge(projects, [str(path) for path in inputs], match=match)  # type: ignore[arg-type]
        for conflict in result.conflicts:
            click.echo(f"qdaconv: conflict: {conflict}", err=True)
        for note in result.renamed:
            click.echo(f"qdaconv: note: {note}", err=True)
        summary: dict[str, Any] = {"output": str(output), "inputs": [str(p) for p in inputs], "match": match,
                                   **result.as_dict()}
        if strict and result.conflicts:
            if as_json:
                click.echo(json.dumps({**summary, "written": False}, indent=2, ensure_ascii=False))
            click.echo(f"qdaconv: error: {output}: not written: {len(result.conflicts)} conflicts between the inputs "
                       "(--strict; listed above): settle them in the copies, or merge without --strict", err=True)
            sys.exit(1)
        report = api.write(result.project, output, to, force=force, strict=strict, **write_options)
        for item in report.items:
            click.echo(f"qdaconv: warning: {report.target} cannot hold {item.count} {item.what}"
                       + (f" ({item.detail})" if item.detail else ""), err=True)
        if as_json:
            click.echo(json.dumps({**summary, "written": True, "loss": report.as_dict()}, indent=2, ensure_ascii=False))
        else:
            added = ", ".join(f"{count} {kind}s" for kind, count in sorted(result.added.items())) or "nothing"
            click.echo(f"wrote {output} ({len(inputs)} inputs; added from the later ones: {added}; "
                       f"{len(result.conflicts)} conflicts)")


# ------------------------------------------------------------------------------------------ agree


def json_pieces(value: Any, level: int = 0) -> Iterator[str]:
    """The text of `json.dumps(value, indent=2, ensure_ascii=False)`, character for character, in pieces.

    With an indent json encodes in Python, which costs half a second for the 13 MB that `agree
    --json` prints for 100,000 excerpts. Here every dict or list that holds no container, and
    every list of such dicts, is encoded by json's C encoder with separators that carry the line
    breaks and indents; the pieces are written one by one, so the whole text is never held at once.
    (Dict keys must be strings; tuples are lists, as json has them.)
    """
    outer, pad, inner = ("\n" + "  " * depth for depth in (level, level + 1, level + 2))
    if isinstance(value, dict) and value:
        if not any(map(_is_container, value.values())):
            yield "{" + pad + _flat_json(value, pad)[1:-1] + outer + "}"
            return
        opening = "{" + pad
        for key, item in value.items():
            yield opening + json.dumps(key, ensure_ascii=False) + ": "
            yield from json_pieces(item, level + 1)
            opening = "," + pad
        yield outer + "}"
    elif isinstance(value, (list, tuple)) and value:
        if not any(map(_is_container, value)):
            yield "[" + pad + _flat_json(value, pad)[1:-1] + outer + "]"
        elif all(isinstance(item, dict) and item and not any(map(_is_container, item.values())) for item in value):
            # One call for the whole list. Its "}," + inner + "{" can only be the break between two
            # items (a string holds no raw line break): it becomes the break of indented items.
            flat = _flat_json(value, inner)[2:-2].replace("}," + inner + "{", pad + "}," + pad + "{" + inner)
            yield "[" + pad + "{" + inner + flat + pad + "}" + outer + "]"
        else:
            opening = "[" + pad
            for item in value:
                yield opening
                yield from json_pieces(item, level + 1)
                opening = "," + pad
            yield outer + "]"
    else:
        yield json.dumps(value, ensure_ascii=False)


def _is_container(value: Any) -> bool:
    return isinstance(value, (dict, list, tuple))


def _flat_json(value: dict | list | tuple, pad: str) -> str:
    return json.dumps(value, ensure_ascii=False, separators=("," + pad, ": "))


def _figure(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _rows(result: Agreement) -> list[dict[str, Any]]:
    compared = len(result.codes)
    rows = []
    for code in [*result.by_kappa(), result.overall]:
        segments = code.segments.as_dict(compared)
        rows.append({
            "code_guid": code.guid or "", "code": code.name, "path": " > ".join(code.path),
            "kappa": code.characters.kappa, "percent": code.characters.percent, "alpha": code.alpha,
            "characters": code.characters.characters, "both": code.characters.both,
            "only_a": code.characters.only_a, "only_b": code.characters.only_b, "neither": code.characters.neither,
            "segments_a": segments["segments_a"], "segments_b": segments["segments_b"],
            "matched_a": segments["matched_a"], "matched_b": segments["matched_b"],
            "segment_percent": segments["percent"], "segment_kappa": segments["kappa"]})
    return rows


def _text_report(result: Agreement) -> str:
    a, b = result.coders
    overall = result.overall
    lines = [f"agreement of {a} (A) and {b} (B) over {len(result.sources)} shared texts "
             f"({sum(n for _g, _n, n in result.sources):,} characters), {len(result.codes)} codes",
             f"overall: kappa {_figure(overall.characters.kappa)}, {_figure(overall.characters.percent, 1)}% of "
             f"characters agree, alpha {_figure(overall.alpha)}; segments matched "
             f"{_figure(overall.segments.percent, 1)}% (overlap {result.overlap:.0%}), "
             f"segment kappa {_figure(overall.segments.kappa(len(result.codes)))}", ""]
    header = (f"{'kappa':>7} {'agree%':>7} {'alpha':>7} {'seg%':>6} {'A only':>7} {'B only':>7} {'both':>7}  code")
    lines.append(header)
    for code in result.by_kappa():
        table = code.characters
        lines.append(f"{_figure(table.kappa):>7} {_figure(table.percent, 1):>7} {_figure(code.alpha):>7} "
                     f"{_figure(code.segments.percent, 1):>6} {table.only_a:>7} {table.only_b:>7} {table.both:>7}  "
                     f"{' > '.join(code.path)}")
    worst = [c for c in result.by_kappa() if c.characters.kappa is not None][:3]
    if worst:
        lines += ["", "least agreement: " + "; ".join(
            f"{' > '.join(c.path)} (kappa {_figure(c.characters.kappa)})" for c in worst)]
    return "\n".join(lines)


@click.command("agree")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--coders", "pair", metavar="NAME,NAME",
              help="With one project: the two users to compare (default: the two with most codings).")
@click.option("--overlap", type=click.FloatRange(min=0, min_open=True, max=100), default=90, show_default=True,
              metavar="PCT", help="Segments match when they overlap by at least PCT percent of the two together.")
@reader_flags
@click.option("--json", "as_json", is_flag=True, help="Print every figure as JSON, one object per code.")
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), metavar="FILE",
              help="Also write the per-code table as CSV.")
@click.option("--force", is_flag=True, help="Replace the CSV file if it exists.")
def agree_command(inputs: tuple[Path, ...], pair: str | None, overlap: float, from_: str | None, as_json: bool,
                  csv_path: Path | None, force: bool, option_pairs: tuple[str, ...], **named: Any) -> None:
    """How far two coders agree, per code and overall.

    Give one project and the users inside it (--coders), or two files, one per coder: all the
    codings in a file count for that file's coder, whoever made them (said when a file holds
    several users). Only text documents coded by both coders are compared; what was left out and
    why goes to stderr.
    """
    from qdaconv.agreement import AgreementError, agreement, agreement_between

    if len(inputs) > 2:
        raise click.UsageError("give one project (with --coders) or two files, one per coder")
    if len(inputs) == 2 and pair:  # said before the work of reading two projects
        raise click.UsageError("--coders chooses users inside one project; with two files each file is a coder")
    if as_json and csv_path is not None:
        raise click.UsageError("--json and --csv are alternatives; choose one")
    if csv_path is not None and csv_path.exists() and not force:
        raise WriteError(f"{csv_path}: already exists; pass --force to replace it")
    options = parse_options(option_pairs, **named)
    projects = [_read(path, from_, options) for path in inputs]
    with _kept_from_the_collector():
        if len(projects) == 2:
            result = agreement_between(*projects, names=(str(inputs[0]), str(inputs[1])), overlap=overlap / 100)
        else:
            names = None
            if pair:
                names = tuple(name.strip() for name in pair.split(","))
                if len(names) != 2 or not all(names):
                    raise click.BadParameter("give two names separated by a comma", param_hint="--coders")
            try:
                result = agreement(projects[0], names, overlap=overlap / 100)
            except AgreementError as exc:  # the library speaks of "the project"; the command names its file
                raise AgreementError(f"{inputs[0]}: {exc}") from None
        for note in result.left_out:
            click.echo(f"qdaconv: note: {note}", err=True)
        if csv_path is not None:
            buffer = io.StringIO()
            rows = _rows(result)
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
            api.write_bytes(buffer.getvalue(), csv_path, force=force)
        if as_json:
            for piece in json_pieces({"inputs": [str(p) for p in inputs], **result.as_dict()}):
                click.echo(piece, nl=False)
            click.echo()
        else:
            click.echo(_text_report(result))


@hookimpl
def qdaconv_register_commands(cli: click.Group) -> None:
    cli.add_command(merge_command)
    cli.add_command(agree_command)
