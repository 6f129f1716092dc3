"""Writing a .qdc codebook (codes, descriptions, colours and code sets) from any project."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lxml import etree

from qdaconv.formats import Loss
from qdaconv.model import Code, Project
from qdaconv.plugins.refi import values
from qdaconv.plugins.refi.writer import GuidMap

_Q = f"{{{values.CODEBOOK_NS}}}"


def write_codebook(project: Project, path: Path) -> list[Loss]:
    """Write the project's code tree and code sets as a CodeBook document; return what was left out."""
    guids = GuidMap()
    cleaned = Counter()
    losses: list[Loss] = []
    root = etree.Element(f"{_Q}CodeBook", {"origin": project.origin} if project.origin else {},
                         nsmap={None: values.CODEBOOK_NS})
    codes = etree.SubElement(root, f"{_Q}Codes")
    for code in project.codes:
        _code(codes, code, guids, cleaned)
    code_sets = [group for group in project.sets if group.member_codes]
    if code_sets:
        sets = etree.SubElement(root, f"{_Q}Sets")
        for group in code_sets:
            element = etree.SubElement(sets, f"{_Q}Set", {"guid": guids.out(group.guid),
                                                          "name": _clean(group.name or "", cleaned)})
            if group.description is not None:
                etree.SubElement(element, f"{_Q}Description").text = _clean(group.description, cleaned)
            for member in group.member_codes:
                etree.SubElement(element, f"{_Q}MemberCode", {"guid": guids.out(member)})
    if not project.codes:
        losses.append(Loss("an empty code book (the schema requires a code)", 1))
    if cleaned:
        losses.append(Loss("characters XML cannot hold, replaced by U+FFFD", cleaned["chars"]))
    if guids.replaced:
        losses.append(Loss("ids that are not GUIDs, replaced by stable GUIDs", len(guids.replaced)))
    etree.ElementTree(root).write(str(path), encoding="utf-8", xml_declaration=True, standalone=True,
                                  pretty_print=True)
    return losses


def _clean(text: str, cleaned: Counter[str]) -> str:
    found = values.INVALID_XML.findall(text)
    if found:
        cleaned["chars"] += len(found)
        return values.INVALID_XML.sub("\ufffd", text)
    return text


def _code(parent: etree._Element, code: Code, guids: GuidMap, cleaned: Counter[str]) -> None:
    color, _note = values.normal_color(code.color)
    attrs = {"guid": guids.out(code.guid), "name": _clean(code.name or "", cleaned),
             "isCodable": values.format_bool(code.codable)}
    if color:
        attrs["color"] = color
    element = etree.SubElement(parent, f"{_Q}Code", attrs)
    if code.description is not None:
        etree.SubElement(element, f"{_Q}Description").text = _clean(code.description, cleaned)
    for child in code.children:
        _code(element, child, guids, cleaned)
