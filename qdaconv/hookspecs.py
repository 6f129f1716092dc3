"""The qdaconv_* hooks a plugin can implement; each docstring is that hook's reference documentation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click
import pluggy

if TYPE_CHECKING:
    from qdaconv.formats import Format
    from qdaconv.issues import Issue
    from qdaconv.model import Project

hookspec = pluggy.HookspecMarker("qdaconv")
hookimpl = pluggy.HookimplMarker("qdaconv")


@hookspec
def qdaconv_register_formats(register: Callable[[Format], None]) -> None:
    """Register the formats this plugin reads or writes.

    Call ``register(fmt)`` once per format object (see ``qdaconv.formats.Format``). A format's
    ``name`` must be unique across all plugins; a clash is a PluginError naming both plugins.
    """


@hookspec
def qdaconv_validate_project(project: Project) -> list[Issue] | None:
    """Return extra validation issues for ``project`` (rules the built-in layers do not cover).

    Each Issue needs a stable rule id of the plugin's own (for example ``MYORG-CASE-NAMES``).
    Return None or an empty list when there is nothing to report.
    """


@hookspec
def qdaconv_register_commands(cli: click.Group) -> None:
    """Add subcommands to the ``qdaconv`` command line, with ``cli.add_command(command)``."""
