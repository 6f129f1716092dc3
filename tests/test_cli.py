"""The command line, run as a real subprocess: exit codes, clean errors, convert, info, diff."""

from __future__ import annotations

import json

import qdaconv
from qdaconv.model import code_index, guid_key, walk_codings


def test_convert_then_diff_shows_no_difference(study_path, tmp_path, cli):
    out = tmp_path / "out.qdpx"
    done = cli("convert", str(study_path), str(out))
    assert done.returncode == 0, done.stderr
    same = cli("diff", str(study_path), str(out))
    assert same.returncode == 0, same.stdout + same.stderr
    assert "no differences" in same.stdout


def test_a_recoded_excerpt_makes_diff_exit_1_and_names_it(study_path, tmp_path, cli):
    project = qdaconv.read(study_path)
    codes = code_index(project)
    source, selection, coding = next(item for item in walk_codings(project) if item[1] is not None)
    old_path = " > ".join(codes[guid_key(coding.code)].path)
    other = next(e for e in codes.values() if e.code.codable and guid_key(e.code.guid) != guid_key(coding.code))
    coding.code = other.code.guid
    changed = tmp_path / "changed.qdpx"
    qdaconv.write(project, changed)
    result = cli("diff", str(study_path), str(changed), "--json")
    assert result.returncode == 1
    [change] = json.loads(result.stdout)["changes"]
    assert change["kind"] == "coding" and change["action"] == "changed"
    assert old_path in change["label"] and (source.name or "") in change["label"]
    text = cli("diff", str(study_path), str(changed))
    assert text.returncode == 1 and old_path in text.stdout


def test_info_reports_counts(study_path, cli):
    result = cli("info", str(study_path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"] == "refi-qdpx"
    assert summary["counts"]["sources.Text"] == 24
    assert summary["counts"]["code_tree_depth"] >= 2
    human = cli("info", str(study_path))
    assert "sources.Text" in human.stdout


def test_existing_output_is_kept_without_force(study_path, tmp_path, cli):
    out = tmp_path / "out.qdpx"
    out.write_bytes(b"precious")
    refused = cli("convert", str(study_path), str(out))
    assert refused.returncode == 2 and "--force" in refused.stderr
    assert out.read_bytes() == b"precious"
    assert cli("convert", str(study_path), str(out), "--force").returncode == 0


def test_strict_loss_exits_1_and_writes_nothing(study_path, tmp_path, cli):
    out = tmp_path / "codes.qdc"
    result = cli("convert", str(study_path), str(out), "--strict")
    assert result.returncode == 1
    assert "cannot hold" in result.stderr and not out.exists()
    lossy = cli("convert", str(study_path), str(out))
    assert lossy.returncode == 0 and "warning" in lossy.stderr and out.exists()


def test_user_errors_are_one_clean_line(tmp_path, cli):
    missing = cli("info", str(tmp_path / "nope.qdpx"))
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "nope.qdpx" in missing.stderr
    junk = tmp_path / "junk.qdpx"
    junk.write_bytes(b"\x00\x01 not a zip")
    bad = cli("convert", str(junk), str(tmp_path / "out.xlsx"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and "junk.qdpx" in bad.stderr
    assert not (tmp_path / "out.xlsx").exists()
    unknown = cli("convert", str(junk), str(tmp_path / "x.qdpx"), "--to", "no-such-format")
    assert unknown.returncode == 2 and "unknown format" in unknown.stderr
    usage = cli("convert")
    assert usage.returncode == 2


def test_formats_lists_the_built_in_formats(cli):
    result = cli("formats", "--json")
    names = {row["name"] for row in json.loads(result.stdout)}
    assert {"refi-qdpx", "refi-qde", "refi-qdc", "tables-csv", "tables-xlsx"} <= names


def test_many_warnings_of_one_rule_are_summed_up(tmp_path, cli):
    from qdaconv.model import Project, Source

    project = Project(name="gaps", sources=[
        Source(guid=f"00000000-0000-4000-8000-{i:012d}", name=f"interview {i}",
               plain_text_path=f"internal://00000000-0000-4000-8000-{i:012d}.txt") for i in range(12)])
    path = tmp_path / "gaps.qdpx"
    qdaconv.write(project, path)
    result = cli("info", str(path))
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if "REFI-FILE-MISSING" in line]
    assert len(lines) == 6 and "and 7 more REFI-FILE-MISSING" in lines[-1]
    assert "interview 0" in result.stderr and "interview 11" not in result.stderr
