"""The executor of access (Art. 15) and portability (Art. 20) requests.

It locates the subject by their verified address in every system of the map, collects their rows
into `<reports>/<request id>/collected/`, renders the PDF report (a readable number of rows per
category, DSR_REPORT_ROWS_PER_CATEGORY), the complete export of every row that it refers to (a
zip of JSON and CSV) and, for portability, the Art. 20 zip, beside it with mode 0600, and records
them as `Report` rows with the completion. A system that cannot be read fails the request with
nothing kept and nothing sent; a retry starts from an empty folder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import delete
from sqlmodel import Session, col

from dsr.config import DEFAULTS, InsecureConfiguration, report_rows_per_category
from dsr.datamap import desk_map, open_systems
from dsr.delivery.models import Report, ReportKind
from dsr.execution.runner import (
    ExecutionContext,
    ExecutionFailed,
    ExecutionResult,
    register_executor,
    reports_dir,
)
from dsr.execution.targets import ChangeRefused, email_identity
from dsr.languages import N_, translations
from dsr.mentions.service import SEARCHED_TYPES, confirmed_in_run
from dsr.requests.workflow import RequestType
from exports.access_report import ReportRequest, export_file_name, render_access_report
from exports.data_export import write_data_export
from exports.portability import write_portability_zip
from inventory.collection import Collection, collect_subject
from inventory.loader import MapError
from inventory.locator import SubjectLocation, locate_subject
from inventory.model import DataMap
from inventory.systems import Systems, SystemUnavailable

FILE_MODE = 0o600
DIRECTORY_MODE = 0o700
COLLECTED = "collected"

Renderer = Callable[..., None]


@dataclass(frozen=True, slots=True)
class WrittenFile:
    kind: ReportKind
    path: Path
    size: int
    sha256: str


def request_folder(settings: Mapping[str, Any], request_id: int) -> Path:
    """Return the folder of one request's reports and collected data."""
    return reports_dir(settings) / str(request_id)


def private_folder(path: Path) -> Path:
    """Create `path` (and its parents) readable by the tool's user only."""
    path.mkdir(mode=DIRECTORY_MODE, parents=True, exist_ok=True)
    path.chmod(DIRECTORY_MODE)
    return path


def write_private(path: Path, write: Callable[[BinaryIO], None]) -> tuple[int, str]:
    """Write a new file 0600 through `write`; return its size and SHA-256."""
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    os.fchmod(descriptor, FILE_MODE)
    with os.fdopen(descriptor, "wb") as out:
        write(out)
    return file_digest(path)


def file_digest(path: Path) -> tuple[int, str]:
    """Return the size and SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while block := source.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def _email_identity(data_map: DataMap) -> str:
    try:
        return email_identity(data_map)
    except ChangeRefused as error:
        raise ExecutionFailed(error.message) from error


def _load_map(settings: Mapping[str, Any]) -> DataMap:
    try:
        return desk_map(settings)
    except MapError as error:
        raise ExecutionFailed(
            N_("the data map has %(count)s problem(s): run `dsr map check`"),
            count=str(len(error.problems)),
        ) from None


def _whole(settings: Mapping[str, Any], name: str) -> int:
    """Return a whole-number setting, its default when unset: 0 is a value (DSR_DELIVERY_DAYS=0
    makes a report expire as soon as it is produced), whether it came as text or as JSON."""
    value = settings.get(name)
    return int(DEFAULTS[name] if value is None or value == "" else value)


def run_access(context: ExecutionContext) -> ExecutionResult:
    """Collect the subject's data and render their report (and archive, for portability)."""
    settings = context.settings
    data_map = _load_map(settings)
    folder = request_folder(settings, context.request_id)
    shutil.rmtree(folder, ignore_errors=True)  # a retry starts clean
    private_folder(folder.parent)
    private_folder(folder)
    try:
        written, collection = _produce(context, data_map, folder)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # nothing half-done is kept
        raise
    days, downloads = _whole(settings, "DELIVERY_DAYS"), _whole(settings, "DOWNLOADS_ALLOWED")
    request_id, now = context.request_id, context.now

    def record(db_session: Session) -> None:
        db_session.execute(delete(Report).where(col(Report.request_id) == request_id))
        for item in written:
            db_session.add(
                Report(
                    request_id=request_id,
                    kind=item.kind,
                    path=str(item.path),
                    size=item.size,
                    sha256=item.sha256,
                    created_at=now,
                    expires_at=now + timedelta(days=days),
                    downloads_left=downloads,
                )
            )
        db_session.flush()

    return ExecutionResult(
        details={
            "categories": len(collection.categories),
            "rows": collection.total_rows,
            "files": [item.kind.value for item in written],
        },
        record=record,
    )


def _produce(
    context: ExecutionContext, data_map: DataMap, folder: Path
) -> tuple[list[WrittenFile], Collection]:
    identity = _email_identity(data_map)
    # One pooled connection per system for the location and the collection (of a lone system;
    # with several, each is collected on a thread and connection of its own).
    with open_systems(context.settings, data_map).pinned() as systems:
        collection, location = _located_and_collected(context, data_map, systems, identity, folder)
        mentions = (  # issue 20: the texts of others naming the person, as staff confirmed
            confirmed_in_run(context.engine, context.request_id, data_map, systems, location)
            if context.request_type in SEARCHED_TYPES
            else []
        )
        del location  # a million rows' keys: not kept while the files are written
    request = ReportRequest(
        reference=context.reference,
        received_at=context.received_at,
        completed_at=context.now,
        requester_email=context.requester_email,
        language=context.language.value,
        made_for=context.made_for,
    )
    try:  # refused at start; a command given other settings learns it here
        rows_per_category = report_rows_per_category(context.settings)
    except InsecureConfiguration as error:
        raise ExecutionFailed(str(error)) from None
    report = partial(render_access_report, rows_per_category=rows_per_category, mentions=mentions)
    wanted: list[tuple[ReportKind, str, Renderer]] = [
        (ReportKind.PDF, f"{context.reference}-report.pdf", report),
        (ReportKind.EXPORT, export_file_name(context.reference), write_data_export),
    ]
    if context.request_type is RequestType.PORTABILITY:
        wanted.append((ReportKind.ZIP, f"{context.reference}-data.zip", write_portability_zip))
    written: list[WrittenFile] = []
    for kind, name, render in wanted:
        path = folder / name

        def write(out: BinaryIO, render: Renderer = render) -> None:
            render(
                data_map=data_map,
                collection=collection,
                request=request,
                translations=translations(context.language),
                out=out,
            )

        size, sha256 = write_private(path, write)
        written.append(WrittenFile(kind, path, size, sha256))
    return written, collection


def _located_and_collected(
    context: ExecutionContext, data_map: DataMap, systems: Systems, identity: str, folder: Path
) -> tuple[Collection, SubjectLocation]:
    """Locate and collect the subject, reporting each system of the map to `context.progress`:
    running from the start, done (with its rows) as soon as its own collection ends (the
    systems are collected in parallel), failed with the reason of the one that failed.
    """
    done: set[str] = set()

    def on_system(system: str, state: str, rows: int | None) -> None:
        if state == "done":
            done.add(system)
            context.progress(system, "done", rows)

    for system in data_map.systems:
        context.progress(system, "running", None)
    try:
        location = locate_subject(
            data_map, systems, identity, context.subject, others=context.other_identities
        )
        collected = collect_subject(
            data_map, systems, location, folder / COLLECTED, on_system=on_system
        )
        return collected, location
    except BaseException as error:
        unavailable = error if isinstance(error, SystemUnavailable) else None
        failed = unavailable.system if unavailable else None
        for system in data_map.systems:
            if unavailable is not None and system == failed:
                context.progress(system, "failed", None, unavailable.reason)
            elif system not in done:
                reason = "not finished" if failed else "the run stopped"
                context.progress(system, "failed", None, reason)
        raise


register_executor(RequestType.ACCESS, run_access)
register_executor(RequestType.PORTABILITY, run_access)
