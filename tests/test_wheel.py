"""The desk installs as a wheel: its templates, stylesheets, catalogues and migrations ship inside
the package, so an installed desk renders its pages and emails without a checkout beside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("dsr", "inventory", "exports", "pyproject.toml", "README.md")

RENDER_FROM_THE_WHEEL = """
import sys
from pathlib import Path
import dsr
assert Path(dsr.__file__).is_relative_to(Path(sys.argv[1])), dsr.__file__
from dsr.app import create_app
from dsr.languages import Language
from dsr.outbox.emails import render_email
app = create_app({
    "TESTING": True,
    "SECRET_KEY": "a secret for the wheel test",
    "DATABASE_URL": sys.argv[2],
    "DATA_MAP": sys.argv[3],
})
with app.test_client() as client:
    form = client.get("/", headers={"Accept-Language": "fr"})
    page = form.get_data(as_text=True)
    print("form", form.status_code, "Faire une demande sur vos données personnelles" in page)
    css = client.get("/static/style.css")
    print("css", css.status_code, len(css.data) > 0)
    css.close()
email = render_email(
    "verification",
    Language.FR,
    reference="DSR-2026-000001",
    received_on="3 décembre 2026",
    type_label="une copie de vos données",
    verify_url="https://desk.example/verify/x",
    valid_hours=24,
    reused=False,
    message=None,
    rectification=None,
)
print("email", "Confirmez" in email.subject, "https://desk.example/verify/x" in email.text)
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel from a copy of the sources (nothing written into the checkout)."""
    source = tmp_path_factory.mktemp("source")
    for name in SOURCES:
        origin = PROJECT_ROOT / name
        if origin.is_dir():
            shutil.copytree(
                origin, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(origin, source / name)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["--no-index", "-w", str(out), str(source)],
        check=True,
        timeout=600,
    )
    (built,) = out.glob("privacy_desk-*.whl")
    return built


def test_the_wheel_holds_templates_stylesheets_catalogues_and_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for expected in (
        "dsr/templates/base.html",
        "dsr/templates/public/request_form.html",
        "dsr/templates/emails/verification.txt",
        "dsr/templates/emails/verification.html",
        "dsr/static/style.css",
        "dsr/static/dashboard.css",
        "dsr/translations/fr/LC_MESSAGES/messages.mo",
        "dsr/migrations/script.py.mako",
        "exports/fonts/DejaVuSans.ttf",
    ):
        assert expected in names, f"{expected} is missing from {wheel.name}"
    assert not any(name.startswith(("templates/", "static/")) for name in names)


def test_the_installed_desk_renders_its_pages_and_emails(wheel: Path, tmp_path: Path) -> None:
    """Unpacked away from the checkout and run from elsewhere, the wheel's package serves the
    request form in French with its stylesheet and renders an email from its own templates."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    store = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    subprocess.run(
        [sys.executable, "-c", "import sys; from dsr import db; db.run_migrations(sys.argv[1])"]
        + [store],
        check=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    result = subprocess.run(
        [sys.executable, "-c", RENDER_FROM_THE_WHEEL, str(site), store]
        + [str(PROJECT_ROOT / "data_map.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:3] == ["form 200 True", "css 200 True", "email True True"]
