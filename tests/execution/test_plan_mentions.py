"""`dsr request plan` lists the texts of others that staff confirmed name the subject of an
erasure (issue 20): table, count and action in the staff's language, never the text or the name;
a rejected text is not listed, undecided ones are only counted."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from dsr import db
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from dsr.execution.cli_plan import request_plan_command
from dsr.requests.workflow import RequestType, Status
from tests.execution.conftest import PLATFORM_VARIABLE
from tests.execution.test_mentions_run import decided, naming_texts
from tests.factories import make_request


def in_review(store: Engine) -> tuple[int, str]:
    with db.transaction(store) as session:
        request = make_request(
            session,
            status=Status.IN_REVIEW,
            email=SAMPLE_LEARNER_EMAIL,
            request_type=RequestType.ERASURE,
        )
        assert request.id is not None
        return request.id, request.reference


def plan_output(engine_url: str, platform: str, reference: str, language: str) -> str:
    result = CliRunner().invoke(
        request_plan_command,
        [reference, "--database-url", engine_url],
        env={PLATFORM_VARIABLE: platform, "DSR_STAFF_LANGUAGE": language},
        obj=None,
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.databases("sqlite")
def test_the_plan_lists_the_confirmed_mentions_only(engine_url: str, platform_url: str) -> None:
    db.run_migrations(engine_url)
    store = db.make_engine(engine_url)
    texts = naming_texts(platform_url)
    thanks, revision, namesake = texts["Merci"], texts["révise"], texts["manuel"]
    request_id, reference = in_review(store)

    undecided = plan_output(engine_url, platform_url, reference, "en")
    assert "3 possible mentions await a decision" in undecided
    assert "confirmed to name this person" not in undecided

    decided(store, request_id, {thanks[0]: True, revision[0]: True, namesake[0]: False})
    store.dispose()
    english = plan_output(engine_url, platform_url, reference, "en")
    assert "Other people's texts confirmed to name this person:" in english
    assert "learner_platform: name replaced by […] in 2 texts of course_comment" in english
    assert "await a decision" not in english and "awaits a decision" not in english
    for body in (thanks[1], revision[1], namesake[1]):  # the texts, and the name, never shown
        assert body not in english
    assert "LEFÈVRE" not in english.upper()

    french = plan_output(engine_url, platform_url, reference, "fr")
    assert "learner_platform: nom remplacé par […] dans 2 textes de course_comment" in french
    assert "name replaced" not in french
