"""`dsr notice check FILE`: what the data map holds that an existing privacy notice does not say.

Exit codes: 0 the notice mentions everything checked, 1 something is missing (listed), 2 bad
input (a file that cannot be read as UTF-8 text, an empty one, or a map that does not load).
"""

from __future__ import annotations

from pathlib import Path

import click

from dsr.commands import DeskGroup, read_text_argument, staff_catalogue
from dsr.config import current_settings
from dsr.datamap import desk_map
from dsr.languages import Language, translations
from exports.notice_check import expected_mentions, missing_mentions
from inventory.loader import MapError


@click.group("notice", cls=DeskGroup)
def notice_group() -> None:
    """Check a privacy notice against the data map."""


@notice_group.command("check")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def notice_check(file: Path) -> None:
    """List what the map holds that the notice in FILE (text) does not mention."""
    settings = current_settings().values
    lang = str(settings.get("STAFF_LANGUAGE") or "fr")
    t = staff_catalogue()
    text = read_text_argument(file, t)
    if not text.strip():
        empty = t.pgettext("notice check", "%(file)s is empty: give the notice's text.")
        raise click.UsageError(empty % {"file": file})
    try:
        data_map = desk_map(settings)
    except MapError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        raise SystemExit(2) from None
    catalogues = [translations(language) for language in Language]
    missing = missing_mentions(text, expected_mentions(data_map, catalogues, lang, t))
    if not missing:
        click.echo(t.pgettext("notice check", "The notice mentions everything checked."))
        return
    count = len(missing)
    click.echo(
        t.npgettext(
            "notice check",
            "%(count)d thing the map holds is not in the notice:",
            "%(count)d things the map holds are not in the notice:",
            count,
        )
        % {"count": count}
    )
    for mention in missing:
        click.echo(f"- {mention.what}")
    raise SystemExit(1)
