"""Compare an organisation's existing privacy notice (text) with the data map: what the map holds
that the notice does not say.

Deterministic, not a reading of the text: each thing the map holds that a notice must mention
(Art. 13 and 14) is looked for as words, in French or English, in the notice's text folded to
lower case without accents: the controller's name, the DPO's contact, the supervisory authority,
each legal basis the map uses, each recipient's name, each retention period ("3 ans", "3 years"),
each country data is transferred to, each right and automated decisions. What none of its forms
is found for is reported missing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from gettext import NullTranslations
from urllib.parse import urlsplit

from inventory.model import DataMap, LegalBasis, country_name

_BASIS_WORDS: Mapping[LegalBasis, str] = {
    LegalBasis.CONSENT: r"\bconsentement|\bconsent\b",
    LegalBasis.CONTRACT: r"execution (d'un|du|de votre) contrat|mesures precontractuelles"
    r"|performance of (a|the|your) contract|necessary for (a|the|your) contract",
    LegalBasis.LEGAL_OBLIGATION: r"obligations? legales?|legal obligations?",
    LegalBasis.VITAL_INTERESTS: r"interets? vita(l|ux)|vital interests?",
    LegalBasis.PUBLIC_TASK: r"mission d'interet public|public interest|public task",
    LegalBasis.LEGITIMATE_INTERESTS: r"interets? legitimes?|legitimate interests?",
}
"""How a notice names each legal basis, in French or English (folded text)."""

_RIGHT_WORDS: tuple[tuple[str, str], ...] = (
    (
        "access",
        r"droits? d'acces|acceder a vos donnees|\bacces ?:|copie de vos donnees"
        r"|right (of|to) access|access your data|\baccess ?:|copy of your (personal )?data",
    ),
    ("rectification", r"\brectif"),
    ("erasure", r"effacement|droit a l'oubli|\berasure\b|right to be forgotten"),
    ("restriction", r"\blimitation\b|\brestriction\b"),
    ("portability", r"portabilit"),
    ("objection", r"\bopposition\b|vous opposer|s'opposer|right to object|\bobject to\b"),
    (
        "withdrawal",
        r"retir\w* (votre |son |le )?consentement|retrait (de votre |du )?consentement"
        r"|withdraw\w* (your )?consent",
    ),
    ("post_mortem", r"post[- ]?mortem|apres (votre |son )?deces|after (your )?death"),
    ("complaint", r"reclamation|\bplainte|complaint"),
)
_AUTOMATED_WORDS = r"decisions? (individuelles? )?automatis|automated decision|profilage|profiling"


def folded(text: str) -> str:
    """Lower case, no accents, straight apostrophes, single spaces: what the words are sought in."""
    decomposed = unicodedata.normalize("NFKD", text.replace("’", "'").replace("ʼ", "'"))
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


@dataclass(frozen=True)
class Mention:
    """Something the notice must say: what it is, in the staff's words, and the patterns of the
    folded text any of which says it."""

    what: str
    patterns: tuple[str, ...]

    def said_in(self, text: str) -> bool:
        return any(re.search(pattern, text) for pattern in self.patterns)


def _literal(*forms: str | None) -> tuple[str, ...]:
    """Patterns of `forms` as whole words ("3 ans" is not in "13 ans")."""
    return tuple(
        rf"(?<!\w){re.escape(folded(form))}(?!\w)" for form in dict.fromkeys(forms) if form
    )


def _authority_forms(data_map: DataMap) -> tuple[str, ...]:
    """The authority's name, its acronym in brackets ("CNIL"), its email and its web site."""
    authority = data_map.organisation.supervisory_authority
    acronyms = re.findall(r"\(([^()]+)\)", authority.name)
    site = urlsplit(authority.website).hostname if authority.website else None
    host = site.removeprefix("www.") if site else None
    return _literal(authority.name, *acronyms, authority.email, host)


def _right_names(translations: NullTranslations) -> dict[str, str]:
    t = translations
    return {
        "access": t.pgettext("notice check", "the right of access"),
        "rectification": t.pgettext("notice check", "the right to rectification"),
        "erasure": t.pgettext("notice check", "the right to erasure"),
        "restriction": t.pgettext("notice check", "the right to restriction of processing"),
        "portability": t.pgettext("notice check", "the right to data portability"),
        "objection": t.pgettext("notice check", "the right to object"),
        "withdrawal": t.pgettext("notice check", "the right to withdraw consent"),
        "post_mortem": t.pgettext("notice check", "post-mortem directives"),
        "complaint": t.pgettext("notice check", "the right to lodge a complaint"),
    }


def expected_mentions(
    data_map: DataMap,
    catalogues: Sequence[NullTranslations],
    lang: str,
    translations: NullTranslations,
) -> list[Mention]:
    """What a notice of `data_map` must mention, with the forms of each in the languages of
    `catalogues` (periods are said as each catalogue says them); `translations`, the catalogue of
    `lang`, names them."""
    t = translations
    organisation = data_map.organisation
    dpo = organisation.dpo
    mentions = [
        Mention(
            t.pgettext("notice check", "the controller: %(name)s") % {"name": organisation.name},
            _literal(organisation.name, organisation.controller.name),
        ),
        Mention(
            t.pgettext("notice check", "the DPO's contact: %(contact)s")
            % {"contact": dpo.email or dpo.address or dpo.name},
            _literal(dpo.email) or _literal(dpo.address, dpo.name),
        ),
        Mention(
            t.pgettext("notice check", "the supervisory authority: %(name)s")
            % {"name": organisation.supervisory_authority.name},
            _authority_forms(data_map),
        ),
    ]
    bases = [basis for c in data_map.categories.values() for basis in c.bases] + [
        a.legal_basis for a in data_map.activities.values() if a.legal_basis is not None
    ]
    mentions += [
        Mention(
            t.pgettext("notice check", "the legal basis: %(basis)s") % {"basis": basis.describe(t)},
            (_BASIS_WORDS[basis],),
        )
        for basis in LegalBasis
        if basis in bases
    ]
    mentions += [
        Mention(
            t.pgettext("notice check", "the recipient: %(name)s")
            % {"name": recipient.name.get(lang)},
            _literal(recipient.name.fr, recipient.name.en),
        )
        for recipient in data_map.recipients.values()
    ]
    periods: dict[str, list[str]] = {}
    for category in data_map.categories.values():
        period = category.retention.period
        periods.setdefault(period.describe(t), []).extend(
            period.describe(catalogue) for catalogue in catalogues
        )
    mentions += [
        Mention(
            t.pgettext("notice check", "the retention period: %(period)s") % {"period": period},
            _literal(*forms),
        )
        for period, forms in periods.items()
    ]
    countries = dict.fromkeys(
        r.country for r in data_map.recipients.values() if r.outside_eea and r.country
    )
    mentions += [
        Mention(
            t.pgettext("notice check", "the transfer to: %(country)s")
            % {"country": country_name(code, lang)},
            _literal(country_name(code, "fr"), country_name(code, "en")),
        )
        for code in countries
    ]
    names = _right_names(t)
    mentions += [Mention(names[right], (pattern,)) for right, pattern in _RIGHT_WORDS]
    mentions.append(Mention(t.pgettext("notice check", "automated decisions"), (_AUTOMATED_WORDS,)))
    return mentions


def missing_mentions(text: str, mentions: Sequence[Mention]) -> list[Mention]:
    """Return those of `mentions` that `text` does not say, in order."""
    seen = folded(text)
    return [mention for mention in mentions if not mention.said_in(seen)]
