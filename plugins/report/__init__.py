"""The report plugin: `qdaconv report SRC -o report.html`, one self-contained HTML page about a study.

The page holds the study's summary, the code tree with counts, a code x case heatmap, code
co-occurrence, the theme diagrams (REFI-QDA graphs) drawn as SVG and per-coder counts. It has
no scripts and loads nothing from the network. `render_report(project)` gives the page as text.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import click
from qdaconv.plugins.report.page import render_report

from qdaconv.api import read
from qdaconv.cli import reader_flags
from qdaconv.errors import WriteError
from qdaconv.hookspecs import hookimpl

__all__ = ["render_report", "write_report"]


def write_report(html_text: str, target: Path, force: bool = False) -> None:
    """Write the page atomically: a temporary file beside the target, then a rename."""
    if target.exists() and not force:
        raise WriteError(f"{target}: already exists; pass --force to replace it")
    if target.is_dir():
        raise WriteError(f"{target}: is a folder; give a file name such as report.html")
    if not target.parent.is_dir():
        raise WriteError(f"{target}: the folder {target.parent} does not exist; create it first")
    temporary = target.with_name(f".{target.name}.qdaconv-{uuid.uuid4().hex[:8]}.tmp")
    try:
        temporary.write_text(html_text, encoding="utf-8")
        os.replace(temporary, target)
    except OSError as exc:
        raise WriteError(f"{target}: cannot write: {exc.strerror or exc}") from None
    finally:
        temporary.unlink(missing_ok=True)


def reader_options(pairs: tuple[str, ...], named: dict[str, Any]) -> dict[str, Any]:
    """Reader options from the shared reader flags and repeated `--option KEY=VALUE`."""
    options = {key: value for key, value in named.items() if value not in (None, False)}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--option")
        options[key.strip().replace("-", "_")] = value
    return options


@click.command("report")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path),
              help="The HTML file to write; without it the page goes to stdout.")
@reader_flags
@click.option("--title", help="Page title (default: the project's name).")
@click.option("--force", is_flag=True, help="Replace an existing output file.")
def report_command(src: Path, output: Path | None, from_: str | None, title: str | None, force: bool,
                   option_pairs: tuple[str, ...], **named: Any) -> None:
    """Write a self-contained HTML report of the study SRC: counts, code tree, heatmaps, diagrams."""
    if output is not None and output.exists() and not force:
        raise WriteError(f"{output}: already exists; pass --force to replace it")
    project = read(src, from_, **reader_options(option_pairs, named))
    page = render_report(project, title)
    if output is None or str(output) == "-":
        click.echo(page, nl=False)
        return
    write_report(page, output, force)
    click.echo(f"wrote {output}", err=True)


@hookimpl
def qdaconv_register_commands(cli: click.Group) -> None:
    cli.add_command(report_command)
