"""Every rule id fires on a file made to provoke it, and no rule id goes without such a file.

Each case writes a real file (a .qdpx zip, a bare .qde or .qdc, a vendor spreadsheet export, a
transcripts folder) that breaks one thing, then checks that validation (for the catalogue's rules)
or reading (for the notes readers attach to a project) names that rule. The last test collects
every rule id the code can emit and fails when one has no case here, so a new rule needs a test.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import struct
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pluggy
import pytest
from conftest import flip_member_byte

import qdaconv
from qdaconv import hookspecs
from qdaconv.formats import Format
from qdaconv.hookspecs import hookimpl
from qdaconv.model import Code, Coding, Project, Selection
from qdaconv.registry import Registry, default_registry
from qdaconv.validation import RULES, validate

ROOT = Path(__file__).resolve().parent.parent
VENDORS = ROOT / "fixtures" / "vendors"
NS = "urn:QDA-XML:project:1.0"
USER = "0D7F3A10-1111-4A5E-9C11-2B6F0E7A1D01"
CODE = "8D4E3C6A-0F2B-4A5E-9C11-2B6F0E7A1D01"
CODE_2 = "8D4E3C6A-0F2B-4A5E-9C11-2B6F0E7A1D02"
SOURCE = "5A0C1D2E-3F40-4B51-8C62-7D8E9FA0B1C2"
SELECTION = "1A2B3C4D-5E6F-4071-8293-A4B5C6D7E8F9"
CODING = "2B3C4D5E-6F70-4182-93A4-B5C6D7E8F9A0"
TEXT = "Trust came first, then the plan for the whole system.\n"


def selection(start: int = 0, end: int = 5, guid: str = SELECTION, coding: str = CODING, code: str = CODE,
              extra: str = "") -> str:
    return (f'<PlainTextSelection guid="{guid}" startPosition="{start}" endPosition="{end}"{extra}>'
            f'<Coding guid="{coding}"><CodeRef targetGUID="{code}"/></Coding></PlainTextSelection>')


def project_xml(*, root: str = "", users: str | None = None, codes: str | None = None, variables: str = "",
                cases: str = "", source_attrs: str = f'plainTextPath="internal://{SOURCE}.txt"',
                source_inner: str | None = None, sources_extra: str = "", notes: str = "", sets: str = "",
                graphs: str = "", declaration: str = '<?xml version="1.0" encoding="utf-8"?>\n',
                ns: str = NS) -> str:
    """A small valid project; each keyword replaces or adds one part."""
    users = users if users is not None else f'<Users><User guid="{USER}" name="Anna"/></Users>'
    codes = codes if codes is not None else (f'<CodeBook><Codes><Code guid="{CODE}" name="trust" '
                                             'isCodable="true"/></Codes></CodeBook>')
    inner = source_inner if source_inner is not None else selection()
    return (f'{declaration}<Project xmlns="{ns}" name="tiny" origin="hand"{root}>{users}{codes}{variables}'
            f'{cases}<Sources><TextSource guid="{SOURCE}" name="one" {source_attrs}>{inner}</TextSource>'
            f'{sources_extra}</Sources>{notes}{sets}{graphs}</Project>')


def qdpx(path: Path, xml: str | None = None, members: dict[str, str | bytes] | None = None,
         qde_name: str = "project.qde") -> Path:
    contents: dict[str, str | bytes] = {qde_name: xml if xml is not None else project_xml(),
                                        f"sources/{SOURCE}.txt": TEXT}
    contents.update(members or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in contents.items():
            if data is not None:
                archive.writestr(name, data)
    return path


def qde(path: Path, xml: str) -> Path:
    path.write_text(xml, encoding="utf-8")
    return path


def inline(text: str = TEXT) -> dict[str, str]:
    """A project whose one source holds its text inline (a bare .qde needs no files)."""
    return {"source_attrs": "", "source_inner": f"<PlainTextContent>{text}</PlainTextContent>" + selection()}


def many_selections(text: str, spans: list[tuple[int, int, str | None]]) -> str:
    parts = []
    for number, (start, end, name) in enumerate(spans):
        named = f' name="{name}"' if name is not None else ""
        parts.append(selection(start, end, guid=f"1A2B3C4D-5E6F-4071-8293-{number:012X}",
                               coding=f"2B3C4D5E-6F70-4182-93A4-{number:012X}", extra=named))
    return f"<PlainTextContent>{text}</PlainTextContent>" + "".join(parts)


WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma".split()


def word_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(r"\w+", text)]


# ------------------------------------------------------------------------------- fake plugins


class _Breaking(Format):
    name = "breaking"
    title = "a format whose check and reader break"
    extensions = (".breaking",)

    def sniff(self, path: Path) -> float:
        return 1.0 if path.suffix == ".breaking" else 0.0

    def check(self, path: Path, **options):
        raise RuntimeError("the check broke")

    def read(self, path: Path, **options) -> Project:
        return Project(name="read")


class _BreakingPlugin:
    @hookimpl
    def qdaconv_register_formats(self, register):
        register(_Breaking())

    @hookimpl
    def qdaconv_validate_project(self, project):
        raise KeyError("the rules broke")


def breaking_registry() -> Registry:
    manager = pluggy.PluginManager("qdaconv")
    manager.add_hookspecs(hookspecs)
    manager.register(_BreakingPlugin(), name="breaking")
    return Registry(manager)


# ------------------------------------------------------------------------------- the cases

Make = Callable[[Path], Path]


def _format_unknown(tmp: Path) -> Path:
    path = tmp / "mystery.bin"
    path.write_bytes(b"\x00\x01 not a study \xff" * 10)
    return path


def _zip_broken(tmp: Path) -> Path:
    path = qdpx(tmp / "a.qdpx")
    path.write_bytes(path.read_bytes()[:-30])
    return path


def _zip_unsafe(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", members={"../escape.txt": "x"})


def _zip_bad_member(tmp: Path) -> Path:
    path = qdpx(tmp / "a.qdpx", members={f"sources/{SOURCE}.txt": TEXT * 50})
    flip_member_byte(path, f"sources/{SOURCE}.txt")
    return path


def _zip_file_too_large(tmp: Path) -> Path:
    """A member whose directory entry says it is 2.4 GB, without writing the bytes: its 13 MB of noise
    keep the size ratio under the zip-bomb limit, so only the REFI-QDA size limit is broken."""
    path = qdpx(tmp / "a.qdpx")
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("sources/huge.mp4", os.urandom(13 * 1024 * 1024))
    data = bytearray(path.read_bytes())
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack("<H", data[central + 28:central + 30])[0]
        if data[central + 46:central + 46 + name_length] == b"sources/huge.mp4":
            data[central + 24:central + 28] = struct.pack("<I", 0x9000_0000)  # the uncompressed size
            break
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    return path


def _zip_no_qde(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", members={"project.qde": None})


def _zip_many_qde(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", members={"old.qde": project_xml()})


def _zip_missing_file(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", members={f"sources/{SOURCE}.txt": None})


def _zip_unreferenced(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", members={"sources/stray.pdf": b"%PDF-1.4"})


def _zip_name_clash(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", members={f"sources/{SOURCE.lower()}.TXT": "x"})


def _zip_sources_folder(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", members={"sources/sub/a.txt": "x"})


def _xml_malformed(tmp: Path) -> Path:
    return qde(tmp / "a.qde", project_xml(**inline())[:300])


def _xml_unsafe(tmp: Path) -> Path:
    xml = project_xml(**inline()).replace('<?xml version="1.0" encoding="utf-8"?>\n',
                                          '<?xml version="1.0"?>\n<!DOCTYPE p [<!ENTITY a "aaaa">]>\n')
    return qde(tmp / "a.qde", xml)


def _refi_xsd_namespace(tmp: Path) -> Path:
    return qde(tmp / "a.qde", project_xml(ns="urn:QDA-XML:project:0:10", **inline()))


def _refi_xsd(tmp: Path) -> Path:
    return qde(tmp / "a.qde", project_xml(sets="<Sets/>", **inline()))


def _refi_encoding(tmp: Path) -> Path:
    path = tmp / "a.qde"
    xml = project_xml(declaration='<?xml version="1.0" encoding="iso-8859-1"?>\n', **inline("Caf\xe9 first."))
    path.write_bytes(xml.encode("iso-8859-1"))
    return path


def _guid_duplicate(tmp: Path) -> Path:
    codes = (f'<CodeBook><Codes><Code guid="{CODE}" name="trust" isCodable="true"/>'
             f'<Code guid="{CODE}" name="again" isCodable="true"/></Codes></CodeBook>')
    return qde(tmp / "a.qde", project_xml(codes=codes, **inline()))


def _guid_shared(tmp: Path) -> Path:
    codes = (f'<CodeBook><Codes><Code guid="{CODE}" name="trust" isCodable="true"/>'
             f'<Code guid="{SOURCE}" name="same as the source" isCodable="true"/></Codes></CodeBook>')
    return qde(tmp / "a.qde", project_xml(codes=codes, **inline()))


def _ref_dangling(tmp: Path) -> Path:
    return qde(tmp / "a.qde", project_xml(source_attrs="", source_inner=f"<PlainTextContent>{TEXT}"
                                          "</PlainTextContent>" + selection(code=CODE_2)))


def _ref_wrong_kind(tmp: Path) -> Path:
    cases = (f'<Cases><Case guid="3C4D5E6F-7081-4293-A4B5-C6D7E8F9A0B1" name="Anna">'
             f'<SourceRef targetGUID="{CODE}"/></Case></Cases>')
    return qde(tmp / "a.qde", project_xml(cases=cases, **inline()))


def _ref_user(tmp: Path) -> Path:
    extra = ' creatingUser="0D7F3A10-9999-4A5E-9C11-2B6F0E7A1D01"'
    return qde(tmp / "a.qde", project_xml(source_attrs="", source_inner=f"<PlainTextContent>{TEXT}"
                                          "</PlainTextContent>" + selection(extra=extra)))


def _text_both(tmp: Path) -> Path:
    xml = project_xml(source_inner=f"<PlainTextContent>{TEXT}</PlainTextContent>" + selection())
    return qdpx(tmp / "a.qdpx", xml)


def _text_none(tmp: Path) -> Path:
    return qde(tmp / "a.qde", project_xml(source_attrs="", source_inner=""))


def _text_unavailable(tmp: Path) -> Path:
    # a bare .qde cannot hold the files its internal:// paths name
    return qde(tmp / "a.qde", project_xml())


def _pos_out_of_range(tmp: Path) -> Path:
    return qde(tmp / "a.qde", project_xml(source_attrs="", source_inner=f"<PlainTextContent>{TEXT}"
                                          "</PlainTextContent>" + selection(0, len(TEXT) + 10)))


PICTURE = "7C8D9E0F-1A2B-4C3D-8E4F-5A6B7C8D9E0F"


def _pos_corners(tmp: Path) -> Path:
    picture = (f'<PictureSource guid="{PICTURE}" name="photo" path="internal://{PICTURE}.png">'
               f'<PictureSelection guid="{SELECTION[:-1]}A" firstX="50" firstY="50" secondX="10" secondY="10">'
               f'<Coding guid="{CODING[:-1]}B"><CodeRef targetGUID="{CODE}"/></Coding></PictureSelection>'
               "</PictureSource>")
    return qdpx(tmp / "a.qdpx", project_xml(sources_extra=picture), members={f"sources/{PICTURE}.png": b"\x89PNG"})


def _sync_out_of_range(tmp: Path) -> Path:
    audio = (f'<AudioSource guid="{PICTURE}" name="talk" path="internal://{PICTURE}.mp3">'
             f'<Transcript guid="{PICTURE[:-1]}1" name="talk text"><PlainTextContent>Short.</PlainTextContent>'
             f'<SyncPoint guid="{PICTURE[:-1]}2" timeStamp="0" position="999"/></Transcript></AudioSource>')
    return qdpx(tmp / "a.qdpx", project_xml(sources_extra=audio), members={f"sources/{PICTURE}.mp3": b"ID3"})


VARIABLE = "4D5E6F70-8192-43A4-B5C6-D7E8F9A0B1C2"


def _var_type(tmp: Path) -> Path:
    variables = f'<Variables><Variable guid="{VARIABLE}" name="wave" typeOfVariable="Integer"/></Variables>'
    cases = (f'<Cases><Case guid="3C4D5E6F-7081-4293-A4B5-C6D7E8F9A0B1" name="Anna"><VariableValue>'
             f'<VariableRef targetGUID="{VARIABLE}"/><TextValue>first</TextValue></VariableValue></Case></Cases>')
    return qde(tmp / "a.qde", project_xml(variables=variables, cases=cases, **inline()))


def _interop_qde_name(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", qde_name="Project.qde")


def _interop_sources_case(tmp: Path) -> Path:
    path = tmp / "a.qdpx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", project_xml())
        archive.writestr(f"Sources/{SOURCE}.txt", TEXT)
    return path


def _interop_schema_location(tmp: Path) -> Path:
    root = (' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
            'xsi:schemaLocation="urn:QDA-XML:project:0:4 Project.xsd"')
    return qde(tmp / "a.qde", project_xml(root=root, **inline()))


def _interop_path(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", project_xml(source_attrs=f'plainTextPath="{SOURCE}.txt"'))


def _interop_rich_text(tmp: Path) -> Path:
    attrs = f'plainTextPath="internal://{SOURCE}.txt" richTextPath="internal://{SOURCE}.rtf"'
    return qdpx(tmp / "a.qdpx", project_xml(source_attrs=attrs), members={f"sources/{SOURCE}.rtf": "{\\rtf1}"})


def _astral_text() -> tuple[str, list[tuple[int, int, str | None]]]:
    """A text with an emoji before every word: UTF-16 positions fit it, code points do not."""
    text = " ".join(f"\U0001F600 {word}" for word in WORDS * 2)
    spans = []
    utf16 = 0
    for match in re.finditer(r"\S+", text):
        if match.group().isalpha():
            start = len(text[:match.start()].encode("utf-16-le")) // 2
            spans.append((start, start + len(match.group()), None))
    del utf16
    return text, spans


def _interop_pos_unit(tmp: Path) -> Path:
    text, spans = _astral_text()
    return qde(tmp / "a.qde", project_xml(source_attrs="", source_inner=many_selections(text, spans)))


def _interop_split_word(tmp: Path) -> Path:
    text = " ".join(WORDS * 2)
    spans = [(start + 1, end, None) for start, end in word_spans(text)]
    return qde(tmp / "a.qde", project_xml(source_attrs="", source_inner=many_selections(text, spans)))


def _interop_excerpt_name(tmp: Path) -> Path:
    text = " ".join(WORDS * 2)
    spans = [(start, end, text[start:end]) for start, end in word_spans(text)]
    spans[3] = (spans[3][0], spans[3][1], "something else entirely")
    return qde(tmp / "a.qde", project_xml(source_attrs="", source_inner=many_selections(text, spans)))


def _interop_empty(tmp: Path) -> Path:
    return qde(tmp / "a.qde", project_xml(sets='<Sets><Set guid="5E6F7081-92A3-44B5-C6D7-E8F9A0B1C2D3" '
                                                'name="nothing"/></Sets>', **inline()))


def _interop_empty_text(tmp: Path) -> Path:
    return qdpx(tmp / "a.qdpx", project_xml(source_inner=""), members={f"sources/{SOURCE}.txt": ""})


def _interop_guid_format(tmp: Path) -> Path:
    codes = '<CodeBook><Codes><Code guid="c001" name="trust" isCodable="true"/></Codes></CodeBook>'
    return qde(tmp / "a.qde", project_xml(codes=codes, source_attrs="", source_inner=f"<PlainTextContent>{TEXT}"
                                          "</PlainTextContent>" + selection(code="c001")))


def _interop_uncodable(tmp: Path) -> Path:
    codes = f'<CodeBook><Codes><Code guid="{CODE}" name="trust" isCodable="false"/></Codes></CodeBook>'
    return qde(tmp / "a.qde", project_xml(codes=codes, **inline()))


def _tables(change: Callable[[Project], None]) -> Make:
    """Tidy tables keep what they are given, as the REFI reader (which repairs on reading) does not."""
    def make(tmp: Path) -> Path:
        project = qdaconv.read(qde(tmp / "a.qde", project_xml(**inline())))
        change(project)
        path = tmp / "a.csv.zip"
        qdaconv.write(project, path)
        return path
    return make


def _red(project: Project) -> None:
    project.codes[0].color = "red"


def _naive(project: Project) -> None:
    project.sources[0].selections[0].created = datetime(2024, 5, 1, 10, 0)


def _utf16_positions(project: Project) -> None:
    text, spans = _astral_text()
    source = project.sources[0]
    source.plain_text = text
    template = source.selections[0]
    source.selections = []
    for number, (start, end, _name) in enumerate(spans):
        source.selections.append(Selection(f"1A2B3C4D-5E6F-4071-8293-{number:012X}", start=start, end=end,
                                           codings=[Coding(f"2B3C4D5E-6F70-4182-93A4-{number:012X}",
                                                           template.codings[0].code)]))


def _read_failed(tmp: Path) -> Path:
    path = tmp / "a.csv.zip"
    qdaconv.write(qdaconv.read(qde(tmp / "a.qde", project_xml(**inline()))), path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["codings.csv"] = members["codings.csv"].replace(CODE.encode(), b"no such code")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


#: catalogue rules: validation of the file made must report them
VALIDATED: dict[str, Make] = {
    "READ-FAILED": _read_failed, "FORMAT-UNKNOWN": _format_unknown,
    "ZIP-BROKEN": _zip_broken, "ZIP-UNSAFE": _zip_unsafe, "ZIP-BAD-MEMBER": _zip_bad_member,
    "ZIP-NO-QDE": _zip_no_qde, "ZIP-MANY-QDE": _zip_many_qde, "ZIP-MISSING-FILE": _zip_missing_file,
    "ZIP-UNREFERENCED": _zip_unreferenced, "ZIP-NAME-CLASH": _zip_name_clash,
    "ZIP-SOURCES-FOLDER": _zip_sources_folder, "ZIP-FILE-TOO-LARGE": _zip_file_too_large,
    "XML-MALFORMED": _xml_malformed, "XML-UNSAFE": _xml_unsafe, "REFI-XSD-NAMESPACE": _refi_xsd_namespace,
    "REFI-XSD": _refi_xsd, "REFI-ENCODING": _refi_encoding,
    "GUID-DUPLICATE": _guid_duplicate, "GUID-SHARED": _guid_shared, "REF-DANGLING": _ref_dangling,
    "REF-WRONG-KIND": _ref_wrong_kind, "REF-USER": _ref_user, "TEXT-BOTH": _text_both, "TEXT-NONE": _text_none,
    "TEXT-UNAVAILABLE": _text_unavailable, "POS-OUT-OF-RANGE": _pos_out_of_range, "POS-CORNERS": _pos_corners,
    "SYNC-OUT-OF-RANGE": _sync_out_of_range, "VAR-TYPE": _var_type,
    "INTEROP-QDE-NAME": _interop_qde_name, "INTEROP-SOURCES-CASE": _interop_sources_case,
    "INTEROP-SCHEMA-LOCATION": _interop_schema_location, "INTEROP-PATH": _interop_path,
    "INTEROP-RICH-TEXT": _interop_rich_text, "INTEROP-POS-UNIT": _tables(_utf16_positions),
    "INTEROP-SPLIT-WORD": _interop_split_word, "INTEROP-EXCERPT-NAME": _interop_excerpt_name,
    "INTEROP-EMPTY": _interop_empty, "INTEROP-EMPTY-TEXT": _interop_empty_text, "INTEROP-COLOR": _tables(_red),
    "INTEROP-NAIVE-TIME": _tables(_naive), "INTEROP-GUID-FORMAT": _interop_guid_format,
    "INTEROP-UNCODABLE": _interop_uncodable,
}


@pytest.mark.parametrize("rule", sorted(VALIDATED))
def test_validation_reports_the_rule(rule: str, tmp_path: Path) -> None:
    path = VALIDATED[rule](tmp_path)
    report = validate(path)
    assert rule in report.rule_ids(), [str(issue) for issue in report.issues]


def test_a_format_check_or_plugin_rule_that_breaks_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "a.breaking"
    path.write_text("x")
    report = validate(path, registry=breaking_registry())
    assert {"CHECK-FAILED", "PLUGIN-FAILED"} <= report.rule_ids()


# ------------------------------------------------------------------------- notes of the readers


def _reader(xml_kwargs: dict, name: str = "a.qde") -> Make:
    return lambda tmp: qde(tmp / name, project_xml(**xml_kwargs))


def _codebook(body: str) -> Make:
    def make(tmp: Path) -> Path:
        return qde(tmp / "a.qdc", '<?xml version="1.0" encoding="utf-8"?>\n'
                                  f'<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="hand">{body}</CodeBook>')
    return make


def _vendor(name: str, change: Callable[[Path], None] | None = None) -> Make:
    def make(tmp: Path) -> Path:
        path = tmp / name
        shutil.copy(VENDORS / name, path)
        if change is not None:
            change(path)
        return path
    return make


def _vendor_with_sources(tmp: Path, sources: dict[str, bytes]) -> Path:
    folder = tmp / "texts"
    folder.mkdir()
    for file, data in sources.items():
        (folder / file).write_bytes(data)
    return folder


def _transcripts(files: dict[str, str]) -> Make:
    def make(tmp: Path) -> Path:
        folder = tmp / "interviews"
        folder.mkdir()
        for file, text in files.items():
            (folder / file).write_text(text, encoding="utf-8")
        return folder
    return make


def _taguette(change: str) -> Make:
    """A Taguette database written by qdaconv, then changed with one SQL statement, as a damaged or
    hand-edited database would be."""
    def make(tmp: Path) -> Path:
        path = tmp / "a.sqlite3"
        project = qdaconv.read(qde(tmp / "a.qde", project_xml(**inline())))
        project.codes[0].children.append(Code(CODE_2, "early"))
        qdaconv.write(project, path, "taguette-db")
        with sqlite3.connect(path) as connection:
            connection.executescript(change)
        connection.close()
        return path
    return make


QUALCODER = ROOT / "fixtures" / "qualcoder" / "interviews-v17.qda"


def _qualcoder(change: str) -> Make:
    """The QualCoder fixture project, changed with SQL as a damaged or hand-edited project would be."""
    def make(tmp: Path) -> Path:
        folder = tmp / "project.qda"
        shutil.copytree(QUALCODER, folder)
        with sqlite3.connect(folder / "data.qda") as connection:
            connection.executescript(change)
        connection.close()
        return folder
    return make


CODE_LOWER = CODE.lower()
OTHER_NS = "urn:QDA-XML:project:0:10"

#: notes readers attach to the project: reading the file made must give them (rule -> make, options)
READ: dict[str, tuple[Make, dict]] = {
    "REFI-BAD-VALUE": (_reader({"source_attrs": "", "source_inner": f"<PlainTextContent>{TEXT}</PlainTextContent>"
                                + selection(extra=' creationDateTime="yesterday"')}), {}),
    "REFI-COLOR": (_reader({"codes": f'<CodeBook><Codes><Code guid="{CODE}" name="t" isCodable="true" '
                                     'color="#ff0000"/></Codes></CodeBook>', **inline()}), {}),
    "REFI-DATETIME": (_reader({"source_attrs": "", "source_inner": f"<PlainTextContent>{TEXT}</PlainTextContent>"
                               + selection(extra=' creationDateTime="2024-05-01T10:00:00"')}), {}),
    "REFI-ELEMENT-NAME": (_reader({"codes": f'<Codebook><Codes><Code guid="{CODE}" name="t" isCodable="true"/>'
                                            '</Codes></Codebook>', **inline()}), {}),
    "REFI-ELEMENT-ORDER": (_reader({"codes": f'<CodeBook><Code guid="{CODE}" name="t" isCodable="true"/>'
                                             '</CodeBook>', **inline()}), {}),
    "REFI-EMPTY-CONTAINER": (_reader({"sets": "<Sets/>", **inline()}), {}),
    "REFI-ENCODING": (_refi_encoding, {}),
    "REFI-FILE-EXTERNAL": (_reader({"source_attrs": 'plainTextPath="absolute:///etc/hostname"',
                                    "source_inner": ""}), {}),
    "REFI-FILE-MISSING": (_reader({"source_attrs": 'plainTextPath="relative:///nowhere/a.txt"',
                                   "source_inner": ""}), {}),
    "REFI-GUID-FORM": (_reader({"codes": f'<CodeBook><Codes><Code guid="{CODE_LOWER}" name="t" '
                                         'isCodable="true"/></Codes></CodeBook>', **inline()}), {}),
    "REFI-ID-NOT-GUID": (_interop_guid_format, {}),
    "REFI-MULTI-CODING": (_reader({"source_attrs": "", "source_inner": f"<PlainTextContent>{TEXT}</PlainTextContent>"
                                   f'<PlainTextSelection guid="{SELECTION}" startPosition="0" endPosition="5">'
                                   f'<Coding guid="{CODING}"><CodeRef targetGUID="{CODE}"/></Coding>'
                                   f'<Coding guid="{CODING[:-1]}1"><CodeRef targetGUID="{CODE}"/></Coding>'
                                   "</PlainTextSelection>"}), {}),
    "REFI-NAMESPACE": (_refi_xsd_namespace, {}),
    "REFI-NO-PATH": (_reader({"sources_extra": f'<AudioSource guid="{PICTURE}" name="talk"/>', **inline()}), {}),
    "REFI-NO-TEXT": (_text_none, {}),
    "REFI-PATH-VARIANT": (_interop_path, {}),
    "REFI-POSITIONS": (_interop_pos_unit, {}),
    "REFI-QDE-NAME": (_interop_qde_name, {}),
    "REFI-REF-FORM": (_reader({"source_attrs": "", "source_inner": f"<PlainTextContent>{TEXT}</PlainTextContent>"
                               f'<PlainTextSelection guid="{SELECTION}" startPosition="0" endPosition="5">'
                               f'<Coding guid="{CODING}"><CodeRef>{CODE}</CodeRef></Coding>'
                               "</PlainTextSelection>"}), {}),
    "REFI-REQUIRED": (lambda tmp: qde(tmp / "a.qde", project_xml(**inline()).replace(' name="tiny"', "")), {}),
    "REFI-SELECTION-REPEAT": (_reader({"source_attrs": "", "source_inner": f"<PlainTextContent>{TEXT}"
                                       "</PlainTextContent>" + selection() + selection(
                                           guid=SELECTION[:-1] + "0", coding=CODING[:-1] + "0")}), {}),
    "REFI-TEXT-TWICE": (_text_both, {}),
    "REFI-UNKNOWN-ATTRIBUTE": (_reader({"root": ' colour="blue"', **inline()}), {}),
    "REFI-UNKNOWN-ELEMENT": (_reader({"graphs": "<Extras/>", **inline()}), {}),
    "REFI-UNUSED-FILE": (_zip_unreferenced, {}),
    "REFI-XSD": (_refi_xsd, {}),
    "REFI-XSD-NAMESPACE": (_refi_xsd_namespace, {}),
    "TAGUETTE-OFFSET": (_taguette("UPDATE highlights SET end_offset = end_offset + 1000"), {}),
    "TAGUETTE-SNIPPET": (_taguette("UPDATE highlights SET snippet = 'something else'"), {}),
    "TAGUETTE-PROJECTS": (_taguette("INSERT INTO projects (name, description, created) "
                                    "SELECT 'second', '', created FROM projects"), {}),
    "TAGUETTE-TAG-MERGED": (_taguette("INSERT INTO tags (project_id, path, description) "
                                      "SELECT project_id, path || ' ', description FROM tags"), {}),
    "QUALCODER-DANGLING": (_qualcoder("INSERT INTO code_text (cid, fid, seltext, pos0, pos1, owner) "
                                      "VALUES (9999, 1, 'x', 0, 1, 'a')"), {}),
    "QUALCODER-FILE-MISSING": (_qualcoder("UPDATE source SET mediapath = '/images/gone.png' WHERE id = 3"), {}),
    "QUALCODER-FILE-EXTERNAL": (_qualcoder("UPDATE source SET mediapath = 'images:/etc/hostname' WHERE id = 3"), {}),
    "QUALCODER-TRANSCRIPT-VALUES": (_qualcoder("INSERT INTO attribute (name, attr_type, value, id, owner) "
                                               "SELECT name, 'file', 'x', 5, 'a' FROM attribute_type "
                                               "WHERE caseOrFile = 'file' LIMIT 1"), {}),
    "VENDOR-ENCODING": (_vendor("atlasti-quotations-semicolon.csv"), {}),
    "VENDOR-EXCERPT-NOT-FOUND": (_vendor("taguette-highlights.csv"), {"sources": str(VENDORS / "sources")}),
    "VENDOR-NOT-CARRIED": (_vendor("dedoose-excerpts.xlsx"), {"sources": str(VENDORS / "sources")}),
    "VENDOR-TEXT-ONLY": (_vendor("atlasti-quotations.xlsx"), {}),
    "VENDOR-WHOLE-DOCUMENT": (_vendor("qualcoder-segments.csv"), {"sources": str(VENDORS / "sources")}),
    "TRANSCRIPTS-NO-CASE": (_transcripts({"Anna_interview1.txt": "Interviewer: Hello.\nAnna: Hello.\n",
                                          "focus group.txt": "Interviewer: Hello.\nAll: Hello.\n"}),
                            {"case_pattern": "{case}_interview{wave}"}),
}


@pytest.mark.parametrize("rule", sorted(READ))
def test_reading_notes_the_rule(rule: str, tmp_path: Path) -> None:
    make, options = READ[rule]
    path = make(tmp_path)
    try:
        project = qdaconv.read(path, **options)
        found = {issue.rule for issue in project.warnings}
    except qdaconv.ReadError:
        found = validate(path, **options).rule_ids()  # fatal findings stop the reader; validation names them
    if rule not in found:
        found |= validate(path, **options).rule_ids()
    assert rule in found, found


def test_vendor_text_files_that_are_missing_or_not_utf8_are_noted(tmp_path: Path) -> None:
    folder = _vendor_with_sources(tmp_path, {"Anna interview 1.txt": "Caf\xe9 au lait, one by one.".encode("cp1252")})
    project = qdaconv.read(VENDORS / "taguette-highlights.csv", sources=str(folder))
    rules = {issue.rule for issue in project.warnings}
    assert {"VENDOR-SOURCE-ENCODING", "VENDOR-SOURCE-MISSING"} <= rules, rules


def test_a_case_named_without_a_transcript_is_noted(tmp_path: Path) -> None:
    folder = _transcripts({"Anna_interview1.txt": "Interviewer: Hello.\nAnna: Hello.\n"})(tmp_path)
    cases = tmp_path / "cases.csv"
    cases.write_text("case,role\nAnna,Director\nNeil,Programme manager\n", encoding="utf-8")
    project = qdaconv.read(folder, case_pattern="{case}_interview{wave}", case_variables=str(cases))
    assert "TRANSCRIPTS-CASE-WITHOUT-SOURCE" in {issue.rule for issue in project.warnings}


# ------------------------------------------------------------------------- nothing goes untested

#: rules provoked by the single tests above rather than by a table entry; WORKER-CRASHED needs a worker
#: process that dies, which tests/test_validation_batch.py brings about
ELSEWHERE = {"CHECK-FAILED", "PLUGIN-FAILED", "WORKER-CRASHED", "VENDOR-SOURCE-ENCODING", "VENDOR-SOURCE-MISSING",
             "TRANSCRIPTS-CASE-WITHOUT-SOURCE"}
_EMITTED = re.compile(r'(?:\bwarning|\binfo|\.add|\.warn|\bRule|\bIssue)\(\s*"([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)"'
                      r'|RULES\["([A-Z][A-Z0-9]*(?:-[A-Z0-9]+)+)"\]')


def emitted_rule_ids() -> set[str]:
    """Every rule id the code can report: the catalogue, and each id a reader or check names."""
    found = set(RULES)
    for folder in (ROOT / "qdaconv", ROOT / "plugins"):
        for file in folder.rglob("*.py"):
            for match in _EMITTED.finditer(file.read_text(encoding="utf-8")):
                found.add(match.group(1) or match.group(2))
    return found


def test_every_rule_has_a_file_that_provokes_it() -> None:
    covered = set(VALIDATED) | set(READ) | ELSEWHERE
    assert emitted_rule_ids() - covered == set()
    assert set(RULES) <= covered


def test_the_registry_is_the_real_one() -> None:
    assert default_registry().get("refi-qdpx").name == "refi-qdpx"
