"""Plugins and formats: the pluggy manager built from entry points, and format lookup.

Built-in plugins are entry points of qdaconv's own distribution in the group `qdaconv`, loaded
exactly like a third party's. `QDACONV_DISABLE_PLUGINS` (comma-separated entry-point names)
blocks plugins. Lookup is by name, by file extension (longest suffix first) and by sniff score.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
from collections.abc import Iterable
from pathlib import Path

import pluggy

from qdaconv import hookspecs
from qdaconv.errors import FormatError, PluginError
from qdaconv.formats import Format

ENTRY_POINT_GROUP = "qdaconv"
DISABLE_ENV = "QDACONV_DISABLE_PLUGINS"


def blocked_plugins() -> frozenset[str]:
    return frozenset(name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip())


def plugin_manager(blocked: Iterable[str] | None = None) -> pluggy.PluginManager:
    """A PluginManager with every `qdaconv` entry point loaded, except the blocked ones."""
    blocked = blocked_plugins() if blocked is None else frozenset(blocked)
    manager = pluggy.PluginManager("qdaconv")
    manager.add_hookspecs(hookspecs)
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if entry_point.name in blocked:
            manager.set_blocked(entry_point.name)
            continue
        if manager.get_plugin(entry_point.name) is not None or manager.is_blocked(entry_point.name):
            continue
        try:
            plugin = entry_point.load()
        except Exception as exc:  # a broken third-party plugin must not hide the others' errors
            raise PluginError(
                f"plugin {entry_point.name!r} ({entry_point.value}) failed to load: {exc}; "
                f"fix or uninstall it, or block it with {DISABLE_ENV}={entry_point.name}"
            ) from exc
        manager.register(plugin, name=entry_point.name)
    manager.check_pending()
    return manager


def plugin_versions() -> dict[str, str]:
    """The version of the distribution behind each `qdaconv` entry point, by entry-point name.

    Each distribution's metadata is read once (all the built-in plugins share one): reading it
    for every entry point took a tenth of every command's start-up."""
    by_distribution: dict[int, str] = {}
    versions: dict[str, str] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        distribution = entry_point.dist
        if distribution is None:
            versions[entry_point.name] = ""
            continue
        if id(distribution) not in by_distribution:
            by_distribution[id(distribution)] = distribution.version
        versions[entry_point.name] = by_distribution[id(distribution)]
    return versions


def _suffixes(path: Path) -> list[str]:
    """Every ending of the file name that starts at a dot, longest first: a.csv.zip -> .csv.zip, .zip."""
    name = path.name.lower()
    return [name[i:] for i, char in enumerate(name) if char == "." and i > 0]


class Registry:
    """The formats the loaded plugins registered, by name."""

    def __init__(self, manager: pluggy.PluginManager | None = None) -> None:
        self.manager = manager if manager is not None else plugin_manager()
        versions = plugin_versions()
        self.formats: dict[str, Format] = {}
        for impl in self.manager.hook.qdaconv_register_formats.get_hookimpls():
            def register(fmt: Format, plugin_name: str = impl.plugin_name) -> None:
                self._add(fmt, plugin_name, versions.get(plugin_name, ""))

            impl.function(register=register)

    def _add(self, fmt: Format, plugin_name: str, version: str) -> None:
        if not isinstance(fmt, Format) or not fmt.name:
            raise PluginError(f"plugin {plugin_name!r} registered {fmt!r}, which is not a named Format")
        if fmt.name in self.formats:
            other = self.formats[fmt.name].plugin
            raise PluginError(
                f"format name {fmt.name!r} is registered by both plugin {other!r} and plugin "
                f"{plugin_name!r}; block one with {DISABLE_ENV}"
            )
        fmt.plugin = plugin_name
        fmt.version = version
        self.formats[fmt.name] = fmt

    def __iter__(self):
        return iter(sorted(self.formats.values(), key=lambda f: f.name))

    def get(self, name: str) -> Format:
        try:
            return self.formats[name]
        except KeyError:
            known = ", ".join(sorted(self.formats))
            raise FormatError(f"unknown format {name!r}; known formats: {known} (see `qdaconv formats`)") from None

    def by_extension(self, path: Path | str) -> list[Format]:
        """Formats whose extensions match the file name, those matching the longest suffix first."""
        found: list[Format] = []
        for suffix in _suffixes(Path(path)):
            found += [f for f in self if suffix in f.extensions and f not in found]
        return found

    def sniff_scores(self, path: Path | str) -> list[tuple[float, Format]]:
        """(score, format) of every reader that claims `path`, in name order."""
        path = Path(path)
        scores: list[tuple[float, Format]] = []
        for fmt in self:
            if not fmt.can_read:
                continue
            try:
                score = float(fmt.sniff(path))
            except Exception:  # plugins' code run on any file, like a batch: a failing sniff only loses its vote
                score = 0.0
            if score > 0:
                scores.append((score, fmt))
        return scores

    def detect(self, path: Path | str) -> Format:
        """The reader that recognises `path` best. A tie between the best is an error."""
        path = Path(path)
        scores = self.sniff_scores(path)
        if not scores:
            raise FormatError(
                f"{path}: not a format qdaconv can read; pass --from with one of the names "
                "that `qdaconv formats` lists"
            )
        best = max(score for score, _ in scores)
        winners = [fmt for score, fmt in scores if score == best]
        if len(winners) > 1:
            names = ", ".join(f.name for f in winners)
            raise FormatError(f"{path}: could be any of {names}; pass --from to choose one")
        return winners[0]

    def for_target(self, path: Path | str, name: str | None = None) -> Format:
        """The writer for an output path: by `name`, else by extension, else a folder format."""
        if name:
            fmt = self.get(name)
            if not fmt.can_write:
                raise FormatError(f"format {name!r} can be read but not written")
            return fmt
        path = Path(path)
        is_folder = path.is_dir() or not _suffixes(path)
        candidates = [f for f in self.by_extension(path) if f.can_write] if not is_folder else []
        if is_folder:
            candidates = [f for f in self if f.can_write and f.folder]
        if not candidates:
            raise FormatError(f"{path}: no format writes this kind of file; pass --to (see `qdaconv formats`)")
        # the longest matching suffix wins; among equals, the format that declares itself primary
        longest = [f for f in candidates if _best_suffix(f, path) == _best_suffix(candidates[0], path)]
        primary = [f for f in longest if f.primary]
        if len(longest) == 1 or len(primary) == 1:
            return (primary or longest)[0]
        names = ", ".join(f.name for f in longest)
        raise FormatError(f"{path}: several formats write this ({names}); pass --to to choose one")


def _best_suffix(fmt: Format, path: Path) -> str:
    return next((s for s in _suffixes(path) if s in fmt.extensions), "")


@functools.lru_cache(maxsize=8)
def _cached_registry(blocked: frozenset[str]) -> Registry:
    return Registry(plugin_manager(blocked))


def default_registry() -> Registry:
    """The registry of the installed plugins, built once per process and block list."""
    return _cached_registry(blocked_plugins())
