"""The two journeys a learner and a DPO make through the desk, in Chromium, against the real server:

- access: the learner files a request in French, confirms it from the verification email, the DPO
  logs in with a TOTP code, reviews and approves it, sends the report; the learner asks for the
  one-time code, types it, downloads the PDF, which names her and holds every category of data
  the map finds for her, in French;
- erasure: the same up to the review, where the DPO sees the erasure plan (every table holding
  her rows); approved, the learner gets the certificate by the link of the email, and the demo
  platform no longer holds her.

Each page on the way passes axe-core with no serious or critical violation; a failing journey
keeps its screenshots under test-artifacts/browser/<test>/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader
from sqlalchemy import column, create_engine, func, select, table

from dsr.demo.seed import SAMPLE_LEARNER_EMAIL
from inventory.erasure import verify_erased
from inventory.loader import load_data_map
from inventory.locator import category_counts, locate_subject
from inventory.systems import Systems
from tests.accounts.helpers import STAFF_PASSWORD, make_staff, totp_code
from tests.browser.conftest import LiveDesk
from tests.browser.journey import Journey
from tests.execution.conftest import DATA_MAP, PLATFORM_VARIABLE
from tests.execution.platform_copy import subject_keys
from tests.smtp_server import ReceivedMail

LEARNER = SAMPLE_LEARNER_EMAIL
LEARNER_NAME = "Zoé Lefèvre"
TOKEN = r"[A-Za-z0-9._~-]+"


def desk_link(desk: LiveDesk, path: str) -> str:
    """A pattern of a link of this desk under `path` (e.g. `/verify/`), as emails write them."""
    return re.escape(desk.url(path)) + TOKEN


def open_link_in_mail(page: Page, mail: ReceivedMail, url: str) -> None:
    """Show the email in the page, as a mail client would, and click its link to `url`."""
    assert mail.html is not None, "the email has no HTML part"
    page.set_content(mail.html)
    page.locator(f'a[href="{url}"]').first.click()


def submit(page: Page, form: str) -> None:
    """Press the submit button of the form whose action ends with `form`, and wait for the page
    its answer leads to (every form posts, then redirects) to load."""
    with page.expect_navigation():
        page.locator(f'form[action$="{form}"] button[type="submit"]').click()


def pdf_text(path: Path) -> str:
    """The PDF's text with its line breaks and runs of spaces as single spaces."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(path).pages).split())


# --- the learner's side -------------------------------------------------------------------------


def file_and_confirm(journey: Journey, desk: LiveDesk, request_type: str) -> tuple[Page, str]:
    """File a request in French through the form, confirm it from the verification email; return
    the learner's page (on the status page) and the request's reference."""
    page = journey.new_page(locale="fr-FR")
    page.goto(desk.url("/"))
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    journey.step(page, "formulaire de demande")

    page.fill("#email", LEARNER)
    page.select_option("#request_type", request_type)
    page.select_option("#language", "fr")
    submit(page, "/")
    page.wait_for_url(desk.url("/sent"))
    journey.step(page, "demande envoyee")

    mail, link = desk.wait_for_mail(LEARNER, desk_link(desk, "/verify/"))
    assert "Confirmez votre adresse" in str(mail.message["Subject"])
    open_link_in_mail(page, mail, link.group(0))
    page.wait_for_url(link.group(0))
    journey.step(page, "confirmation de l'adresse")

    submit(page, link.group(0).removeprefix(desk.base_url))
    page.wait_for_url(re.compile(re.escape(desk.url("/status/"))))
    expect(page.locator("p.flash")).to_be_visible()
    journey.step(page, "page de suivi")
    reference = page.locator("dl.facts dd").first.inner_text().strip()
    assert re.fullmatch(r"DSR-\d{4}-\d+", reference), reference
    return page, reference


# --- the DPO's side -----------------------------------------------------------------------------


def dpo_logs_in(journey: Journey, desk: LiveDesk) -> Page:
    """A DPO with a second factor opens the dashboard and logs in through the real pages."""
    dpo = make_staff(desk.store, role="dpo", totp=True, email="dpo@example.org", name="DPO")
    page = journey.new_page(locale="fr-FR")
    page.goto(desk.url("/dashboard/"))
    page.wait_for_url(re.compile(re.escape(desk.url("/staff/login"))))
    journey.step(page, "connexion")

    page.fill("#email", dpo.email)
    page.fill("#password", STAFF_PASSWORD)
    submit(page, "/staff/login")
    page.wait_for_url(desk.url("/staff/login/code"))
    journey.step(page, "second facteur")

    page.fill("#code", totp_code(dpo))
    submit(page, "/staff/login/code")
    page.wait_for_url(desk.url("/dashboard/"))
    journey.step(page, "file des demandes")
    return page


def review(journey: Journey, page: Page, reference: str, kind: str) -> None:
    """Open the request from the queue and start its review."""
    page.get_by_role("link", name=reference, exact=True).click()
    page.wait_for_url(re.compile(f"/dashboard/requests/{reference}$"))
    journey.step(page, f"demande {kind} verifiee")
    submit(page, "/review")
    expect(page.locator('form[action$="/approve"]')).to_be_visible()
    journey.step(page, f"demande {kind} en revue")


# --- the journeys -------------------------------------------------------------------------------


@pytest.mark.timeout(600)  # a whole journey through Chromium: minutes on a loaded machine
def test_a_learner_gets_her_data_in_french_after_a_dpo_approves(
    live_desk: LiveDesk, journey: Journey, tmp_path: Path
) -> None:
    desk = live_desk
    data_map = load_data_map(DATA_MAP)
    with Systems(data_map, {PLATFORM_VARIABLE: desk.platform_url}).opened() as systems:
        found = category_counts(data_map, locate_subject(data_map, systems, "email", LEARNER))
    categories = [data_map.categories[category].title.get("fr") for category in found]
    assert len(categories) >= 10, categories  # she has rows in every table of the demo

    learner, reference = file_and_confirm(journey, desk, "access")

    dpo = dpo_logs_in(journey, desk)
    review(journey, dpo, reference, "d'acces")
    found_table = dpo.locator("table.data").first
    for title in categories:
        expect(found_table).to_contain_text(title)
    submit(dpo, "/approve")
    send_form = dpo.locator('form[action$="/reports/send"]')
    expect(send_form).to_be_visible()
    journey.step(dpo, "demande approuvee")
    send_form.locator('input[value="link"]').check()
    submit(dpo, "/reports/send")
    expect(send_form).to_have_count(0)
    journey.step(dpo, "rapport envoye")

    seen = len(desk.smtp.messages)
    mail, link = desk.wait_for_mail(LEARNER, desk_link(desk, "/download/"))
    assert reference in str(mail.message["Subject"])
    open_link_in_mail(learner, mail, link.group(0))
    learner.wait_for_url(link.group(0))
    journey.step(learner, "page de telechargement")

    submit(learner, "/code")
    expect(learner.locator("p.flash")).to_be_visible()
    journey.step(learner, "code envoye")
    code_mail, code = desk.wait_for_mail(LEARNER, r"(?m)^(\d{6})$", after=seen)
    assert "Votre code" in code_mail.text
    learner.fill("#code", code.group(1))
    submit(learner, link.group(0).removeprefix(desk.base_url))
    pdf_link = learner.locator('a[href$="/files/pdf"]')
    expect(pdf_link).to_be_visible()
    journey.step(learner, "fichiers")

    with learner.expect_download() as download:
        pdf_link.click()
    report = tmp_path / "rapport.pdf"
    download.value.save_as(report)
    text = pdf_text(report)
    assert "Copie de vos données personnelles" in text
    assert LEARNER_NAME in text and reference in text
    missing = [title for title in categories if title not in text]
    assert not missing, f"categories missing from the PDF: {missing}"


@pytest.mark.timeout(600)  # a whole journey through Chromium: minutes on a loaded machine
def test_a_learner_is_erased_and_certified_after_a_dpo_approves_the_plan(
    live_desk: LiveDesk, journey: Journey, tmp_path: Path
) -> None:
    desk = live_desk
    her_tables = sorted(subject_keys(desk.platform_url, LEARNER))
    assert "learner" in her_tables

    learner, reference = file_and_confirm(journey, desk, "erasure")

    dpo = dpo_logs_in(journey, desk)
    review(journey, dpo, reference, "d'effacement")
    plan = dpo.locator("#erasure-plan ~ table.data").first
    expect(plan).to_be_visible()
    planned_tables = {
        cell.strip() for cell in plan.locator("tbody td:nth-child(2)").all_inner_texts()
    }
    assert set(her_tables) <= planned_tables, set(her_tables) - planned_tables
    submit(dpo, "/approve")
    expect(dpo.locator("#erasure-runs")).to_be_visible()
    expect(dpo.locator('a[href$="/certificate"]')).to_be_visible()
    journey.step(dpo, "effacement fait")

    mail, link = desk.wait_for_mail(LEARNER, desk_link(desk, "/certificate/"))
    assert reference in str(mail.message["Subject"])
    with learner.expect_download() as download:
        open_link_in_mail(learner, mail, link.group(0))
    certificate = tmp_path / "certificat.pdf"
    download.value.save_as(certificate)
    text = pdf_text(certificate)
    assert "Certificat d'effacement" in text and reference in text

    platform = create_engine(desk.platform_url)
    try:
        with platform.connect() as connection:
            learners = table("learner", column("email"))
            still_there = connection.execute(
                select(func.count())
                .select_from(learners)
                .where(func.lower(learners.c.email) == LEARNER)
            ).scalar_one()
    finally:
        platform.dispose()
    assert still_there == 0
    data_map = load_data_map(DATA_MAP)
    with Systems(data_map, {PLATFORM_VARIABLE: desk.platform_url}).opened() as systems:
        assert verify_erased(data_map, systems, "email", LEARNER) == []
