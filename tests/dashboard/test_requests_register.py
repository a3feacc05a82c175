"""The register of data-subject requests on the dashboard: DPOs and admins download it for a
period, in French or English, as CSV, XLSX or PDF; auditors are refused; a bad period or date is
shown again with what to correct (400), never a 500; and `dsr request register` writes it."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from dsr import db
from dsr.accounts.models import StaffRole
from dsr.execution.cli import request_group
from tests.accounts.helpers import make_staff
from tests.dashboard.staff_pages import StaffClient, app_config, logged_in, staff_client
from tests.requests.test_register import EMAIL, REFUSAL, seed

__all__ = ["app_config", "staff_client"]  # the fixtures used here

PAGE = "/dashboard/requests-register"
MARCH = {"since": "2026-03-01", "until": "2026-03-31"}
WEBSHOP_MAP = Path(__file__).resolve().parents[1] / "webshop" / "webshop_map.yaml"


@pytest.mark.parametrize("role", ["dpo", "admin"])
def test_dpos_and_admins_get_the_form(staff_client: StaffClient, role: str) -> None:
    page = staff_client(role).get(PAGE)

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'name="since"' in text and 'name="until"' in text
    assert 'value="xlsx"' in text and 'value="fr"' in text
    assert "can be shown to the CNIL" in text


def test_auditors_are_refused(staff_client: StaffClient) -> None:
    client = staff_client("auditor")
    assert client.get(PAGE).status_code == 403
    assert (
        client.get(PAGE, query_string={**MARCH, "language": "en", "format": "csv"}).status_code
        == 403
    )


def test_the_french_csv_downloads(app: Flask, staff_client: StaffClient) -> None:
    refs = seed(db.get_engine(app))

    answer = staff_client("dpo").get(
        PAGE, query_string={**MARCH, "language": "fr", "format": "csv"}
    )

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.headers["Content-Disposition"] == (
        'attachment; filename="requests-register-2026-03-01-2026-03-31-fr.csv"'
    )
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.get_data()
    assert EMAIL.encode() not in body
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))
    assert lines[0][0] == "Référence"
    by_reference = {line[0]: line for line in lines[1:]}
    assert refs["after"] not in by_reference and refs["before"] not in by_reference
    assert REFUSAL in by_reference[refs["refused"]]


def test_another_map_names_its_organisation(make_app: Callable[..., Flask]) -> None:
    app = make_app(DATA_MAP=str(WEBSHOP_MAP))
    engine = db.get_engine(app)
    refs = seed(engine)
    client = logged_in(app.test_client(), make_staff(engine, role=StaffRole.ADMIN))

    answer = client.get(PAGE, query_string={**MARCH, "language": "en", "format": "xlsx"})

    assert answer.status_code == 200
    with zipfile.ZipFile(io.BytesIO(answer.get_data())) as workbook:
        text = "".join(
            workbook.read(name).decode("utf-8")
            for name in workbook.namelist()
            if name.endswith(".xml")
        )
    assert "Boutique des Lilas SARL" in text
    assert refs["late"] in text and EMAIL not in text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            {"since": "2026-03-31", "until": "2026-03-01"},
            "The end of the period is before its start.",
        ),
        ({"since": "2010-01-01", "until": "2026-03-01"}, "A period is at most 10 years long."),
        ({"since": "2026-13-45", "until": "2026-03-01"}, "Give a date as YYYY-MM-DD"),
        ({"since": "", "until": "2026-03-01"}, "Give the first day of the period."),
        ({"since": "2026-03-01", "until": "31/03/2026"}, "Give a date as YYYY-MM-DD"),
        ({**MARCH, "format": "docx"}, "Choose CSV, XLSX or PDF."),
        ({**MARCH, "language": "de"}, "Choose French or English."),
    ],
)
def test_bad_input_shows_the_form_again(
    staff_client: StaffClient, query: dict[str, str], message: str
) -> None:
    full = {"language": "en", "format": "pdf", **query}
    answer = staff_client("dpo").get(PAGE, query_string=full)

    assert answer.status_code == 400
    text = answer.get_data(as_text=True)
    assert message in text
    assert 'name="since"' in text


def test_the_form_speaks_french(staff_client: StaffClient) -> None:
    answer = staff_client("dpo").get(
        PAGE,
        query_string={
            "since": "2026-03-31",
            "until": "2026-03-01",
            "language": "fr",
            "format": "csv",
        },
        headers={"Accept-Language": "fr"},
    )

    assert answer.status_code == 400
    assert "La fin de la période est avant son début." in answer.get_data(as_text=True)


def test_the_command_writes_the_register(app: Flask, tmp_path: Path) -> None:
    refs = seed(db.get_engine(app))
    url = app.config["DATABASE_URL"]
    out = tmp_path / "register.pdf"
    runner = CliRunner()

    done = runner.invoke(
        request_group,
        [
            "register",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--language",
            "en",
            "--format",
            "pdf",
            "--out",
            str(out),
            "--database-url",
            url,
        ],
    )

    assert done.exit_code == 0, done.output
    assert "Register of 8 request(s) received from 2026-03-01 to 2026-03-31" in done.output
    assert out.read_bytes().startswith(b"%PDF")
    assert refs["on_time"]

    backwards = runner.invoke(
        request_group,
        [
            "register",
            "--from",
            "2026-03-31",
            "--to",
            "2026-03-01",
            "--out",
            str(out),
            "--database-url",
            url,
        ],
    )
    assert backwards.exit_code == 2
    assert "The end of the period is before its start." in backwards.output
    bad_day = runner.invoke(
        request_group, ["register", "--from", "2026-02-30", "--to", "2026-03-01", "--out", str(out)]
    )
    assert bad_day.exit_code == 2 and "2026-02-30" in bad_day.output


def test_a_map_that_does_not_load_gives_503(tmp_path: Path, make_app: Callable[..., Flask]) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\norganisation: {}\nsurprise: true\n", encoding="utf-8")
    app = make_app(DATA_MAP=str(broken))
    client = logged_in(app.test_client(), make_staff(db.get_engine(app), role=StaffRole.DPO))

    assert client.get(PAGE).status_code == 503
    assert (
        client.get(PAGE, query_string={**MARCH, "language": "en", "format": "csv"}).status_code
        == 503
    )


def test_the_figures_page_links_to_it_for_those_who_may_download(
    staff_client: StaffClient,
) -> None:
    assert PAGE in staff_client("dpo").get("/dashboard/figures").get_data(as_text=True)
    assert PAGE not in staff_client("auditor").get("/dashboard/figures").get_data(as_text=True)
