"""The readable codebook of an archive package: the code tree with definitions and counts, as Markdown and HTML."""

from __future__ import annotations

from html import escape

from qdaconv.figures import CodeCount, code_counts
from qdaconv.model import Project
from qdaconv.values import css_color


def _kind(row: CodeCount) -> str:
    code = row.entry.code
    if not code.codable and code.children:
        return "theme"
    return "code" if code.codable else "group"


def md_cell(text: str | None) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join((text or "").split()).replace("\\", "\\\\").replace("|", "\\|")


def codebook_markdown(project: Project) -> str:
    rows = code_counts(project)
    lines = [f"# Codebook: {md_cell(project.name)}", ""]
    if not rows:
        return "\n".join([*lines, "The project has no codes.", ""])
    themes = sum(_kind(row) == "theme" for row in rows)
    lines += [
        f"{len(rows)} codes, {themes} of them themes (codes that group codes and are not applied themselves).",
        "`codings` counts the code's own codings; `with subcodes` adds those of the codes beneath it; "
        "`sources` is the number of sources it was applied in.",
        "",
        "| code | kind | codings | with subcodes | sources | colour | definition |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in rows:
        indent = "&nbsp;&nbsp;&nbsp;&nbsp;" * (row.entry.depth - 1)
        lines.append(
            f"| {indent}{md_cell(row.entry.code.name)} | {_kind(row)} | {row.own} | {row.total} | {row.sources} "
            f"| {md_cell(row.entry.code.color)} | {md_cell(row.entry.code.description)} |")
    return "\n".join(lines) + "\n"


_CSS = """
body { font: 15px/1.5 system-ui, sans-serif; color: #1d2733; margin: 32px; max-width: 1100px; }
table { border-collapse: collapse; font-size: 14px; }
th, td { border: 1px solid #d9e0e8; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f7fb; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.swatch { display: inline-block; width: 12px; height: 12px; border: 1px solid #0003; border-radius: 3px; }
.theme { font-weight: 600; }
"""


def codebook_html(project: Project) -> str:
    """The codebook as a self-contained HTML page (no scripts, no network)."""
    rows = code_counts(project)
    body = []
    for row in rows:
        code = row.entry.code
        pad = 8 + 22 * (row.entry.depth - 1)
        swatch = f'<span class="swatch" style="background:{css_color(code.color, "#FFFFFF")}"></span> '
        css = ' class="theme"' if _kind(row) == "theme" else ""
        body.append(
            f'<tr><td style="padding-left:{pad}px"{css}>{swatch}{escape(code.name)}</td><td>{_kind(row)}</td>'
            f'<td class="num">{row.own}</td><td class="num">{row.total}</td><td class="num">{row.sources}</td>'
            f"<td>{escape(code.description or '')}</td></tr>")
    table = ("<table><thead><tr><th>Code</th><th>Kind</th><th>Codings</th><th>With subcodes</th>"
             f"<th>Sources</th><th>Definition</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
             if rows else "<p>The project has no codes.</p>")
    name = escape(project.name)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Codebook: {name}</title>'
            f"<style>{_CSS}</style></head><body><h1>Codebook: {name}</h1>{table}</body></html>\n")
