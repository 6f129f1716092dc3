"""The errors qdaconv raises: each message says what is wrong, where, and what to do."""

from __future__ import annotations


class QdaconvError(Exception):
    """Base of every error qdaconv raises on purpose; the CLI shows its message without a traceback."""

    exit_code = 2


class FormatError(QdaconvError):
    """A format could not be found, guessed or used: unknown name, no match, ambiguous match, clash."""


class ReadError(QdaconvError):
    """An input could not be read. `location` is the place inside it (zip member, line:col, sheet!cell)."""

    def __init__(self, path: object, message: str, location: str | None = None, hint: str | None = None):
        self.path = str(path)
        self.location = location
        self.hint = hint
        where = f"{self.path}:{location}" if location else self.path
        text = f"{where}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class WriteError(QdaconvError):
    """An output could not be written; nothing was left behind."""


class LossError(WriteError):
    """Writing would lose data and strict mode was asked for; nothing was written."""

    exit_code = 1

    def __init__(self, report) -> None:
        self.report = report
        super().__init__(f"the target cannot hold everything (strict mode): {report.summary()}")


class QdaconvWarning(UserWarning):
    """Something qdaconv did on its own that the user should hear of (a stale temporary removed)."""


class PluginError(QdaconvError):
    """A plugin failed to load or registered something invalid."""
