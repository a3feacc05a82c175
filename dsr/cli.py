"""The `dsr` command line: check the map, find a subject, seed the demo, write the register.

Exit codes: 0 success, 1 a problem the output explains (invalid map, unreachable system),
2 a usage error (click's own). Every command runs in an application context carrying the one
settings object (`dsr.commands`), where the desk's map and systems come from (`dsr.datamap`).

Start fast: importing this module imports click and nothing heavy (no Flask, SQLAlchemy, map or
password hasher), so that `dsr --help` answers at once and a command spends its time on its work.
The command groups of other modules are registered lazily, one line each at the end of this file:

    main.add_lazy_command("worker", "dsr.worker.cli:worker_command", "Run the job workers.")

(name, "module:attribute" of the click command, and its one-line help as `dsr --help` shows it;
tests/test_cli_start.py checks that this line matches the command's own help). The commands defined
here import what they use inside their bodies.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from dsr.commands import (
    DeskGroup,
    command_info,
    command_settings,
    database_url_option,
    read_text_argument,
    staff_catalogue,
)

if TYPE_CHECKING:
    from inventory.locator import CategoryRow, SubjectLocation
    from inventory.model import Category, DataMap
    from inventory.systems import Systems

DEFAULT_DEMO_URL = "sqlite:///instance/demo-platform.sqlite3"
"""dsr.config's DEFAULTS["DEMO_PLATFORM_URL"], repeated so that the help costs no import of the
settings (tests/test_cli_start.py checks they agree)."""
REDACTED = "[redacted]"


def _load_map() -> DataMap:
    """Return the desk's map, or print its problems and exit 1."""
    from dsr.config import current_settings
    from dsr.datamap import desk_map
    from inventory.loader import MapError

    try:
        return desk_map(current_settings().values)
    except MapError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s) in the data map.", err=True)
        raise SystemExit(1) from None


@contextmanager
def _systems(data_map: DataMap) -> Iterator[Systems]:
    from dsr.config import current_settings
    from dsr.datamap import open_systems

    with open_systems(current_settings().values, data_map).opened() as systems:
        yield systems


def _shown_map_path() -> Path:
    """The map's path as the user gave it; the default one relative to the working folder."""
    from dsr.config import current_settings
    from dsr.datamap import DEFAULT_MAP_PATH, map_path

    path = map_path(current_settings().values)
    if path == DEFAULT_MAP_PATH and path.is_relative_to(Path.cwd()):
        return path.relative_to(Path.cwd())
    return path


@click.group(cls=DeskGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--map",
    "map_path",
    default=lambda: command_settings().values["DATA_MAP"],
    type=click.Path(path_type=Path, dir_okay=False),
    help="The data map to use (env DSR_DATA_MAP).  [default: data_map.yaml]",
)
def main(map_path: Path | None) -> None:
    """Answer GDPR data-subject requests from one declarative data map."""
    if map_path is not None:
        command_info().choose_map(map_path)


# --- the data map -------------------------------------------------------------------------------


@main.group("map")
def map_group() -> None:
    """Check the data map, derive the register from it, and read or write the Fides format."""


@map_group.command("check")
@click.option("--live", is_flag=True, help="Also compare with each system's live schema.")
def map_check(live: bool) -> None:
    """Validate the map; with --live, report what is missing or unmapped in the databases.
    Warnings (kept data that nothing takes out of use, what a recipient received that the map may
    not say) do not change the exit status."""
    from inventory.kept import withdrawal_warnings
    from inventory.recipients import coverage_warnings

    data_map = _load_map()
    for warning in [*withdrawal_warnings(data_map), *coverage_warnings(data_map)]:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    summary = (
        f"{_shown_map_path()}: {len(data_map.categories)} categories, "
        f"{len(data_map.systems)} system(s), "
        f"{sum(len(c.fields) for c in data_map.categories.values())} fields: valid."
    )
    if not live:
        click.echo(summary)
        return
    from dsr.config import current_settings
    from dsr.datamap import map_path
    from inventory.display_check import display_findings, uncovered_codes
    from inventory.indexes import index_warnings
    from inventory.live import Severity, check_live, undated_rows
    from inventory.loader import map_positions

    with _systems(data_map) as systems:
        findings = check_live(data_map, systems)
        findings += display_findings(data_map, systems)
        unserved = index_warnings(data_map, systems)
        undated = undated_rows(data_map, systems)
        uncovered = uncovered_codes(data_map, systems)
    for finding in findings:
        click.echo(str(finding), err=finding.severity is Severity.ERROR)
    position = map_positions(map_path(current_settings().values))
    for unindexed in unserved:
        line, column = position(unindexed.loc)
        where = f"{_shown_map_path()}:{line}:{column}: [{unindexed.system}]"
        click.secho(f"warning: {where} {unindexed.message}", fg="yellow", err=True)
    for never_swept in undated:
        line, column = position(never_swept.loc)
        where = f"{_shown_map_path()}:{line}:{column}: [{never_swept.system}]"
        click.secho(f"warning: {where} {never_swept.message}", fg="yellow", err=True)
    for codes in uncovered:
        line, column = position(codes.loc)
        where = f"{_shown_map_path()}:{line}:{column}: [{codes.system}]"
        click.secho(f"warning: {where} {codes.message}", fg="yellow", err=True)
    errors = sum(f.severity is Severity.ERROR for f in findings)
    gaps = len(findings) - errors
    if findings:
        click.echo(f"{errors} error(s) and {gaps} unmapped personal-looking column(s).", err=True)
        raise SystemExit(1)
    click.echo(summary.replace(": valid.", ": valid and matches the live databases."))


@map_group.command("ropa")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "pdf", "xlsx"]),
    default="pdf",
    show_default=True,
)
@click.option("--lang", type=click.Choice(["fr", "en"]), default="fr", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File to write (default: ropa-LANG.FORMAT in the current folder; '-' for stdout).",
)
def map_ropa(fmt: str, lang: str, output: Path | None) -> None:
    """Write the register of processing activities (GDPR Art. 30) derived from the map."""
    from dsr.config import current_settings
    from dsr.languages import Language, translations
    from dsr.register.service import desk_retention
    from exports.ropa import ropa_csv, ropa_pdf, ropa_xlsx

    data_map = _load_map()
    catalogue = translations(Language(lang))
    produce = {"csv": ropa_csv, "pdf": ropa_pdf, "xlsx": ropa_xlsx}[fmt]
    content = produce(data_map, lang, catalogue, desk_retention(current_settings().values))
    if output is not None and str(output) == "-":
        sys.stdout.buffer.write(content)
        return
    target = output or Path(f"ropa-{lang}.{fmt}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    click.echo(f"Register written to {target} ({len(content):,} bytes).")


@map_group.command("import-fides")
@click.argument("dataset", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Map file to write (default: stdout); an existing file is never overwritten.",
)
@click.option("--system", help="Name of the system (default: the dataset's fides_key).")
def map_import_fides(dataset: Path, out: Path | None, system: str | None) -> None:
    """Write a map skeleton from a Fides dataset YAML; `dsr map check` lists what to complete."""
    from inventory.fides import import_fides
    from inventory.loader import MapError

    t = staff_catalogue()
    if out is not None and out.exists():
        message = t.gettext("%(file)s already exists: choose another --out.") % {"file": out}
        raise click.UsageError(message)
    text = read_text_argument(dataset, t)
    try:
        skeleton = import_fides(text, filename=str(dataset), system=system, translations=t)
    except MapError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        count = len(exc.problems)
        click.echo(
            t.ngettext(
                "%(count)d problem in the Fides file: nothing written.",
                "%(count)d problems in the Fides file: nothing written.",
                count,
            )
            % {"count": count},
            err=True,
        )
        raise SystemExit(2) from None
    for warning in skeleton.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    content = skeleton.to_yaml(dataset.name, t)
    if out is None:
        click.echo(content, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(content, encoding="utf-8")
    count = skeleton.placeholders
    click.echo(
        t.ngettext(
            "Map skeleton written to %(file)s: %(count)d value to complete (`dsr map check` "
            "lists it).",
            "Map skeleton written to %(file)s: %(count)d values to complete (`dsr map check` lists "
            "them).",
            count,
        )
        % {"file": out, "count": count}
    )


@map_group.command("export-fides")
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="File to write (default: stdout).",
)
def map_export_fides(out: Path | None) -> None:
    """Write the map's systems as Fides datasets, each field with its fideslang category."""
    from inventory.fides import export_fides_yaml

    data_map = _load_map()
    content = export_fides_yaml(data_map)
    if out is None:
        click.echo(content, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(content, encoding="utf-8")
    count = len(data_map.systems)
    click.echo(
        staff_catalogue().ngettext(
            "%(count)d Fides dataset written to %(file)s.",
            "%(count)d Fides datasets written to %(file)s.",
            count,
        )
        % {"file": out, "count": count}
    )


# --- subjects -----------------------------------------------------------------------------------


@main.group("subject")
def subject_group() -> None:
    """Find a data subject's rows through the map."""


@subject_group.command("find")
@click.argument("value")
@click.option(
    "--identity",
    default="email",
    show_default=True,
    help="The identity VALUE is, as declared in the map (email, phone, ...).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
@click.option("--summary", is_flag=True, help="Print only the number of rows per category.")
def subject_find(value: str, identity: str, as_json: bool, summary: bool) -> None:
    """Print every row of the person known by VALUE, per category and system."""
    from inventory.locator import UnknownIdentity, locate_subject
    from inventory.systems import SystemUnavailable

    data_map = _load_map()
    with _systems(data_map) as systems:
        try:
            location = locate_subject(data_map, systems, identity, value)
            if as_json:
                click.echo(json.dumps(_subject_json(data_map, systems, location), indent=2))
            else:
                _print_subject(data_map, systems, location, summary=summary)
        except UnknownIdentity as exc:
            raise click.UsageError(str(exc)) from None
        except SystemUnavailable as exc:
            click.echo(f"error: {exc}", err=True)
            raise SystemExit(1) from None


def _print_subject(
    data_map: DataMap, systems: Systems, location: SubjectLocation, *, summary: bool
) -> None:
    from inventory.locator import category_counts, iter_category_rows

    for flag in location.flags:
        click.secho(f"warning: [{flag.system}.{flag.table}] {flag.message}", fg="yellow")
    counts = category_counts(data_map, location)
    _print_mentions(location)
    if not counts:
        click.echo(f"No data found for this {location.identity} in any system of the map.")
        return
    total = sum(sum(per.values()) for per in counts.values())
    click.echo(f"{total} row(s) in {len(counts)} categor{'y' if len(counts) == 1 else 'ies'}:")
    for cat_id, per_table in counts.items():
        category = data_map.categories[cat_id]
        click.secho(f"\n{category.title.en} ({cat_id})", bold=True)
        for where, n in per_table.items():
            click.echo(f"  {where}: {n} row(s)")
        if summary:
            continue
        labels = {f.name: f.label.en for f in category.fields}
        for row in iter_category_rows(data_map, systems, location, cat_id):
            key = ", ".join(f"{k}={v}" for k, v in row.primary_key.items())
            mark = "" if row.owned else "  (another person's row: third-party fields redacted)"
            click.echo(f"  - {row.system}.{row.table} [{key}]{mark}")
            for column, cell in _shown_values(category, row, location, data_map).items():
                click.echo(f"      {labels.get(column, column)}: {_plain(cell)}")


def _print_mentions(location: SubjectLocation) -> None:
    """List the rows of other people that name the subject (fields that `identify` them): not
    their data, but blanked or anonymised by their erasure."""
    mentions = [m for m in location.mentions if m.keys]
    if not mentions:
        return
    total = sum(len(m.keys) for m in mentions)
    click.secho(
        f"Mentioned in {total} row(s) of other people (not their own data; their erasure "
        "anonymises these columns):",
        fg="yellow",
    )
    for m in mentions:
        click.echo(f"  {m.system}.{m.table}.{m.column} ({m.category}): {len(m.keys)} row(s)")


def _shown_values(
    category: Category,
    row: CategoryRow,
    location: SubjectLocation | None = None,
    data_map: DataMap | None = None,
) -> dict[str, Any]:
    """Return the row's values with its third-party fields redacted when another person owns it
    (their message in the subject's support thread), and the other people's sides of a row
    shared with them (a referral): the subject sees only their own data."""
    if row.owned and location is not None and data_map is not None:
        match = location.match(row.system, row.table)
        of_side = data_map.systems[row.system].tables[row.table].side_columns()
        if match is not None and of_side:
            mine = match.sides.get(tuple(row.primary_key.values()), ())
            own = set().union(*(of_side[side] for side in mine))
            theirs = set().union(*of_side.values()) - own
            return {c: REDACTED if c in theirs else v for c, v in row.values.items()}
    if row.owned:
        return row.values
    third_party = {
        f.name
        for f in category.fields
        if f.third_party and f.table == row.table and (f.system or category.system) == row.system
    }
    return {c: REDACTED if c in third_party else v for c, v in row.values.items()}


def _plain(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _subject_json(data_map: DataMap, systems: Systems, location: SubjectLocation) -> dict[str, Any]:
    from inventory.locator import category_counts, iter_category_rows

    categories: dict[str, list[dict[str, Any]]] = {}
    for cat_id in category_counts(data_map, location):
        category = data_map.categories[cat_id]
        categories[cat_id] = [
            {
                "system": row.system,
                "table": row.table,
                "primary_key": {k: _json_value(v) for k, v in row.primary_key.items()},
                "owned": row.owned,
                "values": {
                    k: _json_value(v)
                    for k, v in _shown_values(category, row, location, data_map).items()
                },
            }
            for row in iter_category_rows(data_map, systems, location, cat_id)
        ]
    return {
        "identity": location.identity,
        "found": location.found,
        "flags": [
            {"system": f.system, "table": f.table, "message": f.message} for f in location.flags
        ],
        "counts": category_counts(data_map, location),
        "categories": categories,
        "mentions": [
            {
                "system": m.system,
                "table": m.table,
                "column": m.column,
                "category": m.category,
                "rows": len(m.keys),
            }
            for m in location.mentions
            if m.keys
        ],
    }


# --- the demo platform --------------------------------------------------------------------------


@main.group("demo")
def demo_group() -> None:
    """The demo learner platform the default map points at."""


@demo_group.command("seed")
@click.option(
    "--url",
    default=lambda: command_settings().values["DEMO_PLATFORM_URL"],
    help="Database to fill (SQLite, PostgreSQL or MariaDB URL; env DSR_DEMO_PLATFORM_URL).  "
    f"[default: {DEFAULT_DEMO_URL}]",
)
@click.option("--learners", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--seed", "seed", type=int, default=3, show_default=True)
@click.option(
    "--reset",
    is_flag=True,
    help="Start again: seed the platform anew and remove the desk's demo store (a SQLite file) "
    "with its queue, so that no request outlives its learner.",
)
def demo_seed(url: str, learners: int, seed: int, reset: bool) -> None:
    """Create the demo learner platform and fill it with deterministic synthetic people; one
    that exists is kept as the requests left it (an erased learner stays erased) unless
    --reset. Then print a sample learner for each kind of request."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from dsr.demo.samples import learners_in_platform, sample_learners, samples_table
    from dsr.demo.seed import seed_platform
    from inventory.systems import redact_url

    engine = create_engine(url)
    try:
        existing = learners_in_platform(engine)
        if existing and not reset:
            click.echo(
                f"Kept {redact_url(url)} as the requests left it: {existing:,} learners "
                "(`dsr demo seed --reset` starts again)."
            )
        else:
            if reset:
                _reset_demo_store()
            result = seed_platform(url, learners=learners, seed=seed, progress=click.echo)
            total = sum(result.counts.values())
            click.echo(
                f"Seeded {redact_url(url)}: {result.counts.get('learner', 0):,} learners, "
                f"{total:,} rows in {result.seconds:.1f} s."
            )
        samples = sample_learners(engine)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except SQLAlchemyError as exc:
        click.echo(f"error: cannot seed {redact_url(url)}: {exc.__class__.__name__}", err=True)
        raise SystemExit(1) from None
    finally:
        engine.dispose()
    click.echo("Sample learners, one for each kind of request (file it on the form):")
    for line in samples_table(samples):
        click.echo(f"  {line}")


def _reset_demo_store() -> None:
    """Remove the desk's store when it is a SQLite file, and the demo's queue file; another
    store is kept and said (drop it by hand)."""
    from sqlalchemy.engine import make_url

    from dsr.demo.run import QUEUE_FILE_NAME

    settings = command_settings()
    store = make_url(settings.database_url)
    if store.get_backend_name() != "sqlite" or not store.database:
        click.echo(
            "The desk's store is not a SQLite file: it is kept (drop its tables by hand to "
            "start it again)."
        )
        return
    for path in (
        Path(store.database),
        Path(f"{store.database}-wal"),
        Path(f"{store.database}-shm"),
        settings.instance_path / QUEUE_FILE_NAME,
    ):
        if path.exists():
            path.unlink()
            click.echo(f"Removed {path}.")


@demo_group.command("run")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True)
@click.option(
    "--smtp-port",
    type=click.IntRange(1, 65535),
    default=8025,
    show_default=True,
    help="Port of the local mail server that catches the demo's emails (on 127.0.0.1).",
)
@click.option(
    "--folder",
    type=click.Path(path_type=Path, file_okay=False),
    help="Where to keep the demo's mail and signing key (default: the instance folder).",
)
@click.option(
    "--public-url",
    default=lambda: command_settings().values["PUBLIC_URL"],
    help="The address the links in emails start with (env DSR_PUBLIC_URL; default: the address "
    "served, http://HOST:PORT).",
)
@database_url_option
@click.pass_context
def demo_run(
    ctx: click.Context,
    host: str,
    port: int,
    smtp_port: int,
    folder: Path | None,
    public_url: str | None,
    database_url: str,
) -> None:
    """Migrate the store, then serve the desk in demo mode with a local mailbox; Ctrl-C stops."""
    from dsr.config import default_instance_path
    from dsr.demo.run import serve_demo
    from dsr.store_cli import db_upgrade

    ctx.invoke(db_upgrade, database_url=database_url)
    try:
        serve_demo(
            database_url=database_url,
            folder=folder or default_instance_path(),
            host=host,
            port=port,
            smtp_port=smtp_port,
            public_url=public_url or None,
            echo=click.echo,
        )
    except OSError as exc:
        click.echo(f"error: cannot start the demo: {exc.strerror or exc}", err=True)
        raise SystemExit(1) from None


# --- the commands of other modules, imported when used -----------------------------------------

main.add_lazy_command("db", "dsr.store_cli:db_group", "Create and migrate the tool's own database.")
main.add_lazy_command("audit", "dsr.store_cli:audit_group", "Check the audit log of the requests.")
main.add_lazy_command("api", "dsr.api.cli:api_group", "Manage the JSON API's clients.")
main.add_lazy_command("outbox", "dsr.outbox.cli:outbox_group", "Deliver the outgoing emails.")
main.add_lazy_command(
    "staff", "dsr.accounts.cli:staff_group", "Manage the staff accounts of the dashboard."
)
main.add_lazy_command(
    "request", "dsr.execution.cli:request_group", "Carry out requests and manage their reports."
)
main.add_lazy_command(
    "scheduler",
    "dsr.scheduler.cli:scheduler_group",
    "Run the scheduled jobs (mail, callbacks, deadlines, expiry, purges, minimisation) until "
    "stopped; a second scheduler waits until the first one stops.",
)
main.add_lazy_command(
    "retention", "dsr.retention.cli:retention_group", "Apply the data map's retention periods."
)
main.add_lazy_command(
    "notice", "dsr.notice.cli:notice_group", "Check a privacy notice against the data map."
)
main.add_lazy_command(
    "worker",
    "dsr.worker.cli:worker_command",
    "Carry out the desk's jobs from the queue (DSR_QUEUE_URL) until stopped.",
)
