"""Validation speed: files per second on many study-sized projects, and time and memory on one huge project.

    python benchmarks/bench_validate.py [--count 200] [--jobs 1 2] [--big] [--big-excerpts 1000000] [--keep DIR]
                                        [--phases]

1. `--count` copies of a study-sized project (`make_big.py --sources 24 --excerpts 960`: 24
   transcripts of 20,000 characters, 960 coded excerpts named after their text) are validated by
   `qdaconv validate --jobs N FOLDER`, as a user runs it, for each N of `--jobs`; beside them, in
   the same run, the floor: lxml's XSD validation alone of the same project.qde files, in this
   process on one core. Each rate is given by the clock and by CPU time (all processes' CPU
   seconds, start-up included): on a machine others load, the second says what the work costs.
2. With `--big`, a project of `--big-excerpts` coded excerpts (100 per transcript) is made once and
   `qdaconv convert` and `qdaconv validate` of it are timed, each in its own process, with their
   peak memory (the child's ru_maxrss, through a fresh wrapper process per command).
3. With `--phases`, one child process validates the copies in turn and says how many milliseconds of
   CPU each layer of `validate` takes per file (the fastest of three rounds), beside the floor: parsing
   project.qde and validating its tree against the XSD.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from bench_convert import make_big, measure


def xsd_rate(files: list[Path]) -> tuple[float, float]:
    """Files per second of lxml alone (by the clock, and by this process's CPU time): read project.qde from
    the zip, parse it, validate it against the XSD."""
    from importlib import resources

    from lxml import etree

    schema = etree.XMLSchema(etree.fromstring(
        resources.files("qdaconv.schemas").joinpath("Project-mrt2019.xsd").read_bytes()))
    began, began_cpu = time.perf_counter(), time.process_time()
    for path in files:
        with zipfile.ZipFile(path) as archive:
            if not schema.validate(etree.fromstring(archive.read("project.qde"))):
                raise SystemExit(f"{path} is not schema-valid")
    return len(files) / (time.perf_counter() - began), len(files) / (time.process_time() - began_cpu)


def many(folder: Path, count: int, jobs: list[int]) -> None:
    study = folder / "study.qdpx"
    make_big(study, 24, 960)
    copies = folder / f"copies-{count}"  # the folder is validated whole: it holds exactly `count` copies
    copies.mkdir(exist_ok=True)
    for n in range(count):
        target = copies / f"study-{n:05d}.qdpx"
        if not target.exists():
            shutil.copyfile(study, target)
    files = sorted(copies.glob("*.qdpx"))[:count]
    print(f"{len(files)} copies of a study-sized project ({study.stat().st_size / 1024:.0f} KiB: 24 transcripts, "
          "960 coded excerpts)")
    print("  files/s by the clock, and by CPU time (what the files cost, whatever else loads the machine):")
    wall, cpu = xsd_rate(files)
    print(f"  lxml XSD validation alone, 1 process: {wall:6.1f} files/s, {cpu:6.1f} per CPU second "
          f"({1000 / cpu:.1f} ms CPU per file)")
    for n in jobs:
        result = measure(sys.executable, "-m", "qdaconv", "validate", "--jobs", str(n), str(copies))
        summary = result["stdout"].strip().splitlines()[-1]
        print(f"  qdaconv validate --jobs {n}:          {len(files) / result['wall']:6.1f} files/s, "
              f"{len(files) / result['cpu']:6.1f} per CPU second ({1000 * result['cpu'] / len(files):.1f} ms CPU "
              f"per file, start-up included; {result['wall']:.1f} s, {result['cpu']:.1f} s CPU, "
              f"peak {result['maxrss_kb'] / 1024:.0f} MB per process; {summary})")


# Each layer of `validate` (qdaconv/validation/run.py, and the REFI reader's steps) timed by CPU time, in one process.
_PHASES = """
import glob, sys, time, zipfile
from lxml import etree
import qdaconv.validation.run as run
import qdaconv.plugins.refi.formats as refi
from qdaconv.validation.schema import load_schema
clock, spent = time.process_time, {}
def timed(module, name, label):
    function = getattr(module, name)
    def wrapper(*args, **kwargs):
        began = clock()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + clock() - began
    setattr(module, name, wrapper)
for name in ("detect_issues", "check_issues", "read_issues", "model_issues", "plugin_issues"):
    timed(run, name, name.removesuffix("_issues"))
for name, label in (("read_positions", "read: positions"), ("_dialect_notes", "read: dialect")):
    timed(refi, name, label)
for name in ("Index", "text_findings", "integrity_issues", "interop_issues"):
    timed(run, name, "model: " + name.removesuffix("_issues"))
files = sorted(glob.glob(sys.argv[1] + "/*.qdpx"))[:60]
schema = load_schema("Project-mrt2019.xsd")
def floor():
    for path in files:
        with zipfile.ZipFile(path) as archive:
            data = archive.read("project.qde")
        began = clock()
        schema.validate(etree.fromstring(data))
        spent["floor: parse and XSD"] = spent.get("floor: parse and XSD", 0.0) + clock() - began
best = {}
for path in files[:5]:
    run.validate(path)
for _round in range(3):
    spent.clear()
    began = clock()
    for path in files:
        run.validate(path)
    spent["validate, all of it"] = clock() - began
    floor()
    for label, seconds in spent.items():
        best[label] = min(best.get(label, seconds), seconds)
for label in ("validate, all of it", "detect", "check", "read", "read: positions", "read: dialect", "model",
              "model: Index", "model: text_findings", "model: integrity", "model: interop", "plugin",
              "floor: parse and XSD"):
    print(f"    {label:24} {1000 * best.get(label, 0.0) / len(files):6.2f} ms")
"""


def phases(folder: Path) -> None:
    print("  CPU per file in one process, by layer (the fastest of three rounds over 60 copies):")
    print(subprocess.run([sys.executable, "-c", _PHASES, str(folder)], capture_output=True, text=True,
                         check=True).stdout.rstrip())


def big(folder: Path, excerpts: int) -> None:
    path = folder / f"big-{excerpts}.qdpx"
    make_big(path, excerpts // 100, excerpts)
    print(f"a project of {excerpts:,} coded excerpts in {excerpts // 100:,} transcripts "
          f"({path.stat().st_size / 1e6:.0f} MB)")
    convert = measure(sys.executable, "-m", "qdaconv", "convert", "--force", str(path), str(folder / "out.qdpx"))
    validate = measure(sys.executable, "-m", "qdaconv", "validate", str(path), allowed=(0, 1))
    for label, result in (("qdaconv convert", convert), ("qdaconv validate", validate)):
        print(f"  {label:17} {result['wall']:7.1f} s wall, {result['cpu']:7.1f} s CPU, "
              f"peak {result['maxrss_kb'] / 1024:6.0f} MB")
    print(f"  validate / convert: {validate['wall'] / convert['wall']:.2f}x time (target 1.5x), "
          f"{validate['maxrss_kb'] / convert['maxrss_kb']:.2f}x peak memory (target 1.0x)")
    print("  " + validate["stdout"].strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="study-sized copies (default 200)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="job counts to time (default 1 2)")
    parser.add_argument("--big", action="store_true", help="also time convert and validate of a huge project")
    parser.add_argument("--big-excerpts", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the generated files")
    parser.add_argument("--phases", action="store_true", help="also time each layer of validate in one process")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qdaconv-bench-") as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        many(folder, args.count, args.jobs)
        if args.phases:
            phases(folder / f"copies-{args.count}")
        if args.big:
            big(folder, args.big_excerpts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
