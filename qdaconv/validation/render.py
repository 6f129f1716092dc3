"""Reports rendered for people and machines: compiler-style text, JSON, JUnit XML."""

from __future__ import annotations

import json
from collections.abc import Iterable

from qdaconv.issues import Severity
from qdaconv.validation.report import Report


def summary_line(reports: Iterable[Report]) -> str:
    """`N files checked: V valid, E with errors, W with warnings`."""
    reports = list(reports)
    valid = sum(report.valid for report in reports)
    with_warnings = sum(bool(report.warnings) for report in reports)
    noun = "file" if len(reports) == 1 else "files"
    return (f"{len(reports)} {noun} checked: {valid} valid, {len(reports) - valid} with errors, "
            f"{with_warnings} with warnings")


def render_text(reports: Iterable[Report]) -> str:
    """Compiler-style lines (`file:place: error RULE: message (hint)`), file by file, then the summary."""
    reports = list(reports)
    lines = [str(issue) for report in reports for issue in report.issues]
    return "\n".join([*lines, summary_line(reports)])


def render_json(reports: Iterable[Report]) -> str:
    """A JSON array with one object per file: file, format, valid, counts and the issues."""
    return json.dumps([report.as_dict() for report in reports], indent=2, ensure_ascii=False)


def render_junit(reports: Iterable[Report], strict: bool = False) -> str:
    """JUnit XML for CI dashboards: one testcase per file, failing on errors (and warnings under `strict`)."""
    from lxml import etree

    reports = list(reports)
    failing = [report for report in reports if not report.passes(strict)]
    suites = etree.Element("testsuites", name="qdaconv validate", tests=str(len(reports)),
                           failures=str(len(failing)), errors="0")
    suite = etree.SubElement(suites, "testsuite", name="qdaconv validate", tests=str(len(reports)),
                             failures=str(len(failing)), errors="0", skipped="0")
    for report in reports:
        case = etree.SubElement(suite, "testcase", classname=f"qdaconv.validate.{report.format or 'unknown'}",
                                name=report.file)
        counted = [i for i in report.issues if i.severity is Severity.ERROR or (strict and i.severity is
                                                                                 Severity.WARNING)]
        if counted:
            failure = etree.SubElement(case, "failure", type=counted[0].rule,
                                       message=f"{report.errors} error(s), {report.warnings} warning(s)")
            failure.text = "\n".join(str(issue) for issue in counted)
        failed = {id(issue) for issue in counted}
        others = [str(issue) for issue in report.issues if id(issue) not in failed]
        if others:
            etree.SubElement(case, "system-out").text = "\n".join(others)
    return etree.tostring(suites, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")
