"""Time the core's views of a large study: the document walk, feature counts, coded segments and diff.

    python benchmarks/bench_views.py [--sources N] [--excerpts N]

Prints seconds for each view on the synthetic study of benchmarks/make_big.py (default 1,000
transcripts, 100,000 coded excerpts), best of three runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from make_big import make_big_project  # noqa: E402

from qdaconv.diff import diff  # noqa: E402
from qdaconv.formats import features_used  # noqa: E402
from qdaconv.model import coded_segments, walk_codings, walk_documents  # noqa: E402


def best_of(runs: int, work) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    args = parser.parse_args()
    project = make_big_project(n_sources=args.sources, n_excerpts=args.excerpts)
    codings = sum(1 for _ in walk_codings(project))
    print(f"study: {len(project.sources)} sources, {codings} codings")
    views = {
        "walk_documents": lambda: sum(1 for _ in walk_documents(project)),
        "features_used": lambda: features_used(project),
        "coded_segments": lambda: coded_segments(project),
        "diff (same project)": lambda: diff(project, project),
    }
    for name, work in views.items():
        print(f"{name:<22} {best_of(3, work):8.3f} s")


if __name__ == "__main__":
    main()
