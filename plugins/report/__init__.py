"""The report plugin: `qdaconv report SRC -o report.html`, one self-contained HTML page about a study.

The page holds the study's summary, the code tree with counts, a code x case heatmap, code
co-occurrence, the theme diagrams (REFI-QDA graphs) drawn as SVG and per-coder counts. It has
no scripts and loads nothing from the network. `render_report(project)` gives the page as text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from qdaconv.api import read, write_bytes
from qdaconv.cli import parse_options, reader_flags
from qdaconv.errors import WriteError
from qdaconv.hookspecs import hookimpl
from qdaconv.plugins.report.page import render_report

__all__ = ["render_report"]


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
    project = read(src, from_, **parse_options(option_pairs, **named))
    page = render_report(project, title)
    if output is None or str(output) == "-":
        click.echo(page, nl=False)
        return
    write_bytes(page, output, force=force)
    click.echo(f"wrote {output}", err=True)


@hookimpl
def qdaconv_register_commands(cli: click.Group) -> None:
    cli.add_command(report_command)
