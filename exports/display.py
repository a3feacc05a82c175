"""A value as a person reads it, the way its field's `display` in the map says.

Money in its currency (38900 cents of EUR: "389,00 €" in French, "€389.00" in English), a code by
its name (a country or a language from Babel's CLDR data in the reader's language, or the
organisation's own list), a reference by the label of the row it names (read with the collection,
`inventory.reference_labels`), a date without a time, a timestamp to the minute. A value that does
not fit its display (an unknown code, a currency no one knows, text where a date was expected) is
shown as stored: a report never fails on a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency, format_decimal, get_currency_precision, is_currency

from exports.dates import as_instant, short_date, short_datetime
from inventory.model import (
    CodeDisplay,
    CodeList,
    Field_,
    MoneyDisplay,
    MoneyFormat,
    ReferenceDisplay,
)
from inventory.reference_labels import Labels, label_key, raw_key


def _language(lang: str) -> str:
    return "fr" if lang == "fr" else "en"


def _no_narrow_space(text: str) -> str:
    """Babel's French groups with a narrow no-break space (U+202F); the PDF fonts draw U+00A0."""
    return text.replace("\u202f", "\u00a0")


def shown_text(
    field: Field_,
    value: Any,
    *,
    lang: str,
    system: str,
    row: Mapping[str, Any],
    labels: Labels,
    zone: tzinfo,
    stored_zone: tzinfo,
) -> str | None:
    """Return `value` of `field` as its display writes it in `lang`, or None when the field has
    no display or the value is empty (the caller writes those its own way).

    `row` holds the other values of the same row (by column name: a currency column), `labels`
    the collection's reference labels; a moment stored without a zone is read in `stored_zone`
    (its system's) and shown in `zone` (the organisation's)."""
    display = field.display
    if display is None or value is None or value == "":
        return None
    lang = _language(lang)
    if isinstance(display, MoneyDisplay):
        return money_text(display.money, value, row, lang)
    if isinstance(display, CodeDisplay):
        return code_text(display.code, value, lang)
    if isinstance(display, ReferenceDisplay):
        found = labels.get(label_key(system, display.reference), {})
        return found.get(raw_key(value), str(value))
    if display == "date":
        return date_text(value, lang, stored_zone)
    return timestamp_text(value, lang, zone, stored_zone)


def money_text(money: MoneyFormat, value: Any, row: Mapping[str, Any], lang: str) -> str:
    """Write an amount in its currency; without a known currency, the number and the code."""
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    column = money.currency_column
    currency = money.currency if column is None else row.get(column.split(".", 1)[1])
    code = str(currency).strip().upper() if currency is not None else ""
    return _amount_text(str(amount), code, money.minor_units, str(currency or ""), lang)


@lru_cache(maxsize=4096)
def _amount_text(amount: str, code: str, minor_units: bool, currency: str, lang: str) -> str:
    """`money_text` of the Decimal written `amount`, once per process: Babel's currency
    formatting is slow, and the prices of an organisation's products come back in every
    report."""
    value = Decimal(amount)
    known = bool(code) and is_currency(code)
    if minor_units:
        value = value.scaleb(-get_currency_precision(code) if known else -2)
    if known:
        return _no_narrow_space(format_currency(value, code, locale=lang))
    number = _no_narrow_space(format_decimal(value, locale=lang))
    return f"{number} {currency}" if currency else number


def code_text(code: str | CodeList, value: Any, lang: str) -> str:
    """Name a code from its list in `lang`; a code the list lacks is shown as it is."""
    text = str(value).strip()
    if isinstance(code, CodeList):
        label = code.labels.get(text)
        if label is not None:
            return label.get(lang)
        if code.prefix:
            starts = [k for k in code.labels if text.startswith(k)]
            if starts:
                longest = max(starts, key=len)
                rest = text[len(longest) :].lstrip("-_ ./")
                return f"{code.labels[longest].get(lang)} {rest}".strip()
        return text
    locale = Locale.parse(lang)
    if code == "country":
        return str(locale.territories.get(text.upper(), text))
    name = locale.languages.get(text.replace("-", "_")) or locale.languages.get(text.lower())
    if name:
        return str(name)
    try:
        return str(Locale.parse(text, sep="-" if "-" in text else "_").get_display_name(lang))
    except (ValueError, TypeError, UnknownLocaleError):
        return text


def date_text(value: Any, lang: str, stored_zone: tzinfo) -> str:
    """Write a calendar day: a moment's day in its system's zone, never its time."""
    if isinstance(value, datetime):
        day = as_instant(value, stored_zone).astimezone(stored_zone).date()
        return short_date(day, lang)
    if isinstance(value, date):
        return short_date(value, lang)
    try:
        return short_date(date.fromisoformat(str(value)[:10]), lang)
    except ValueError:
        return str(value)


def timestamp_text(value: Any, lang: str, zone: tzinfo, stored_zone: tzinfo) -> str:
    """Write a moment to the minute in `zone`, one stored without a zone read in `stored_zone`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return short_datetime(as_instant(value, stored_zone), lang, zone)
    if isinstance(value, date):
        return short_date(value, lang)
    return str(value)


__all__ = ["code_text", "date_text", "money_text", "shown_text", "timestamp_text"]
