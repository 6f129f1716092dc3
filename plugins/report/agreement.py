"""The report's agreement section: per-code Cohen's kappa of each pair of coders as an inline SVG bar chart.

The figures come from the core (`qdaconv.agreement`), so the page and `qdaconv agree` always agree.
"""

from __future__ import annotations

from html import escape
from itertools import combinations

from qdaconv.model import Project

_MAX_PAIRS = 6
_LABEL_WIDTH = 330
_BAR_WIDTH = 360  # kappa -1 .. 1
_ROW = 20


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _figure(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _color(kappa: float) -> str:
    """Blue for good agreement, through amber, to red below chance (Landis and Koch's bands)."""
    if kappa < 0:
        return "#c0392b"
    if kappa < 0.4:
        return "#e67e22"
    if kappa < 0.6:
        return "#d4ac0d"
    return "#2f5f98"


def _chart(codes: list, key: str) -> str:
    """Horizontal bars from the zero line, one row per code, lowest kappa first."""
    rows = [code for code in codes if code.characters.kappa is not None]
    height = _ROW * len(rows) + 30
    zero = _LABEL_WIDTH + _BAR_WIDTH / 2
    parts = [f'<svg class="agreement" role="img" aria-labelledby="{key}-t" width="{_LABEL_WIDTH + _BAR_WIDTH + 60}" '
             f'height="{height}" viewBox="0 0 {_LABEL_WIDTH + _BAR_WIDTH + 60} {height}" '
             'xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{key}-t">Cohen\'s kappa per code</title>']
    for tick in (-1, -0.5, 0, 0.5, 1):
        x = zero + tick * _BAR_WIDTH / 2
        parts.append(f'<line x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 20}" stroke="#d9e0e8"/>'
                     f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" font-size="11" fill="#5d6b7a">'
                     f"{tick:g}</text>")
    for row, code in enumerate(rows):
        kappa = code.characters.kappa
        y = 6 + row * _ROW
        width = abs(kappa) * _BAR_WIDTH / 2
        x = zero if kappa >= 0 else zero - width
        name = code.path[-1]
        label = name if len(name) <= 44 else name[:43] + "…"
        parts.append(f'<text x="{_LABEL_WIDTH - 8}" y="{y + 12}" text-anchor="end" font-size="12" fill="#1d2733">'
                     f"<title>{_e(' > '.join(code.path))}</title>{_e(label)}</text>"
                     f'<rect x="{x:.1f}" y="{y + 2}" width="{max(width, 1):.1f}" height="{_ROW - 6}" rx="2" '
                     f'fill="{_color(kappa)}"/>'
                     f'<text x="{zero + _BAR_WIDTH / 2 + 6}" y="{y + 12}" font-size="11" fill="#5d6b7a">'
                     f"{kappa:.2f}</text>")
    parts.append(f'<line x1="{zero}" y1="4" x2="{zero}" y2="{height - 20}" stroke="#5d6b7a"/></svg>')
    return "".join(parts)


def agreement_section(project: Project) -> str | None:
    """The section's HTML, or None when the project has fewer than two coders."""
    from qdaconv.agreement import AgreementError, agreement, coders

    everyone = coders(project)
    if len(everyone) < 2:
        return None
    pairs = list(combinations(everyone, 2))
    parts = ['<p class="muted">How far each pair of coders agrees, character by character, over the texts both '
             "coded: Cohen's kappa per code (1 is full agreement, 0 what chance gives, below 0 worse than "
             "chance), lowest first. <code>qdaconv agree</code> gives every figure.</p>"]
    for number, (first, second) in enumerate(pairs[:_MAX_PAIRS], start=1):
        heading = f"<h3>{_e(first.name)} and {_e(second.name)}</h3>"
        try:
            result = agreement(project, (first.name, second.name))
        except AgreementError as exc:
            parts.append(f'{heading}<p class="muted">{_e(exc)}</p>')
            continue
        overall = result.overall
        parts.append(
            f"{heading}<p>{len(result.sources)} texts coded by both, {len(result.codes)} codes: kappa "
            f"<b>{_figure(overall.characters.kappa)}</b>, {_figure(overall.characters.percent, 1)}% of characters "
            f"agree, Krippendorff's alpha {_figure(overall.alpha)}, "
            f"{_figure(overall.segments.percent, 1)}% of coded segments matched (90% overlap).</p>"
            f'<div class="scroll">{_chart(result.by_kappa(), f"agree{number}")}</div>')
    if len(pairs) > _MAX_PAIRS:
        parts.append(f'<p class="muted">{len(pairs) - _MAX_PAIRS} more pairs of coders are not shown.</p>')
    return "".join(parts)
