"""Time and peak memory of writing and reading the 100,000-coding project as a QualCoder project.

    python benchmarks/bench_qualcoder.py [--sources N] [--excerpts N]

The project is built once (benchmarks/make_big.py); the write and the read each run in a forked
child (see bench_tables.py for how memory is measured), so one step's memory cannot hide another's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tables import measure  # noqa: E402
from make_big import make_big_project  # noqa: E402

import qdaconv  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    project = make_big_project(n_sources=args.sources, n_excerpts=args.excerpts)
    print(f"built the project in {time.perf_counter() - began:.1f} s")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        small = make_big_project(n_sources=2, n_excerpts=10, n_cases=2, n_notes=2)
        qdaconv.write(small, folder / "warm-up.qda")  # load the plugins once, so no step pays for them
        qdaconv.read(folder / "warm-up.qda")
        target = folder / "big.qda"
        seconds, peak, _ = measure(project, "write", target)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        print(f"write: {seconds:.1f} s, peak {peak / 2**20:.0f} MiB, {size / 2**20:.0f} MiB on disk")
        seconds, peak, codings = measure(project, "read", target)
        print(f"read:  {seconds:.1f} s, peak {peak / 2**20:.0f} MiB, {codings:,} codings")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
