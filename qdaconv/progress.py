"""Progress of long work in one file (reading, checking), reported to whoever asked, in this context only.

The library never prints. A caller that wants progress (the command line draws a bar on a
terminal) wraps the work in `reporting(callback)`; readers and the validator call `advance(stage,
done, total)` as they go, which costs one lookup when nobody listens. The callback runs in the
working thread and must be quick; it sees each stage's steps in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO


@dataclass(slots=True, frozen=True)
class Step:
    """How far a stage of the work is: `done` of `total` units (bytes, sources)."""

    stage: str
    done: int
    total: int


_listener: ContextVar[Callable[[Step], None] | None] = ContextVar("qdaconv_progress", default=None)


@contextmanager
def reporting(callback: Callable[[Step], None] | None) -> Iterator[None]:
    """Call `callback` with each Step of the work done inside the block (None: report nothing)."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def advance(stage: str, done: int, total: int) -> None:
    """Say that `stage` has done `done` of `total` units."""
    listener = _listener.get()
    if listener is not None:
        listener(Step(stage, done, total))


def listening() -> bool:
    """Whether anyone listens (to skip the work of measuring progress when nobody does)."""
    return _listener.get() is not None


class _Counted:
    """A binary stream that reports the bytes read from it as progress of `stage`."""

    def __init__(self, stream: IO[bytes], stage: str, total: int) -> None:
        self._stream = stream
        self._stage = stage
        self._total = total
        self._done = 0

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._done = min(self._done + len(data), self._total)
        advance(self._stage, self._done, self._total)
        return data

    def close(self) -> None:
        self._stream.close()

    def __enter__(self) -> _Counted:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def counted(stream: IO[bytes], stage: str, total: int | None) -> IO[bytes]:
    """`stream`, reporting its bytes as progress of `stage` when someone listens and the total is known."""
    if not total or not listening():
        return stream
    return _Counted(stream, stage, total)  # type: ignore[return-value]
