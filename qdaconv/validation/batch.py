"""Many files: finding what to validate in folders and globs, and running validate() over processes or Dask."""

from __future__ import annotations

import glob
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TYPE_CHECKING

from qdaconv.errors import QdaconvError
from qdaconv.validation.report import Report
from qdaconv.validation.rules import RULES, rule_matcher
from qdaconv.validation.run import registry_or_default, validate

if TYPE_CHECKING:
    from qdaconv.formats import Format
    from qdaconv.registry import Registry



#: A folder format's sniff score from which its claim on a folder wins outright (the tables' marker).
CERTAIN_CLAIM = 0.9
#: The score from which a claim wins when nothing in the folder is claimed as strongly by a file format.
PROBABLE_CLAIM = 0.5
#: Files the operating system leaves in folders (thumbnail caches, folder settings): never a project,
#: though `.db` is a known ending, so a folder walk or a glob passes them by.
SYSTEM_FILES = frozenset({"thumbs.db", "ehthumbs.db", "ehthumbs_vista.db", "desktop.ini"})


def _wanted(name: str, suffixes: tuple[str, ...]) -> bool:
    """A visible file with a known ending that the operating system did not make."""
    lowered = name.lower()
    return not name.startswith(".") and lowered.endswith(suffixes) and lowered not in SYSTEM_FILES


class _Walk:
    """Finds what to validate in a folder: whole projects in folder formats, and files with known endings.

    A folder is one item when a folder format claims it with a certain score, or with a probable
    one that no file anywhere beneath it beats (a transcripts folder holding a case-variables CSV
    is still one project; a folder holding a README.txt and a .qdpx is not). Any other folder is
    walked: its files with a known ending are items, and its subfolders are judged the same way.
    Hidden files and folders are skipped, and so are the operating system's own files (`SYSTEM_FILES`).
    """

    def __init__(self, registry: Registry) -> None:
        readers = [fmt for fmt in registry if fmt.can_read]
        self.folder_formats = [fmt for fmt in readers if fmt.folder]
        self.readers = readers
        self.suffixes = tuple({suffix.lower() for fmt in readers for suffix in fmt.extensions})
        self._file_scores: dict[Path, float] = {}

    def items(self, folder: Path) -> list[Path]:
        claim = self._claim(folder)
        if claim >= CERTAIN_CLAIM or (claim >= PROBABLE_CLAIM and not self._beaten(folder, claim)):
            return [folder]
        found: list[Path] = []
        for entry in sorted(self._entries(folder)):
            found += self.items(entry) if entry.is_dir() else [entry]
        return found

    def _entries(self, folder: Path) -> Iterator[Path]:
        """The visible subfolders (not through links, which may loop), and the visible files with a known ending."""
        try:
            entries = list(folder.iterdir())
        except OSError:  # an unreadable folder holds nothing we can validate
            return
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir() and not entry.is_symlink():
                yield entry
            elif entry.is_file() and _wanted(entry.name, self.suffixes):
                yield entry

    def _files_beneath(self, folder: Path) -> Iterator[Path]:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            yield from (Path(root) / name for name in sorted(files) if _wanted(name, self.suffixes))

    def _beaten(self, folder: Path, claim: float) -> bool:
        return any(self._file_score(path) >= claim for path in self._files_beneath(folder))

    def _claim(self, folder: Path) -> float:
        return max((_score(fmt, folder) for fmt in self.folder_formats), default=0.0)

    def faint_claim(self, folder: Path) -> Format | None:
        """The folder format that claims `folder`, but too weakly to make it a project, if one does."""
        scores = [(score, fmt) for fmt in self.folder_formats if 0 < (score := _score(fmt, folder)) < PROBABLE_CLAIM]
        return max(scores, key=lambda pair: pair[0])[1] if scores else None

    def _file_score(self, path: Path) -> float:
        if path not in self._file_scores:
            self._file_scores[path] = max((_score(fmt, path) for fmt in self.readers), default=0.0)
        return self._file_scores[path]


def _score(fmt: Format, path: Path) -> float:
    try:
        return float(fmt.sniff(path))
    except Exception:  # sniff must never raise; a broken one only loses its vote
        return 0.0


def expand_paths(args: Iterable[str | os.PathLike], registry: Registry | None = None) -> list[Path]:
    """The files and folder-format projects named by files, folders and globs.

    A folder is searched as `_Walk` describes; a folder that is itself a project (a tables
    folder, a transcripts folder) is one item. Raises QdaconvError for an argument that matches
    nothing, so a typo is not a silent pass.
    """
    walk: _Walk | None = None
    paths: dict[Path, None] = {}
    for arg in args:
        text = os.fspath(arg)
        path = Path(text)
        if path.is_file():
            matches = [path]
        elif path.is_dir():
            walk = walk or _Walk(registry_or_default(registry))
            matches = walk.items(path)
            if not matches:
                endings = ", ".join(sorted(walk.suffixes)) or "none"
                message = f"{text}: the folder holds no project or file qdaconv can read (known endings: {endings})"
                if (faint := walk.faint_claim(path)) is not None:
                    message += (f"; it resembles the {faint.name} format only faintly: if it is one, "
                                f"pass --from {faint.name} to info or convert")
                raise QdaconvError(message)
        elif glob.has_magic(text):
            matches = [Path(p) for p in sorted(glob.glob(text, recursive=True))
                       if Path(p).is_file() and Path(p).name.lower() not in SYSTEM_FILES]
            if not matches:
                raise QdaconvError(f"{text}: the pattern matches no file")
        else:
            raise QdaconvError(f"{text}: no such file or folder")
        paths.update(dict.fromkeys(matches))
    return list(paths)


def _validate_job(path: str, rules: list[str] | None) -> Report:
    """One file's validation as a worker runs it: nothing escapes but a Report."""
    try:
        return validate(path, rules=rules)
    except Exception as exc:  # a bug on one file becomes that file's report, and the batch goes on
        return _crashed(path, f"validation failed: {type(exc).__name__}: {exc}")


def _validate_chunk(paths: list[str], rules: list[str] | None) -> list[Report]:
    """A few files in one worker call: one round trip to the worker for several files."""
    return [_validate_job(path, rules) for path in paths]


def _warm_up() -> None:
    """Load the plugins once per worker (inherited already when workers are forked), not once per file."""
    registry_or_default(None)


def _crashed(path: str, message: str) -> Report:
    issue = RULES["WORKER-CRASHED"].issue(message)
    issue.file = path
    return Report(path, None, [issue])


def validate_many(paths: Iterable[str | os.PathLike], *, jobs: int | None = None,
                  rules: Iterable[str] | None = None, executor: str = "process", scheduler: str | None = None,
                  progress: Callable[[Report], None] | None = None) -> list[Report]:
    """Validate many files in parallel; Reports come back in the order of `paths`.

    `executor="process"` uses `jobs` local worker processes (default: the CPU count; 1 runs in
    this process), sent a few files at a time. A worker that dies costs only the file it was on.
    `executor="dask"` sends the same per-file job to a Dask cluster at `scheduler` (a local one
    when None); the files must be readable at the same paths on the workers. `progress` is called
    with each Report, in the order of `paths`, as soon as it and those before it are done.
    """
    names = [os.fspath(p) for p in paths]
    rule_list = list(rules) if rules is not None else None
    rule_matcher(rule_list)  # an unknown rule is a usage error before any work starts
    results: list[Report | None] = [None] * len(names)
    delivered = 0

    def deliver(position: int, report: Report) -> None:
        nonlocal delivered
        results[position] = report
        while delivered < len(results) and results[delivered] is not None:
            if progress is not None:
                progress(results[delivered])  # type: ignore[arg-type]
            delivered += 1

    if executor == "dask":
        _run_dask(names, rule_list, jobs, scheduler, deliver)
    elif executor == "process":
        jobs = jobs or os.cpu_count() or 1
        if jobs == 1 or len(names) <= 1:
            for position, name in enumerate(names):
                deliver(position, _validate_job(name, rule_list))
        else:
            _run_pool(names, rule_list, jobs, deliver)
    else:
        raise QdaconvError(f"unknown executor {executor!r}; use 'process' or 'dask'")
    return [report for report in results if report is not None]


#: Most files sent to a worker at once: enough to make the round trip cheap, few enough that a crash
#: sends few files back to be run alone.
MAX_CHUNK = 8


def _chunks(positions: list[int], jobs: int) -> deque[list[int]]:
    """The positions in chunks that shrink as the work left does (a quarter of each worker's share, at most
    `MAX_CHUNK`), so that the workers finish together: the last chunks hold one file each."""
    chunks: deque[list[int]] = deque()
    start = 0
    while start < len(positions):
        size = max(1, min(MAX_CHUNK, (len(positions) - start) // (jobs * 4)))
        chunks.append(positions[start:start + size])
        start += size
    return chunks


def _run_pool(names: list[str], rules: list[str] | None, jobs: int,
              deliver: Callable[[int, Report], None]) -> None:
    """A process pool fed chunks of files, a bounded number in flight; after a crash, suspects run one by one."""
    queue = _chunks(list(range(len(names))), jobs)
    suspects: deque[int] = deque()
    window = jobs * 2
    while queue or suspects:
        if suspects:
            position = suspects.popleft()
            with ProcessPoolExecutor(max_workers=1) as pool:
                deliver(position, _result(pool.submit(_validate_job, names[position], rules), names[position]))
            continue
        with ProcessPoolExecutor(max_workers=jobs, initializer=_warm_up) as pool:
            in_flight: dict[Future, list[int]] = {}
            try:
                while queue or in_flight:
                    while queue and len(in_flight) < window:
                        chunk = queue[0]  # taken off the queue only once submitted: a broken pool refuses it
                        in_flight[pool.submit(_validate_chunk, [names[p] for p in chunk], rules)] = chunk
                        queue.popleft()
                    done, _running = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        chunk = in_flight.pop(future)
                        if isinstance(future.exception(), BrokenProcessPool):
                            suspects.extend(chunk)
                            continue
                        reports = _chunk_result(future, [names[p] for p in chunk])
                        for position, report in zip(chunk, reports, strict=True):
                            deliver(position, report)
            except BrokenProcessPool:
                pass
            suspects.extend(position for chunk in in_flight.values() for position in chunk)


def _chunk_result(future: Future, chunk: list[str]) -> list[Report]:
    try:
        return future.result()
    except Exception as exc:  # the chunk could not come back (a report that does not pickle, say)
        return [_crashed(name, f"the worker failed: {type(exc).__name__}: {exc}") for name in chunk]


def _result(future: Future, name: str) -> Report:
    try:
        return future.result()
    except BrokenProcessPool:
        return _crashed(name, "the worker process died while validating this file (out of memory, or a crash "
                              "in a native library)")
    except Exception as exc:  # the worker could not run the job at all
        return _crashed(name, f"the worker failed: {type(exc).__name__}: {exc}")


def _run_dask(names: list[str], rules: list[str] | None, jobs: int | None, scheduler: str | None,
              deliver: Callable[[int, Report], None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise QdaconvError("the dask executor needs the optional extra: pip install 'qdaconv[dask]'") from None
    if scheduler:
        client = Client(scheduler)
    else:
        client = Client(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1)
    with client:
        window = max(8, 4 * sum(client.nthreads().values()))
        positions: dict[Future, int] = {}
        pending = iter(range(len(names)))
        finished = as_completed()

        def submit_next() -> None:
            position = next(pending, None)
            if position is not None:
                future = client.submit(_validate_job, names[position], rules, pure=False)
                positions[future] = position
                finished.add(future)

        for _ in range(window):
            submit_next()
        for future in finished:
            position = positions.pop(future)
            try:
                report = future.result()
            except Exception as exc:  # a lost worker, or a job that could not run there
                report = _crashed(names[position], f"the Dask task failed: {type(exc).__name__}: {exc}")
            future.release()
            deliver(position, report)
            submit_next()

