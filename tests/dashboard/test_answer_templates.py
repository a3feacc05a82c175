"""Answer templates: admins list, create, change and delete them (others get 403), with CSRF, and
clear refusals of an empty, over-long or duplicate one; each change is audited. On a request's
page, the question and refusal forms offer the templates of its type and the requester's
language, and `?template=<id>` fills the text to edit, sending nothing."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import col, select

from dsr import db
from dsr.answer_templates.models import TEXT_MAX, AnswerTemplate, TemplateKind
from dsr.answer_templates.service import (
    CREATED_ACTION,
    DELETED_ACTION,
    UPDATED_ACTION,
    TemplateFields,
    create_template,
)
from dsr.audit.models import RequestEvent, verify_audit
from dsr.languages import Language
from dsr.requests.workflow import RequestType, Status
from tests.dashboard.conftest import counts
from tests.dashboard.staff_pages import StaffClient, staff_client
from tests.factories import make_request
from tests.pages import csrf_token

__all__ = ["staff_client"]  # the fixture used here

PAGE = "/dashboard/answer-templates"
QUESTION = {
    "kind": "question",
    "request_type": "any",
    "language": "en",
    "title": "Which account",
    "text": "Which of your accounts do you mean?",
}


def post(client: FlaskClient, path: str, data: dict[str, str]) -> str:
    """Post `data` to `path` with a CSRF token read from the list page; return the answer's
    status and text."""
    token = csrf_token(client.get(PAGE))
    answer = client.post(path, data={"csrf_token": token, **data})
    return f"{answer.status_code} {html.unescape(answer.get_data(as_text=True))}"


def stored(app: Flask) -> list[AnswerTemplate]:
    with db.open_session(db.get_engine(app)) as session:
        return list(session.exec(select(AnswerTemplate).order_by(col(AnswerTemplate.id))).all())


def audited(app: Flask) -> list[str]:
    with db.open_session(db.get_engine(app)) as session:
        events = session.exec(
            select(RequestEvent).where(col(RequestEvent.action).startswith("answer_template"))
        ).all()
        return [event.action for event in events]


def add(app: Flask, **changes: object) -> AnswerTemplate:
    fields = {**QUESTION, **changes}
    with db.transaction(db.get_engine(app)) as session:
        return create_template(
            db_session=session,
            fields=TemplateFields(
                kind=TemplateKind(str(fields["kind"])),
                request_type=str(fields["request_type"]),
                language=Language(str(fields["language"])),
                title=str(fields["title"]),
                text=str(fields["text"]),
            ),
            staff_label="admin@desk.example",
            now=db.utcnow(),
        )


@pytest.mark.parametrize("role", ["dpo", "auditor"])
def test_only_admins_reach_the_template_pages(
    app: Flask, staff_client: StaffClient, role: str
) -> None:
    template = add(app)
    client = staff_client(role)
    token = csrf_token(client.get("/dashboard/"))
    assert client.get(PAGE).status_code == 403
    assert client.get(f"{PAGE}/{template.id}").status_code == 403
    assert client.post(PAGE, data={"csrf_token": token, **QUESTION}).status_code == 403
    edit = client.post(f"{PAGE}/{template.id}", data={"csrf_token": token, **QUESTION})
    assert edit.status_code == 403
    delete = client.post(f"{PAGE}/{template.id}/delete", data={"csrf_token": token})
    assert delete.status_code == 403
    assert len(stored(app)) == 1
    assert "Answer templates" not in client.get("/dashboard/").get_data(as_text=True)


def test_an_admin_creates_changes_and_deletes_a_template_each_audited(
    app: Flask, staff_client: StaffClient
) -> None:
    admin = staff_client("admin")
    page = admin.get(PAGE).get_data(as_text=True)
    assert "Write no personal data in a template" in page
    assert 'href="/dashboard/answer-templates"' in page  # in the navigation
    assert post(admin, PAGE, QUESTION).startswith("303")
    (template,) = stored(app)
    assert (template.title, template.created_by) == ("Which account", "admin@desk.example")
    assert "Which account" in admin.get(PAGE).get_data(as_text=True)

    changed = {**QUESTION, "kind": "refusal", "request_type": "erasure", "text": "No."}
    assert post(admin, f"{PAGE}/{template.id}", changed).startswith("303")
    (template,) = stored(app)
    assert (template.kind, template.request_type, template.text) == (
        TemplateKind.REFUSAL,
        "erasure",
        "No.",
    )
    assert post(admin, f"{PAGE}/{template.id}/delete", {}).startswith("303")
    assert stored(app) == []
    assert audited(app) == [CREATED_ACTION, UPDATED_ACTION, DELETED_ACTION]
    with db.open_session(db.get_engine(app)) as session:
        assert verify_audit(db_session=session).ok


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"title": "  "}, "Give the template a title."),
        ({"text": ""}, "Write the text of the template."),
        ({"text": "x" * (TEXT_MAX + 1)}, f"Please keep this under {TEXT_MAX} characters."),
        ({"title": "x" * 201}, "Please keep this under 200 characters."),
        ({"kind": "praise"}, "Choose what it is for."),
        ({"request_type": "anything"}, "Choose a request type."),
        ({"language": "de"}, "Choose a language."),
        ({"title": "WHICH ACCOUNT "}, "has this title already"),
    ],
)
def test_bad_templates_are_refused_with_a_message(
    app: Flask, staff_client: StaffClient, changes: dict[str, str], message: str
) -> None:
    add(app)
    admin = staff_client("admin")
    answer = post(admin, PAGE, {**QUESTION, **changes})
    assert answer.startswith("400"), answer[:200]
    assert message in answer
    assert len(stored(app)) == 1
    assert audited(app) == [CREATED_ACTION]


def test_the_same_title_is_allowed_in_another_language_and_a_change_can_keep_its_title(
    app: Flask, staff_client: StaffClient
) -> None:
    template = add(app)
    admin = staff_client("admin")
    assert post(admin, PAGE, {**QUESTION, "language": "fr"}).startswith("303")
    assert post(admin, f"{PAGE}/{template.id}", {**QUESTION, "text": "Which?"}).startswith("303")
    other = stored(app)[1]
    answer = post(admin, f"{PAGE}/{other.id}", QUESTION)  # onto the first one's place
    assert answer.startswith("400") and "has this title already" in answer
    assert admin.get(f"{PAGE}/999999").status_code == 404


def test_a_post_without_its_csrf_token_changes_nothing(
    app: Flask, staff_client: StaffClient
) -> None:
    template = add(app)
    admin = staff_client("admin")
    assert admin.post(PAGE, data=QUESTION).status_code == 400
    assert admin.post(f"{PAGE}/{template.id}/delete").status_code == 400
    assert len(stored(app)) == 1


# --- on a request's page ------------------------------------------------------------------------


def new_request(app: Flask, **fields: object) -> tuple[str, int | None]:
    with db.transaction(db.get_engine(app)) as session:
        made = make_request(
            session,  # type: ignore[arg-type]
            received_at=datetime.now(UTC) - timedelta(days=3),
            **fields,
        )
        return made.reference, made.id


def test_the_request_page_offers_the_templates_that_fit_and_fills_the_chosen_one(
    app: Flask, staff_client: StaffClient
) -> None:
    fits = add(app, title="Which account", text="Which of <your> accounts?")
    refusal = add(app, kind="refusal", request_type="erasure", title="Excessive", text="Art 12(5)")
    add(app, title="In French", language="fr")
    add(app, kind="refusal", request_type="access", title="Other type")
    reference, request_id = new_request(
        app, status=Status.IN_REVIEW, request_type=RequestType.ERASURE, language=Language.EN
    )
    dpo = staff_client("dpo")
    page = dpo.get(f"/dashboard/requests/{reference}").get_data(as_text=True)
    assert "Which account" in page and "Excessive" in page
    assert "In French" not in page and "Other type" not in page
    before = counts(db.get_engine(app), request_id)

    filled = dpo.get(f"/dashboard/requests/{reference}?template={fits.id}")
    assert filled.status_code == 200
    text = filled.get_data(as_text=True)
    assert "Which of &lt;your&gt; accounts?</textarea>" in text  # escaped, in the form to edit
    assert f'<option value="{fits.id}" selected>' in text
    refused = dpo.get(f"/dashboard/requests/{reference}?template={refusal.id}")
    assert "Art 12(5)</textarea>" in refused.get_data(as_text=True)
    assert counts(db.get_engine(app), request_id) == before  # nothing sent, nothing recorded


@pytest.mark.parametrize("template", ["abc", "999999", "-1", "²", "9" * 30, "", "french"])
def test_a_template_that_does_not_fit_the_request_is_a_404(
    app: Flask, staff_client: StaffClient, template: str
) -> None:
    french = add(app, language="fr", title="En français")
    reference, _ = new_request(app, status=Status.IN_REVIEW, language=Language.EN)
    value = str(french.id) if template == "french" else template
    answer = staff_client("dpo").get(f"/dashboard/requests/{reference}?template={value}")
    assert answer.status_code == 404
    assert "does not fit this request" in answer.get_data(as_text=True)


def test_an_auditor_is_offered_no_template(app: Flask, staff_client: StaffClient) -> None:
    template = add(app)
    reference, _ = new_request(app, status=Status.IN_REVIEW)
    auditor = staff_client("auditor")
    assert "Which account" not in auditor.get(f"/dashboard/requests/{reference}").get_data(
        as_text=True
    )
    answer = auditor.get(f"/dashboard/requests/{reference}?template={template.id}")
    assert answer.status_code == 404


def test_the_pages_speak_french(app: Flask, staff_client: StaffClient) -> None:
    template = add(app, language="fr", title="Quel compte ?", text="Lequel ?")
    reference, _ = new_request(app, status=Status.IN_REVIEW, language=Language.FR)
    admin = staff_client("admin")
    admin.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    listed = html.unescape(admin.get(PAGE).get_data(as_text=True))
    assert "Modèles de réponse" in listed and "N'écrivez aucune donnée personnelle" in listed
    answer = post(admin, PAGE, {**QUESTION, "language": "fr", "title": "quel compte ?"})
    assert "porte déjà ce titre" in answer
    page = admin.get(f"/dashboard/requests/{reference}?template={template.id}")
    shown = html.unescape(page.get_data(as_text=True))
    assert "Partir d'un modèle de réponse" in shown and "Lequel ?</textarea>" in shown
