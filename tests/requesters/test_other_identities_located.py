"""Another identity of the person (issue 19): the locator given a second address or a phone
number besides the request's address finds the rows under each, on SQLite and PostgreSQL; and a
request's other identities are stored, refused when malformed or unproven, and removed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dsr import db
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from dsr.outbox.smtp import SmtpSettings
from dsr.requests import identities
from dsr.requests.jobs import minimise_closed
from dsr.requests.models import DataRequest, RequesterRole
from dsr.requests.refusals import OperationRefused
from dsr.requests.workflow import Status
from dsr.scheduler.runs import JobOutcome, SchedulerSettings
from inventory.loader import load_data_map
from inventory.locator import SubjectLocation, UnknownIdentity, locate_subject
from inventory.model import DataMap
from inventory.systems import Systems
from tests.databases import fresh_database
from tests.factories import make_request

MAP_PATH = Path(__file__).parents[2] / "data_map.yaml"
SECOND_ACCOUNT = "Lefevre.Zoe@gmail.example"  # seeded as another learner (id 3)
AEGIR_PHONE = "+354 612 3456"  # learner 9's number, as a person would type it
NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
SETTINGS = SchedulerSettings(
    secret_key="a secret for the tests only", smtp=SmtpSettings(host="127.0.0.1", port=9)
)


@pytest.fixture(scope="module")
def point3_map() -> DataMap:
    return load_data_map(MAP_PATH)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def systems(request: pytest.FixtureRequest, point3_map: DataMap) -> Iterator[Systems]:
    with fresh_database(request.param) as url:
        seed_platform(url, learners=20, seed=7)
        with Systems(point3_map, {"POINT3_PLATFORM_URL": url}).opened() as opened:
            yield opened


def learners(location: SubjectLocation) -> set[int]:
    match = location.match("learner_platform", "learner")
    return {key[0] for key in match.keys} if match else set()


def rows(location: SubjectLocation, table: str) -> int:
    match = location.match("learner_platform", table)
    return match.count if match else 0


def test_a_second_address_finds_both_accounts_and_their_linked_rows(
    point3_map: DataMap, systems: Systems
) -> None:
    alone = locate_subject(point3_map, systems, "email", SAMPLE_LEARNER_EMAIL)
    second = locate_subject(point3_map, systems, "email", SECOND_ACCOUNT)
    both = locate_subject(
        point3_map, systems, "email", SAMPLE_LEARNER_EMAIL, others=[("email", SECOND_ACCOUNT)]
    )

    assert learners(alone) == {1} and learners(second) == {3}
    assert learners(both) == {1, 3}
    for table in ("enrollment", "invoice", "tracking_event"):
        assert rows(both, table) == rows(alone, table) + rows(second, table)


def test_a_phone_number_finds_the_account_that_holds_it(
    point3_map: DataMap, systems: Systems
) -> None:
    both = locate_subject(
        point3_map, systems, "email", SAMPLE_LEARNER_EMAIL, others=[("phone", AEGIR_PHONE)]
    )
    assert learners(both) == {1, 9}


def test_an_identity_the_map_does_not_declare_is_refused(
    point3_map: DataMap, systems: Systems
) -> None:
    with pytest.raises(UnknownIdentity):
        locate_subject(
            point3_map, systems, "email", SAMPLE_LEARNER_EMAIL, others=[("passport", "X1")]
        )


# --- the request's other identities -------------------------------------------------------------


@pytest.mark.databases("sqlite", "postgresql")
def test_staff_add_a_proven_identity_and_remove_it(session: Session, point3_map: DataMap) -> None:
    request = make_request(session, status=Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL)
    row = identities.add_identity(
        db_session=session,
        data_map=point3_map,
        request=request,
        identity="email",
        value=f"  {SECOND_ACCOUNT} ",
        proof="She wrote from both addresses and named the order of 12 March on each.",
        staff_label="dpo@example.org",
        now=NOW,
    )
    session.commit()
    assert identities.other_identities(session, request.id) == (("email", SECOND_ACCOUNT.lower()),)

    assert identities.remove_identity(
        db_session=session,
        request=request,
        identity_id=row.id or 0,
        staff_label="dpo@example.org",
        now=NOW,
    )
    session.commit()
    assert identities.other_identities(session, request.id) == ()


@pytest.mark.parametrize(
    ("identity", "value", "proof", "message"),
    [
        ("email", "not-an-address", "checked", "Enter a valid email address"),
        ("phone", "call me", "checked", "Enter a phone number"),
        ("learner_id", "42", "checked", "Choose one of the identities"),
        ("passport", "X1", "checked", "Choose one of the identities"),
        ("email", SECOND_ACCOUNT, "  ", "Say how this identity was proven"),
        ("email", SAMPLE_LEARNER_EMAIL.upper(), "checked", "already the address"),
    ],
)
def test_a_bad_identity_is_refused_and_nothing_is_stored(
    session: Session, point3_map: DataMap, identity: str, value: str, proof: str, message: str
) -> None:
    request = make_request(session, status=Status.IN_REVIEW, email=SAMPLE_LEARNER_EMAIL)
    with pytest.raises(OperationRefused, match=message):
        identities.add_identity(
            db_session=session,
            data_map=point3_map,
            request=request,
            identity=identity,
            value=value,
            proof=proof,
            staff_label="dpo@example.org",
            now=NOW,
        )
    assert identities.identities_of(session, request.id) == []


@pytest.mark.databases("sqlite", "postgresql")
def test_minimising_a_closed_request_forgets_the_person_and_their_other_identities(
    store: Engine,
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=6 * 365)
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.COMPLETED,
            received_at=long_ago,
            email="maitre.durand@avocats.example",
            requester_role=RequesterRole.REPRESENTATIVE,
            subject_email=SAMPLE_LEARNER_EMAIL,
            subject_name="Zoé Lefèvre",
        )
        request_id = request.id
        session.add(
            identities.RequestIdentity(
                request_id=request_id or 0,
                identity="email",
                value=SECOND_ACCOUNT.lower(),
                proof="Wrote from both addresses",
                added_at=long_ago,
                added_by="dpo@example.org",
            )
        )

    minimise_closed(store, SETTINGS, datetime.now(UTC), JobOutcome())

    with db.open_session(store) as session:
        minimised = session.get(DataRequest, request_id)
        assert minimised is not None
        assert minimised.subject_email is None and minimised.subject_name is None
        assert minimised.requester_role is RequesterRole.REPRESENTATIVE  # no personal data
        assert identities.identities_of(session, request_id) == []
