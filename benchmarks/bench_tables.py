"""Time and peak memory of writing and reading the 100,000-coding project as CSV tables and as a workbook.

    python benchmarks/bench_tables.py [--keep DIR] [--sources N] [--excerpts N]

The project is built once (benchmarks/make_big.py); each write and each read then runs in a
forked child, so one step's memory cannot hide another's. Peak memory is the child's growth
in resident memory over the step (Linux: VmHWM, reset through /proc/self/clear_refs).
The workbook is written in openpyxl's write-only mode and read in read-only mode.
"""

from __future__ import annotations

import argparse
import multiprocessing
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_big import make_big_project  # noqa: E402

import qdaconv  # noqa: E402
from qdaconv.model import Project, walk_codings  # noqa: E402

TARGETS = (("CSV folder", "big-tables"), ("CSV zip", "big.csv.zip"), ("xlsx", "big.xlsx"))


def _status(field: str) -> int:
    """A field of /proc/self/status, in bytes."""
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1)) * 1024


def _step(project: Project, action: str, target: Path, fmt: str | None, results) -> None:
    Path("/proc/self/clear_refs").write_text("5")  # peak resident memory := current
    start = _status("VmRSS")
    began = time.perf_counter()
    if action == "write":
        qdaconv.write(project, target, fmt, force=True)
        count = None
    else:
        count = sum(1 for _ in walk_codings(qdaconv.read(target, fmt)))
    results.put((time.perf_counter() - began, _status("VmHWM") - start, count))


def measure(project: Project, action: str, target: Path, fmt: str | None = None) -> tuple[float, int, int | None]:
    """Seconds, peak memory above the start and codings read back of one write or read, in a forked child."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_step, args=(project, action, target, fmt, results))
    child.start()
    outcome = results.get()
    child.join()
    if child.exitcode:
        raise SystemExit(f"{action} {target} failed")
    return outcome


def _warm_up(folder: Path) -> None:
    """Load the plugins and the libraries they import once, so no step pays for them."""
    small = make_big_project(n_sources=2, n_excerpts=10, n_cases=2, n_notes=2)
    for _label, name in TARGETS:
        target = folder / f"warm-up-{name}"
        qdaconv.write(small, target, force=True)
        qdaconv.read(target)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the outputs into this folder and keep them")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    project = make_big_project(n_sources=args.sources, n_excerpts=args.excerpts)
    codings = sum(1 for _ in walk_codings(project))
    print(f"project: {len(project.sources)} sources, {codings:,} codings "
          f"(built in {time.perf_counter() - began:.1f} s)")
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        _warm_up(folder)
        print(f"{'container':<12} {'write s':>8} {'write MiB':>10} {'read s':>8} {'read MiB':>9} {'size MiB':>9}")
        for label, name in TARGETS:
            target = folder / name
            write_time, write_peak, _ = measure(project, "write", target)
            read_time, read_peak, count = measure(project, "read", target)
            if count != codings:
                raise SystemExit(f"{label}: read back {count} codings, not {codings}")
            print(f"{label:<12} {write_time:>8.1f} {write_peak / 2**20:>10.0f} {read_time:>8.1f} "
                  f"{read_peak / 2**20:>9.0f} {_size(target) / 2**20:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
