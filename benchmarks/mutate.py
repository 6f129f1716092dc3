"""Does the test suite catch real faults? Apply each of a few representative faults to a copy of the
code, run the tests against that copy, and report which test files catch it.

    .venv/bin/python benchmarks/mutate.py            # every fault, the whole suite per fault
    .venv/bin/python benchmarks/mutate.py --fault writer-drops-coding-user --tests tests/test_roundtrip.py

Each fault is a regular expression that must match exactly once in the code; a fault that no longer
applies (the code moved) is reported as such and fails the run, so the list stays honest. The copy
lies in a temporary folder beside ../shared (so the sample tests run) and is imported through
PYTHONPATH ahead of the installed package; the working tree is never changed. Exit status: 0 when
every fault was caught by at least one test outside the test file of the module it breaks.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Fault:
    name: str
    what: str
    pattern: str
    replacement: str
    home_test: str  # the test file of the module the fault is in: catching it elsewhere is what counts


def _silence(rule: str) -> tuple[str, str]:
    """A fault that keeps a rule from ever being reported."""
    return (rf'[\w.]+\.append\(RULES\["{rule}"\]\.issue\(', f'(lambda _issue: None)(RULES["{rule}"].issue(')


FAULTS = [
    Fault("reader-drops-coding-date", "the REFI reader loses every Coding's creationDateTime",
          r'(Coding\([^\n]*\n\s*)self\._datetime\(element\.get\("creationDateTime"\)\)', r"\1None",
          "tests/test_refi.py"),
    Fault("writer-drops-coding-user", "the REFI writer leaves out every Coding's creatingUser",
          r"user = f' creatingUser=\"\{g\.ref\(coding\.creating_user\)\}\"' if coding\.creating_user is not None "
          r"else \"\"", 'user = ""', "tests/test_refi.py"),
    Fault("tables-drop-coder", "the tables writer leaves the codings' coder column empty",
          r'"coder": coding\.creating_user', '"coder": None', "tests/test_tables.py"),
    Fault("rule-split-word-silenced", "INTEROP-SPLIT-WORD never fires", *_silence("INTEROP-SPLIT-WORD"),
          "tests/test_validation.py"),
    Fault("rule-too-large-silenced", "ZIP-FILE-TOO-LARGE never fires", *_silence("ZIP-FILE-TOO-LARGE"),
          "tests/test_validation_refi.py"),
    Fault("reader-shifts-start", "the REFI reader moves every text selection's start one character on",
          r'selection\.start = self\._int\(element, "startPosition"\)',
          'selection.start = (self._int(element, "startPosition") or 0) + 1', "tests/test_refi.py"),
]


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


def make_copy(where: Path) -> Path:
    """The tracked tree under where/project, laid out as the installed package imports it."""
    project = where / "project"
    for name in tracked_files():
        target = project / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    # qdaconv.plugins and qdaconv.schemas live in plugins/ and schemas/ (setuptools package-dir)
    os.symlink(project / "plugins", project / "qdaconv" / "plugins")
    os.symlink(project / "schemas", project / "qdaconv" / "schemas")
    shared = ROOT.parent / "shared"
    if shared.exists():
        os.symlink(shared, where / "shared")
    return project


def apply(fault: Fault, project: Path) -> str | None:
    """Apply the fault; the file it changed, or None when the pattern is not found exactly once."""
    hits = []
    for file in list((project / "qdaconv").rglob("*.py")) + list((project / "plugins").rglob("*.py")):
        text = file.read_text(encoding="utf-8")
        found = len(re.findall(fault.pattern, text))
        if found:
            hits.append((file, text, found))
    unique = {h[0].resolve(): h for h in hits}
    if len(unique) != 1 or next(iter(unique.values()))[2] != 1:
        return None
    file, text, _found = next(iter(unique.values()))
    file.write_text(re.sub(fault.pattern, fault.replacement, text), encoding="utf-8")
    return file.resolve().relative_to(project.resolve()).as_posix()


def run_tests(project: Path, tests: list[str]) -> tuple[set[str] | None, float]:
    """The test files with failing tests; None when the run itself broke (the fault made the code unimportable)."""
    env = dict(os.environ, PYTHONPATH=str(project), PYTHONDONTWRITEBYTECODE="1")
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=no", "-rfE",
                           *tests], cwd=project, env=env, capture_output=True, text=True)
    lines = done.stdout.splitlines()
    if done.returncode not in (0, 1) or any(line.startswith("ERROR ") for line in lines):
        return None, time.perf_counter() - began
    failed = {line.split()[1].split("::")[0] for line in lines if line.startswith("FAILED ")}
    return failed, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fault", action="append", help="run only this fault (repeatable)")
    parser.add_argument("--tests", nargs="*", default=["tests"], help="test files or folders to run")
    args = parser.parse_args()
    chosen = [f for f in FAULTS if not args.fault or f.name in args.fault]
    caught_all = True
    for fault in chosen:
        with tempfile.TemporaryDirectory(prefix="qdaconv-mutant-") as folder:
            project = make_copy(Path(folder))
            changed = apply(fault, project)
            if changed is None:
                print(f"{fault.name}: NOT APPLIED (the pattern no longer matches exactly once; update the fault)")
                caught_all = False
                continue
            failed, seconds = run_tests(project, args.tests)
        if failed is None:
            print(f"{fault.name}: BROKE THE RUN (the changed code no longer imports; fix the fault's replacement)")
            caught_all = False
            continue
        elsewhere = sorted(failed - {fault.home_test})
        verdict = "caught" if elsewhere else ("caught only by " + fault.home_test if failed else "NOT CAUGHT")
        caught_all &= bool(elsewhere)
        print(f"{fault.name}: {verdict} ({fault.what}; {changed}; {len(failed)} test files fail in {seconds:.0f} s)")
        for name in sorted(failed):
            print(f"    {name}")
    print("every fault caught" if caught_all else "some faults were not caught outside their module's tests")
    return 0 if caught_all else 1


if __name__ == "__main__":
    sys.exit(main())
