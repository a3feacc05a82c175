"""The arrows between the desk's packages point one way: read each module's imports (those inside
functions too) and check the ones that must not exist."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

DSR = Path(__file__).resolve().parent.parent / "dsr"

EMAIL_ENVIRONMENT = frozenset(
    {"email_environment", "RenderedEmail", "render_email", "shown_date", "TYPE_LABELS"}
)
"""What accounts/ and outbox/ still borrow from dsr.requests.emails, until it moves below them."""


def imported(path: Path) -> Iterator[tuple[str, str | None]]:
    """Yield (module, name) for every absolute import in `path`; name is None for `import m`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from ((node.module, alias.name) for alias in node.names)


def test_the_store_module_imports_no_model() -> None:
    """dsr.db gives the models their column types; the registry of all tables is above them."""
    found = [
        f"{module}.{name}" if name else module
        for module, name in imported(DSR / "db.py")
        if module == "dsr" or module.startswith("dsr.")
    ]
    assert found == []


@pytest.mark.parametrize("package", ["accounts", "outbox"])
def test_accounts_and_outbox_sit_below_requests(package: str) -> None:
    found = sorted(
        f"{path.relative_to(DSR.parent)}: {module} {name or ''}".strip()
        for path in (DSR / package).rglob("*.py")
        for module, name in imported(path)
        if (module == "dsr.requests" or module.startswith("dsr.requests."))
        and not (module == "dsr.requests.emails" and name in EMAIL_ENVIRONMENT)
    )
    assert found == []
