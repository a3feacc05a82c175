"""`dsr map check --live` on the map's displays: a reference to a missing table or column is an
error; a code the data holds and its list does not name is a warning at the list's line."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from dsr.cli import main
from dsr.demo.seed import seed_platform

ROOT = Path(__file__).parents[2]
MAP = (ROOT / "data_map.yaml").read_text(encoding="utf-8")


def check(tmp_path: Path, text: str, env: dict[str, str]) -> tuple[int, str]:
    path = tmp_path / "map.yaml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["--map", str(path), "map", "check", "--live"], env=env)
    return result.exit_code, result.output


def test_live_check_of_references_and_code_lists(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'platform.sqlite3'}"
    seed_platform(url, learners=10, seed=5)
    env = {"POINT3_PLATFORM_URL": url}

    code, output = check(tmp_path, MAP, env)
    assert code == 0, output
    assert "holds codes its list does not name" not in output

    offers = "              offres: {fr: Offres et promotions, en: Offers and promotions}\n"
    assert MAP.count(offers) == 1
    without_offers = MAP.replace(offers, "")
    code, output = check(tmp_path, without_offers, env)
    assert code == 0, output
    line = without_offers[: without_offers.index("display:\n          code:")].count("\n") + 1
    assert (
        f"map.yaml:{line + 1}:11: [learner_platform] `email_open.campaign` holds codes its "
        "list does not name, shown as stored: `offres-" in output
    ), output

    renamed = MAP.replace(
        "{table: course, key: id, label: title}", "{table: course, key: id, label: name}", 1
    )
    code, output = check(tmp_path, renamed, env)
    assert code == 1, output
    assert "error: [learner_platform] `course_comment.course_id` is shown through column " in output
    assert "`course.name`, which the database does not have." in output

    missing = MAP.replace(
        "{table: course, key: id, label: title}", "{table: courses, key: id, label: title}", 1
    )
    code, output = check(tmp_path, missing, env)
    assert code == 1, output
    assert "is shown by a row of table `courses`, which the database does not have." in output
