"""Fuzz every reader for a bounded time: damaged files must fail with a QdaconvError and nothing else.

    python benchmarks/fuzz.py --seconds 60                     # every readable format, time shared
    python benchmarks/fuzz.py --seconds 60 --format refi-qdpx  # one format
    python benchmarks/fuzz.py --engine hypothesis              # even when atheris is installed
    python benchmarks/fuzz.py --cli --seconds 120              # the command line, end to end

Each format starts from a small valid file written by qdaconv itself (a vendor format that has no
writer starts from the file in fixtures/vendors that it reads). With atheris installed it drives
coverage-guided mutation of those seeds; otherwise hypothesis flips, cuts, inserts and overwrites
bytes. An input counts as a crash when reading it (and the source texts it names) raises anything
but a QdaconvError, or takes longer than --slow seconds. Crashes are grouped by exception type and
the qdaconv line that raised it; one example of each is saved under --out. Exit code 1 when any
crash was found.

With --cli each input goes through `qdaconv convert` and `qdaconv validate` in a subprocess, as a
user would run them: the exit code must be 0, 1 or 2, stderr must hold no traceback and no
"internal error", and the output folder must hold the converted file after a success and nothing
at all after a failure.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import qdaconv
from qdaconv.errors import QdaconvError
from qdaconv.model import Case, Code, Coding, Project, Selection, Source, Variable, VariableValue, walk_sources
from qdaconv.registry import default_registry

ROOT = Path(__file__).resolve().parent.parent
VENDOR_FIXTURES = ROOT / "fixtures" / "vendors"


def seed_project() -> Project:
    """A small project touching codes, a tree, variables, cases, a text with a coded span and a note."""
    trust = Code("C0DE0000-0000-4000-8000-000000000001", "trust", color="#FF0000", description="=1+1")
    text = "Anna: we met 😀 every week.\r\nNeil: “trust” grew."
    source = Source("50C00000-0000-4000-8000-000000000001", "Text", "Anna", plain_text=text,
                    selections=[Selection("5E1E0000-0000-4000-8000-000000000001", start=6, end=12,
                                          codings=[Coding("C0D10000-0000-4000-8000-000000000001", trust.guid)])])
    return Project(
        name="seed", origin="fuzz", description="line\r\nbreak",
        codes=[Code("C0DE0000-0000-4000-8000-000000000002", "theme", codable=False, children=[trust])],
        variables=[Variable("7A000000-0000-4000-8000-000000000001", "age", "Integer")],
        cases=[Case("CA5E0000-0000-4000-8000-000000000001", "Anna", source_refs=[source.guid],
                    variable_values=[VariableValue("7A000000-0000-4000-8000-000000000001", "Integer", 41)])],
        sources=[source],
        notes=[Source("40000000-0000-4000-8000-000000000001", "Note", "memo", plain_text="a memo")],
    )


def seed_file(fmt_name: str, folder: Path) -> Path | None:
    """A valid file of the format to start from, or None when there is none to be had."""
    fmt = default_registry().get(fmt_name)
    if fmt.folder and not fmt.extensions:
        return None  # a folder format has no single file to mutate
    if fmt.can_write:
        path = folder / f"seed-{fmt_name}{fmt.extensions[0]}"
        takes = {option.name for option in fmt.options if option.write}
        extra = {"inline_text": True} if "inline_text" in takes else {}
        if "text_files" in takes:
            extra = {"text_files": True}
        qdaconv.write(seed_project(), path, fmt_name, **extra)
        return path if path.is_file() else None
    for candidate in sorted(VENDOR_FIXTURES.glob("*")):
        if candidate.is_file() and candidate.suffix in {ext[-5:] for ext in fmt.extensions}:
            try:
                if fmt.sniff(candidate) >= 0.5:
                    return candidate
            except Exception:  # noqa: BLE001 - sniff must not raise; treat it as no match
                continue
    return None


@dataclass
class Findings:
    """Crashes grouped by (exception type, the qdaconv line that raised it), one example kept for each."""

    out: Path
    runs: int = 0
    crashes: dict[tuple[str, str], int] = field(default_factory=dict)
    examples: dict[tuple[str, str], tuple[Path, str]] = field(default_factory=dict)

    def record(self, fmt_name: str, data: bytes, problem: BaseException | str) -> None:
        if isinstance(problem, BaseException):
            frames = [f for f in traceback.extract_tb(problem.__traceback__) if _ours(f.filename)]
            place = f"{_short(frames[-1].filename)}:{frames[-1].lineno}" if frames else "?"
            key, message = (type(problem).__name__, place), str(problem)[:100]
        else:
            key, message = (problem, fmt_name), problem
        if key not in self.crashes:
            self.out.mkdir(parents=True, exist_ok=True)
            example = self.out / f"crash-{len(self.crashes) + 1}-{fmt_name}.bin"
            example.write_bytes(data)
            self.examples[key] = (example, message)
            print(f"  new crash in {fmt_name}: {key[0]} at {key[1]}: {message} (example {example})", flush=True)
        self.crashes[key] = self.crashes.get(key, 0) + 1


def _ours(filename: str) -> bool:
    return str(ROOT / "qdaconv") in filename or str(ROOT / "plugins") in filename


def _short(filename: str) -> str:
    return str(Path(filename).relative_to(ROOT)) if filename.startswith(str(ROOT)) else filename


def read_everything(path: Path, fmt_name: str) -> None:
    project = qdaconv.read(path, fmt_name)
    for source in walk_sources(project):
        _ = source.text
        for blob in (source.file, source.rich_file):
            if blob is not None:
                blob.read_bytes()


def target(fmt_name: str, suffix: str, work: Path, findings: Findings, slow: float) -> Callable[[bytes], None]:
    """A function that reads one input as `fmt_name` and records whatever is not a QdaconvError."""
    path = work / f"input{suffix}"

    def one_input(data: bytes) -> None:
        findings.runs += 1
        path.write_bytes(data)
        started = time.perf_counter()
        try:
            read_everything(path, fmt_name)
        except QdaconvError:
            pass
        except Exception as exc:  # noqa: BLE001 - anything else is what we are looking for
            findings.record(fmt_name, data, exc)
        if time.perf_counter() - started > slow:
            findings.record(fmt_name, data, f"slower than {slow:g} s")

    return one_input


def cli_problem(path: Path, fmt_name: str, out: Path, slow: float) -> str | None:
    """What is wrong with how the command line handled one input, or None."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir()
    target = out / "converted.qdpx"
    runs = [["convert", "--from", fmt_name, str(path), str(target)], ["validate", str(path)]]
    for arguments in runs:
        try:
            done = subprocess.run([sys.executable, "-m", "qdaconv", *arguments], capture_output=True, text=True,
                                  timeout=slow + 10, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return f"{arguments[0]}: slower than {slow + 10:g} s"
        if done.returncode not in (0, 1, 2):
            return f"{arguments[0]}: exit code {done.returncode}"
        if "Traceback" in done.stderr or "internal error" in done.stderr:
            return f"{arguments[0]}: {done.stderr.strip().splitlines()[-1][:120]}"
        if arguments[0] == "convert":
            left = sorted(p.name for p in out.iterdir())
            if left != (["converted.qdpx"] if done.returncode == 0 else []):
                return f"convert exit {done.returncode} left {left}"
    return None


def cli_target(fmt_name: str, suffix: str, work: Path, findings: Findings, slow: float) -> Callable[[bytes], None]:
    """A function that runs one input through the command line and records what goes wrong."""
    path = work / f"input{suffix}"

    def one_input(data: bytes) -> None:
        findings.runs += 1
        path.write_bytes(data)
        problem = cli_problem(path, fmt_name, work / "out", slow)
        if problem is not None:
            findings.record(fmt_name, data, problem)

    return one_input


def fuzz_with_hypothesis(seed: bytes, one_input: Callable[[bytes], None], seconds: float) -> None:
    """Rounds of up to 200 mutated inputs, each round with a new seed, until the time is up."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as fixed_seed
    from hypothesis import strategies as st

    @st.composite
    def mutations(draw: st.DrawFn) -> bytes:
        data = bytearray(seed)
        for _ in range(draw(st.integers(1, 6))):
            kind = draw(st.sampled_from(["flip", "truncate", "insert", "overwrite", "duplicate"]))
            at = draw(st.integers(0, max(len(data) - 1, 0)))
            if kind == "flip" and data:
                data[at] ^= 1 << draw(st.integers(0, 7))
            elif kind == "truncate":
                del data[at:]
            elif kind == "insert":
                data[at:at] = draw(st.binary(min_size=1, max_size=64))
            elif kind == "overwrite":
                chunk = draw(st.binary(min_size=1, max_size=64))
                data[at:at + len(chunk)] = chunk
            else:
                length = draw(st.integers(1, 256))
                data[at:at] = data[at:at + length]
        return bytes(data)

    deadline = time.monotonic() + seconds
    round_number = 0
    while time.monotonic() < deadline:
        round_number += 1

        @fixed_seed(round_number)
        @settings(max_examples=200, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(mutations())
        def run(data: bytes) -> None:
            if time.monotonic() < deadline:
                one_input(data)

        run()


def fuzz_with_atheris(seed: Path, one_input: Callable[[bytes], None], seconds: float) -> None:
    """Coverage-guided fuzzing from the seed; atheris runs until -max_total_time and returns."""
    import atheris

    corpus = Path(tempfile.mkdtemp(prefix="qdaconv-fuzz-corpus-"))
    (corpus / seed.name).write_bytes(seed.read_bytes())
    atheris.Setup([sys.argv[0], f"-max_total_time={max(int(seconds), 1)}", "-rss_limit_mb=1024", str(corpus)],
                  one_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60, help="total time, shared between the formats")
    parser.add_argument("--format", dest="formats", action="append", metavar="NAME",
                        help="a format to fuzz (repeatable; default: every format that can be read)")
    parser.add_argument("--engine", choices=["auto", "atheris", "hypothesis"], default="auto")
    parser.add_argument("--slow", type=float, default=5.0, help="seconds after which one input counts as a hang")
    parser.add_argument("--out", type=Path, default=Path("fuzz-crashes"), help="folder for crash examples")
    parser.add_argument("--cli", action="store_true", help="run each input through the command line instead")
    args = parser.parse_args(argv)

    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
            engine = "atheris"
        except ImportError:
            engine = "hypothesis"
    names = args.formats or [fmt.name for fmt in default_registry() if fmt.can_read]
    if engine == "atheris" and len(names) > 1:
        parser.error("atheris fuzzes one target per process: pass one --format")
    findings = Findings(args.out)
    with tempfile.TemporaryDirectory(prefix="qdaconv-fuzz-") as folder:
        work = Path(folder)
        seeds = {name: seed_file(name, work) for name in names}
        ready = {name: path for name, path in seeds.items() if path is not None}
        for name in sorted(set(names) - set(ready)):
            print(f"{name}: no seed file (folder format, or no fixture it reads); skipped")
        share = args.seconds / max(len(ready), 1)
        for name, seed in ready.items():
            suffix = "".join(seed.suffixes[-2:]) if seed.name.endswith(".csv.zip") else seed.suffix
            before = findings.runs
            one_input = (cli_target if args.cli else target)(name, suffix, work, findings, args.slow)
            print(f"{name}: fuzzing {seed.name} with {engine} for {share:.0f} s", flush=True)
            if engine == "atheris":
                fuzz_with_atheris(seed, one_input, share)
            else:
                fuzz_with_hypothesis(seed.read_bytes(), one_input, share)
            print(f"{name}: {findings.runs - before} inputs", flush=True)
    print(f"\n{findings.runs} inputs, {len(findings.crashes)} distinct crashes")
    for key, count in sorted(findings.crashes.items(), key=lambda item: -item[1]):
        example, message = findings.examples[key]
        print(f"  {count:6d}  {key[0]} at {key[1]}: {message}  e.g. {example}")
    return 1 if findings.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
