"""The catalogues are complete and current: every string of the pages is in messages.pot, has a
French translation with the same placeholders, and the compiled .mo matches the .po."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "dsr" / "translations"
FRENCH = TRANSLATIONS / "fr" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
REFRESH = "refresh the catalogues as babel.cfg says"


def _read_po(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    """Each message's id: a string, or the tuple of its singular and plural forms."""
    return {
        tuple(message.id) if isinstance(message.id, list | tuple) else str(message.id)
        for message in catalog
        if message.id
    }


def test_the_template_has_every_string_of_the_sources() -> None:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    keywords = {**DEFAULT_KEYWORDS, "lazy_gettext": None}
    extracted = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords=keywords
        )
    }
    assert extracted == _ids(_read_po(TRANSLATIONS / "messages.pot")), REFRESH


def test_every_string_has_a_french_translation_with_its_placeholders() -> None:
    template = _read_po(TRANSLATIONS / "messages.pot")
    french = _read_po(FRENCH / "messages.po")
    assert _ids(french) == _ids(template), REFRESH
    for message in french:
        if not message.id:
            continue
        forms = message.string if isinstance(message.string, list | tuple) else [message.string]
        assert all(forms), f"no translation of {message.id!r}"
        assert not message.fuzzy, f"fuzzy translation of {message.id!r}"
        assert sorted(PLACEHOLDER.findall(str(message.id))) == sorted(
            PLACEHOLDER.findall(str(message.string))
        ), f"the placeholders differ in the translation of {message.id!r}"


def test_the_compiled_catalogue_matches_the_translations() -> None:
    french = _read_po(FRENCH / "messages.po")
    with (FRENCH / "messages.mo").open("rb") as file:
        compiled = read_mo(file)
    assert _translations(compiled) == _translations(french), (
        "run `pybabel compile -d dsr/translations`"
    )


def _translations(catalog: Catalog) -> dict[tuple[object, ...], tuple[str, ...]]:
    """Each message's translation by its context and id (plural forms as tuples)."""
    return {
        (message.context, *_forms(message.id)): _forms(message.string)
        for message in catalog
        if message.id
    }


def _forms(value: object) -> tuple[str, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (str(value),)
