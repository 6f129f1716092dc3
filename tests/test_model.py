"""The model's own behaviour: blobs read lazily from zips, and the views named for researchers."""

from __future__ import annotations

import os
import zipfile

import pytest

import qdaconv
from qdaconv.errors import ReadError
from qdaconv.model import (
    Blob,
    Project,
    Selection,
    Source,
    coded_segments,
    microstories,
    themes,
    transcripts,
    walk_documents,
    walk_sources,
)


def _zip(path, text: bytes) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("sources/a.txt", text)


def test_blob_reads_the_zip_as_it_is_now(tmp_path):
    path = tmp_path / "p.zip"
    _zip(path, b"first")
    blob = Blob(name="a.txt", zip_path=str(path), member="sources/a.txt")
    assert blob.read_bytes() == b"first"
    _zip(path, b"second, longer")  # replaced on disk: the open zip kept for speed must not be reused
    os.utime(path, ns=(1, 1))
    assert blob.read_bytes() == b"second, longer"


def test_blob_names_a_missing_zip_or_member(tmp_path):
    path = tmp_path / "p.zip"
    _zip(path, b"text")
    with pytest.raises(ReadError, match="sources/b.txt"):
        Blob(name="b.txt", zip_path=str(path), member="sources/b.txt").read_bytes()
    with pytest.raises(ReadError, match="cannot open"):
        Blob(name="a.txt", zip_path=str(tmp_path / "gone.zip"), member="sources/a.txt").read_bytes()


def test_views_on_the_study(study_path):
    project = qdaconv.read(study_path)
    assert len(transcripts(project)) == 24
    assert {entry.code.name for entry in themes(project)} >= {"Connecting", "Disconnection"}
    assert len(microstories(project)) >= 50
    segments = coded_segments(project)
    assert len(segments) > 300
    assert all(s.text and s.coder and s.case for s in segments)
    assert all(s.text == s.text.strip() for s in segments)


def test_walk_sources_visits_what_walk_documents_does_in_its_order():
    def doc(name: str, kind: str = "Text", **fields) -> Source:
        return Source(name, kind, name=name, **fields)

    pdf_selection = Selection("s1", "PDF", representation=doc("selection representation", "Representation"))
    nested_again = doc("transcript 2", "Transcript", selections=[Selection("s3", "PDF", representation=doc("deep"))])
    project = Project(
        notes=[doc("note 1", "Note"), doc("note 2", "Note")],
        sources=[
            doc("text"),
            doc("pdf", "PDF", representation=doc("pdf representation", "Representation"),
                selections=[Selection("s0", "PDF"), pdf_selection]),
            doc("picture", "Picture", text_description=doc("description", "TextDescription")),
            doc("video", "Video", transcripts=[doc("transcript 1", "Transcript"), nested_again],
                representation=doc("odd representation", "Representation"),
                selections=[Selection("s2", "PDF", representation=doc("selection of the video"))]),
        ])
    expected = [entry.source.name for entry in walk_documents(project)]
    assert [source.name for source in walk_sources(project)] == expected
    assert expected[:3] == ["note 1", "note 2", "text"] and "deep" in expected
