"""The arrows between the desk's packages point one way: read each module's imports (those inside
functions too) and check the ones that must not exist."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

DSR = Path(__file__).resolve().parent.parent / "dsr"


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
        if module == "dsr.requests" or module.startswith("dsr.requests.")
    )
    assert found == []


@pytest.mark.parametrize("package", ["dsr.accounts", "dsr.outbox"])
def test_importing_accounts_or_outbox_loads_nothing_of_requests(package: str) -> None:
    """Not even through a shared module (dsr.i18n once named the request types and statuses)."""
    code = (
        "import importlib, pkgutil, sys\n"
        f"package = importlib.import_module({package!r})\n"
        "for info in pkgutil.iter_modules(package.__path__, package.__name__ + '.'):\n"
        "    importlib.import_module(info.name)\n"
        "print(sorted(m for m in sys.modules if m.startswith('dsr.requests')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
