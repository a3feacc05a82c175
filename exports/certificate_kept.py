"""The parts of the erasure certificate that say what remains (R17, R32): rows anonymised or only
pseudonymised, data kept with the last day of each record and whether it is out of use, and what
the desk itself keeps about the request, why and until when.

Pure functions of the map and of the erasure's counts and dates, worded through the catalogue
(context "certificate"); `exports.certificate` puts them in the document and the email.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from gettext import NullTranslations

from exports.dates import long_date, long_day
from inventory.identification import still_identifying
from inventory.model import DataMap, ErasureAction

LISTED_DAYS = 8
"""Up to this many different last days are listed one by one; more are summed up per year."""


@dataclass(frozen=True, slots=True)
class CategoryOutcome:
    """One category's part of the erasure: its action and rows over all its tables; of kept
    rows, how many were taken out of use and the last day each record is kept (one per row of
    the table the category's records are dated in)."""

    category: str
    action: ErasureAction
    rows: int
    tables: tuple[str, ...]
    withdrawn: int = 0
    kept_until: tuple[date | None, ...] = ()


def last_day(outcome: CategoryOutcome) -> date | None:
    """Return the last day any record of the category is kept, or None when one has no end."""
    if not outcome.kept_until or None in outcome.kept_until:
        return None
    return max(d for d in outcome.kept_until if d is not None)


def is_withdrawn(outcome: CategoryOutcome) -> bool:
    """Tell whether every kept record of the category was taken out of everyday use."""
    return outcome.rows > 0 and outcome.withdrawn >= outcome.rows


def remains(
    data_map: DataMap,
    outcome: CategoryOutcome,
    outcomes: Sequence[CategoryOutcome],
    lang: str,
    t: NullTranslations,
) -> str | None:
    """Say what still ties an anonymised category's rows to the person, or None when nothing
    does (they are then truly anonymous)."""
    kept = {o.category: o for o in outcomes if o.action is ErasureAction.RETAIN}
    ties = still_identifying(data_map, outcome.category, kept)
    if not ties:
        return None
    parts = []
    for other, fields in ties.linked.items():
        labels = ", ".join(f.label.get(lang) for f in fields)
        end = last_day(kept[other])
        parts.append(
            (
                t.pgettext(
                    "certificate",
                    "still linked to your kept %(category)s, which bear %(fields)s, until %(date)s",
                )
                if end is not None
                else t.pgettext(
                    "certificate",
                    "still linked to your kept %(category)s, which bear %(fields)s, for as long "
                    "as they are kept",
                )
            )
            % {
                "category": data_map.categories[other].title.get(lang).lower(),
                "fields": labels.lower(),
                "date": long_day(end, lang) if end is not None else "",
            }
        )
    if ties.own_fields:
        parts.append(
            t.pgettext("certificate", "still holds %(fields)s, in a form we could match")
            % {"fields": ", ".join(f.label.get(lang).lower() for f in ties.own_fields)}
        )
    return t.pgettext("certificate", "Pseudonymised: %(what)s.") % {"what": "; ".join(parts)}


def kept_days(outcome: CategoryOutcome, lang: str, t: NullTranslations) -> str:
    """Return the last day of each kept record, readable however many there are: each day with
    its count, or, beyond `LISTED_DAYS` days, the first and last with a count per year."""
    days = Counter(d for d in outcome.kept_until if d is not None)
    undated = sum(1 for d in outcome.kept_until if d is None)
    lines = []
    if len(days) <= LISTED_DAYS:
        for day, count in sorted(days.items()):
            lines.append(_count_line(t, long_day(day, lang), count))
    else:
        first, last = min(days), max(days)
        lines.append(
            t.pgettext(
                "certificate", "from %(first)s to %(last)s, each record on its own day; per year:"
            )
            % {"first": long_day(first, lang), "last": long_day(last, lang)}
        )
        per_year = Counter[int]()
        for day, count in days.items():
            per_year[day.year] += count
        for year, count in sorted(per_year.items()):
            lines.append(_count_line(t, str(year), count))
    if undated:
        lines.append(
            t.npgettext(
                "certificate",
                "%(count)s record has no date: no end can be computed",
                "%(count)s records have no date: no end can be computed",
                undated,
            )
            % {"count": undated}
        )
    return "\n".join(lines)


def _count_line(t: NullTranslations, when: str, count: int) -> str:
    return t.npgettext(
        "certificate", "%(when)s (%(count)s record)", "%(when)s (%(count)s records)", count
    ) % {"when": when, "count": count}


def use_line(data_map: DataMap, outcome: CategoryOutcome, lang: str, t: NullTranslations) -> str:
    """Say whether the category's kept records were taken out of everyday use."""
    title = data_map.categories[outcome.category].title.get(lang)
    if is_withdrawn(outcome):
        return t.pgettext(
            "certificate",
            "%(category)s: withdrawn from everyday use; they are only stored until the end of "
            "their period.",
        ) % {"category": title}
    return t.pgettext(
        "certificate",
        "%(category)s: kept as they are; they were not taken out of everyday use.",
    ) % {"category": title}


def desk_records(
    reference: str, address_kept_until: datetime, lang: str, t: NullTranslations, zone: tzinfo
) -> list[str]:
    """Say what the desk keeps about the request itself, why and until when (R32)."""
    return [
        t.pgettext(
            "certificate",
            "The record of your request %(reference)s (its dates and the log of the steps "
            "taken) is kept as proof that we answered it (GDPR Article 5(2)). Your email "
            "address, your message and the emails we sent you about it are kept in it until "
            "%(date)s; after that date the address is replaced by a keyed digest, and the "
            "message and the emails are deleted.",
        )
        % {"reference": reference, "date": long_date(address_kept_until, lang, zone)},
        t.pgettext(
            "certificate",
            "A keyed digest of your email address, from which the address cannot be read back, "
            "stays on our suppression list with no end date, so that you are never sent "
            "marketing again nor added back by an import.",
        ),
        t.pgettext(
            "certificate",
            "This certificate, which names no one, is kept with the record of your request.",
        ),
    ]
