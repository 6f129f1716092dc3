"""`qdaconv serve`'s redaction and agreement: /api/redact, /api/coders and /api/agree through Starlette's test client.

Each answer is held against the command line run as a real subprocess on the same files:
`qdaconv redact` (the same log of replacements, the same error for a bad terms file) and
`qdaconv agree --json` (the same figures). The page itself is driven in Chromium in test_serve.py.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FIXTURES, STUDY
from test_serve import MIB, _bomb, _laughs, _slip, leftovers, make_client, upload

import qdaconv
from qdaconv.model import guid_key, walk_codes, walk_sources
from qdaconv.redaction import Matcher, find_terms, read_terms

MEDIA = FIXTURES / "edge" / "media.qdpx"
TERMS = {"Anna": "P1", "Neil": "P2", "Daniel": "", "Andrea": "P4"}


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "private"))  # where the requests' folders go
    (tmp_path / "private").mkdir()
    with make_client(max_upload=64 * MIB) as client:
        yield client


def terms_file(path: Path, terms: dict[str, str]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["term", "replacement"])
        writer.writerows(terms.items())
    return path


def with_terms(study: Path, terms: Path) -> dict:
    return {**upload(study), "terms": (terms.name, terms.read_bytes(), "text/csv")}


def texts_of(path: Path) -> str:
    """Every member of a zip as text (or the file itself): an independent reading of what was downloaded."""
    if not zipfile.is_zipfile(path):
        return path.read_text(encoding="utf-8", errors="replace")
    with zipfile.ZipFile(path) as archive:
        return "\n".join(name + "\n" + archive.read(name).decode("utf-8", "replace") for name in archive.namelist())


# ------------------------------------------------------------------------------------------ redaction


def test_the_copy_holds_no_term_and_the_log_is_the_command_lines(client, tmp_path: Path, cli) -> None:
    terms = terms_file(tmp_path / "terms.csv", TERMS)
    done = client.post("/api/redact", files=with_terms(STUDY, terms), data={"placeholder": "[someone]"})
    assert done.status_code == 200, done.text
    assert done.headers["content-disposition"] == 'attachment; filename="study-deidentified.qdpx"'
    copy = tmp_path / "copy.qdpx"
    copy.write_bytes(done.content)
    assert find_terms(copy, Matcher(read_terms(terms))) == []
    text = texts_of(copy)
    assert not re.search(r"\b(Anna|Neil|Daniel|Andrea)\b", text, re.IGNORECASE)
    assert "[someone]" in text and "P1" in text  # Daniel has no replacement: the placeholder stands in
    assert json.loads(done.headers["x-qdaconv-losses"]) == {"target": "study-deidentified.qdpx", "lossless": True,
                                                             "lost": []}
    figures = json.loads(done.headers["x-qdaconv-redaction"])
    assert figures["replacements"] > 100 and figures["terms_left"] == 0
    assert qdaconv.read(copy).name == qdaconv.read(STUDY).name
    # the same replacements as `qdaconv redact`, and the log comes alone, never beside the copy
    logged = client.post("/api/redact?log=1", files=with_terms(STUDY, terms), data={"placeholder": "[someone]"})
    assert logged.status_code == 200 and logged.headers["content-type"].startswith("text/csv")
    assert logged.headers["content-disposition"] == 'attachment; filename="study-replacements.csv"'
    result = cli("redact", str(STUDY), str(tmp_path / "cli.qdpx"), "--terms", str(terms), "--placeholder",
                 "[someone]", "--log", str(tmp_path / "cli-log.csv"))
    assert result.returncode == 0, result.stderr
    assert logged.text == (tmp_path / "cli-log.csv").read_text(encoding="utf-8")
    assert len(logged.text.splitlines()) == figures["replacements"] + 1
    assert f"{figures['replacements']} replacements in {figures['places']} places" in result.stdout
    assert leftovers(tmp_path) == []  # nothing of the request stays on the machine, the log least of all


def test_the_copy_goes_to_the_chosen_target(client, tmp_path: Path, cli) -> None:
    terms = terms_file(tmp_path / "terms.csv", TERMS)
    done = client.post("/api/redact?to=refi-qdpx&profile=nvivo", files=with_terms(STUDY, terms))
    assert done.status_code == 200, done.text
    assert done.headers["content-disposition"] == 'attachment; filename="study-deidentified-nvivo.qdpx"'
    tables = client.post("/api/redact?to=tables-xlsx", files=with_terms(STUDY, terms))
    assert tables.status_code == 200, tables.text
    saved = tmp_path / "copy.xlsx"
    saved.write_bytes(tables.content)
    assert find_terms(saved, Matcher(read_terms(terms))) == []
    shown = json.loads(cli("info", str(saved), "--json").stdout)
    assert shown["format"] == "tables-xlsx" and shown["counts"]["codings"] == 341
    assert client.post("/api/redact?to=no-such-format", files=with_terms(STUDY, terms)).status_code == 400


def test_a_name_holding_a_term_is_not_the_downloads_name(client, tmp_path: Path) -> None:
    terms = terms_file(tmp_path / "terms.csv", TERMS)
    done = client.post("/api/redact", files={**with_terms(STUDY, terms), **upload(STUDY, "Anna-study.qdpx")})
    assert done.status_code == 200, done.text
    assert done.headers["content-disposition"] == 'attachment; filename="deidentified.qdpx"'
    accented = client.post("/api/redact?log=1", files={**with_terms(STUDY, terms), **upload(STUDY, "Zoë.qdpx")})
    assert accented.status_code == 200, accented.text
    assert accented.headers["content-disposition"] == "attachment; filename*=utf-8''Zo%C3%AB-replacements.csv"


def test_what_cannot_be_redacted_is_in_the_loss_report(client, tmp_path: Path) -> None:
    terms = terms_file(tmp_path / "terms.csv", {"Zoë": "Z"})
    done = client.post("/api/redact", files=with_terms(MEDIA, terms))
    assert done.status_code == 200, done.text
    report = json.loads(done.headers["x-qdaconv-losses"])
    assert report["lossless"] is False
    lost = {item["what"].split(" removed")[0]: item["count"] for item in report["lost"]}
    assert lost == {"PDF files": 1, "picture files": 1, "audio files": 1, "video files": 1}
    with zipfile.ZipFile(io.BytesIO(done.content)) as archive:
        assert not [n for n in archive.namelist() if n.endswith((".wav", ".mp4", ".png", ".pdf"))]


def test_a_bad_terms_file_is_the_command_lines_error(client, tmp_path: Path, cli) -> None:
    for name, content in (("terms.csv", "name,replacement\nAnna,P1\n"), ("short.csv", "term\nA\n"),
                          ("twice.csv", "term,replacement\nJosé,P1\njose,P2\n"),
                          ("latin1.csv", "term\nJosé\n".encode("latin-1")), ("empty.csv", "")):
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        done = client.post("/api/redact", files=with_terms(STUDY, path))
        assert done.status_code == 422, (name, done.text)
        result = cli("redact", str(STUDY), str(tmp_path / "out.qdpx"), "--terms", name, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.strip() == f"qdaconv: error: {done.json()['error']}", name
        assert str(tmp_path) not in done.json()["error"]
    assert leftovers(tmp_path) == []


def test_terms_in_code_names_need_include_codes(client, tmp_path: Path) -> None:
    code = next(e.code.name for e in walk_codes(qdaconv.read(STUDY)) if " " not in e.code.name)
    terms = terms_file(tmp_path / "terms.csv", {code: "[code]", "Anna": "P1"})
    refused = client.post("/api/redact", files=with_terms(STUDY, terms))
    assert refused.status_code == 422 and "--include codes" in refused.json()["error"]
    done = client.post("/api/redact", files=with_terms(STUDY, terms), data={"include_codes": "on"})
    assert done.status_code == 200, done.text
    copy = tmp_path / "copy.qdpx"
    copy.write_bytes(done.content)
    assert find_terms(copy, Matcher(read_terms(terms))) == []


def test_redaction_needs_both_files(client) -> None:
    missing = client.post("/api/redact", files=upload(STUDY))
    assert missing.status_code == 400 and "'terms'" in missing.json()["error"]
    twice = client.post("/api/redact", files=[("file", ("s.qdpx", STUDY.read_bytes())),
                                              ("terms", ("t.csv", b"term\nAnna\n")),
                                              ("terms", ("t.csv", b"term\nNeil\n"))])
    assert twice.status_code == 400 and "twice" in twice.json()["error"]


# ------------------------------------------------------------------------------------------ agreement


def one_coder(name: str, out: Path) -> Path:
    """The study with only `name`'s codings: that coder's copy."""
    project = qdaconv.read(STUDY)
    key = guid_key(next(user.guid for user in project.users if user.name == name))

    def mine(coding, selection=None) -> bool:
        return guid_key(coding.creating_user or (selection.creating_user if selection else None) or "") == key

    for source in walk_sources(project):
        source.codings = [coding for coding in source.codings if mine(coding)]
        for selection in source.selections:
            selection.codings = [coding for coding in selection.codings if mine(coding, selection)]
    qdaconv.write(project, out)
    return out


def test_coders_lists_the_users_who_coded(client) -> None:
    done = client.post("/api/coders", files=upload(STUDY))
    assert done.status_code == 200, done.text
    assert [(c["name"], c["codings"]) for c in done.json()["coders"]] == [
        ("Priya Shah", 139), ("Tomás Ruiz", 135), ("Helen Carter", 67)]


@pytest.mark.parametrize("pair", [None, "Helen Carter,Priya Shah"])
def test_agreement_in_one_project_is_agree_json(client, tmp_path: Path, cli, pair: str | None) -> None:
    shutil.copy(STUDY, tmp_path / "study.qdpx")
    data = {"coders": pair, "overlap": "80"} if pair else {}
    done = client.post("/api/agree", files=upload(STUDY), data=data)
    assert done.status_code == 200, done.text
    arguments = ["--coders", pair, "--overlap", "80"] if pair else []
    result = cli("agree", "study.qdpx", *arguments, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert done.json() == json.loads(result.stdout)
    assert done.json()["codes"] and done.json()["overall"]["characters"]["kappa"] is not None


def test_agreement_of_two_files_is_agree_json(client, tmp_path: Path, cli) -> None:
    helen = one_coder("Helen Carter", tmp_path / "helen.qdpx")
    priya = tmp_path / "priya.xlsx"
    qdaconv.write(qdaconv.read(one_coder("Priya Shah", tmp_path / "priya.qdpx")), priya)
    files = {**upload(helen), "file2": (priya.name, priya.read_bytes(), "application/octet-stream")}
    done = client.post("/api/agree", files=files)
    assert done.status_code == 200, done.text
    result = cli("agree", "helen.qdpx", "priya.xlsx", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert done.json() == json.loads(result.stdout)
    assert done.json()["inputs"] == ["helen.qdpx", "priya.xlsx"]
    assert any("coded by only one of the coders" in note for note in done.json()["left_out"])
    assert leftovers(tmp_path) == []


def test_agreement_requests_that_cannot_be_answered(client, tmp_path: Path, cli) -> None:
    for data, wanted in (({"overlap": "0"}, "overlap"), ({"overlap": "lots"}, "overlap"),
                         ({"coders": "Helen Carter"}, "two names")):
        done = client.post("/api/agree", files=upload(STUDY), data=data)
        assert done.status_code == 400 and wanted in done.json()["error"], done.text
    both = client.post("/api/agree", data={"coders": "a,b"},
                       files={**upload(STUDY), "file2": ("b.qdpx", STUDY.read_bytes(), "application/octet-stream")})
    assert both.status_code == 400
    unknown = client.post("/api/agree", files=upload(STUDY), data={"coders": "Helen Carter,Nobody"})
    assert unknown.status_code == 422
    shutil.copy(STUDY, tmp_path / "study.qdpx")
    result = cli("agree", "study.qdpx", "--coders", "Helen Carter,Nobody", cwd=tmp_path)
    # the command names the file it was given; the page answers about the one upload it holds
    assert result.returncode == 2
    assert result.stderr.strip() == f"qdaconv: error: study.qdpx: {unknown.json()['error']}"
    codebook = tmp_path / "codes.qdc"
    qdaconv.convert(STUDY, codebook)
    alone = client.post("/api/agree", files=upload(codebook))
    assert alone.status_code == 422 and "two coders" in alone.json()["error"]


# ------------------------------------------------------------------------------------------ safety


def test_the_tools_need_the_token_and_keep_to_the_upload_limit(tmp_path: Path) -> None:
    terms = terms_file(tmp_path / "terms.csv", TERMS)
    with make_client(login=False) as client:
        for endpoint in ("/api/redact", "/api/redact?log=1", "/api/coders", "/api/agree"):
            done = client.post(endpoint, files=with_terms(STUDY, terms))
            assert done.status_code == 403, endpoint
    big = tmp_path / "big.csv"
    big.write_bytes(b"term\n" + b"x" * (2 * MIB))
    with make_client(max_upload=1 * MIB) as client:
        assert client.post("/api/redact", files=with_terms(STUDY, big)).status_code == 413
        second = {**upload(STUDY), "file2": ("big.qdpx", bytes(2 * MIB), "application/octet-stream")}
        assert client.post("/api/agree", files=second).status_code == 413


def test_a_terms_file_above_its_own_limit_is_413(client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qdaconv.plugins.serve import app as serve_app

    monkeypatch.setattr(serve_app, "TERMS_LIMIT", 1024)
    big = tmp_path / "names.csv"
    big.write_text("term\n" + "".join(f"Name{i}\n" for i in range(500)), encoding="utf-8")
    done = client.post("/api/redact", files=with_terms(STUDY, big))
    assert done.status_code == 413 and done.json()["error"].startswith("names.csv: a terms file of more than")


@pytest.mark.parametrize(("name", "make", "message"), [
    ("bomb.qdpx", _bomb, "compressed more than 200 to 1, as zip bombs are"),
    ("laughs.qde", _laughs, "declares entities"),
    ("folder.zip", _slip, "unsafe member name '../../escaped.txt'"),
])
def test_hostile_files_for_the_tools_get_the_command_lines_error(client, tmp_path: Path, name: str, make,
                                                                  message: str) -> None:
    hostile = make(tmp_path / name)
    terms = terms_file(tmp_path / "terms.csv", TERMS)
    as_second = {**upload(STUDY), "file2": (name, hostile.read_bytes(), "application/octet-stream")}
    for endpoint, files in (("/api/redact", with_terms(hostile, terms)), ("/api/coders", upload(hostile)),
                            ("/api/agree", upload(hostile)), ("/api/agree", as_second)):
        done = client.post(endpoint, files=files)
        assert done.status_code == 422, (endpoint, done.text)
        error = done.json()["error"]
        assert message in error and error.startswith(name), error
        assert "qdaconv-serve" not in error and str(tmp_path) not in error
    assert client.post("/api/coders", files=upload(STUDY)).status_code == 200  # still serving
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path.parent / "escaped.txt").exists()
    assert leftovers(tmp_path) == []
