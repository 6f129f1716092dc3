"""The redact plugin: `qdaconv redact SRC OUT --terms TERMS.csv` writes a de-identified copy of a study.

Names and places are replaced everywhere participants' words can be, every coded excerpt stays
on its words, what cannot be redacted (media, PDF and rich-text files) is dropped and reported,
and the output is searched for any term left before it is put in place. The work is done by
`qdaconv.redaction` (the core), so the archive command and others can use it too.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from qdaconv.cli import parse_options, reader_flags, show_read_warnings, writer_flags
from qdaconv.hookspecs import hookimpl
from qdaconv.plugins.redact.run import Outcome, TermsLeftError, redact_file
from qdaconv.redaction import DEFAULT_PLACEHOLDER

__all__ = ["Outcome", "TermsLeftError", "redact_file"]


@click.command("redact")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--terms", "terms_file", required=True, type=click.Path(path_type=Path), metavar="TERMS.csv",
              help="CSV with a header `term,replacement`: the names and places to replace.")
@click.option("--log", type=click.Path(path_type=Path), metavar="LOG.csv",
              help="Write every replacement here (the key to the identities: keep it apart). Never inside OUT.")
@click.option("--placeholder", default=DEFAULT_PLACEHOLDER, show_default=True,
              help="The replacement for terms that have none in the terms file.")
@click.option("--include", "include", multiple=True, type=click.Choice(["codes"]),
              help="Also redact code names and descriptions (kept by default: they are the analysis).")
@reader_flags
@writer_flags
@click.option("--to", metavar="FORMAT", help="Output format name (default: by OUT's extension).")
@click.option("--strict", is_flag=True,
              help="Fail (exit 1) and write nothing if anything cannot be redacted or carried.")
@click.option("--force", is_flag=True, help="Replace OUT (and the log) if they exist.")
@click.option("--json", "as_json", is_flag=True, help="Print what was replaced and what was lost as JSON.")
def redact_command(src: Path, out: Path, terms_file: Path, log: Path | None, placeholder: str,
                   include: tuple[str, ...], from_: str | None, to: str | None, strict: bool, force: bool,
                   as_json: bool, option_pairs: tuple[str, ...], **named: Any) -> None:
    """Write a de-identified copy of the study SRC to OUT: names and places replaced, codings kept in place.

    Exit 1 when a term would be left in OUT, or under --strict when something cannot be
    redacted; nothing is written then.
    """
    outcome = redact_file(src, out, terms_file, log=log, placeholder=placeholder, include_codes="codes" in include,
                          force=force, strict=strict, from_=from_, to=to, on_read=show_read_warnings,
                          **parse_options(option_pairs, **named))
    for item in outcome.report.items:
        click.echo(f"qdaconv: warning: {item.count} {item.what}" + (f" ({item.detail})" if item.detail else ""),
                   err=True)
    replaced = len(outcome.redaction.replacements)
    if as_json:
        click.echo(json.dumps({**outcome.report.as_dict(), "output": str(out), "replacements": replaced,
                               "places": outcome.places, "log": str(log) if log else None}, indent=2))
        return
    click.echo(f"wrote {out}: {replaced} replacements in {outcome.places} places; no term left in it"
               + (f"; log in {log}" if log else ""))


@hookimpl
def qdaconv_register_commands(cli: click.Group) -> None:
    cli.add_command(redact_command)
