"""The study report as one self-contained HTML page: inline CSS and SVG, no scripts, no network.

Every piece of project text goes through `html.escape`; colours from the project are used only
when they are plain #RGB/#RRGGBB values.
"""

from __future__ import annotations

from collections import Counter
from html import escape

from qdaconv.figures import CodeCount, code_counts, summary
from qdaconv.model import (
    Case,
    Code,
    Project,
    Source,
    Variable,
    VariableValue,
    guid_key,
    transcripts,
    walk_codings,
    walk_documents,
)
from qdaconv.plugins.report.agreement import agreement_section
from qdaconv.plugins.report.stats import (
    co_occurrence,
    code_case_matrix,
    code_names,
    coder_counts,
    object_names,
    top_codes,
    top_pairs,
)
from qdaconv.plugins.report.svg import render_graph, safe_color

_CSS = """
:root { --ink: #1d2733; --muted: #5d6b7a; --line: #d9e0e8; --accent: #2f5f98; --soft: #f4f7fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
header { background: var(--accent); color: #fff; padding: 28px 40px 22px; }
header h1 { margin: 0 0 4px; font-size: 28px; }
header p { margin: 2px 0; opacity: .9; }
main { padding: 8px 40px 48px; max-width: 1280px; }
h2 { margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); font-size: 20px; }
h3 { margin: 22px 0 8px; font-size: 16px; }
nav { margin: 14px 0 0; font-size: 14px; }
nav a { color: #fff; margin-right: 14px; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; margin-top: 18px; }
.card { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px;
        min-width: 120px; }
.card b { display: block; font-size: 24px; color: var(--accent); }
.card span { color: var(--muted); font-size: 13px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-width: 100%; }
.heat td.num { min-width: 34px; text-align: center; }
.heat th.col { writing-mode: vertical-rl; transform: rotate(180deg); white-space: nowrap; vertical-align: bottom; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 22px; }
ul.tree { padding-left: 0; }
ul.tree li { margin: 3px 0; }
.code { display: inline-flex; align-items: center; gap: 8px; }
.swatch { width: 12px; height: 12px; border-radius: 3px; border: 1px solid #0003; display: inline-block; }
.bar { display: inline-block; height: 8px; background: var(--accent); border-radius: 4px; opacity: .55; }
.count { font-variant-numeric: tabular-nums; color: var(--muted); font-size: 13px; }
.theme { font-size: 11px; text-transform: uppercase; letter-spacing: .04em; background: #fde7c2;
         color: #7a4b00; border-radius: 4px; padding: 0 5px; }
.desc { display: block; color: var(--muted); font-size: 13px; margin-left: 20px; max-width: 70em; }
svg.diagram { max-width: 100%; height: auto; background: #fbfcfe; border: 1px solid var(--line); border-radius: 8px; }
svg.diagram text { font: 13px system-ui, sans-serif; }
svg.diagram text.edge-label { font-size: 11px; fill: #3d4b5a; paint-order: stroke; stroke: #fbfcfe;
                              stroke-width: 4px; stroke-linejoin: round; }
details { margin: 4px 0; }
details p { white-space: pre-wrap; margin: 4px 0 8px 18px; color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
"""

_TOP_CO_CODES = 20
_TOP_PAIRS = 15
_STORY_PREVIEW = 600


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _heat(count: int, peak: int) -> str:
    """A cell style whose blue deepens with the count; 0 stays white."""
    if count <= 0 or peak <= 0:
        return ""
    lightness = 94 - 56 * (count / peak)
    ink = "#fff" if lightness < 60 else "#1d2733"
    return f' style="background:hsl(212,62%,{lightness:.0f}%);color:{ink}"'


def render_report(project: Project, title: str | None = None) -> str:
    """The whole page as a string."""
    facts = summary(project)
    sections = [
        ("sources", "Transcripts and sources", _sources(project)),
        ("codes", "Code tree", _code_tree(project)),
        ("cases", "Codes by case", _code_case(project)),
        ("cooccurrence", "Code co-occurrence", _co_occurrence(project)),
        ("diagrams", "Theme diagrams", _diagrams(project)),
        ("coders", "Coders", _coders(project)),
        *([("agreement", "Coder agreement", agreed)] if (agreed := agreement_section(project)) else []),
        ("variables", "Cases and variables", _case_variables(project)),
        ("notes", "Notes and microstories", _notes(project)),
    ]
    heading = title or facts.name
    meta = [f"Origin: {_e(facts.origin)}" if facts.origin else "",
            f"Created: {_e(facts.created)}" if facts.created else ""]
    nav = "".join(f'<a href="#{anchor}">{_e(name)}</a>' for anchor, name, _ in sections)
    cards = "".join(f'<div class="card"><b>{count}</b><span>{_e(label)}</span></div>'
                    for label, count in facts.counts)
    body = "".join(f'<section id="{anchor}"><h2>{_e(name)}</h2>{content}</section>'
                   for anchor, name, content in sections)
    description = f"<p>{_e(facts.description)}</p>" if facts.description else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # nothing may load or run: the page stays self-contained whatever the project's text holds
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'
        f"<title>{_e(heading)}: study report</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{_e(heading)}</h1>{''.join(f'<p>{m}</p>' for m in meta if m)}"
        f"<nav>{nav}</nav></header><main>"
        f'<section id="summary"><h2>Summary</h2>{description}<div class="cards">{cards}</div></section>'
        f"{body}<footer>Made by qdaconv from the project's own data.</footer></main></body></html>\n"
    )


def _sources(project: Project) -> str:
    cases_of: dict[str, list[str]] = {}
    for case in project.cases:
        for ref in case.source_refs:
            cases_of.setdefault(guid_key(ref), []).append(case.name or case.guid)
    codings: Counter[int] = Counter()
    for source, _selection, _coding in walk_codings(project):
        codings[id(source)] += 1
    owned = {id(entry.source): entry.top for entry in walk_documents(project) if entry.top is not None}
    per_source: Counter[int] = Counter()
    for document_id, count in codings.items():
        top = owned.get(document_id)
        if top is not None:
            per_source[id(top)] += count
    variables = _variables_used(project, project.sources)
    rows = []
    for source in project.sources:
        text_doc = source if source.kind == "Text" else (source.transcripts[0] if source.transcripts else None)
        text = text_doc.text if text_doc is not None else None
        rows.append(
            f"<tr><td>{_e(source.name or source.guid)}</td><td>{_e(source.kind)}"
            f"{' + transcript' if source.transcripts else ''}</td>"
            f"<td>{_e(', '.join(cases_of.get(guid_key(source.guid), [])))}</td>"
            f"{_value_cells(source.variable_values, variables)}"
            f'<td class="num">{len(text) if text is not None else ""}</td>'
            f'<td class="num">{per_source[id(source)]}</td></tr>')
    if not rows:
        return '<p class="muted">The project has no sources.</p>'
    intro = f"<p>{len(transcripts(project))} transcripts among {len(project.sources)} sources.</p>"
    head = "".join(f"<th>{_e(v.name)}</th>" for v in variables)
    return (f'{intro}<div class="scroll"><table><thead><tr><th>Source</th><th>Kind</th><th>Cases</th>{head}'
            f'<th class="num">Characters</th><th class="num">Codings</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _variables_used(project: Project, holders: list[Case] | list[Source]) -> list[Variable]:
    """The project's variables that have a value on at least one of `holders` (cases or sources)."""
    used = {guid_key(value.variable) for holder in holders for value in holder.variable_values}
    return [variable for variable in project.variables if guid_key(variable.guid) in used]


def _value_cells(values: list[VariableValue], variables: list[Variable]) -> str:
    by_variable = {guid_key(value.variable): _format_value(value.value) for value in values}
    return "".join(f"<td>{_e(by_variable.get(guid_key(v.guid), ''))}</td>" for v in variables)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _coding_counts(own: int, total: int) -> str:
    if own == total:
        return _plural(own, "coding")
    if own == 0:
        return f"{_plural(total, 'coding')} beneath"
    return f"{_plural(own, 'coding')}, {total} with the codes beneath"


def _code_tree(project: Project) -> str:
    rows = code_counts(project)
    if not rows:
        return '<p class="muted">The project has no codes.</p>'
    by_key = {guid_key(row.entry.code.guid): row for row in rows}
    peak = max(row.total for row in rows) or 1
    return ('<p class="muted">Each code shows its codings (or those of the codes beneath it) '
            f'and the number of sources they were applied in.</p>{_code_list(project.codes, by_key, peak, True)}')


def _code_list(codes: list[Code], by_key: dict[str, CodeCount], peak: int, top: bool = False) -> str:
    items = []
    for code in codes:
        row = by_key[guid_key(code.guid)]
        swatch = f'<span class="swatch" style="background:{safe_color(code.color, "#ffffff")}"></span>'
        theme = '<span class="theme">theme</span>' if not code.codable and code.children else ""
        counts = f'<span class="count">{_coding_counts(row.own, row.total)} · {_plural(row.sources, "source")}</span>'
        bar = f'<span class="bar" style="width:{max(2, round(120 * row.total / peak))}px"></span>'
        description = f'<span class="desc">{_e(code.description)}</span>' if code.description else ""
        children = _code_list(code.children, by_key, peak) if code.children else ""
        items.append(f'<li><span class="code">{swatch}<b>{_e(code.name)}</b>{theme}{bar}{counts}</span>'
                     f"{description}{children}</li>")
    opening = '<ul class="tree">' if top else "<ul>"
    return f'{opening}{"".join(items)}</ul>'


def _code_case(project: Project) -> str:
    codes, cases, matrix = code_case_matrix(project)
    if not codes:
        return '<p class="muted">No coded excerpts belong to a case.</p>'
    peak = max(max(row) for row in matrix)
    totals = {guid_key(row.entry.code.guid): row.own for row in code_counts(project)}
    head = "".join(f'<th class="col">{_e(name)}</th>' for name in cases)
    body = []
    for entry, row in zip(codes, matrix, strict=True):
        cells = "".join(f'<td class="num"{_heat(count, peak)}>{count or ""}</td>' for count in row)
        body.append(f'<tr><th title="{_e(" > ".join(entry.path))}">{_e(entry.code.name)}</th>{cells}'
                    f'<td class="num">{totals.get(guid_key(entry.code.guid), 0)}</td></tr>')
    return ('<p class="muted">Codings per code and case; a source counts for every case it belongs to. '
            '"All" counts each coding once.</p>'
            f'<div class="scroll"><table class="heat"><thead><tr><th>Code</th>{head}'
            f'<th class="num">All</th></tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def _co_occurrence(project: Project) -> str:
    pairs = co_occurrence(project)
    if not pairs:
        return '<p class="muted">No two codes share or overlap an excerpt.</p>'
    names = code_names(project)
    keys = top_codes(pairs, _TOP_CO_CODES)
    peak = max(pairs.values())
    short = {key: names.get(key, key).rsplit(" > ", 1)[-1] for key in keys}
    head = "".join(f'<th class="col" title="{_e(names.get(k, k))}">{_e(short[k])}</th>' for k in keys)
    rows = []
    for a in keys:
        cells = []
        for b in keys:
            count = pairs.get((min(a, b), max(a, b)), 0) if a != b else 0
            cells.append(f'<td class="num"{_heat(count, peak)}>{count or ""}</td>')
        rows.append(f'<tr><th title="{_e(names.get(a, a))}">{_e(short[a])}</th>{"".join(cells)}</tr>')
    listing = "".join(f"<tr><td>{_code_label(names.get(a, a))}</td><td>{_code_label(names.get(b, b))}</td>"
                      f'<td class="num">{count}</td></tr>' for (a, b), count in top_pairs(pairs, _TOP_PAIRS))
    return ('<p class="muted">Two codes co-occur when they code the same excerpt or overlapping text. '
            f"The matrix shows the {len(keys)} codes with the most co-occurrences.</p>"
            f'<div class="scroll"><table class="heat"><thead><tr><th></th>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>'
            '<h3>Most frequent pairs</h3><table><thead><tr><th>Code</th><th>Code</th>'
            f'<th class="num">Excerpts</th></tr></thead><tbody>{listing}</tbody></table>')


def _code_label(path_text: str) -> str:
    """A code's name, with the codes above it in small print."""
    parent, _sep, name = path_text.rpartition(" > ")
    above = f' <span class="count">in {_e(parent)}</span>' if parent else ""
    return f"<b>{_e(name)}</b>{above}"


def _diagrams(project: Project) -> str:
    if not project.graphs:
        return '<p class="muted">The project has no diagrams.</p>'
    names = object_names(project)
    return "".join(f"<figure><h3>{_e(graph.name or f'Diagram {index}')}</h3>"
                   f"{render_graph(graph, names, f'g{index}')}</figure>"
                   for index, graph in enumerate(project.graphs, start=1))


def _coders(project: Project) -> str:
    rows = coder_counts(project)
    if not rows:
        return '<p class="muted">The project has no codings.</p>'
    peak = max(row[1] for row in rows) or 1
    body = "".join(
        f'<tr><td>{_e(name)}</td><td class="num">{codings}</td>'
        f'<td><span class="bar" style="width:{max(2, round(160 * codings / peak))}px"></span></td>'
        f'<td class="num">{codes}</td><td class="num">{sources}</td></tr>'
        for name, codings, codes, sources in rows)
    return ('<table><thead><tr><th>Coder</th><th class="num">Codings</th><th></th>'
            '<th class="num">Codes used</th><th class="num">Sources coded</th></tr></thead>'
            f"<tbody>{body}</tbody></table>")


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _case_variables(project: Project) -> str:
    if not project.cases:
        return '<p class="muted">The project has no cases.</p>'
    variables = _variables_used(project, project.cases)
    head = "".join(f"<th>{_e(v.name)}</th>" for v in variables)
    rows = "".join(f"<tr><td>{_e(case.name or case.guid)}</td>{_value_cells(case.variable_values, variables)}"
                   f'<td class="num">{len(case.source_refs)}</td></tr>' for case in project.cases)
    return (f'<div class="scroll"><table><thead><tr><th>Case</th>{head}<th class="num">Sources</th></tr>'
            f"</thead><tbody>{rows}</tbody></table></div>")


def _notes(project: Project) -> str:
    if not project.notes:
        return '<p class="muted">The project has no notes.</p>'
    items = []
    for note in project.notes:
        text = note.text or ""
        preview = text[:_STORY_PREVIEW] + ("…" if len(text) > _STORY_PREVIEW else "")
        items.append(f"<details><summary>{_e(note.name or note.guid)}</summary><p>{_e(preview)}</p></details>")
    return f"<p>{len(project.notes)} notes.</p>{''.join(items)}"
