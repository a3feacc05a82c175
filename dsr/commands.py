"""What every `dsr` command shares: the one `Settings`, read from the environment when the command
starts, and an application context built from it, in which each command runs.

`DeskGroup` is the group of every `dsr` command: its commands (and those of its subgroups) run
inside that context and read the settings with `config.current_settings()`. The application is
a light one (no store, blueprint or extension) so that a command starts as fast as before; a
command that needs the store opens its own engine.

A group can also name commands it imports only when one of them is run or its own help is asked
for (`add_lazy_command`): `dsr --help` then lists them from their stored one-line help, and
nothing of Flask, SQLAlchemy or the map is imported before a command needs it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from gettext import NullTranslations
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from flask import Flask

    from dsr.config import Settings

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
            from dsr.config import Settings

            self._settings = Settings.from_process()
        return self._settings

    def choose_map(self, path: Path) -> None:
        """Make `path` the desk's map for this invocation (`dsr --map`)."""
        self._settings = self.settings.replace(DATA_MAP=str(path))
        self._app = None

    def app(self) -> Flask:
        """Return the application the commands run under, carrying the settings."""
        if self._app is None:
            from flask import Flask

            from dsr.config import SETTINGS_KEY

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


def database_url_option(function: F) -> F:
    """Add --database-url, defaulting to the settings' store (DSR_DATABASE_URL, else the
    application's SQLite file)."""
    return click.option(
        "--database-url",
        default=lambda: command_settings().database_url,
        show_default="instance/dsr.sqlite3",
        help="The tool's own database (env DSR_DATABASE_URL).",
    )(function)


def in_app_context(function: F) -> F:
    """Run a command inside the application context of the invocation's settings."""

    @click.pass_context
    def run(context: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        app = context.ensure_object(CommandInfo).app()
        context.with_resource(app.app_context())
        return context.invoke(function, *args, **kwargs)

    return functools.update_wrapper(run, function)  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command known by where it lives ("package.module:attribute") and its one-line help, so
    that listing it costs no import."""

    target: str
    short_help: str

    def load(self) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class DeskGroup(click.Group):
    """A group of `dsr` commands: each command runs in the application context
    (`in_app_context`), subgroups are DeskGroups, and the group works as well when invoked on
    its own (as the tests do) as under `dsr`. Commands added with `add_lazy_command` are
    imported on first use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, LazyCommand] = {}

    def add_lazy_command(self, name: str, target: str, short_help: str) -> None:
        """Name a command without importing it: `target` is "package.module:attribute" of the
        click command, `short_help` the line `--help` shows for it (tests/test_cli_start.py checks
        that it matches the command's own)."""
        self.lazy_commands[name] = LazyCommand(target, short_help)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in self.lazy_commands:
            command = self.lazy_commands[cmd_name].load()
            self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """List the commands as click does, the lazy ones from their stored help (unloaded)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is None:
                listed = click.Command(name, help=self.lazy_commands[name].short_help)
                rows.append((name, listed.get_short_help_str(limit)))
            elif not loaded.hidden:
                rows.append((name, loaded.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

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


def staff_catalogue() -> NullTranslations:
    """The catalogue of the language staff read (DSR_STAFF_LANGUAGE, French by default)."""
    from dsr.config import current_settings
    from dsr.languages import Language, translations

    return translations(Language(str(current_settings().values.get("STAFF_LANGUAGE") or "fr")))


def read_text_argument(path: Path, translations: NullTranslations) -> str:
    """Return the UTF-8 text of the file a command was given; a usage error (exit 2) saying
    why, in the words of `translations`, when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        message = translations.gettext("cannot read %(file)s: %(reason)s") % {
            "file": path,
            "reason": getattr(exc, "strerror", None) or exc.__class__.__name__,
        }
        raise click.UsageError(message) from None
