"""Golden files: compared by default; with DSR_REGENERATE_GOLDEN=1 rewritten, never silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exports import conftest
from tests.exports.conftest import REGENERATE_VARIABLE, assert_golden


@pytest.fixture
def golden_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(conftest, "GOLDEN_DIR", tmp_path)
    monkeypatch.delenv(REGENERATE_VARIABLE, raising=False)
    return tmp_path


def test_a_matching_text_passes_and_a_different_one_fails_untouched(golden_dir: Path) -> None:
    (golden_dir / "doc.txt").write_text("Bonjour\n", encoding="utf-8")
    assert_golden("doc.txt", "Bonjour  \n\n")

    with pytest.raises(pytest.fail.Exception, match=r"differs from golden/doc\.txt"):
        assert_golden("doc.txt", "Au revoir\n")
    assert (golden_dir / "doc.txt").read_text(encoding="utf-8") == "Bonjour\n"


def test_a_missing_golden_file_fails(golden_dir: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="is missing"):
        assert_golden("new.txt", "Bonjour\n")
    assert not (golden_dir / "new.txt").exists()


def test_regenerating_rewrites_the_file_and_fails_to_say_so(
    golden_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (golden_dir / "doc.txt").write_text("Bonjour\n", encoding="utf-8")
    monkeypatch.setenv(REGENERATE_VARIABLE, "1")

    with pytest.raises(pytest.fail.Exception, match=r"golden/doc\.txt was rewritten") as failed:
        assert_golden("doc.txt", "Au revoir\r\n")
    assert "run again without DSR_REGENERATE_GOLDEN" in str(failed.value)
    assert (golden_dir / "doc.txt").read_text(encoding="utf-8") == "Au revoir\n"

    with pytest.raises(pytest.fail.Exception, match=r"golden/new\.txt was rewritten"):
        assert_golden("new.txt", "Nouveau\n")
    assert (golden_dir / "new.txt").read_text(encoding="utf-8") == "Nouveau\n"


def test_regenerating_a_file_that_already_matches_passes(
    golden_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (golden_dir / "doc.txt").write_text("Bonjour\n", encoding="utf-8")
    monkeypatch.setenv(REGENERATE_VARIABLE, "1")

    assert_golden("doc.txt", "Bonjour\n")
    assert (golden_dir / "doc.txt").read_text(encoding="utf-8") == "Bonjour\n"
