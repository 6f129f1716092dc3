"""Damaged files through the command line, end to end, as benchmarks/fuzz.py --cli does at length.

A few deterministic mutations of a valid file per format go through `qdaconv convert` and
`qdaconv validate` in subprocesses: every run ends with exit 0, 1 or 2, never a traceback or an
internal error, and a failed conversion leaves nothing in the output folder.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from fuzz import cli_problem, seed_file  # noqa: E402


def mutate(seed: bytes, rng: random.Random) -> bytes:
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        at = rng.randrange(max(len(data), 1))
        kind = rng.choice(["flip", "truncate", "overwrite", "duplicate"])
        if kind == "flip" and data:
            data[at] ^= 1 << rng.randrange(8)
        elif kind == "truncate":
            del data[at:]
        elif kind == "overwrite":
            data[at:at + 8] = bytes(rng.randrange(256) for _ in range(8))
        else:
            data[at:at] = data[at:at + rng.randint(1, 64)]
    return bytes(data)


@pytest.mark.parametrize("fmt_name", ["refi-qdpx", "refi-qde", "tables-csv", "tables-xlsx"])
def test_damaged_inputs_end_cleanly_on_the_command_line(fmt_name: str, tmp_path: Path) -> None:
    seed = seed_file(fmt_name, tmp_path)
    assert seed is not None
    suffix = ".csv.zip" if seed.name.endswith(".csv.zip") else seed.suffix
    rng = random.Random(f"{fmt_name}-cli")
    problems = []
    for number in range(4):
        path = tmp_path / f"damaged-{number}{suffix}"
        path.write_bytes(mutate(seed.read_bytes(), rng))
        problem = cli_problem(path, fmt_name, tmp_path / "out", slow=30)
        if problem is not None:
            problems.append(f"{path.name}: {problem}")
    assert problems == []
