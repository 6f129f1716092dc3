"""The command line at its edges: an output closed early (`| head`), loss counts in words, progress on terminals."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess:
    """Run `python -m qdaconv ARGS` with its stdout a pipe whose reading end is already closed."""
    process = subprocess.Popen([sys.executable, "-m", "qdaconv", *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    process.stdout.close()  # type: ignore[union-attr]  # the reader went away, as `head` does
    stderr = process.stderr.read().decode("utf-8")  # type: ignore[union-attr]
    return subprocess.CompletedProcess(args, process.wait(timeout=120), "", stderr)


@pytest.mark.parametrize("args", [("formats",), ("formats", "--json"), ("validate", "--json", "{study}"),
                                  ("info", "{study}")])
def test_a_closed_output_stops_quietly(args, study_path):
    result = run_into_closed_pipe(*(arg.format(study=study_path) for arg in args))
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert "BrokenPipe" not in result.stderr and "Exception ignored" not in result.stderr
    assert result.returncode == 141


def test_loss_is_counted_in_numbers_not_truth_values(cli, study_path, tmp_path):
    codebook = tmp_path / "codes.qdc"  # a project of codes only: its project information is all there is to count
    assert cli("convert", str(study_path), str(codebook)).returncode == 0
    result = cli("convert", str(codebook), str(tmp_path / "codes.csv"), "--to", "taguette-codebook-csv")
    assert result.returncode == 0, result.stderr
    assert "True" not in result.stderr and "True" not in result.stdout
    assert "cannot hold 1 project name, origin, description and dates" in result.stderr


def run_with_terminal_stderr(*args: str) -> tuple[int, str]:
    """Run `python -m qdaconv ARGS` with stderr on a pseudo-terminal (as in a shell), progress shown at once."""
    import os
    import pty

    master, slave = pty.openpty()
    env = {**os.environ, "QDACONV_PROGRESS_AFTER": "0"}
    process = subprocess.Popen([sys.executable, "-m", "qdaconv", *args], stdout=subprocess.DEVNULL,
                               stderr=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return process.wait(timeout=120), b"".join(chunks).decode("utf-8", errors="replace")


def test_progress_of_one_file_is_shown_on_a_terminal_only(study_path, tmp_path, cli):
    code, terminal = run_with_terminal_stderr("validate", str(study_path))
    assert code == 0 and "qdaconv: checking the schema" in terminal and "qdaconv: reading" in terminal
    assert "qdaconv: checking texts 100%" in terminal
    code, terminal = run_with_terminal_stderr("convert", str(study_path), str(tmp_path / "out.qdpx"))
    assert code == 0 and "qdaconv: reading" in terminal
    code, terminal = run_with_terminal_stderr("validate", "--json", str(study_path))
    assert code == 0 and "qdaconv:" not in terminal
    piped = cli("validate", str(study_path), env={"QDACONV_PROGRESS_AFTER": "0"})
    assert piped.returncode == 0 and "qdaconv:" not in piped.stderr


def _with_unknown_attribute(study: Path, target: Path) -> Path:
    """The study with one attribute the schema does not know: reading it drops the attribute, with a warning."""
    with zipfile.ZipFile(study) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as copy:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "project.qde":
                data = data.replace(b"<User ", b'<User shoeSize="44" ', 1)
            copy.writestr(info, data)
    return target


@pytest.mark.parametrize("command", ["convert", "merge", "redact", "archive"])
def test_strict_counts_reader_warnings_as_loss_in_every_command(command, study_path, tmp_path, cli):
    odd = _with_unknown_attribute(study_path, tmp_path / "odd.qdpx")
    terms = tmp_path / "terms.csv"
    terms.write_text("term,replacement\nAnna,P1\n", encoding="utf-8")
    out = tmp_path / ("out.zip" if command == "archive" else "out.qdpx")
    args = {"convert": ["convert", str(odd), str(out)],
            "merge": ["merge", str(study_path), str(odd), "-o", str(out)],
            "redact": ["redact", str(odd), str(out), "--terms", str(terms)],
            "archive": ["archive", str(odd), str(out), "--redact", str(terms)]}[command]
    done = cli(*args, "--strict")
    assert done.returncode == 1, done.stderr
    assert "warnings while reading" in done.stderr and "shoeSize" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".qdaconv")]
    lenient = cli(*args)
    assert lenient.returncode == 0, lenient.stderr
    assert out.exists() and "shoeSize" in lenient.stderr
