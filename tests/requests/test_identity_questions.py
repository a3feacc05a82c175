"""The detector of free questions that ask for an identity document (R2, Art. 12(6)): it catches
the ways French and English name one, whatever the accents, case and spacing, and lets ordinary
questions through."""

from __future__ import annotations

import pytest

from dsr.requests.identity_questions import fold, identity_document_asked


@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        # French
        ("Pouvez-vous nous envoyer une copie de votre pièce d'identité ?", "pièce d'identité"),
        ("Merci de joindre une pièce d’identité.", "pièce d'identité"),  # typographic apostrophe
        ("MERCI DE JOINDRE VOTRE PIECE D'IDENTITE", "pièce d'identité"),  # capitals, no accents
        ("Envoyez vos pièces  justificatives   d'identité", "pièce d'identité"),
        ("une pièce-d'identité en cours de validité", "pièce d'identité"),
        ("Une photo de votre carte d'identité, recto et verso.", "carte d'identité"),
        ("Une photo de votre carte identité.", "carte d'identité"),  # the "d'" forgotten
        ("Vos pièces d'identités, s'il vous plaît.", "pièce d'identité"),
        ("Un titre d'identité en cours de validité.", "titre d'identité"),
        ("Votre carte nationale d'identité, s'il vous plaît.", "carte d'identité"),
        ("Joignez la copie de votre CNI.", "CNI"),
        ("Joignez la copie de votre C.N.I.", "CNI"),
        ("Pourriez-vous nous transmettre votre passeport ?", "passeport"),
        ("Une copie du permis de conduire suffit.", "permis de conduire"),
        ("Votre titre de séjour ou votre carte de résident.", "titre de séjour"),
        ("Nous avons besoin d'un justificatif d'identité.", "justificatif d'identité"),
        ("Avez-vous une preuve de votre identité ?", "justificatif d'identité"),
        ("Un document officiel d'identité est nécessaire.", "document d'identité"),
        ("Un document prouvant votre identité, s'il vous plaît.", "document d'identité"),
        ("Envoyez-nous une copie recto-verso.", "copie recto verso"),
        # English
        ("Could you send us a copy of your ID card?", "ID card"),
        ("Please attach an I.D. card.", "ID card"),
        ("Please attach an identity document.", "identity document"),
        ("We need your Identity-Card.", "identity document"),
        ("Please send a scan of your passport.", "passport"),
        ("A copy of your driving licence will do.", "driving licence"),
        ("Your driver's license, please.", "driving licence"),
        ("Or your drivers license.", "driving licence"),
        ("Your residence permit, please.", "residence permit"),
        ("Please provide proof of identity.", "proof of identity"),
        ("Please provide proof of ID.", "proof of identity"),
        ("Any photo ID will do.", "photo ID"),
        ("Please send a valid form of identification.", "photo ID"),
        ("A government-issued ID, please.", "photo ID"),
        ("Please send a copy of your ID.", "copy of your ID"),
        ("Please send a document proving your identity.", "identity document"),
    ],
)
def test_a_question_asking_for_an_identity_document_is_caught(question: str, phrase: str) -> None:
    assert identity_document_asked(question) == phrase


@pytest.mark.parametrize(
    "question",
    [
        "Quel est votre identifiant ?",
        "Quelle formation avez-vous suivie ?",
        "Pouvez-vous préciser la période concernée ?",
        "Quelle pièce jointe était illisible ?",
        "Quel est le titre de la formation ?",
        "Votre carte bancaire a-t-elle été débitée ?",
        "Vous pouvez aussi saisir la CNIL (www.cnil.fr).",
        "Avez-vous un permis de travail pour cette mission ?",
        "Confirmez-vous votre identité en répondant depuis l'adresse utilisée pour le compte ?",
        "Which course?",
        "What is your learner ID?",
        "Which identity provider (Google, Microsoft) do you log in with?",
        "Can you identify the invoice you mean?",
        "Which form of the course (online or in class) do you mean?",
        "Can you confirm your passport-free travel booking is the one we should erase?",
        "Could you send the photo I'd like us to remove from your profile?",
        "Which licence did your employer buy?",
        "Please send a copy of the invoice, e.g. the one from March.",
    ],
)
def test_an_ordinary_question_passes(question: str) -> None:
    assert identity_document_asked(question) is None


def test_folding_drops_accents_case_punctuation_and_extra_spaces() -> None:
    assert fold("  Pièce-d’IDENTITÉ…\n  C.N.I. ") == "piece d identite cni"
