"""Time and peak memory of `qdaconv redact` on the large project with 200 terms, beside `qdaconv convert`.

    python benchmarks/bench_redact.py [--keep DIR] [--sources N] [--excerpts N] [--repeat N] [--phases]

The terms are 196 made-up names that do not occur and four words that do (`Zoë`, `café`,
`hospital`, the phrase `honest broker`), so the whole text is searched and tens of thousands of
replacements move the 100,000 excerpts. Each command runs in its own child process (see
bench_convert.py); the fastest of `--repeat` runs is reported, with the highest peak memory.
The target: redacting takes no longer than converting twice. `--phases` also times, in a child
process, each step of `redact` by CPU time: reading, redacting, writing, the verification pass, the log.
"""

from __future__ import annotations

import argparse
import csv
import random
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_convert import fastest, make_big, measure  # noqa: E402

# The steps of `qdaconv redact` (plugins/redact/run.py) one by one, each timed by CPU time.
_PHASES = """
import sys, time
from qdaconv import api
from qdaconv.redaction import Matcher, find_terms, read_terms, redact_project
clock, times = time.process_time, {}
matcher = Matcher(read_terms(sys.argv[2]))
began = clock()
project = api.read(sys.argv[1])
times["reading"] = clock() - began
began = clock()
redaction = redact_project(project, matcher)
times["redacting"] = clock() - began
began = clock()
api.write(project, sys.argv[3])
times["writing"] = clock() - began
began = clock()
assert not find_terms(sys.argv[3], matcher)
times["verifying"] = clock() - began
began = clock()
redaction.log_csv()
times["log"] = clock() - began
print(", ".join(f"{name} {seconds:.2f} s" for name, seconds in times.items()))
"""

OCCURRING = {"Zoë": "[name]", "café": "[place]", "hospital": "[place]", "honest broker": "[role]"}


def write_terms(path: Path, count: int = 200) -> None:
    """`count` terms: made-up names (some of two words) and the few words that occur in the text."""
    rng = random.Random(7)
    names: set[str] = set()
    while len(names) < count - len(OCCURRING):
        name = rng.choice("BCDFGHJKLMNPRSTVW") + "".join(rng.choices("aeiourlnst", k=rng.randint(3, 7)))
        names.add(name if rng.random() < 0.8 else f"{name} {rng.choice('BCDFGHJKLMN')}{'ovaski'[:rng.randint(3, 6)]}")
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["term", "replacement"])
        writer.writerows((name, f"[P{i + 1}]") for i, name in enumerate(sorted(names)))
        writer.writerows(OCCURRING.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep big.qdpx for the next run")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the fastest is reported")
    parser.add_argument("--phases", action="store_true", help="also time each step of redact in one process")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        big = folder / "big.qdpx"
        make_big(big, args.sources, args.excerpts)
        terms = folder / "terms.csv"
        write_terms(terms)
        converts, redacts = [], []
        for _ in range(max(args.repeat, 1)):
            converts.append(measure(sys.executable, "-m", "qdaconv", "convert", str(big), str(folder / "out.qdpx"),
                                    "--force"))
            redacts.append(measure(sys.executable, "-m", "qdaconv", "redact", str(big), str(folder / "red.qdpx"),
                                   "--terms", str(terms), "--log", str(folder / "log.csv"), "--force"))
        with open(folder / "log.csv", encoding="utf-8") as stream:
            replacements = sum(1 for _ in stream) - 1
        if args.phases:
            (folder / "phases.qdpx").unlink(missing_ok=True)
            phases = subprocess.run([sys.executable, "-c", _PHASES, str(big), str(terms), str(folder / "phases.qdpx")],
                                    capture_output=True, text=True, check=True).stdout.strip()
    convert, redact = fastest(converts), fastest(redacts)
    print(f"project: {args.sources} sources, {args.excerpts} excerpts; 200 terms, {replacements} replacements")
    print(f"{'command':<10} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9}")
    for label, run in (("convert", convert), ("redact", redact)):
        print(f"{label:<10} {run['wall']:>8.2f} {run['cpu']:>8.2f} {run['maxrss_kb'] / 1024:>9.0f}")
    print(f"redact / convert: {redact['wall'] / convert['wall']:.2f} wall, {redact['cpu'] / convert['cpu']:.2f} cpu "
          "(target: at most 2; on a loaded machine the cpu ratio is the steadier)")
    if args.phases:
        print(f"redact in one process, cpu: {phases}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
