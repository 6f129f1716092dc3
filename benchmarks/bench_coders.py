"""Time `qdaconv agree` and `qdaconv merge` on two coders' copies of a 100,000-excerpt project, beside convert.

    python benchmarks/bench_coders.py [--keep DIR] [--sources N] [--excerpts N] [--repeat N]

The project is make_big.py's (1,000 transcripts of 20,000 characters). Coder A's copy holds every
other excerpt of it (50,000), all coded by A; coder B's copy holds B's version of each of A's
excerpts: most the same, some with shifted boundaries, some recoded, some dropped, and as many
added elsewhere. Merged, the two copies make the 100,000-excerpt project whose conversion is
timed beside them. Each command runs in its own process (see bench_convert.py), `--repeat` times,
and the fastest run is reported. Where the commands' time goes is measured in this process, in
CPU seconds: reading the two copies, computing the agreement and its JSON, merging, and writing
the merged project (as the commands do, with the collector kept off the projects read).
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_convert import fastest, measure
from make_big import make_big_project

import qdaconv
from qdaconv.agreement import Agreement, agreement_between
from qdaconv.merge import merge
from qdaconv.model import Coding, Project, Selection, User, stable_guid, walk_codes
from qdaconv.plugins.coders import json_pieces


def coder_copies(n_sources: int, n_excerpts: int, seed: int = 7) -> tuple[Project, Project]:
    """Coder A's and coder B's copies of the big project (the same sources, codes and cases)."""
    rng = random.Random(seed)
    copies = []
    for name in ("Ann", "Bo"):
        project = make_big_project(n_sources, n_excerpts=n_excerpts)
        user = User(f"00000000-0000-4000-8000-00000000000{len(copies) + 1}", name, name[:2].upper())
        project.users = [user]
        copies.append((project, user))
    (first, ann), (second, bo) = copies
    codable = [entry.code.guid for entry in walk_codes(first) if entry.code.codable]
    for mine, theirs in zip(first.sources, second.sources, strict=True):
        length = len(mine.text or "")
        kept = mine.selections[::2]
        mine.selections, theirs.selections = [], []
        for number, selection in enumerate(kept):
            code = selection.codings[0].code
            mine.selections.append(_excerpt(selection.guid, selection.start, selection.end, code, ann))
            start, end, roll = selection.start, selection.end, rng.random()
            if roll < 0.1:  # dropped; B coded something else instead
                start = rng.randrange(max(length - 200, 1))
                end = start + rng.randint(20, 150)
            elif roll < 0.3:  # boundaries shifted by a few characters
                start, end = max(0, start + rng.randint(-8, 8)), min(length, end + rng.randint(-8, 8))
            elif roll < 0.4:  # recoded
                code = rng.choice(codable)
            theirs.selections.append(_excerpt(f"{selection.guid[:-6]}B{number:05d}", start, end, code, bo))
    return first, second


def _excerpt(guid: str, start: int, end: int, code: str, user: User) -> Selection:
    coding = Coding(stable_guid("bench-coders", guid), code, user.guid)
    return Selection(guid, "PlainText", start=start, end=max(end, start + 1), codings=[coding],
                     creating_user=user.guid)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the copies for the next run")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the fastest is reported")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        ann, bo, merged = folder / "ann.qdpx", folder / "bo.qdpx", folder / "merged.qdpx"
        if not (ann.exists() and bo.exists()):
            began = time.perf_counter()
            first, second = coder_copies(args.sources, args.excerpts)
            qdaconv.write(first, ann, force=True)
            qdaconv.write(second, bo, force=True)
            print(f"made the copies in {time.perf_counter() - began:.1f} s", file=sys.stderr)
        qdaconv_cmd = (sys.executable, "-m", "qdaconv")
        runs: dict[str, list[dict]] = {"merge": [], "agree (two files)": [], "agree (merged project)": [],
                                       "convert (merged project)": []}
        for _ in range(max(args.repeat, 1)):
            runs["merge"].append(measure(*qdaconv_cmd, "merge", str(ann), str(bo), "-o", str(merged), "--force"))
            runs["agree (two files)"].append(measure(*qdaconv_cmd, "agree", str(ann), str(bo), "--json"))
            runs["agree (merged project)"].append(measure(*qdaconv_cmd, "agree", str(merged), "--coders", "Ann,Bo"))
            runs["convert (merged project)"].append(measure(*qdaconv_cmd, "convert", str(merged),
                                                            str(folder / "out.qdpx"), "--force"))
        parts, result, excerpts = where_the_time_goes(ann, bo, folder / "merged-here.qdpx")
        print(f"two copies: {excerpts:,} excerpts together, {ann.stat().st_size / 1e6:.1f} + "
              f"{bo.stat().st_size / 1e6:.1f} MB; overall kappa {result.overall.characters.kappa:.3f}, "
              f"alpha {result.overall.alpha:.3f}, segments matched {result.overall.segments.percent:.1f}%")
        print(f"fastest of {max(args.repeat, 1)} runs each")
        print(f"{'':28} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
        for label, measured in runs.items():
            best = fastest(measured)
            print(f"{label:28} {best['wall']:8.2f} {best['cpu']:8.2f} {best['maxrss_kb'] / 1024:8.0f}")
        print("in this process, CPU s: " + "; ".join(f"{label} {seconds:.2f}" for label, seconds in parts.items()))
    return 0


def where_the_time_goes(ann: Path, bo: Path, merged: Path) -> tuple[dict[str, float], Agreement, int]:
    """CPU seconds of each step of `agree --json` and `merge` on the two copies; the agreement; the excerpts."""
    parts: dict[str, float] = {}

    def timed(label: str, step: Callable[[], Any]) -> Any:
        began = time.process_time()
        value = step()
        parts[label] = time.process_time() - began
        return value

    projects = timed("reading the two copies", lambda: [qdaconv.read(ann), qdaconv.read(bo)])
    excerpts = sum(len(source.selections) for project in projects for source in project.sources)
    gc.freeze()
    try:
        result = timed("agreement", lambda: agreement_between(*projects))
        timed("its JSON", lambda: sum(map(len, json_pieces(result.as_dict()))))
        merged_project = timed("merging", lambda: merge(projects, ["ann", "bo"]).project)
        timed("writing the merged project", lambda: qdaconv.write(merged_project, merged, force=True))
    finally:
        gc.unfreeze()
    return parts, result, excerpts


if __name__ == "__main__":
    sys.exit(main())
