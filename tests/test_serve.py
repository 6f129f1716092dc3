"""`qdaconv serve`: the JSON API through Starlette's test client, and the page in headless Chromium.

The API tests run the real application in this process; the browser test starts
`qdaconv serve --no-browser` as a real subprocess and drives the page with Playwright, uploading
the study, choosing each target and reading what it downloads with `qdaconv info`.
"""

from __future__ import annotations

import csv
import json
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import tomllib
import warnings
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import ROOT, STUDY

with warnings.catch_warnings():  # Starlette 1.x prefers the httpx2 package for its test client; httpx still works
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient` is deprecated")
    from starlette.testclient import TestClient
    from starlette.websockets import WebSocketDisconnect

import qdaconv
from qdaconv.formats import Feature
from qdaconv.model import walk_codes
from qdaconv.plugins.serve import app as serve_app
from qdaconv.plugins.serve import work
from qdaconv.registry import default_registry

PORT = 8765
TOKEN = "test-token-0123456789"
MIB = 1024**2
WRITABLE = sorted(fmt.name for fmt in default_registry() if fmt.can_write)


def make_client(max_upload: int = 64 * MIB, login: bool = True) -> TestClient:
    settings = serve_app.Settings(token=TOKEN, port=PORT, max_upload=max_upload)
    client = TestClient(serve_app.create_app(settings), base_url=f"http://127.0.0.1:{PORT}")
    if login:
        assert client.get(f"/?token={TOKEN}", follow_redirects=False).status_code == 303
    return client


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "private"))  # where the requests' folders go
    (tmp_path / "private").mkdir()
    with make_client() as client:
        yield client


def upload(path: Path, name: str | None = None) -> dict:
    return {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "private").iterdir())


# ------------------------------------------------------------------------------------------ the guard


def test_the_link_sets_an_httponly_strict_cookie_and_drops_the_token_from_the_address() -> None:
    with make_client(login=False) as client:
        done = client.get(f"/?token={TOKEN}", follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/"
        cookie = done.headers["set-cookie"]
        assert f"qdaconv-token-{PORT}={TOKEN}" in cookie and "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        page = client.get("/")
        assert page.status_code == 200 and "Choose your study" in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert client.get("/static/app.js").status_code == 200


def test_every_request_without_the_token_gets_403() -> None:
    with make_client(login=False) as client:
        for method, url in (("GET", "/"), ("GET", "/api/targets"), ("GET", "/static/app.js"),
                            ("GET", "/?token=wrong"), ("POST", "/api/convert?to=refi-qdpx&token=wrong")):
            done = client.request(method, url, files=upload(STUDY) if method == "POST" else None)
            assert done.status_code == 403, url
        info = client.post("/api/info", files=upload(STUDY))
        assert info.status_code == 403 and "token" in info.json()["error"]
        assert client.post(f"/api/info?token={TOKEN}", files=upload(STUDY)).status_code == 200


def test_other_hosts_and_other_sites_are_refused(client: TestClient) -> None:
    rebound = client.get("/api/targets", headers={"host": f"attacker.example:{PORT}"})
    assert rebound.status_code == 403 and "127.0.0.1" in rebound.json()["error"]
    assert client.get("/", headers={"host": f"localhost:{PORT}"}).status_code == 200
    foreign = client.post("/api/info", files=upload(STUDY), headers={"origin": "http://attacker.example"})
    assert foreign.status_code == 403
    same = client.post("/api/info", files=upload(STUDY), headers={"origin": f"http://127.0.0.1:{PORT}"})
    assert same.status_code == 200


def test_static_files_come_from_a_fixed_list_and_are_packaged(client: TestClient) -> None:
    assert client.get("/static/style.css").status_code == 200
    for name in ("index.html", "..%2F__init__.py", "%2Fetc%2Fpasswd", "app.py"):
        assert client.get(f"/static/{name}").status_code == 404
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert config["tool"]["setuptools"]["package-data"]["qdaconv.plugins.serve"] == ["static/*"]
    shipped = {path.name for path in (ROOT / "plugins" / "serve" / "static").iterdir()}
    assert shipped == {"index.html", *serve_app.STATIC}


def test_websockets_are_refused(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/"):
        pass


# ------------------------------------------------------------------------------------------ info, validate


def test_info_is_the_data_of_info_json(client: TestClient, cli, tmp_path: Path) -> None:
    done = client.post("/api/info", files=upload(STUDY))
    assert done.status_code == 200, done.text
    expected = json.loads(cli("info", str(STUDY), "--json").stdout)
    got = done.json()
    assert got["file"] == "study.qdpx"
    assert {**got, "file": None, "warnings": None} == {**expected, "file": None, "warnings": None}
    assert [w.replace("study.qdpx", "") for w in got["warnings"]] == [
        w.replace(str(STUDY), "") for w in expected["warnings"]]
    assert leftovers(tmp_path) == []


def test_validate_is_the_data_of_validate_json(client: TestClient, cli) -> None:
    done = client.post("/api/validate", files=upload(STUDY))
    assert done.status_code == 200, done.text
    expected = json.loads(cli("validate", str(STUDY), "--json").stdout)
    expected[0]["file"] = "study.qdpx"
    assert done.json() == expected and expected[0]["valid"] is True
    rules = client.get("/api/rules").json()
    for issue in expected[0]["issues"]:
        if issue["rule"] in rules:
            assert rules[issue["rule"]]["meaning"]


def test_an_invalid_file_gets_its_verdict_with_rule_ids(client: TestClient, tmp_path: Path) -> None:
    broken = tmp_path / "broken.qdpx"
    with zipfile.ZipFile(STUDY) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            if not info.filename.startswith("sources/"):  # the project then names files that are not there
                target.writestr(info, source.read(info))
    report = client.post("/api/validate", files=upload(broken)).json()[0]
    assert report["valid"] is False and report["errors"] > 0
    assert all(issue["rule"] and issue["message"] for issue in report["issues"])
    assert not any(str(tmp_path) in json.dumps(issue) or "qdaconv-serve" in json.dumps(issue)
                   for issue in report["issues"])


def test_a_zipped_folder_is_unpacked_and_read(client: TestClient, tmp_path: Path) -> None:
    qdaconv.convert(STUDY, tmp_path / "tables", to="tables-csv")
    (tmp_path / "qde").mkdir()
    qdaconv.convert(STUDY, tmp_path / "qde" / "study.qde", to="refi-qde")
    # a zip holding a .qde and its sources/ is what a .qdpx is
    for folder, fmt in ((tmp_path / "tables", "tables-csv"), (tmp_path / "qde", "refi-qdpx")):
        zipped = tmp_path / f"{folder.name}.zip"
        with zipfile.ZipFile(zipped, "w") as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, f"my study/{path.relative_to(folder).as_posix()}")
            archive.writestr("my study/.DS_Store", b"\0\0\0\1Bud1")
            archive.writestr("__MACOSX/my study/._codes.csv", b"\0\5\26\7")
        done = client.post("/api/info", files=upload(zipped))
        assert done.status_code == 200, done.text
        assert done.json()["format"] == fmt and done.json()["counts"]["codings"] == 341
    interviews = tmp_path / "interviews.zip"
    with zipfile.ZipFile(interviews, "w") as archive:  # a folder no format reads as a zip: unpacked first
        archive.writestr("interviews/alex.txt", "Interviewer: How did it start?\nAlex: With a meeting.\n")
        archive.writestr("interviews/sam.txt", "Interviewer: And then?\nSam: It was hard.\n")
    done = client.post("/api/info", files=upload(interviews))
    assert done.status_code == 200, done.text
    assert done.json()["format"] == "transcripts-folder" and done.json()["counts"]["sources.Text"] == 2
    converted = client.post("/api/convert?to=refi-qdpx", files=upload(interviews))
    assert converted.status_code == 200 and 'filename="interviews.qdpx"' in converted.headers["content-disposition"]
    assert leftovers(tmp_path) == []


# ------------------------------------------------------------------------------------------ convert


def downloaded(done, tmp_path: Path, fmt: str) -> Path:
    """The converted file of a response; several files (a .qde and its sources/, a folder format) come
    zipped and are unpacked."""
    name = done.headers["content-disposition"].split('filename="')[1].rstrip('"')
    result = tmp_path / name
    result.write_bytes(done.content)
    if name == f"study-{fmt}.zip":
        unpacked = tmp_path / "unpacked"
        with zipfile.ZipFile(result) as archive:
            archive.extractall(unpacked)
        extensions = default_registry().get(fmt).extensions
        result = next((p for p in unpacked.iterdir() if p.suffix in extensions), unpacked)
    return result


@pytest.mark.parametrize("fmt", WRITABLE)
def test_every_writable_format_converts_and_reads_back(client: TestClient, fmt: str, tmp_path: Path) -> None:
    writer = default_registry().get(fmt)
    done = client.post(f"/api/convert?to={fmt}", files=upload(STUDY))
    assert done.status_code == 200, done.text
    name = done.headers["content-disposition"].split('filename="')[1].rstrip('"')
    assert name.startswith("study") and done.headers["x-qdaconv-format"] == fmt
    result = downloaded(done, tmp_path, fmt)
    study = qdaconv.read(STUDY)
    back = qdaconv.read(result, fmt)
    if Feature.CODES in writer.capabilities:
        assert len(list(walk_codes(back))) == len(list(walk_codes(study)))
    if Feature.TEXT_SOURCES in writer.capabilities:
        assert len(back.sources) == len(study.sources)
    (tmp_path / "cli").mkdir()
    expected = qdaconv.write(study, tmp_path / "cli" / name, fmt)
    losses = json.loads(done.headers["x-qdaconv-losses"])
    assert losses["lost"] == expected.as_dict()["lost"] and losses["target"] == name
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("target", [t.id for t in work.PROGRAM_TARGETS])
def test_program_targets_pick_a_format_and_profile(client: TestClient, target: str, tmp_path: Path) -> None:
    chosen = next(t for t in client.get("/api/targets").json()["targets"] if t["id"] == target)
    url = f"/api/convert?to={chosen['format']}" + (f"&profile={chosen['profile']}" if chosen["profile"] else "")
    done = client.post(url, files=upload(STUDY))
    assert done.status_code == 200, done.text
    result = downloaded(done, tmp_path, chosen["format"])
    back = qdaconv.read(result, chosen["format"])
    if chosen["format"] == "refi-qdpx":  # the profile is written into the origin and read back exactly
        assert chosen["profile"] is None or chosen["profile"] in result.name
        assert qdaconv.diff(qdaconv.read(STUDY), back).same
    assert back.codes


def test_the_archive_and_the_report_come_from_their_commands(client: TestClient, tmp_path: Path, cli) -> None:
    package = client.post("/api/archive", files=upload(STUDY))
    assert package.status_code == 200, package.text
    assert 'filename="study-archive.zip"' in package.headers["content-disposition"]
    (tmp_path / "study-archive.zip").write_bytes(package.content)
    verified = cli("archive", "--verify", str(tmp_path / "study-archive.zip"))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    report = client.post("/api/report", files=upload(STUDY))
    assert report.status_code == 200 and "24 transcripts" in report.text
    assert report.headers["content-type"] == "application/octet-stream"  # downloaded, never shown in this origin
    assert leftovers(tmp_path) == []


def test_convert_needs_a_writable_format(client: TestClient) -> None:
    assert client.post("/api/convert", files=upload(STUDY)).status_code == 400
    unknown = client.post("/api/convert?to=nope", files=upload(STUDY))
    assert unknown.status_code == 400 and "unknown format 'nope'" in unknown.json()["error"]
    assert client.post("/api/convert?to=atlasti-codes", files=upload(STUDY)).status_code == 400


def test_long_work_runs_in_a_worker_thread_and_the_page_stays_answered(client: TestClient,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    started, release = threading.Event(), threading.Event()
    summary = work.summary

    def slow(*args: object) -> dict:
        started.set()
        assert release.wait(60)
        return summary(*args)

    monkeypatch.setattr(work, "summary", slow)
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(client.post, "/api/info", files=upload(STUDY))
        assert started.wait(60)
        assert client.get("/").status_code == 200  # answered while the work waits in its thread
        assert client.post("/api/validate", files=upload(STUDY)).status_code == 200
        assert not pending.done()
        release.set()
        assert pending.result(timeout=60).status_code == 200


# ------------------------------------------------------------------------------------------ safety


def _bomb(path: Path) -> Path:
    """A .qdpx whose one source unpacks 20 MiB of zeros from about 20 KB (a ratio of 1,000)."""
    with zipfile.ZipFile(STUDY) as study, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb:
        bomb.writestr("project.qde", study.read("project.qde"))
        bomb.writestr("sources/zeros.txt", bytes(20 * MIB))
    return path


def _laughs(path: Path) -> Path:
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    path.write_text(f'<?xml version="1.0"?><!DOCTYPE Project [<!ENTITY lol0 "lol">{entities}]>'
                    '<Project xmlns="urn:QDA-XML:project:1.0" name="x"><Description>&lol9;</Description></Project>')
    return path


def _slip(path: Path) -> Path:
    """A zip with a member that climbs out: a .qdpx for the reader, or a zipped folder for the page to unpack."""
    with zipfile.ZipFile(path, "w") as archive:
        if path.suffix == ".qdpx":
            with zipfile.ZipFile(STUDY) as study:
                archive.writestr("project.qde", study.read("project.qde"))
        archive.writestr("notes/interview.txt", "hello")
        archive.writestr("../../escaped.txt", "outside")
    return path


@pytest.mark.parametrize(("name", "make", "message"), [
    ("bomb.qdpx", _bomb, "compressed more than 200 to 1, as zip bombs are"),
    ("laughs.qde", _laughs, "declares entities"),
    ("slip.qdpx", _slip, "unsafe member name '../../escaped.txt'"),
    ("folder.zip", _slip, "unsafe member name '../../escaped.txt'"),
])
def test_hostile_uploads_get_the_command_lines_error_and_the_server_stays_up(
        client: TestClient, tmp_path: Path, name: str, make, message: str, cli) -> None:
    hostile = make(tmp_path / name)
    for endpoint in ("/api/info", "/api/convert?to=tables-xlsx", "/api/archive"):
        done = client.post(endpoint, files=upload(hostile))
        assert done.status_code == 422, (endpoint, done.text)
        error = done.json()["error"]
        assert message in error and error.startswith(name), error
        assert "qdaconv-serve" not in error and str(tmp_path) not in error
    if not name.endswith(".zip"):  # the command line takes folders as they are; only the page gets them zipped
        command_line = cli("info", str(hostile))
        assert command_line.returncode == 2 and message in command_line.stderr
    verdict = client.post("/api/validate", files=upload(hostile))
    if name.endswith(".zip"):  # refused while unpacking, before there is a file to validate
        assert verdict.status_code == 422 and message in verdict.json()["error"]
    else:  # the verdict names the rule, as `qdaconv validate --json` does
        assert verdict.json()[0]["valid"] is False and verdict.json()[0]["issues"][0]["rule"]
    assert client.post("/api/info", files=upload(STUDY)).status_code == 200  # still serving
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()
    assert leftovers(tmp_path) == []


def test_an_over_large_upload_gets_413(tmp_path: Path) -> None:
    big = tmp_path / "big.qdpx"
    big.write_bytes(os.urandom(2 * MIB))
    with make_client(max_upload=1 * MIB) as client:
        done = client.post("/api/info", files=upload(big))
        assert done.status_code == 413 and "--max-upload" in done.json()["error"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while reading
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.qdpx"\r\n\r\n'
            for _ in range(4):
                yield bytes(MIB // 2)
            yield b"\r\n--b--\r\n"

        form = {"content-type": "multipart/form-data; boundary=b"}
        streamed = client.post("/api/info", content=chunks(), headers=form)
        assert streamed.status_code == 413
        assert client.get("/api/targets").json()["max_upload"] == MIB


def test_client_paths_never_name_a_file_on_the_machine(client: TestClient, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path] = []
    summary = work.summary

    def spy(study: Path, from_: str | None, shown: str) -> dict:
        seen.append(study)
        return summary(study, from_, shown)

    monkeypatch.setattr(work, "summary", spy)
    for name in ("../../../../etc/study.qdpx", "/etc/passwd/study.qdpx", "C:\\Users\\x\\study.qdpx", "..",
                 ".hidden.qdpx"):
        done = client.post("/api/info", files=upload(STUDY, name))
        assert done.status_code == 200, (name, done.text)
    private = Path(tempfile.gettempdir())
    assert [p.name for p in seen] == ["study.qdpx", "study.qdpx", "study.qdpx", "upload", "hidden.qdpx"]
    for path in seen:
        folder = path.parents[2]
        assert folder.parent == private and folder.name.startswith("qdaconv-serve-")
    modes = []

    def mode_spy(study: Path, from_: str | None, shown: str) -> dict:
        modes.append(stat.S_IMODE(study.parents[2].stat().st_mode))
        return summary(study, from_, shown)

    monkeypatch.setattr(work, "summary", mode_spy)
    assert client.post("/api/info", files=upload(STUDY)).status_code == 200
    assert modes == [0o700]
    assert leftovers(tmp_path) == []


def test_bad_forms_are_400(client: TestClient) -> None:
    assert client.post("/api/info", content=b"hello", headers={"content-type": "text/plain"}).status_code == 400
    missing = client.post("/api/info", data={"other": "x"}, files={"other-file": ("a.txt", b"x")})
    assert missing.status_code == 400 and "'file'" in missing.json()["error"]
    garbage = client.post("/api/info", files={"file": ("notes.txt", b"just some words")})
    assert garbage.status_code == 422 and "notes.txt: not a format" in garbage.json()["error"]
    verdict = client.post("/api/validate", files={"file": ("notes.txt", b"just some words")})
    assert verdict.status_code == 200 and verdict.json()[0]["valid"] is False
    assert verdict.json()[0]["issues"][0]["rule"] == "FORMAT-UNKNOWN"


def test_serve_without_the_web_extra_says_how_to_install_it() -> None:
    blocked = "import sys; sys.modules['uvicorn'] = None; from qdaconv.cli import main; main(['serve', '--no-browser'])"
    done = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "qdaconv[serve]" in done.stderr and "uvicorn" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_port_in_use_is_a_clear_usage_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "qdaconv", "serve", "--no-browser", "--port", str(port)],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "--port" in done.stderr and done.stdout == ""


# ------------------------------------------------------------------------------------------ a real server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`qdaconv serve --no-browser --port P` in a subprocess; yields the link it printed and its temporary folder."""
    private = tmp_path_factory.mktemp("server-tmp")
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "qdaconv", "serve", "--no-browser", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "TMPDIR": str(private)})
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        link = lines.get(timeout=60).strip()
    except queue.Empty:
        process.kill()
        pytest.fail(f"qdaconv serve printed no link: {process.stderr.read()}")
    assert link.startswith(f"http://127.0.0.1:{port}/?token="), link
    try:
        yield link, private
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl+C
        assert process.wait(timeout=30) == 0, process.stderr.read()
        assert list(private.iterdir()) == []


def test_concurrent_uploads_do_not_see_each_others_files(server: tuple[str, Path], tmp_path: Path) -> None:
    link, _private = server
    base, token = link.split("/?token=")
    codebook = tmp_path / "codes.qdc"
    qdaconv.convert(STUDY, codebook)
    tables = tmp_path / "study.xlsx"
    qdaconv.convert(STUDY, tables)

    def info(path: Path) -> dict:
        done = httpx.post(f"{base}/api/info?token={token}", files=upload(path), timeout=120)
        assert done.status_code == 200, done.text
        return done.json()

    uploads = [STUDY, codebook, tables, codebook, STUDY, tables]
    with ThreadPoolExecutor(len(uploads)) as pool:
        results = list(pool.map(info, uploads))
    for path, result in zip(uploads, results, strict=True):
        assert result["file"] == path.name
        assert result["counts"].get("codings", 0) == (0 if path == codebook else 341)
    assert httpx.get(f"{base}/api/targets", headers={"host": "evil.example"}).status_code == 403


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    if os.environ.get("CI") == "true":  # .ci/run installs it, so its absence there is a failure, not a skip
        pytest.fail("headless Chromium (/usr/bin/chromium) is not installed although .ci/run installs it")
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")


CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@contextmanager
def chromium_page(chromium: str, link: str, problems: list[str]) -> Iterator[Any]:
    """The page at `link` in headless Chromium; console errors and script errors go to `problems`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(link)
            yield page
        finally:
            browser.close()


def test_the_page_converts_the_study_in_chromium(server: tuple[str, Path], tmp_path: Path, cli) -> None:
    chromium = _chromium()
    link, _private = server
    problems: list[str] = []
    with chromium_page(chromium, link, problems) as page:
        assert "token" not in page.url  # the link's token moved into the cookie
        page.wait_for_selector("body[data-ready='true']")
        page.set_input_files("#file", str(STUDY))
        page.wait_for_selector("#convert:not([hidden])", timeout=120_000)
        assert "Valid" in page.inner_text("#verdict")
        assert "Allegiance to an emergent future world" in page.inner_text("#facts")
        labels = page.locator(".target strong").all_inner_texts()
        for wanted in ("for NVivo", "for ATLAS.ti", "for MAXQDA", "for QualCoder", "for Taguette",
                       "open tables (Excel/CSV)", "archive package", "HTML report"):
            assert wanted in labels
        targets = {t["id"]: t for t in httpx.get(link.replace("/?token=", "/api/targets?token="),
                                                 timeout=60).json()["targets"]}
        for target in [*(t for t in targets if t != "nvivo"), "nvivo"]:  # the screenshot shows NVivo's
            page.check(f"input[name='target'][value='{target}']")
            page.click("#go")
            page.wait_for_selector("#result:not([hidden])", timeout=120_000)
            with page.expect_download() as waiting:
                page.click("#download")
            saved = tmp_path / waiting.value.suggested_filename
            waiting.value.save_as(saved)
            _check_download(targets[target], saved, page.inner_text("#losses"), cli)
        docs = ROOT / "docs"
        docs.mkdir(exist_ok=True)
        page.screenshot(path=str(docs / "serve.png"), full_page=True)
        assert problems == []
        page.set_input_files("#file", str(ROOT / "README.md"))  # not a study: said in the page's words
        page.wait_for_selector("#error:not([hidden])", timeout=60_000)
        assert page.inner_text("#error").startswith("README.md: not a format qdaconv can read. Choose a project")
        assert page.is_hidden("#seen") and page.is_hidden("#convert")
    # the browser reports the 422 answer itself as a failed resource; the page's script raised nothing
    assert [problem for problem in problems if "status of 422" not in problem] == []
    assert (ROOT / "docs" / "serve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _check_download(target: dict, saved: Path, losses: str, cli) -> None:
    if target["kind"] == "tool" and target["tool"] == "report":
        assert "24 transcripts" in saved.read_text(encoding="utf-8")
        return
    if target["kind"] == "tool":
        verified = cli("archive", "--verify", str(saved))
        assert verified.returncode == 0, verified.stdout + verified.stderr
        return
    if saved.suffix == ".zip" and default_registry().get(target["format"]).folder:  # a folder comes zipped
        with zipfile.ZipFile(saved) as archive:
            archive.extractall(saved.with_suffix(""))
        saved = next(saved.with_suffix("").iterdir())
    shown = cli("info", str(saved), "--from", target["format"])
    assert shown.returncode == 0, shown.stderr
    if target["format"] in ("refi-qdpx", "tables-xlsx"):
        assert "Nothing is lost" in losses
        assert json.loads(cli("info", str(saved), "--json").stdout)["counts"]["codings"] == 341
    else:
        assert "cannot hold" in losses


def test_zip_folder_names_are_relative_and_sorted(tmp_path: Path) -> None:
    (tmp_path / "out" / "sources").mkdir(parents=True)
    (tmp_path / "out" / "study.qde").write_text("x")
    (tmp_path / "out" / "sources" / "a.txt").write_text("a")
    work.zip_folder(tmp_path / "out", tmp_path / "bundle.zip")
    with zipfile.ZipFile(tmp_path / "bundle.zip") as archive:
        assert archive.namelist() == ["sources/a.txt", "study.qde"]


def test_the_page_redacts_and_compares_two_coders_in_chromium(server: tuple[str, Path], tmp_path: Path,
                                                               cli) -> None:
    chromium = _chromium()
    from qdaconv.redaction import Matcher, find_terms, read_terms

    link, private = server
    terms = tmp_path / "terms.csv"
    terms.write_text("term,replacement\nAnna,P1\nNeil,P2\nDaniel,\n", encoding="utf-8")
    problems: list[str] = []
    with chromium_page(chromium, link, problems) as page:
        page.wait_for_selector("body[data-ready='true']")
        page.set_input_files("#file", str(STUDY))
        page.wait_for_selector("#redact:not([hidden])", timeout=120_000)
        # a de-identified copy for NVivo, with the log asked for
        page.set_input_files("#terms", str(terms))
        page.select_option("#redact-target", label="for NVivo")
        page.check("#want-log")
        page.click("#redact-go")
        page.wait_for_selector("#redact-result:not([hidden])", timeout=120_000)
        assert "Nothing is lost" in page.inner_text("#redact-losses")
        assert "none is left" in page.inner_text("#redact-figures")
        with page.expect_download() as waiting:
            page.click("#redact-download")
        copy = tmp_path / waiting.value.suggested_filename
        waiting.value.save_as(copy)
        assert copy.name == "study-deidentified-nvivo.qdpx"
        assert find_terms(copy, Matcher(read_terms(terms))) == []
        assert json.loads(cli("info", str(copy), "--json").stdout)["counts"]["codings"] == 341
        with page.expect_download() as waiting:
            page.click("#log-download")
        log = tmp_path / waiting.value.suggested_filename
        waiting.value.save_as(log)
        assert log.read_text(encoding="utf-8").startswith("kind,guid,field,start,end")
        assert list(private.iterdir()) == []  # the server kept neither the copy nor the log
        # two coders of the study, chosen from its users
        assert page.locator("#coder-a option").all_inner_texts() == [
            "Priya Shah (139 codings)", "Tomás Ruiz (135 codings)", "Helen Carter (67 codings)"]
        page.select_option("#coder-a", label="Helen Carter (67 codings)")
        page.select_option("#coder-b", label="Priya Shah (139 codings)")
        page.click("#agree-go")
        page.wait_for_selector("#agree-result:not([hidden])", timeout=120_000)
        assert "Helen Carter (A) and Priya Shah (B)" in page.inner_text("#agree-overall")
        assert "not compared" in page.inner_text("#agree-notes")
        shown = [float(kappa) for kappa in page.locator("#agree-table tbody td:nth-child(2)").all_inner_texts()
                 if kappa != "n/a"]
        assert shown and shown == sorted(shown)  # least agreement first
        with page.expect_download() as waiting:
            page.click("#agree-csv")
        table = tmp_path / waiting.value.suggested_filename
        waiting.value.save_as(table)
        shutil.copy(STUDY, tmp_path / "study.qdpx")
        expected = tmp_path / "expected.csv"
        result = cli("agree", "study.qdpx", "--coders", "Helen Carter,Priya Shah", "--csv", str(expected),
                     cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        _same_table(table, expected)
        # the study again as the second coder's file: each file is one coder, all its codings pooled
        page.set_input_files("#file2", str(STUDY))
        assert page.is_checked("#mode-files")
        page.click("#agree-go")
        page.wait_for_selector("#agree-result:not([hidden])", timeout=120_000)
        assert "study.qdpx (A) and study.qdpx (B)" in page.inner_text("#agree-overall")
        assert "count together as one coder" in page.inner_text("#agree-notes")
        assert set(page.locator("#agree-table tbody td:nth-child(2)").all_inner_texts()) <= {"1.000", "n/a"}
    assert problems == []


def _same_table(saved: Path, expected: Path) -> None:
    """The page's CSV holds the rows and figures of `qdaconv agree --csv` (numbers compared as numbers)."""

    def rows(path: Path) -> list[dict[str, str]]:
        with open(path, encoding="utf-8", newline="") as stream:
            return list(csv.DictReader(stream))

    got, wanted = rows(saved), rows(expected)
    assert [row["path"] for row in got] == [row["path"] for row in wanted]
    for mine, theirs in zip(got, wanted, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            try:
                assert float(mine[key]) == pytest.approx(float(value)), key
            except ValueError:  # not a number: a name, a path, an empty (undefined) figure
                assert mine[key] == value, key
