"""Filing an objection on legitimate interests and post-mortem directives on the public form, in
French and English, with what each requires, and the request's page showing the map's categories
each concerns (POINT3's map and the webshop's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from dsr import db
from dsr.languages import Language, translations
from dsr.requests.labels import type_name
from dsr.requests.models import DataRequest
from dsr.requests.workflow import RequestType, Status
from tests.conftest import MakeApp
from tests.dashboard.conftest import logged_in
from tests.factories import make_request
from tests.web.conftest import file_request, stored_requests, submit

ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}
WEBSHOP_MAP = Path(__file__).resolve().parents[1] / "webshop" / "webshop_map.yaml"


def test_the_form_offers_both_types_in_both_languages(client: FlaskClient) -> None:
    english = client.get("/", headers=ENGLISH).get_data(as_text=True)
    assert 'value="objection_legitimate_interest"' in english
    assert "Object to a use of my data based on your legitimate interests" in english
    assert "Give directives for my data after my death" in english
    assert "Name of the person who will carry out your directives" in english
    french = client.get("/", headers=FRENCH).get_data(as_text=True)
    assert "M'opposer à une utilisation de mes données fondée sur votre intérêt légitime" in (
        french.replace("&#39;", "'")
    )
    assert "Donner des directives sur mes données après mon décès" in french


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_objection_keeps_the_requesters_situation(
    app: Flask, client: FlaskClient, language: str
) -> None:
    posted = file_request(
        client,
        request_type="objection_legitimate_interest",
        message="My situation: <b>I changed careers</b>.",
        language=language,
    )
    assert posted.status_code == 302
    [stored] = stored_requests(app)
    assert stored.type is RequestType.OBJECTION_LEGITIMATE_INTEREST
    assert stored.message == "My situation: <b>I changed careers</b>."
    assert stored.language == language


def test_an_objection_without_a_situation_is_refused(app: Flask, client: FlaskClient) -> None:
    posted = file_request(client, request_type="objection_legitimate_interest")
    assert posted.status_code == 400
    assert "Expliquez votre situation particulière" in posted.get_data(as_text=True)
    assert stored_requests(app) == []


@pytest.mark.parametrize("language", ["fr", "en"])
def test_directives_keep_their_text_and_the_designated_person(
    app: Flask, client: FlaskClient, language: str
) -> None:
    posted = file_request(
        client,
        request_type="post_mortem",
        message="Erase everything except my certificates.",
        designee_name="Inès Lefèvre",
        designee_email=" ines@example.org ",
        language=language,
    )
    assert posted.status_code == 302
    [stored] = stored_requests(app)
    assert stored.type is RequestType.POST_MORTEM
    assert stored.message == "Erase everything except my certificates."
    assert (stored.designee_name, stored.designee_email) == ("Inès Lefèvre", "ines@example.org")


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"designee_name": "Inès", "designee_email": "ines@example.org"}, "Write your directives"),
        ({"message": "Erase it all.", "designee_email": "ines@example.org"}, "Name the person"),
        ({"message": "Erase it all.", "designee_name": "Inès"}, "Enter the email address"),
        (
            {"message": "Erase it all.", "designee_name": "Inès", "designee_email": "not-an-email"},
            "Enter a valid email address",
        ),
    ],
)
def test_incomplete_directives_are_refused(
    app: Flask, client: FlaskClient, fields: dict[str, str], says: str
) -> None:
    posted = submit(
        client,
        "/",
        {"email": "zoe@example.org", "request_type": "post_mortem", "language": "en", **fields},
        headers=ENGLISH,
    )
    assert posted.status_code == 400
    assert says in posted.get_data(as_text=True)
    assert stored_requests(app) == []


def test_a_designated_person_is_dropped_for_other_types(app: Flask, client: FlaskClient) -> None:
    posted = file_request(
        client, request_type="access", designee_name="Inès", designee_email="ines@example.org"
    )
    assert posted.status_code == 302
    [stored] = stored_requests(app)
    assert stored.designee_name is None and stored.designee_email is None


def _request(app: Flask, request_type: RequestType, **fields: object) -> DataRequest:
    with db.transaction(db.get_engine(app)) as session:
        return make_request(
            session,
            status=Status.IN_REVIEW,
            request_type=request_type,
            **fields,  # type: ignore[arg-type]
        )


def test_the_objections_page_shows_the_categories_on_legitimate_interests(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    request = _request(app, RequestType.OBJECTION_LEGITIMATE_INTEREST, message="My situation.")
    html = dpo.get(f"/dashboard/requests/{request.reference}", headers=ENGLISH).get_data(
        as_text=True
    )
    assert "Categories of the data map affected" in html
    affected = html.split('class="data affected"', 1)[1].split("</table>", 1)[0]
    assert "Your survey answers" in affected
    assert "Improve our courses from your survey answers" in affected  # its purpose
    assert "Your invoices" not in affected  # a legal obligation, not legitimate interests
    assert "compelling legitimate grounds" in html


def test_the_directives_page_shows_the_person_and_every_category(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    request = _request(
        app,
        RequestType.POST_MORTEM,
        message="Erase my account.",
        designee_name="Inès <Lefèvre>",
        designee_email="ines@example.org",
    )
    html = dpo.get(f"/dashboard/requests/{request.reference}", headers=ENGLISH).get_data(
        as_text=True
    )
    assert "Inès &lt;Lefèvre&gt; &lt;ines@example.org&gt;" in html
    affected = html.split('class="data affected"', 1)[1].split("</table>", 1)[0]
    assert "Your survey answers" in affected and "Contact details" in affected
    assert "Deleted" in affected  # the erasure action of each category


def test_the_pages_follow_another_map(make_app: MakeApp, tmp_path: Path) -> None:
    app = make_app(DATA_MAP=str(WEBSHOP_MAP))
    dpo = logged_in(app, "dpo@example.org")
    objection = _request(app, RequestType.OBJECTION_LEGITIMATE_INTEREST, message="Situation.")
    html = dpo.get(f"/dashboard/requests/{objection.reference}", headers=ENGLISH).get_data(
        as_text=True
    )
    # The shop moderates its reviews on legitimate interests (their other ground is consent).
    assert "Product reviews" in html
    assert "No category of the data map is processed on that basis." not in html
    text = WEBSHOP_MAP.read_text(encoding="utf-8")
    assert text.count("basis: legitimate_interests") == 1
    without = tmp_path / "no-legitimate-interests.yaml"
    without.write_text(text.replace("basis: legitimate_interests", "basis: contract"), "utf-8")
    other = make_app(DATA_MAP=str(without))
    staff = logged_in(other, "another.dpo@example.org")
    objection = _request(other, RequestType.OBJECTION_LEGITIMATE_INTEREST, message="Situation.")
    html = staff.get(f"/dashboard/requests/{objection.reference}", headers=ENGLISH).get_data(
        as_text=True
    )
    assert "No category of the data map is processed on that basis." in html
    directives = _request(
        app,
        RequestType.POST_MORTEM,
        message="Erase.",
        designee_name="Paul",
        designee_email="paul@example.org",
    )
    html = dpo.get(f"/dashboard/requests/{directives.reference}", headers=ENGLISH).get_data(
        as_text=True
    )
    assert 'class="data affected"' in html


def test_the_queue_filters_and_the_register_name_both_types(app: Flask) -> None:
    dpo = logged_in(app, "dpo@example.org")
    objection = _request(app, RequestType.OBJECTION_LEGITIMATE_INTEREST, message="Situation.")
    directives = _request(
        app,
        RequestType.POST_MORTEM,
        message="Erase.",
        designee_name="Paul",
        designee_email="paul@example.org",
    )
    queue = dpo.get("/dashboard/", headers=ENGLISH).get_data(as_text=True)
    assert 'value="objection_legitimate_interest"' in queue and 'value="post_mortem"' in queue
    only = dpo.get("/dashboard/", query_string={"type": "post_mortem"}, headers=ENGLISH).get_data(
        as_text=True
    )
    assert directives.reference in only and objection.reference not in only
    for language in Language:
        names = {type_name(kind, translations(language)) for kind in RequestType}
        assert len(names) == len(RequestType)  # each type its own name in the registers
    assert type_name(RequestType.POST_MORTEM, translations(Language.FR)) == (
        "Directives post mortem"
    )
