"""The real samples, read by qdaconv, hold exactly what ../shared/samples/README.md counted in them.

The README's counts were made from the XML with no part of qdaconv, so they are independent
truth: a reader that drops or doubles anything (a coding, a note link, a sync point) fails here.
Each sample is also converted to .qdpx through the command line and read back, and the counts
must survive that too.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import qdaconv
from qdaconv.model import Project, walk_codes, walk_codings, walk_selections, walk_sources

SAMPLES = Path(__file__).resolve().parent.parent.parent / "shared" / "samples"
README = SAMPLES / "README.md"

_ENTRY = re.compile(r"^- \*\*`(?P<name>[^`]+)`\*\* .*?Counts: (?P<counts>.*?)\. Paths:", re.M)


def _kinds(text: str) -> Counter[str]:
    inside = text.strip("[]")
    return Counter({kind: int(n) for kind, n in (part.split(":") for part in inside.split(", ") if ":" in part)})


def expected_counts() -> dict[str, dict[str, object]]:
    """Each sample's counts as the README gives them."""
    found: dict[str, dict[str, object]] = {}
    for match in _ENTRY.finditer(README.read_text(encoding="utf-8")):
        counts: dict[str, object] = {}
        for part in match.group("counts").split("; "):
            part = part.strip()
            if part.startswith("sources"):
                counts["sources"] = _kinds(part[len("sources"):])
            elif part.startswith("selections"):
                counts["selections"] = _kinds(part[len("selections"):])
            elif part.startswith("graphs"):
                graphs, vertices, edges = map(int, re.fullmatch(r"graphs (\d+) \(V(\d+)/E(\d+)\)", part).groups())
                counts.update(graphs=graphs, vertices=vertices, edges=edges)
            else:
                words = re.fullmatch(r"(\w+) (\d+)(?: \((\w+) (\d+)\))?", part)
                assert words, f"README count not understood: {part!r}"
                counts[words.group(1)] = int(words.group(2))
                if words.group(3):
                    counts[words.group(3).lower()] = int(words.group(4))
        found[match.group("name")] = counts
    return found


def actual_counts(project: Project) -> dict[str, object]:
    """The same counts, taken from the model."""
    note_refs = len(project.note_refs)
    for entry in walk_codes(project):
        note_refs += len(entry.code.note_refs)
    for source in walk_sources(project):
        note_refs += len(source.note_refs)
    for _source, selection in walk_selections(project):
        note_refs += len(selection.note_refs)
    for _source, _selection, coding in walk_codings(project):
        note_refs += len(coding.note_refs)
    note_refs += sum(len(link.note_refs) for link in project.links)
    representations = sum(source.representation is not None for source in project.sources)
    representations += sum(selection.representation is not None for _s, selection in walk_selections(project))
    transcripts = [t for source in project.sources for t in source.transcripts]
    return {
        "sources": Counter(source.kind for source in project.sources),
        "codes": sum(1 for _ in walk_codes(project)),
        "codings": sum(1 for _ in walk_codings(project)),
        "selections": Counter(selection.kind for _s, selection in walk_selections(project)),
        "cases": len(project.cases),
        "variables": len(project.variables),
        "values": sum(len(case.variable_values) for case in project.cases)
        + sum(len(source.variable_values) for source in project.sources),
        "notes": len(project.notes),
        "noteref": note_refs,
        "sets": len(project.sets),
        "links": len(project.links),
        "graphs": len(project.graphs),
        "vertices": sum(len(graph.vertices) for graph in project.graphs),
        "edges": sum(len(graph.edges) for graph in project.graphs),
        "users": len(project.users),
        "transcripts": len(transcripts),
        "syncpoints": sum(len(t.sync_points) for t in transcripts),
        "representations": representations,
    }


def _samples() -> list[str]:
    return sorted(expected_counts()) if README.exists() else []


pytestmark = pytest.mark.skipif(not README.exists(), reason="../shared/samples is not beside the project")


def test_the_readme_counts_every_sample() -> None:
    names = set(expected_counts())
    on_disk = {p.relative_to(SAMPLES).as_posix() for p in SAMPLES.rglob("*") if p.suffix in (".qdpx", ".qde", ".qdc")}
    assert names == on_disk


@pytest.mark.parametrize("name", _samples())
def test_reading_gives_the_readme_counts(name: str) -> None:
    expected = expected_counts()[name]
    actual = actual_counts(qdaconv.read(SAMPLES / name))
    differences = {key: (value, actual[key]) for key, value in expected.items() if actual.get(key) != value}
    assert differences == {}, "README count vs read: " + repr(differences)


@pytest.mark.parametrize("name", _samples())
def test_converting_keeps_the_readme_counts(name: str, tmp_path: Path) -> None:
    target = tmp_path / "copy.qdpx"
    done = subprocess.run([sys.executable, "-m", "qdaconv", "convert", str(SAMPLES / name), str(target)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    expected = expected_counts()[name]
    actual = actual_counts(qdaconv.read(target))
    differences = {key: (value, actual[key]) for key, value in expected.items() if actual.get(key) != value}
    assert differences == {}, "README count vs converted copy: " + repr(differences)
