"""Validation: is a file valid, and will the program on the other side open it?

`validate(path)` checks one file through every layer into a `Report`; `validate_many` checks
many in parallel; `RULES` is the core's rule catalogue. The modules, bottom up:

- `rules`: the catalogue (`Rule`, `RULES`, `catalogue(registry)` with the formats' own rules);
- `report`: `Report` and the exit status;
- `container`: the file layer (format, the format's own container and schema check, reading);
- `schema`: the official XSDs, and validating XML against them while streaming;
- `places`, `integrity`, `interop`, `texts`: the model layers and the one pass over the texts;
- `run`: `validate` and `model_issues`; `batch`: folders and parallel runs; `render`: text, JSON, JUnit.
"""

from qdaconv.validation.batch import CERTAIN_CLAIM, PROBABLE_CLAIM, expand_paths, validate_many
from qdaconv.validation.render import render_json, render_junit, render_text, summary_line
from qdaconv.validation.report import Report, exit_status
from qdaconv.validation.rules import RULES, Rule, catalogue, rule_matcher, rules_table
from qdaconv.validation.run import model_issues, plugin_issues, validate

__all__ = [
    "CERTAIN_CLAIM",
    "PROBABLE_CLAIM",
    "RULES",
    "Report",
    "Rule",
    "catalogue",
    "exit_status",
    "expand_paths",
    "model_issues",
    "plugin_issues",
    "render_json",
    "render_junit",
    "render_text",
    "rule_matcher",
    "rules_table",
    "summary_line",
    "validate",
    "validate_many",
]
