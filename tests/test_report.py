"""The HTML report: its figures, its escaping, and the page as headless Chromium renders it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from lxml import html as lxml_html

import qdaconv
from qdaconv.figures import code_counts
from qdaconv.model import Case, Code, Coding, Edge, Graph, Project, Selection, Source, User, Vertex, guid_key
from qdaconv.plugins.report import render_report
from qdaconv.plugins.report.stats import co_occurrence, code_case_matrix, coder_counts

HOSTILE = '<img src=x onerror="alert(1)">&amp;</td>'


def _guid(number: int) -> str:
    return f"00000000-0000-4000-8000-{number:012d}"


def _project() -> Project:
    """Two codes under a theme, overlapping and shared excerpts, two cases sharing a source, a diagram."""
    user = User(_guid(1), "Ana")
    a = Code(_guid(11), "alpha", color="#112233")
    b = Code(_guid(12), HOSTILE, color='red" onclick="alert(1)')
    theme = Code(_guid(10), "Theme", codable=False, children=[a, b])
    text = "one two three four five six seven eight nine ten"

    def coded(number: int, start: int, end: int, *codes: Code) -> Selection:
        return Selection(_guid(number), start=start, end=end,
                         codings=[Coding(_guid(number * 10 + i), c.guid, user.guid) for i, c in enumerate(codes)])

    first = Source(_guid(20), "Text", "first", plain_text=text,
                   selections=[coded(21, 0, 9, a), coded(22, 4, 13, b), coded(23, 30, 40, a, b)])
    second = Source(_guid(30), "Text", "second", plain_text=text, selections=[coded(31, 0, 3, a), coded(32, 5, 8, b)])
    second.selections[1].codings[0].creating_user = None
    graph = Graph(_guid(40), f"Diagram {HOSTILE}", vertices=[
        Vertex(_guid(41), 0, 0, 120, 40, represented=theme.guid, color="#000000"),
        Vertex(_guid(42), 200, 100, represented=a.guid, shape="Star"),
        Vertex(_guid(43), 0, 200, 90, 240, name=HOSTILE, shape="Oval", color="url(javascript:x)")],
        edges=[Edge(_guid(44), _guid(41), _guid(42), direction="OneWay", color="#aa0000"),
               Edge(_guid(45), _guid(41), _guid(43), direction="Bidirectional", line_style="dashed", name=HOSTILE),
               Edge(_guid(46), _guid(41), _guid(99))])  # a dangling edge is left out, not a crash
    cases = [Case(_guid(50), "p1", source_refs=[first.guid]),
             Case(_guid(51), "pair", source_refs=[first.guid, second.guid])]
    return Project(name=f"Study {HOSTILE}", users=[user], codes=[theme], sources=[first, second],
                   cases=cases, graphs=[graph])


def test_counts() -> None:
    project = _project()
    rows = {row.entry.code.name: row for row in code_counts(project)}
    assert (rows["alpha"].own, rows["alpha"].sources) == (3, 2)
    assert (rows["Theme"].own, rows["Theme"].total, rows["Theme"].sources) == (0, 6, 2)
    codes, cases, matrix = code_case_matrix(project)
    assert cases == ["p1", "pair"]
    assert {entry.code.name: row for entry, row in zip(codes, matrix, strict=True)} == {
        "alpha": [2, 3], HOSTILE: [2, 3]}
    # overlap 0-9 with 4-13, the shared excerpt 30-40; 0-3 and 5-8 do not touch
    assert co_occurrence(project) == {(guid_key(_guid(11)), guid_key(_guid(12))): 2}
    assert coder_counts(project) == [("Ana", 5, 2, 2), ("(no coder recorded)", 1, 1, 1)]


def test_project_text_is_escaped_and_nothing_can_run_or_load() -> None:
    page = render_report(_project())
    tree = lxml_html.fromstring(page)
    assert not tree.xpath("//script | //img | //iframe | //link | //*[@onerror] | //*[@onclick]")
    assert HOSTILE in tree.text_content()
    assert "javascript" not in page and "onclick" not in page.replace("&quot;", "")
    assert "Content-Security-Policy" in page
    assert len(tree.xpath("//svg")) == 1


def test_study_report_content(study_path: Path, tmp_path: Path, cli) -> None:
    target = tmp_path / "report.html"
    done = cli("report", str(study_path), "-o", str(target))
    assert done.returncode == 0, done.stderr
    tree = lxml_html.fromstring(target.read_text(encoding="utf-8"))
    text = " ".join(tree.text_content().split())
    study = qdaconv.read(study_path)
    assert "24 transcripts among 24 sources" in text
    for theme in ("Creating allegiance to an emergent future world", "Connecting", "Disconnection", "Adapting"):
        assert theme in text
    assert len(tree.xpath("//section[@id='sources']//tbody/tr")) == len(study.sources)
    assert len(tree.xpath("//section[@id='diagrams']//svg")) == len(study.graphs) == 2
    assert len(tree.xpath("//section[@id='coders']//tbody/tr")) == len(study.users)
    assert cli("report", str(study_path), "-o", str(target)).returncode == 2  # no overwrite without --force


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    if os.environ.get("CI"):  # .ci/run installs it, so its absence there is a failure, not a skip
        pytest.fail("headless Chromium is not installed although .ci/run installs it")
    pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")


def _render(page: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--enable-logging=stderr", "--v=0", *mode, page.as_uri()],
        capture_output=True, text=True, timeout=120)


def test_chromium_renders_the_study_report_without_console_errors(study_path: Path, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_report(qdaconv.read(study_path)), encoding="utf-8")
    done = _render(page, tmp_path / "profile", "--dump-dom")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CONSOLE" not in done.stderr, [line for line in done.stderr.splitlines() if "CONSOLE" in line]
    dom = lxml_html.fromstring(done.stdout)
    assert "24 transcripts" in dom.text_content()
    assert len(dom.xpath("//svg[contains(@class, 'diagram')]")) == 2
    assert len(dom.xpath("//svg//*[contains(@class, 'vertex')]")) >= 8

    hostile = tmp_path / "hostile.html"
    hostile.write_text(render_report(_project()), encoding="utf-8")
    shot = tmp_path / "hostile.png"
    done = _render(hostile, tmp_path / "profile2", "--window-size=1200,900", f"--screenshot={shot}")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CONSOLE" not in done.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
