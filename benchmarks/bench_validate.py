"""Validation throughput: copies of the study validated with 1 and 2 jobs, in files per second and peak memory.

    python benchmarks/bench_validate.py [--count 1000] [--jobs 1 2] [--study fixtures/study.qdpx]

Every copy is a real .qdpx in a temporary folder, checked through every layer (container, XSD,
reading, integrity, interoperability, plugin rules), exactly as `qdaconv validate FOLDER` does.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from qdaconv.validation import expand_paths, summary_line, validate, validate_many

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mib(who: int) -> float:
    """Peak resident memory of this process or of its largest finished child, in MiB (Linux counts KiB)."""
    return resource.getrusage(who).ru_maxrss / 1024


def run(files: list[Path], jobs: int) -> tuple[float, str]:
    started = time.perf_counter()
    reports = validate_many(files, jobs=jobs)
    elapsed = time.perf_counter() - started
    if not all(report.valid for report in reports):
        bad = next(report for report in reports if not report.valid)
        sys.exit(f"unexpected errors in {bad.file}: {bad.issues[0]}")
    return elapsed, summary_line(reports)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="number of study copies (default 1000)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="job counts to time (default 1 2)")
    parser.add_argument("--study", type=Path, default=ROOT / "fixtures" / "study.qdpx")
    args = parser.parse_args()
    if not args.study.exists():
        sys.exit(f"{args.study} is missing: run fixtures/make_study.py first")
    single = validate(args.study)
    print(f"study: {args.study.name}, {args.study.stat().st_size / 1024:.0f} KiB, "
          f"{len(single.issues)} issue(s) of its own; {args.count} copies")
    with tempfile.TemporaryDirectory(prefix="qdaconv-bench-") as folder:
        for n in range(args.count):
            shutil.copyfile(args.study, Path(folder) / f"study-{n:05d}.qdpx")
        files = expand_paths([folder])
        for jobs in args.jobs:
            elapsed, summary = run(files, jobs)
            print(f"{jobs} job(s): {len(files) / elapsed:7.1f} files/s  ({elapsed:6.1f} s; {summary})")
    print(f"peak memory: this process {peak_rss_mib(resource.RUSAGE_SELF):.0f} MiB, "
          f"largest worker {peak_rss_mib(resource.RUSAGE_CHILDREN):.0f} MiB")


if __name__ == "__main__":
    main()
