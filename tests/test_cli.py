"""The `dsr` command line end to end on POINT3's map: seed, check, find, register."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import create_engine, text

from dsr.cli import main
from dsr.demo.seed import SAMPLE_LEARNER_EMAIL, seed_platform
from inventory.loader import load_data_map

ROOT = Path(__file__).parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        main, ["--map", str(ROOT / "data_map.yaml"), *args], env=env, catch_exceptions=False
    )
    return result.exit_code, result.output


def test_seed_then_find_the_sample_learner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    code, output = run("demo", "seed", "--url", url, "--learners", "30", "--seed", "5")
    assert code == 0, output
    assert "Seeded sqlite:///" in output and "30 learners" in output

    env = {"POINT3_PLATFORM_URL": url}
    code, output = run("map", "check", "--live", env=env)
    assert code == 0, output

    code, output = run("subject", "find", "--summary", SAMPLE_LEARNER_EMAIL.upper(), env=env)
    assert code == 0, output
    assert "Exam registrations (exam_registration)" in output
    assert "learner_platform.invoice_line:" in output

    code, output = run("subject", "find", "--json", SAMPLE_LEARNER_EMAIL, env=env)
    document = json.loads(output)
    assert document["found"] is True
    redacted = [
        row
        for row in document["categories"]["support"]
        if row["table"] == "support_message" and not row["owned"]
    ]
    assert redacted, "the shared thread's other learner's messages are listed as not owned"
    assert all(row["values"]["body"] == "[redacted]" for row in redacted)
    own = [r for r in document["categories"]["support"] if r["table"] == "support_message"]
    assert any(r["owned"] and r["values"]["body"] not in (None, "[redacted]") for r in own)
    code, text_output = run("subject", "find", SAMPLE_LEARNER_EMAIL, env=env)
    assert code == 0, text_output
    others = others_messages(url)
    assert others
    for body in others:
        assert body not in output and body not in text_output

    code, output = run("subject", "find", "Jean.Martin@example.com", env=env)
    assert code == 0 and "warning: [learner_platform.learner] 2 rows" in output
    assert "[redacted]" not in output or "another person's row" in output


def others_messages(url: str) -> list[str]:
    """The bodies other learners wrote in the sample learner's support threads."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    text(
                        "SELECT m.body FROM support_message m JOIN support_participant p "
                        "ON p.thread_id = m.thread_id JOIN learner l ON l.id = p.learner_id "
                        "WHERE l.email = :email AND m.author_learner_id <> l.id"
                    ),
                    {"email": SAMPLE_LEARNER_EMAIL},
                ).scalars()
            )
    finally:
        engine.dispose()


def test_seed_refuses_an_unreachable_database() -> None:
    code, output = run(
        "demo", "seed", "--url", "postgresql+psycopg://nobody@127.0.0.1:1/none", "--learners", "10"
    )
    assert code == 1 and "cannot seed postgresql+psycopg://nobody@127.0.0.1:1/none" in output
    code, output = run("demo", "seed", "--url", "sqlite://", "--learners", "2")
    assert code == 2 and "learners must be at least" in output


def test_map_check_reports_problems_with_exit_1(tmp_path: Path) -> None:
    broken = tmp_path / "map.yaml"
    text = (ROOT / "data_map.yaml").read_text(encoding="utf-8")
    broken.write_text(text.replace("legal_basis: contract", "legal_basis: contrat", 1), "utf-8")
    result = CliRunner().invoke(main, ["--map", str(broken), "map", "check"])
    assert result.exit_code == 1
    assert f"{broken}:" in result.output and "`contrat`" in result.output
    assert "1 problem(s) in the data map." in result.output


def test_map_check_refuses_a_processor_without_a_country(tmp_path: Path) -> None:
    broken = tmp_path / "map.yaml"
    text = (ROOT / "data_map.yaml").read_text(encoding="utf-8")
    hosting = text.index("  hosting:\n")
    at = text.index("    country: FR\n", hosting)
    broken.write_text(text[:at] + text[at + len("    country: FR\n") :], "utf-8")
    result = CliRunner().invoke(main, ["--map", str(broken), "map", "check"])
    assert result.exit_code == 1
    line = text[:hosting].count("\n") + 1
    assert f"{broken}:{line}:3: recipient `hosting` gives no `country`" in result.output


def test_map_check_warns_about_kept_rows_that_nothing_takes_out_of_use(tmp_path: Path) -> None:
    document = (ROOT / "data_map.yaml").read_text(encoding="utf-8")
    withdraw = (
        "      withdraw:\n"
        "        - {system: learner_platform, column: invoice.restricted, value: true}\n"
    )
    assert withdraw in document
    kept_in_use = tmp_path / "map.yaml"
    kept_in_use.write_text(document.replace(withdraw, ""), "utf-8")
    result = CliRunner().invoke(main, ["--map", str(kept_in_use), "map", "check"])
    assert result.exit_code == 0, result.output
    assert "warning: category `invoices` keeps the rows of `learner_platform.invoice`" in (
        result.output
    )
    assert "warning" not in CliRunner().invoke(main, ["map", "check"]).output


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_map_check_live_refuses_a_retention_from_a_column_without_dates(
    engine_url: str, tmp_path: Path
) -> None:
    seed_platform(engine_url, learners=10, seed=5)
    env = {"POINT3_PLATFORM_URL": engine_url}
    code, output = run("map", "check", "--live", env=env)
    assert code == 0, output

    text_map = (ROOT / "data_map.yaml").read_text(encoding="utf-8")
    textual = tmp_path / "map.yaml"
    textual.write_text(text_map.replace("from: invoice.issued_at", "from: invoice.number"), "utf-8")
    result = CliRunner().invoke(main, ["--map", str(textual), "map", "check", "--live"], env=env)
    assert result.exit_code == 1, result.output
    assert (
        "error: [learner_platform] the retention of category `invoices` runs from "
        "`invoice.number`, which holds VARCHAR(30), not a date or timestamp" in result.output
    )


@pytest.mark.databases("sqlite", "postgresql", "mariadb")
def test_the_demo_platform_has_the_indexes_its_map_lookups_need(engine_url: str) -> None:
    seed_platform(engine_url, learners=10, seed=5)
    code, output = run("map", "check", "--live", env={"POINT3_PLATFORM_URL": engine_url})
    assert code == 0, output
    warnings = [line for line in output.splitlines() if line.startswith("warning:")]
    # A subscription may have neither a consent date nor a parent: none lacks one in the demo.
    [undated] = [line for line in warnings if "no start date" in line]
    assert "category `marketing`" in undated and ": 0 rows have no start date" in undated
    warnings.remove(undated)
    if engine_url.startswith("mysql"):
        # MariaDB cannot index lower(email): the three email locations say so, nothing else.
        assert len(warnings) == 3, output
        assert all("by lower(`email`), which MariaDB cannot index" in w for w in warnings)
    else:
        assert warnings == [], output


def test_ropa_files_in_both_languages(tmp_path: Path) -> None:
    for lang in ("fr", "en"):
        pdf = tmp_path / f"ropa-{lang}.pdf"
        code, output = run("map", "ropa", "--format", "pdf", "--lang", lang, "--output", str(pdf))
        assert code == 0, output
        text = "".join(page.extract_text() for page in PdfReader(pdf).pages)
        assert ("Chambre de commerce" in text) and ("L123-22" in text)
        subprocess.run(["qpdf", "--check", str(pdf)], check=True, capture_output=True)
    code, output = run("map", "ropa", "--format", "csv", "--lang", "en", "--output", "-")
    rows = list(csv.reader(io.StringIO(output.lstrip("\ufeff"))))
    activities = load_data_map(ROOT / "data_map.yaml").activities
    # header + one row per activity of the map + the desk's own handling of the requests
    assert [row[0] for row in rows[1:]] == [*activities, "data_subject_requests"]
    xlsx = tmp_path / "ropa.xlsx"
    code, output = run("map", "ropa", "--format", "xlsx", "--output", str(xlsx))
    assert code == 0 and zipfile.is_zipfile(xlsx), output


def test_console_script_is_installed() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dsr"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "map" in result.stdout and "subject" in result.stdout
