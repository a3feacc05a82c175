"""The request page of one part of a submission that asked for several things (issue 19): the
other parts with links and statuses, and an erasure whose approval waits (409, said why) until
the copy of the data asked for with it is produced."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from dsr import db
from dsr.requests.models import DataRequest
from dsr.requests.workflow import Action, RequestType, Status
from tests.factories import make_request, reloaded, staff_moves
from tests.pages import csrf_token

RECEIVED = datetime.now(UTC) - timedelta(days=3)


def submission(app: Flask, access_status: Status) -> tuple[DataRequest, DataRequest]:
    """Add an access and an erasure filed together, the erasure in review (the pages are read
    in English)."""
    with db.transaction(db.get_engine(app)) as session:
        access = make_request(
            session, status=access_status, request_type=RequestType.ACCESS, received_at=RECEIVED
        )
        erasure = make_request(
            session, status=Status.IN_REVIEW, request_type=RequestType.ERASURE, received_at=RECEIVED
        )
        access.group_id = erasure.group_id = access.id
        session.flush()
        return access, erasure


def approve(client: FlaskClient, request: DataRequest) -> tuple[int, str]:
    client.get("/lang/en")
    path = f"/dashboard/requests/{request.reference}"
    answer = client.post(
        f"{path}/approve",
        data={"csrf_token": csrf_token(client.get(path)), "version_id": str(request.version_id)},
    )
    return answer.status_code, html.unescape(answer.get_data(as_text=True))


def test_the_page_links_the_other_parts_with_their_statuses(app: Flask, dpo: FlaskClient) -> None:
    access, erasure = submission(app, Status.PROCESSING)
    dpo.get("/lang/en")

    page = html.unescape(dpo.get(f"/dashboard/requests/{erasure.reference}").get_data(as_text=True))
    parts = page.split('id="other-parts"')[1].split("</section>")[0]
    assert f'href="/dashboard/requests/{access.reference}"' in parts
    assert "status-processing" in parts
    assert "Not to be approved yet" in parts and access.reference in parts

    other = html.unescape(dpo.get(f"/dashboard/requests/{access.reference}").get_data(as_text=True))
    assert f'href="/dashboard/requests/{erasure.reference}"' in other
    assert "Not to be approved yet" not in other


def test_the_erasure_is_approved_only_once_the_copy_is_ready(app: Flask, dpo: FlaskClient) -> None:
    engine = db.get_engine(app)
    access, erasure = submission(app, Status.IN_REVIEW)

    code, page = approve(dpo, erasure)
    assert code == 409
    assert f"this request waits for {access.reference}" in page
    assert reloaded(engine, erasure.id).status is Status.IN_REVIEW

    # The copy is produced (ready to send): the erasure may now go ahead.
    steps = (Action.APPROVE, Action.START_PROCESSING, Action.FINISH_PROCESSING)
    staff_moves(engine, access.reference, *steps)
    code, _ = approve(dpo, reloaded(engine, erasure.id))
    assert code == 303
    assert reloaded(engine, erasure.id).status is Status.APPROVED


def test_the_queue_shows_each_part_with_the_same_due_date(app: Flask, dpo: FlaskClient) -> None:
    access, erasure = submission(app, Status.IN_REVIEW)
    dpo.get("/lang/en")

    page = html.unescape(dpo.get("/dashboard/").get_data(as_text=True))
    rows = {
        reference: page.split(f">{reference}</a>")[1].split("</tr>")[0]
        for reference in (access.reference, erasure.reference)
    }
    assert all("one part of several asked for together" in row for row in rows.values())
    assert access.due_at == erasure.due_at
    due_cells = {row.split("<td>")[4].split("</td>")[0] for row in rows.values()}
    assert len(due_cells) == 1
