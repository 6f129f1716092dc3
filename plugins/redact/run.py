"""Making a de-identified copy of a study: read, redact in memory, write, verify, then put in place.

The output is written into a staging folder beside OUT and searched there, every file and every
member of every zip, for any term left; only a clean output is moved into place, so a failed
verification leaves nothing behind. The log of replacements is written only where asked and
never inside the output: it is the key to the identities.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qdaconv import api
from qdaconv.errors import WriteError
from qdaconv.formats import LossReport
from qdaconv.model import Project
from qdaconv.redaction import (
    DEFAULT_PLACEHOLDER,
    Matcher,
    Redaction,
    TermsLeftError,
    check_log_path,
    find_terms,
    is_inside,
    read_terms,
    redact_project,
    terms_left_message,
)


@dataclass(slots=True)
class Outcome:
    """What `redact_file` did: the redaction, what was dropped or not carried, and how many fields changed."""

    redaction: Redaction
    report: LossReport
    places: int = 0
    log: Path | None = None


def _check_paths(src: Path, out: Path, terms: Path, log: Path | None, force: bool) -> None:
    if out.exists() and not force:
        raise WriteError(f"{out}: already exists; pass --force to replace it")
    if src.exists() and (is_inside(out, src) or is_inside(src, out)):
        raise WriteError(f"{out}: is the input, holds it, or is inside it; choose another output path")
    if not out.parent.is_dir():
        raise WriteError(f"{out}: the folder {out.parent} does not exist; create it first")
    if log is not None:
        check_log_path(log, [out, src, terms], force=force)


def redact_file(src: Path, out: Path, terms_file: Path, *, log: Path | None = None,
                placeholder: str = DEFAULT_PLACEHOLDER, include_codes: bool = False, force: bool = False,
                strict: bool = False, from_: str | None = None, to: str | None = None,
                on_read: Callable[[Project], None] | None = None, **options: Any) -> Outcome:
    """De-identify the study at `src` into `out` (any writable format); see the module docstring.

    Raises ReadError for a bad terms file or input, WriteError for outputs that may not be
    written, LossError under `strict` when something cannot be redacted or carried, and
    TermsLeftError when a term would remain in the output. `on_read(project)` is called once the input is read.
    """
    terms = read_terms(terms_file, placeholder)
    matcher = Matcher(terms)
    _check_paths(src, out, terms_file, log, force)
    read_options, write_options = api.split_options(options, src, out, from_, to)
    project = api.read(src, from_, **read_options)
    if on_read is not None:
        on_read(project)  # the reader's warnings, shown before the work as convert shows them
    if strict:
        api.refuse_read_warnings(project, out)
    redaction = redact_project(project, matcher, include_codes=include_codes)
    redaction.refuse(str(out), strict=strict)
    staging = api.temporary_path(out)
    staging.mkdir()
    try:
        report = api.write(project, staging / out.name, to, strict=strict, **write_options)
        report.items[:0] = redaction.losses
        found = find_terms(staging, matcher)
        if found:
            raise TermsLeftError(terms_left_message(found, f"{out}: not written: terms are left in the output"))
        if log is not None:
            api.write_bytes(redaction.log_csv(), log, force=force)
        try:
            api.commit_staged(staging, out)
        except BaseException:
            if log is not None:
                log.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise WriteError(f"{out}: cannot write: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report.target = str(out)
    places = len({(item.kind, item.guid, item.field) for item in redaction.replacements})
    return Outcome(redaction, report, places, log)
