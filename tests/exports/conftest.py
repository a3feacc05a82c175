"""Helpers for the tests of documents: golden files and the text of a PDF.

`assert_golden(name, text)` compares `text` with `tests/golden/<name>`; with the environment
variable DSR_REGENERATE_GOLDEN=1 it rewrites a file that differs instead, and fails saying so, so
that the rewrite is reviewed in the diff (a file that already matches passes). It is
also a fixture of the same name, so tests anywhere under this folder need no import; so are
`pdf_text` and `pdf_pages_text`.
"""

from __future__ import annotations

import difflib
import io
import os
from collections.abc import Callable
from gettext import NullTranslations
from pathlib import Path

import pytest
from pypdf import PdfReader

from dsr.languages import Language, translations

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
REGENERATE_VARIABLE = "DSR_REGENERATE_GOLDEN"


def translations_for(lang: str) -> NullTranslations:
    """The catalogue the desk hands a document in `lang`: French for "fr", else English."""
    return translations(Language.FR if lang == "fr" else Language.EN)


def _normalised(text: str) -> str:
    """Drop trailing spaces and final blank lines: editors' whitespace fixes must not matter."""
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    return "\n".join(lines).rstrip("\n") + "\n"


def assert_golden(name: str, text: str) -> None:
    """Fail unless `text` matches the golden file `name`; rewrite it when asked to regenerate."""
    path = GOLDEN_DIR / name
    actual = _normalised(text)
    if os.environ.get(REGENERATE_VARIABLE) == "1":
        if path.exists() and _normalised(path.read_text(encoding="utf-8")) == actual:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
        # Fail, so that a regeneration is always seen: with the variable left set, a regression
        # would otherwise be written into the golden file and the run stay green.
        pytest.fail(
            f"golden/{name} was rewritten because {REGENERATE_VARIABLE}=1: review it with "
            f"`git diff tests/golden/{name}`, then run again without {REGENERATE_VARIABLE}",
            pytrace=False,
        )
    if not path.exists():
        pytest.fail(
            f"golden file {path} is missing: run the test with {REGENERATE_VARIABLE}=1 to write "
            "it, then review it"
        )
    expected = _normalised(path.read_text(encoding="utf-8"))
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                actual.splitlines(keepends=True),
                fromfile=f"golden/{name}",
                tofile="produced",
            )
        )
        pytest.fail(
            f"output differs from golden/{name} (if the change is wanted, rerun with "
            f"{REGENERATE_VARIABLE}=1 and review the diff):\n{diff}"
        )


@pytest.fixture(name="assert_golden")
def assert_golden_fixture() -> Callable[[str, str], None]:
    return assert_golden


def pdf_pages_text(data: bytes) -> list[str]:
    """Return the text pypdf extracts from each page of a PDF."""
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_text(data: bytes) -> str:
    """Return the text of a whole PDF, each page under a `--- page N ---` line (golden files)."""
    return "\n".join(
        f"--- page {number} ---\n{text}"
        for number, text in enumerate(pdf_pages_text(data), start=1)
    )


@pytest.fixture(name="pdf_text")
def pdf_text_fixture() -> Callable[[bytes], str]:
    return pdf_text


@pytest.fixture(name="pdf_pages_text")
def pdf_pages_text_fixture() -> Callable[[bytes], list[str]]:
    return pdf_pages_text
