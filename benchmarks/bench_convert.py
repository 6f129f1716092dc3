"""Time and peak memory of `qdaconv convert big.qdpx out.qdpx`, beside the floor: lxml alone on project.qde.

    python benchmarks/bench_convert.py [--keep DIR] [--sources N] [--excerpts N] [--repeat N]

Each measured command runs in its own child process; its peak memory is the child's
ru_maxrss (resource.getrusage RUSAGE_CHILDREN, measured by a fresh wrapper process per command
so that one command's peak cannot hide another's). Commands run as an installed qdaconv does, with
Python's bytecode cache on even where the environment turns it off (PYTHONDONTWRITEBYTECODE): there,
every start would compile qdaconv's modules again, about 0.1 s. The floor and the conversion run in turn,
`--repeat` times each (3 by default), and the fastest run of each is reported: on a shared
machine the other runs measure the neighbours as much as the program.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

# Runs one command and prints its wall time, CPU time and peak memory as JSON.
_MEASURE = """
import json, resource, subprocess, sys, time
began = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - began
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss,
                  "code": done.returncode, "stdout": done.stdout[-2000:], "stderr": done.stderr[-2000:]}))
"""

# The floor: parse project.qde with lxml and serialise it again, nothing else.
_FLOOR = """
import sys
from lxml import etree
tree = etree.parse(sys.argv[1])
tree.write(sys.argv[2], encoding="utf-8", xml_declaration=True)
"""


def measure(*command: str, allowed: tuple[int, ...] = (0,)) -> dict:
    """Wall time, CPU time and peak memory of one command; an exit code not `allowed` stops the benchmark."""
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True,
                         env=environment)
    result = json.loads(out.stdout)
    if result["code"] not in allowed:
        raise SystemExit(f"{' '.join(command)} failed ({result['code']}):\n{result['stdout']}{result['stderr']}")
    return result


def make_big(path: Path, sources: int, excerpts: int) -> None:
    """Write make_big.py's project to `path` unless it is there from an earlier run (--keep)."""
    if not path.exists():
        subprocess.run([sys.executable, str(HERE / "make_big.py"), str(path), "--sources", str(sources),
                        "--excerpts", str(excerpts)], check=True)


def fastest(runs: list[dict]) -> dict:
    """The run with the least wall time, with the highest peak memory of all runs."""
    best = dict(min(runs, key=lambda run: run["wall"]))
    best["maxrss_kb"] = max(run["maxrss_kb"] for run in runs)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in this folder and keep big.qdpx for the next run")
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--excerpts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the fastest is reported")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        big = folder / "big.qdpx"
        make_big(big, args.sources, args.excerpts)
        qde = folder / "project.qde"
        with zipfile.ZipFile(big) as archive:
            qde.write_bytes(archive.read("project.qde"))
        floors, converts = [], []
        for _ in range(max(args.repeat, 1)):
            floors.append(measure(sys.executable, "-c", _FLOOR, str(qde), str(folder / "floor.qde")))
            converts.append(measure(sys.executable, "-m", "qdaconv", "convert", str(big), str(folder / "out.qdpx"),
                                    "--force"))
        floor, convert = fastest(floors), fastest(converts)
        print(f"input: {big.stat().st_size / 1e6:.1f} MB .qdpx, project.qde {qde.stat().st_size / 1e6:.1f} MB")
        walls = ", ".join(f"{run['wall']:.2f}" for run in converts)
        print(f"fastest of {len(converts)} runs each (convert wall times: {walls} s)")
        print(f"{'':30} {'wall s':>8} {'cpu s':>8} {'peak MB':>8}")
        for label, result in (("floor (lxml parse + write)", floor), ("qdaconv convert", convert)):
            print(f"{label:30} {result['wall']:8.2f} {result['cpu']:8.2f} {result['maxrss_kb'] / 1024:8.0f}")
        print(f"convert / floor: {convert['wall'] / floor['wall']:.1f}x wall, {convert['cpu'] / floor['cpu']:.1f}x cpu "
              f"(target: 3x); peak {convert['maxrss_kb'] / 1024:.0f} MB (target: under 300 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
