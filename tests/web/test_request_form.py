"""Filing a request through the public form: languages, validation, honeypot, CSRF, rate limits,
bad input, and an answer that never tells whether an address is known."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import MakeApp
from tests.pages import csrf_token
from tests.smtp_server import SmtpServer
from tests.web.conftest import file_request, stored_requests, submit

ENGLISH = {"Accept-Language": "en-GB,en;q=0.9"}
FRENCH = {"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}


def _text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


# --- languages ------------------------------------------------------------------------------


def test_the_chosen_language_outlives_a_key_rotation_only_while_the_old_key_is_a_fallback(
    app: Flask, client: FlaskClient
) -> None:
    """The session cookie is signed with the current secret key and read with its fallbacks,
    as they are when the request comes (the signer is kept between requests)."""
    old_key = app.secret_key
    client.get("/lang/en")
    assert '<html lang="en">' in _text(client.get("/", headers=FRENCH))
    app.config.update(SECRET_KEY="a newer secret", SECRET_KEY_FALLBACKS=[old_key])
    assert '<html lang="en">' in _text(client.get("/", headers=FRENCH))
    client.get("/lang/en")  # signed again, with the newer key
    app.config.update(SECRET_KEY_FALLBACKS=[])
    assert '<html lang="en">' in _text(client.get("/", headers=FRENCH))
    app.config.update(SECRET_KEY="the newest secret")
    assert '<html lang="fr">' in _text(client.get("/", headers=FRENCH))


def test_the_form_follows_accept_language(client: FlaskClient) -> None:
    english = client.get("/", headers=ENGLISH)
    french = client.get("/", headers=FRENCH)
    assert english.status_code == french.status_code == 200
    assert '<html lang="en">' in _text(english)
    assert "Make a request about your personal data" in _text(english)
    assert "Get a copy of my data" in _text(english)
    assert '<html lang="fr">' in _text(french)
    assert "Faire une demande sur vos données personnelles" in _text(french)
    assert "Obtenir une copie de mes données" in _text(french)
    assert "Que demandez-vous\u00a0?" in _text(french)


def test_the_switch_keeps_the_chosen_language_over_accept_language(client: FlaskClient) -> None:
    switched = client.get("/lang/en?next=/resend", headers=FRENCH)
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/resend"
    page = client.get("/resend", headers=FRENCH)
    assert "Get a new link" in _text(page)
    client.get("/lang/fr?next=/", headers=ENGLISH)
    assert "Obtenir un nouveau lien" in _text(client.get("/resend", headers=ENGLISH))


def test_the_switch_links_back_to_the_page_shown(client: FlaskClient) -> None:
    page = _text(client.get("/resend", headers=FRENCH))
    assert 'href="/lang/en?next=/resend"' in page


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x", ""]
)
def test_the_switch_never_redirects_off_site(client: FlaskClient, target: str) -> None:
    switched = client.get("/lang/en", query_string={"next": target})
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/"


def test_an_unknown_language_is_not_found(client: FlaskClient) -> None:
    assert client.get("/lang/de", headers=ENGLISH).status_code == 404


def test_the_language_of_answers_defaults_to_the_page_language(client: FlaskClient) -> None:
    assert '<option selected value="fr">' in _text(client.get("/", headers=FRENCH))
    assert '<option selected value="en">' in _text(client.get("/", headers=ENGLISH))


# --- filing -----------------------------------------------------------------------------------


def test_a_request_is_filed_and_the_answer_is_a_redirect(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    posted = file_request(client, email="  Zoe.Lefevre@Example.org ", request_type="erasure")
    assert posted.status_code == 302
    assert posted.headers["Location"] == "/sent"
    [stored] = stored_requests(app)
    assert stored.type == "erasure"
    assert stored.normalized_email == "zoe.lefevre@example.org"
    assert stored.language == "en"
    [mail] = smtp_server.wait_for(1)
    assert mail.envelope_recipients == ("Zoe.Lefevre@Example.org",)
    page = client.get("/sent", headers=ENGLISH)
    assert "Check your inbox" in _text(page)
    assert "already sent the same request" not in _text(page)


def test_a_rectification_keeps_what_to_correct(app: Flask, client: FlaskClient) -> None:
    posted = file_request(
        client, request_type="rectification", rectification="My name is Zoé, not Zoe."
    )
    assert posted.status_code == 302
    [stored] = stored_requests(app)
    assert stored.rectification_details == "My name is Zoé, not Zoe."


def test_details_to_correct_are_dropped_for_other_types(app: Flask, client: FlaskClient) -> None:
    assert file_request(client, request_type="access", rectification="x" * 3000).status_code == 302
    [stored] = stored_requests(app)
    assert stored.rectification_details is None


def test_the_answer_is_the_same_for_any_address(client: FlaskClient) -> None:
    """Nothing on the page tells whether an address is known: only the CSRF token differs."""
    pages = []
    for email in ("known.learner@example.org", "nobody-at-all@example.net"):
        file_request(client, email=email)
        page = _text(client.get("/sent", headers=ENGLISH))
        pages.append(re.sub(r'name="csrf_token" value="[^"]+"', "", page))
    assert pages[0] == pages[1]


def test_an_identical_open_request_is_reused_and_said_so(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    file_request(client, email="zoe@example.org")
    client.get("/sent")
    file_request(client, email="ZOE@example.org")
    page = _text(client.get("/sent", headers=ENGLISH))
    assert "You had already sent the same request" in page
    assert len(stored_requests(app)) == 1
    smtp_server.wait_for(2)
    # The notice is shown once: a reload says what every first submission says.
    assert "already sent" not in _text(client.get("/sent", headers=ENGLISH))


def test_the_honeypot_answers_like_a_person_and_stores_nothing(
    app: Flask, client: FlaskClient, smtp_server: SmtpServer
) -> None:
    posted = file_request(client, website="http://spam.example/")
    assert posted.status_code == 302
    assert posted.headers["Location"] == "/sent"
    assert "Check your inbox" in _text(client.get("/sent", headers=ENGLISH))
    assert stored_requests(app) == []
    assert smtp_server.transactions == 0


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"email": ""}, "Enter your email address."),
        ({"email": "not-an-address"}, "Enter a valid email address"),
        ({"email": "zoe@exa mple.org"}, "Enter a valid email address"),
        ({"email": "z" * 250 + "@example.org"}, "An email address has at most 254 characters."),
        ({"request_type": "world-domination"}, "Choose one of the requests in the list."),
        ({"request_type": "rectification"}, "Tell us what to correct."),
        ({"request_type": "rectification", "rectification": "  "}, "Tell us what to correct."),
        (
            {"request_type": "rectification", "rectification": "x" * 2001},
            "Please keep this under 2000 characters.",
        ),
        ({"message": "x" * 5001}, "Please keep this under 5000 characters."),
        ({"language": "de"}, "Choose one of the languages in the list."),
    ],
)
def test_invalid_input_is_a_400_form_with_the_error(
    app: Flask,
    client: FlaskClient,
    smtp_server: SmtpServer,
    fields: dict[str, str],
    error: str,
) -> None:
    data = {"email": "zoe@example.org", "request_type": "access", "language": "en", **fields}
    client.get("/lang/en")
    answered = submit(client, "/", data)
    assert answered.status_code == 400
    page = _text(answered)
    assert error in page
    assert "Please correct the fields marked below." in page
    assert 'aria-invalid="true"' in page
    assert stored_requests(app) == []
    assert smtp_server.transactions == 0


def test_validation_errors_are_translated(client: FlaskClient) -> None:
    client.get("/lang/fr")
    answered = submit(client, "/", {"email": "nope", "request_type": "access", "language": "fr"})
    assert answered.status_code == 400
    assert "Saisissez une adresse e-mail valide" in _text(answered)


def test_what_was_typed_is_kept_and_escaped_on_a_form_with_errors(client: FlaskClient) -> None:
    answered = submit(
        client,
        "/",
        {"email": "bad", "request_type": "access", "message": "<script>alert(1)</script>"},
    )
    assert answered.status_code == 400
    page = _text(answered)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in page


# --- protection -------------------------------------------------------------------------------


def test_a_post_without_its_csrf_token_is_a_clear_400(app: Flask, client: FlaskClient) -> None:
    client.get("/lang/en")
    answered = client.post("/", data={"email": "zoe@example.org", "request_type": "access"})
    assert answered.status_code == 400
    assert "without its security token" in _text(answered)
    assert stored_requests(app) == []


def test_a_csrf_token_another_session_is_refused(app: Flask, client: FlaskClient) -> None:
    token = csrf_token(app.test_client().get("/"))
    answered = client.post(
        "/", data={"csrf_token": token, "email": "zoe@example.org", "request_type": "access"}
    )
    assert answered.status_code == 400
    assert stored_requests(app) == []


def test_the_blank_form_kept_once_carries_each_visitors_own_token(app: Flask) -> None:
    """The blank form is rendered once per process (issue 17): each visitor still gets the
    token of their own session, in place of the first visitor's, and it works for them only."""
    first, second = app.test_client(), app.test_client()
    first_answer, second_answer = first.get("/"), second.get("/")
    first_page, second_page = _text(first_answer), _text(second_answer)
    first_token, second_token = csrf_token(first_answer), csrf_token(second_answer)
    assert first_token != second_token
    assert first_token in first_page and first_token not in second_page
    assert second_token in second_page and second_token not in first_page
    assert "csrf-slot-" not in first_page + second_page
    assert re.sub(r'value="[^"]+">', "", first_page) == re.sub(r'value="[^"]+">', "", second_page)
    refused = second.post(
        "/", data={"csrf_token": first_token, "email": "zoe@example.org", "request_type": "access"}
    )
    assert refused.status_code == 400
    assert file_request(second, email="zoe@example.org").status_code == 302


def test_the_blank_form_follows_the_language_and_shows_a_waiting_message(
    client: FlaskClient,
) -> None:
    assert '<html lang="en">' in _text(client.get("/", headers=ENGLISH))
    assert '<html lang="fr">' in _text(client.get("/", headers=FRENCH))
    with client.session_transaction() as session:
        session["_flashes"] = [("message", "A message waiting for this visitor")]
    assert "A message waiting for this visitor" in _text(client.get("/", headers=ENGLISH))
    assert "A message waiting for this visitor" not in _text(client.get("/", headers=ENGLISH))


def test_the_rate_limit_per_address_shows_a_friendly_page(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app(PUBLIC_LIMIT_PER_ADDRESS="2/hour")
    client = app.test_client()
    assert file_request(client, email="one@example.org").status_code == 302
    assert file_request(client, email="two@example.org").status_code == 302
    limited = file_request(client, email="three@example.org")
    assert limited.status_code == 429
    assert "Trop de tentatives" in _text(limited)  # the test client sends no Accept-Language
    assert len(stored_requests(app)) == 2
    assert client.get("/").status_code == 200  # reading the form is not limited
    client.get("/lang/en")
    assert "Too many attempts" in _text(file_request(client, email="four@example.org"))


def test_the_rate_limit_per_email_counts_the_normalized_address(
    make_app: MakeApp, smtp_server: SmtpServer
) -> None:
    app = make_app(PUBLIC_LIMIT_PER_EMAIL="2/hour")
    client = app.test_client()
    assert file_request(client, email="zoe@example.org", request_type="access").status_code == 302
    assert file_request(client, email="ZOE@example.org ", request_type="erasure").status_code == 302
    assert (
        file_request(client, email="Zoe@Example.org", request_type="objection").status_code == 429
    )
    assert file_request(client, email="someone@example.org").status_code == 302
    # The new-link form shares the count: it sends mail to the same address.
    assert submit(client, "/resend", {"email": "zoe@example.org"}).status_code == 429


def test_a_body_that_is_not_utf8_is_a_clear_400(app: Flask, client: FlaskClient) -> None:
    token = csrf_token(client.get("/"))
    client.get("/lang/en")
    body = f"csrf_token={token}&email=zo%E9@example.org&request_type=access&language=en"
    answered = client.post(
        "/", data=body.encode(), content_type="application/x-www-form-urlencoded"
    )
    assert answered.status_code == 400
    assert "not sent as UTF-8" in _text(answered)
    raw = b"email=zo\xe9@example.org&request_type=access&csrf_token=" + token.encode()
    answered = client.post("/", data=raw, content_type="application/x-www-form-urlencoded")
    assert answered.status_code == 400
    assert stored_requests(app) == []


def test_an_overlong_body_is_a_413_page(app: Flask, client: FlaskClient) -> None:
    client.get("/lang/en")
    token = csrf_token(client.get("/"))
    answered = client.post(
        "/",
        data={"csrf_token": token, "email": "zoe@example.org", "message": "x" * 200_000},
    )
    assert answered.status_code == 413
    assert "What you sent is too long" in _text(answered)
    assert stored_requests(app) == []


def test_the_pages_forbid_scripts_and_framing(client: FlaskClient) -> None:
    headers = client.get("/").headers
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy  # falls back to default-src: no script at all
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    with client.get("/static/style.css") as stylesheet:  # a file response: close it
        assert stylesheet.status_code == 200
        assert stylesheet.mimetype == "text/css"


def test_a_security_header_a_response_sets_itself_is_kept_and_the_others_added() -> None:
    """The headers come out as `Headers.setdefault` would leave them, names in any case."""
    from flask import Response

    from dsr.app import SECURITY_HEADERS, _set_security_headers

    def page() -> Response:
        return Response("page", headers={"referrer-policy": "no-referrer"})

    expected = page()
    for name, value in SECURITY_HEADERS:
        expected.headers.setdefault(name, value)
    added = _set_security_headers(page())
    assert list(added.headers.items()) == list(expected.headers.items())
    assert added.headers.getlist("Referrer-Policy") == ["no-referrer"]
    assert added.headers["X-Frame-Options"] == "DENY"


# --- error pages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "title"), [(ENGLISH, "Page not found"), (FRENCH, "Page introuvable")]
)
def test_an_unknown_page_is_a_404_in_the_visitors_language(
    client: FlaskClient, headers: dict[str, str], title: str
) -> None:
    answered = client.get("/no/such/page", headers=headers)
    assert answered.status_code == 404
    assert title in _text(answered)


def test_a_wrong_method_is_a_405_page_that_says_what_is_allowed(client: FlaskClient) -> None:
    answered = client.put("/", headers=ENGLISH)
    assert answered.status_code == 405
    assert "This page cannot be used this way" in _text(answered)
    assert set(answered.headers["Allow"].split(", ")) >= {"GET", "POST"}
    answered = client.delete("/sent", headers=FRENCH)
    assert "Cette page ne peut pas être utilisée ainsi" in _text(answered)
