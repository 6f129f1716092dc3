"""Time and peak memory of writing and reading the large project as a Taguette database.

    python benchmarks/bench_taguette.py [--sources N] [--excerpts N] [--keep FILE]

The project is built once (benchmarks/make_big.py); the write and the read then each run in a
forked child, so one step's memory cannot hide the other's. Peak memory is the child's growth in
resident memory over the step (Linux: VmHWM, reset through /proc/self/clear_refs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_tables import measure  # noqa: E402
from make_big import make_big_project  # noqa: E402

import qdaconv  # noqa: E402
from qdaconv.model import walk_codings  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="write the database here and keep it")
    args = parser.parse_args(argv)
    project = make_big_project(n_sources=args.sources, n_excerpts=args.excerpts)
    codings = sum(1 for _ in walk_codings(project))
    with tempfile.TemporaryDirectory() as folder:
        small = make_big_project(n_sources=2, n_excerpts=10, n_cases=2, n_notes=2)
        warm = Path(folder) / "warm.sqlite3"  # loads the plugins once, so that no step pays for them
        qdaconv.write(small, warm, "taguette-db")
        qdaconv.read(warm)
        target = args.keep or Path(folder) / "big.sqlite3"
        written, write_peak, _ = measure(project, "write", target, "taguette-db")
        read, read_peak, count = measure(project, "read", target, "taguette-db")
        size = target.stat().st_size
    print(f"{args.sources} sources, {codings} codings; database {size / 2**20:.1f} MiB")
    print(f"write: {written:.1f} s, peak {write_peak / 2**20:.0f} MiB")
    print(f"read:  {read:.1f} s, peak {read_peak / 2**20:.0f} MiB ({count} codings read back)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
