"""The archive plugin: `qdaconv archive SRC OUT` packs a study for deposit, `--verify` checks a package.

The package (a folder, or a .zip) is a BagIt 1.0 bag: the original input, the project as a
validated .qdpx, the tidy CSV tables with datapackage.json, the sources and notes as plain files,
the codebook as .qdc, Markdown and HTML, a README, and SHA-256 manifests. Same input, same bytes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from qdaconv.cli import parse_options, reader_flags, show_read_warnings
from qdaconv.hookspecs import hookimpl
from qdaconv.plugins.archive.package import (
    Verdict,
    make_package,
    make_redacted_package,
    package_folder_name,
    verify_package,
)

__all__ = ["Verdict", "make_package", "make_redacted_package", "verify_package"]


@click.command("archive")
@click.argument("src", type=click.Path(path_type=Path))
@click.argument("out", required=False, type=click.Path(path_type=Path))
@click.option("--verify", is_flag=True,
              help="Check the package SRC: checksums, and that its project and tables agree. "
                   "Exit 0 when good, 1 when not.")
@click.option("--redact", "terms_file", type=click.Path(path_type=Path), metavar="TERMS.csv",
              help="Package a de-identified copy: replace the names and places of TERMS.csv (see `qdaconv redact`); "
                   "the original input is left out.")
@click.option("--redact-log", type=click.Path(path_type=Path), metavar="LOG.csv",
              help="With --redact: write every replacement here, outside the package.")
@click.option("--include", "include", multiple=True, type=click.Choice(["codes"]),
              help="With --redact: also redact code names and descriptions.")
@click.option("--strict", is_flag=True, help="With --redact: fail (exit 1) if anything cannot be redacted.")
@reader_flags
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written, or the verification, as JSON.")
@click.pass_context
def archive_command(ctx: click.Context, src: Path, out: Path | None, verify: bool, terms_file: Path | None,
                    redact_log: Path | None, include: tuple[str, ...], strict: bool, from_: str | None, force: bool,
                    as_json: bool, option_pairs: tuple[str, ...], **named: Any) -> None:
    """Pack the study SRC into OUT (a folder, or OUT.zip) for deposit in a data repository.

    Without OUT the package is SRC's name with "-archive.zip", in the current folder.
    """
    if verify:
        if out is not None:
            raise click.UsageError("--verify takes only the package to check")
        verdict = verify_package(src)
        if as_json:
            click.echo(json.dumps({"package": str(src), "ok": verdict.ok, "files": verdict.files,
                                   "problems": verdict.problems}, indent=2, ensure_ascii=False))
            ctx.exit(0 if verdict.ok else 1)
        for problem in verdict.problems:
            click.echo(f"FAILED {problem}")
        if not verdict.ok:
            click.echo(f"{src}: verification failed ({len(verdict.problems)} problems)", err=True)
            ctx.exit(1)
        click.echo(f"{src}: OK, {verdict.files} files match their checksums; project and tables agree")
        return
    target = out if out is not None else Path(f"{package_folder_name(src)}.zip")
    options = parse_options(option_pairs, **named)
    if terms_file is None:
        if redact_log is not None or strict or include:
            raise click.UsageError("--redact-log, --include and --strict go with --redact")
        make_package(src, target, from_, force, on_read=show_read_warnings, **options)
        if as_json:
            click.echo(json.dumps({"output": str(target), "redacted": False}, indent=2, ensure_ascii=False))
        else:
            click.echo(f"wrote {target}")
        return
    redaction = make_redacted_package(src, target, terms_file, log=redact_log, from_=from_, force=force,
                                      strict=strict, include_codes="codes" in include, on_read=show_read_warnings,
                                      **options)
    for item in redaction.losses:
        click.echo(f"qdaconv: warning: {item.count} {item.what}", err=True)
    if as_json:
        click.echo(json.dumps({"output": str(target), "redacted": True, "replacements": len(redaction.replacements),
                               "log": str(redact_log) if redact_log else None,
                               "lost": [{"what": i.what, "count": i.count, "detail": i.detail}
                                        for i in redaction.losses]}, indent=2, ensure_ascii=False))
        return
    click.echo(f"wrote {target}: de-identified, {len(redaction.replacements)} replacements; no term left in it"
               + (f"; log in {redact_log}" if redact_log else ""))


@hookimpl
def qdaconv_register_commands(cli: click.Group) -> None:
    cli.add_command(archive_command)
