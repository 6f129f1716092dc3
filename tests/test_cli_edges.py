"""The command line at its edges: an output closed early (`| head`), loss counts in words, progress on terminals."""

from __future__ import annotations

import subprocess
import sys

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
