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
