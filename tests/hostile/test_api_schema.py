"""Schemathesis against the API's OpenAPI document: whatever a client sends, the API never
answers 5xx, and every answer has a documented status code, content type and body shape.

The document is the one the API serves (the first test proves the two are the same); each
operation runs on an app with its own fresh store, a valid bearer token, and one request this
client filed, so that the paths with a reference are also fuzzed against a request that exists.
Generation is derandomized and writes no hypothesis database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dsr import db
from dsr.api.models import ApiToken
from dsr.api.openapi import openapi_document
from tests.conftest import MakeApp
from tests.smtp_server import settle_background_work

OPENAPI_PATH = "/api/v1/openapi.json"
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]

schema = schemathesis.openapi.from_dict(openapi_document())


@dataclass(frozen=True)
class FuzzedApi:
    """The app under test, its client's bearer token and the reference of a request it filed."""

    app: Flask
    token: str
    reference: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def api(make_app: MakeApp) -> FuzzedApi:
    app = make_app(SECRET_KEY="a secret for the hostile tests only")
    with db.transaction(db.get_engine(app)) as session:
        row, token = ApiToken.issue("fuzzer", now=db.utcnow())
        session.add(row)
    filed = app.test_client().post(
        "/api/v1/requests",
        json={
            "subject_request_type": "access",
            "subject_identities": {"email": "zoe.lefevre@example.org"},
            "language": "fr",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert filed.status_code == 201, filed.get_data(as_text=True)
    settle_background_work()
    return FuzzedApi(app, token, filed.get_json()["reference"])


def test_the_fuzzed_document_is_the_one_served(api: FuzzedApi) -> None:
    served = api.app.test_client().get(OPENAPI_PATH)
    assert served.status_code == 200
    assert json.loads(served.get_data(as_text=True)) == openapi_document()


@schema.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_the_api_keeps_its_contract(api: FuzzedApi, case: Any) -> None:
    case.call_and_validate(app=api.app, headers=api.headers, checks=CHECKS)
    if case.path_parameters and "reference" in case.path_parameters:
        case.path_parameters = {**case.path_parameters, "reference": api.reference}
        case.call_and_validate(app=api.app, headers=api.headers, checks=CHECKS)
    # The emails and callbacks a call queued are composed off the request (with the `random`
    # module: MIME boundaries): let them finish before hypothesis draws the next case.
    settle_background_work()
