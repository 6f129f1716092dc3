"""Drawing a REFI-QDA graph (a theme diagram) as inline SVG: vertices as shapes, edges as lines."""

from __future__ import annotations

import math
from html import escape

from qdaconv.model import Edge, Graph, Vertex, guid_key
from qdaconv.values import css_color

_DEFAULT_FILL = "#e8eef7"
_CHAR_WIDTH = 7.2  # px per character of the 13px label font, for sizing and wrapping
_LINE_HEIGHT = 16
_PAD = 24


def safe_color(value: str | None, default: str) -> str:
    """A colour usable in an attribute (#RRGGBB from any notation the programs write), else `default`."""
    return css_color(value, default)


def _box(vertex: Vertex, label: str) -> tuple[float, float, float, float]:
    """The vertex's rectangle; a vertex with one point gets a box sized to its label around it."""
    if vertex.second_x is not None and vertex.second_y is not None:
        x1, x2 = sorted((vertex.first_x, vertex.second_x))
        y1, y2 = sorted((vertex.first_y, vertex.second_y))
        if x2 - x1 >= 4 and y2 - y1 >= 4:
            return x1, y1, x2, y2
    width = min(max(len(label) * _CHAR_WIDTH + 24, 60), 220)
    lines = len(_wrap(label, width))
    return vertex.first_x, vertex.first_y, vertex.first_x + width, vertex.first_y + lines * _LINE_HEIGHT + 16


def _wrap(text: str, width: float) -> list[str]:
    """Words wrapped to lines that fit `width` (an estimate: no font metrics without a browser)."""
    per_line = max(int((width - 12) / _CHAR_WIDTH), 4)
    lines: list[str] = []
    for word in text.split():
        if lines and len(lines[-1]) + 1 + len(word) <= per_line:
            lines[-1] += " " + word
        else:
            lines.extend(word[i:i + per_line] for i in range(0, len(word), per_line))
    return lines or [""]


def _shape(shape: str | None, x1: float, y1: float, x2: float, y2: float, fill: str) -> str:
    w, h = x2 - x1, y2 - y1
    cx, cy = x1 + w / 2, y1 + h / 2
    style = f'fill="{fill}" stroke="#4a5a70" stroke-width="1.5"'
    kind = (shape or "RoundedRectangle").lower()
    if kind == "oval":
        return f'<ellipse cx="{cx:.1f}" cy="{cy:.1f}" rx="{w / 2:.1f}" ry="{h / 2:.1f}" {style}/>'
    points = {
        "uptriangle": [(cx, y1), (x2, y2), (x1, y2)],
        "downtriangle": [(x1, y1), (x2, y1), (cx, y2)],
        "lefttriangle": [(x1, cy), (x2, y1), (x2, y2)],
        "righttriangle": [(x1, y1), (x2, cy), (x1, y2)],
        "star": _star(cx, cy, w / 2, h / 2),
        "note": [(x1, y1), (x2 - 12, y1), (x2, y1 + 12), (x2, y2), (x1, y2)],
    }.get(kind)
    if points is not None:
        text = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        return f'<polygon points="{text}" {style}/>'
    radius = {"rectangle": 0, "person": min(w, h) / 2}.get(kind, 8)
    return (f'<rect x="{x1:.1f}" y="{y1:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{radius:.1f}" {style}/>')


def _star(cx: float, cy: float, rx: float, ry: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        angle = -math.pi / 2 + i * math.pi / 5
        scale = 1 if i % 2 == 0 else 0.45
        points.append((cx + rx * scale * math.cos(angle), cy + ry * scale * math.sin(angle)))
    return points


def _clip(box: tuple[float, float, float, float], toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the box's centre toward a point leaves the box, so arrowheads stay visible."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    dx, dy = toward[0] - cx, toward[1] - cy
    if dx == 0 and dy == 0:
        return cx, cy
    scale = min((x2 - x1) / 2 / abs(dx) if dx else math.inf, (y2 - y1) / 2 / abs(dy) if dy else math.inf)
    return cx + dx * scale, cy + dy * scale


def render_graph(graph: Graph, names: dict[str, str], prefix: str) -> str:
    """One graph as an <svg> element; `names` labels what vertices represent; `prefix` keeps ids unique."""
    labels = {guid_key(v.guid): v.name or names.get(guid_key(v.represented), "") for v in graph.vertices}
    boxes = {guid_key(v.guid): _box(v, labels[guid_key(v.guid)]) for v in graph.vertices}
    if not boxes:
        return '<p class="muted">This diagram has no elements.</p>'
    left = min(b[0] for b in boxes.values()) - _PAD
    top = min(b[1] for b in boxes.values()) - _PAD
    width = max(b[2] for b in boxes.values()) + _PAD - left
    height = max(b[3] for b in boxes.values()) + _PAD - top
    title = escape(graph.name or "Diagram")
    colors = sorted({_edge_color(edge.color) for edge in graph.edges})
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="diagram" role="img" aria-label="{title}" '
        f'viewBox="{left:.0f} {top:.0f} {width:.0f} {height:.0f}" width="{min(width, 960):.0f}">',
        f"<title>{title}</title>",
        "<defs>",
        *(f'<marker id="{_marker_id(prefix, color)}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
          f'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
          for color in colors),
        "</defs>",
    ]
    edges = [_edge(edge, boxes, names, prefix) for edge in graph.edges]
    parts += [line for line, _label in edges]
    for vertex in graph.vertices:
        parts.append(_vertex(vertex, boxes[guid_key(vertex.guid)], labels[guid_key(vertex.guid)]))
    parts += [label for _line, label in edges]  # labels last, so no shape hides them
    parts.append("</svg>")
    return "\n".join(part for part in parts if part)


def _vertex(vertex: Vertex, box: tuple[float, float, float, float], label: str) -> str:
    x1, y1, x2, y2 = box
    fill = safe_color(vertex.color, _DEFAULT_FILL)
    lines = _wrap(label, x2 - x1)
    first_y = (y1 + y2) / 2 - (len(lines) - 1) * _LINE_HEIGHT / 2
    cx = (x1 + x2) / 2
    spans = "".join(f'<tspan x="{cx:.1f}" y="{first_y + i * _LINE_HEIGHT:.1f}">{escape(line)}</tspan>'
                    for i, line in enumerate(lines))
    return (f'<g class="vertex">{_shape(vertex.shape, x1, y1, x2, y2, fill)}'
            f'<text text-anchor="middle" dominant-baseline="middle" fill="{_ink(fill)}">{spans}</text></g>')


def _ink(fill: str) -> str:
    """White or near-black text, whichever contrasts more with the fill (WCAG contrast ratio)."""
    digits = fill.lstrip("#")
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    dark = 0.019  # the luminance of #1d2733
    return "#ffffff" if 1.05 / (luminance + 0.05) > (luminance + 0.05) / (dark + 0.05) else "#1d2733"


def _edge_color(value: str | None) -> str:
    return safe_color(value, "#5b6b80").lower()


def _marker_id(prefix: str, color: str) -> str:
    return f"{prefix}-arrow-{color.lstrip('#')}"


Box = tuple[float, float, float, float]


def _edge(edge: Edge, boxes: dict[str, Box], names: dict[str, str], prefix: str) -> tuple[str, str]:
    """The edge's line and its label (drawn separately, above the shapes); empty for a dangling edge."""
    start_box, end_box = boxes.get(guid_key(edge.source_vertex)), boxes.get(guid_key(edge.target_vertex))
    if start_box is None or end_box is None:
        return "", ""
    start_centre = ((start_box[0] + start_box[2]) / 2, (start_box[1] + start_box[3]) / 2)
    end_centre = ((end_box[0] + end_box[2]) / 2, (end_box[1] + end_box[3]) / 2)
    sx, sy = _clip(start_box, end_centre)
    ex, ey = _clip(end_box, start_centre)
    color = _edge_color(edge.color)
    marker = _marker_id(prefix, color)
    dash = {"dotted": ' stroke-dasharray="2 4"', "dashed": ' stroke-dasharray="8 5"'}.get(
        (edge.line_style or "").lower(), "")
    direction = (edge.direction or "").lower()
    markers = ""
    if direction in ("oneway", "bidirectional"):
        markers += f' marker-end="url(#{marker})"'
    if direction == "bidirectional":
        markers += f' marker-start="url(#{marker})"'
    line = (f'<line x1="{sx:.1f}" y1="{sy:.1f}" x2="{ex:.1f}" y2="{ey:.1f}" stroke="{color}" '
            f'stroke-width="1.6"{dash}{markers}/>')
    label = edge.name or names.get(guid_key(edge.represented), "")
    text = ""
    if label:
        mx, my = (sx + ex) / 2, (sy + ey) / 2
        text = f'<text class="edge-label" x="{mx:.1f}" y="{my - 4:.1f}" text-anchor="middle">{escape(label)}</text>'
    return f'<g class="edge">{line}</g>', text
