"""Whether a free question to the requester asks for an identity document (R2, Art. 12(6)).

An identity document is asked for only through the action that records the written reason
(`staff_actions.ask_for_identity_document`); the free question refuses a text that asks for one.
Pure: a table of phrases in French and English, matched on the text with its accents, case,
apostrophes, hyphens and spacing folded, so that "Pièce d’identité", "PIECE D'IDENTITE" and
"pièce-d'identité" are one phrase. Add a phrase to `IDENTITY_DOCUMENT_PHRASES`, with a test.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class IdentityPhrase:
    """One way of naming an identity document: how people read it, and its pattern on the
    folded text (lower case ASCII words separated by single spaces, see `fold`)."""

    shown: str
    pattern: re.Pattern[str]


def _phrase(shown: str, pattern: str) -> IdentityPhrase:
    return IdentityPhrase(shown, re.compile(rf"\b(?:{pattern})\b"))


_OF_ID = r"(?:(?:d|de|de l|de la|de votre|de ta|de vos) ?)?identites?"
"""French "d'identité" and its variants once folded: "d identite", "de votre identite", the
"d'" forgotten ("carte identité")..."""

IDENTITY_DOCUMENT_PHRASES: tuple[IdentityPhrase, ...] = (
    # French
    _phrase("pièce d'identité", rf"pieces? (?:justificatives? |officielles? )?{_OF_ID}"),
    _phrase("carte d'identité", rf"cartes? (?:nationales? )?{_OF_ID}"),
    _phrase("CNI", r"cni"),
    _phrase("passeport", r"passeports?"),
    _phrase("permis de conduire", r"permis (?:de )?conduire"),
    _phrase("titre de séjour", r"titres? de sejour|cartes? de (?:sejour|resident)"),
    _phrase("justificatif d'identité", rf"justificatifs? {_OF_ID}|preuves? {_OF_ID}"),
    _phrase("titre d'identité", rf"titres? {_OF_ID}"),
    _phrase(
        "document d'identité",
        rf"documents? (?:officiels? )?{_OF_ID}"
        r"|documents? (?:prouvant|attestant|justifiant) (?:de )?(?:votre |ton )?identite"
        rf"|papiers? {_OF_ID}",
    ),
    _phrase("copie recto verso", r"(?:copies?|scans?|photos?) recto verso"),
    # English
    _phrase(
        "identity document",
        r"identi(?:ty|fication) (?:documents?|papers?|cards?)"
        r"|documents? (?:proving|showing|that proves) (?:your )?identity",
    ),
    _phrase("ID card", r"id (?:cards?|documents?|papers?)|national id"),
    _phrase("passport", r"passports?(?! free)"),
    _phrase(
        "driving licence",
        r"driv(?:ing|ers?|er s) (?:licen[cs]es?|permits?)",
    ),
    _phrase("residence permit", r"residen(?:ce|cy) (?:permits?|cards?)"),
    _phrase("proof of identity", r"proofs? of (?:your )?(?:identity|id)"),
    _phrase(
        "photo ID",
        r"photo(?:graphic)? id|government (?:issued )?id|official id"
        r"|forms? of (?:photo )?(?:identification|id)",
    ),
    _phrase("copy of your ID", r"(?:copy|copies|scan|scans|photo|picture) of (?:your )?id"),
)
"""The phrases that ask for an identity document; `shown` names the one found in a message."""


_ACRONYM = re.compile(r"\b[^\W\d_](?:\.[^\W\d_])+\b\.?")
"""Letters with dots between them, "I.D." or "C.N.I.", written as one word by `fold`."""


def fold(text: str) -> str:
    """Return `text` as the phrases are written: accents dropped, lower case, dotted acronyms
    joined ("I.D." is "id"), and every run of other characters than letters and digits
    (apostrophes, hyphens, dots, spaces) one space."""
    text = _ACRONYM.sub(lambda found: found.group().replace(".", ""), text)
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.split(r"[\W_]+", plain.casefold())).strip()


def identity_document_asked(text: str) -> str | None:
    """Return the phrase by which `text` asks for an identity document, or None if it does not."""
    folded = f" {fold(text)} "
    for phrase in IDENTITY_DOCUMENT_PHRASES:
        if phrase.pattern.search(folded):
            return phrase.shown
    return None
