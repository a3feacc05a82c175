"""What every `dsr` command shares: the one `Settings`, read from the environment when the command
starts, and an application context built from it, in which each command runs.

`DeskGroup` is the group of every `dsr` command: its commands (and those of its subgroups) run
inside that context and read the settings with `config.current_settings()`. The application is
a light one (no store, blueprint or extension) so that a command starts as fast as before; a
command that needs the store opens its own engine.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask

from dsr.config import SETTINGS_KEY, Settings

F = TypeVar("F", bound=Callable[..., Any])


class CommandInfo:
    """The settings of one `dsr` invocation and the application made from them, both built on
    first use and shared by the root command and its subcommands."""

    def __init__(self) -> None:
        self._settings: Settings | None = None
        self._app: Flask | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_process()
        return self._settings

    def choose_map(self, path: Path) -> None:
        """Make `path` the desk's map for this invocation (`dsr --map`)."""
        self._settings = self.settings.replace(DATA_MAP=str(path))
        self._app = None

    def app(self) -> Flask:
        """Return the application the commands run under, carrying the settings."""
        if self._app is None:
            app = Flask("dsr", instance_path=str(self.settings.instance_path))
            app.config.from_mapping(self.settings.values)
            app.extensions[SETTINGS_KEY] = self.settings
            self._app = app
        return self._app


def command_info() -> CommandInfo:
    """Return the invocation's settings holder, from the click context (usable while options are
    parsed, before the application context exists)."""
    return click.get_current_context().ensure_object(CommandInfo)


def command_settings() -> Settings:
    """Return the invocation's settings, e.g. for an option's default."""
    return command_info().settings


def in_app_context(function: F) -> F:
    """Run a command inside the application context of the invocation's settings."""

    @click.pass_context
    def run(context: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        app = context.ensure_object(CommandInfo).app()
        context.with_resource(app.app_context())
        return context.invoke(function, *args, **kwargs)

    return functools.update_wrapper(run, function)  # type: ignore[return-value]


class DeskGroup(click.Group):
    """A group of `dsr` commands: each command runs in the application context
    (`in_app_context`), subgroups are DeskGroups, and the group works as well when invoked on
    its own (as the tests do) as under `dsr`."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        if parent is None:
            extra.setdefault("obj", CommandInfo())
        return super().make_context(info_name, args, parent, **extra)

    def command(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Command]:
        """Add a command that runs in the application context (as click's `command`)."""
        make: Callable[[Callable[..., Any]], click.Command] = super().command(*args, **kwargs)

        def decorator(function: Callable[..., Any]) -> click.Command:
            return make(in_app_context(function))

        return decorator

    def group(  # type: ignore[override]
        self, *args: Any, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], click.Group]:
        """Add a subgroup, itself a DeskGroup (as click's `group`)."""
        kwargs.setdefault("cls", DeskGroup)
        make: Callable[[Callable[..., Any]], click.Group] = super().group(*args, **kwargs)
        return make
