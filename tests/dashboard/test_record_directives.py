"""Post-mortem directives received by letter (art. 85 LIL, R44): staff record them with the
person the letter designates to carry them out (name and email, required for directives and
dropped for the other things asked for in the same letter); without them, or with a bad address,
the form says why (400) and nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from dsr.datamap import organisation_zone
from dsr.requests.workflow import RequestType, Status
from tests.dashboard.test_channels import emails, local, logged_in, record, stored

DIRECTIVES = "Qu'on supprime mes comptes à mon décès, après avoir remis mes notes à ma sœur."
DESIGNEE = {"designee_name": "Inès Lefèvre", "designee_email": "ines@example.org"}


def directives(app: Flask, **given: Any) -> tuple[int, str]:
    dpo = logged_in(app, "dpo@example.org")
    zone = organisation_zone(app.config)
    fields: dict[str, Any] = {
        "request_type": "post_mortem",
        "message": DIRECTIVES,
        "received_at": local(datetime.now(UTC) - timedelta(days=2), zone),
        **DESIGNEE,
    }
    fields.update(given)
    return record(dpo, **fields)


@pytest.mark.parametrize("email", [None, "zoe@example.org"])
def test_directives_received_by_letter_name_the_designated_person(
    app: Flask, email: str | None
) -> None:
    code, _ = directives(app, email=email)

    assert code == 303
    [request] = stored(app)
    assert request.type is RequestType.POST_MORTEM and request.status is Status.VERIFIED
    assert (request.designee_name, request.designee_email) == ("Inès Lefèvre", "ines@example.org")
    assert request.message == DIRECTIVES


def test_the_designated_person_goes_with_the_directives_only(app: Flask) -> None:
    code, _ = directives(app, also_types=["deactivation"])

    assert code == 303
    post_mortem, deactivation = stored(app)
    assert post_mortem.designee_name == "Inès Lefèvre"
    assert deactivation.type is RequestType.DEACTIVATION
    assert (deactivation.designee_name, deactivation.designee_email) == (None, None)


def test_a_designated_person_given_for_another_request_is_dropped(app: Flask) -> None:
    code, _ = directives(app, request_type="deactivation")

    assert code == 303
    [request] = stored(app)
    assert (request.designee_name, request.designee_email) == (None, None)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"designee_name": ""}, "Name the person designated to carry out the directives."),
        ({"designee_email": ""}, "Give the email address of the designated person."),
        ({"designee_email": "not an address"}, "Enter a valid email address"),
        ({"designee_name": "x" * 201}, "Please keep this under 200 characters."),
        ({"message": ""}, "for this request, it is its substance"),
        ({"message": "", "email": "zoe@example.org"}, "Write your directives."),
    ],
)
def test_directives_without_their_designated_person_are_refused(
    app: Flask, given: dict[str, str], message: str
) -> None:
    code, html = directives(app, **given)

    assert code == 400
    assert message in html
    assert stored(app) == []
    assert emails(app) == []
