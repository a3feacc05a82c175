"""The wording of the access report and the portable export, in French and in English.

Kept apart from the layout so that a reviewer of the words reads them in one place. Placeholders
are `str.format` fields; the organisation's own sentences come from the data map, not from here.
"""

from __future__ import annotations

WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "title": "Copie de vos données personnelles",
        "subtitle": "Réponse à votre demande d'accès (article 15 du RGPD) — {organisation}",
        "subject": "Droit d'accès : copie des données personnelles et informations (art. 15 RGPD)",
        "page": "Page {page} sur {total}",
        "intro": (
            "Vous nous avez demandé une copie des données personnelles que nous détenons à votre "
            "sujet. Ce document les reprend toutes, catégorie par catégorie, avec pour chacune "
            "les finalités du traitement, sa base légale, ses destinataires, sa durée de "
            "conservation et la source des données ; il se termine par vos droits et la manière "
            "de les exercer."
        ),
        "request": "Votre demande",
        "reference": "Référence",
        "requester": "Adresse électronique vérifiée",
        "received_at": "Demande reçue le",
        "completed_at": "Réponse établie le",
        "controller_block": "Responsable du traitement",
        "organisation": "Organisme",
        "controller": "Contact du responsable du traitement",
        "dpo": "Délégué à la protection des données (DPO)",
        "summary": "Synthèse des données trouvées",
        "category": "Catégorie",
        "records": "Nombre d'enregistrements",
        "systems": "Systèmes",
        "no_data": (
            "Nous n'avons trouvé aucune donnée personnelle vous concernant, associée à l'adresse "
            "électronique de votre demande, dans aucun de nos systèmes."
        ),
        "no_data_info": (
            "Les informations sur vos droits restent valables si vous pensez que nous détenons "
            "des données vous concernant sous une autre adresse ou un autre identifiant : "
            "écrivez-nous."
        ),
        "details": "Vos données, catégorie par catégorie",
        "about": "Informations sur le traitement",
        "description": "De quoi il s'agit",
        "purposes": "Finalités",
        "legal_basis": "Base légale",
        "recipients": "Destinataires",
        "no_recipients": "Aucun destinataire en dehors de {organisation}",
        "recipient": "{name} : {description}",
        "retention": "Durée de conservation",
        "period": "Durée : {}",
        "from": "Point de départ : {}",
        "legal_source": "Source : {}",
        "source": "Source des données",
        "data": "Les données",
        "record_count_one": "1 enregistrement",
        "record_count_many": "{count} enregistrements",
        "record": "Enregistrement {number} sur {total}",
        "redacted": "[masqué : données d'une autre personne]",
        "redacted_note": (
            "Certaines lignes contiennent des données d'autres personnes (par exemple les messages "
            "d'un autre participant à une conversation) : leur contenu est masqué."
        ),
        "yes": "Oui",
        "no": "Non",
        "empty": "—",
        "cut": (
            "[… {count} caractères de plus, non imprimés ici : demandez-nous la valeur complète]"
        ),
        "rights": "Vos droits",
        "rights_intro": (
            "Le Règlement général sur la protection des données (RGPD) vous donne les droits "
            "suivants sur les données de ce document."
        ),
        "right_rectification": (
            "Rectification (article 16) : faire corriger des données inexactes ou compléter des "
            "données incomplètes."
        ),
        "right_erasure": (
            "Effacement (article 17) : faire effacer vos données, sauf celles que la loi nous "
            "oblige à conserver (par exemple les factures)."
        ),
        "right_restriction": (
            "Limitation du traitement (article 18) : faire geler l'utilisation de vos données, "
            "par exemple le temps de vérifier une contestation."
        ),
        "right_objection": (
            "Opposition (article 21) : vous opposer à un traitement fondé sur notre intérêt "
            "légitime, et à tout moment à la prospection commerciale."
        ),
        "right_portability": (
            "Portabilité (article 20) : recevoir les données que vous nous avez fournies dans un "
            "format structuré et lisible par machine, ou les faire transmettre à un autre "
            "organisme."
        ),
        "right_consent": (
            "Retrait du consentement (article 7) : retirer à tout moment un consentement donné, "
            "sans remettre en cause les traitements faits avant ce retrait."
        ),
        "exercise": "Comment exercer vos droits",
        "exercise_text": (
            "Écrivez à notre délégué à la protection des données : {dpo}. Nous vous répondons "
            "dans un délai d'un mois, prolongeable de deux mois en cas de demande complexe ; nous "
            "vous en informons alors dans le premier mois. L'exercice de vos droits est gratuit."
        ),
        "complaint": "Réclamation auprès de l'autorité de contrôle",
        "complaint_text": (
            "Si vous estimez que le traitement de vos données ne respecte pas la réglementation, "
            "vous pouvez introduire une réclamation auprès de : {authority}."
        ),
        "automated": "Décisions automatisées et profilage",
        "transfers": "Transferts hors de l'Union européenne",
        "transfer_recipient": "{name} ({country}) : {safeguards}",
        "no_safeguards": "garanties non précisées",
        # The portable export
        "readme": (
            "Export de vos données personnelles (portabilité, article 20 du RGPD)\n"
            "{organisation} — demande {reference}, établi le {completed_at}\n"
            "\n"
            "Cette archive contient les données que vous nous avez fournies ou qui résultent de "
            "votre utilisation de nos services, lorsque leur traitement repose sur votre "
            "consentement ou sur un contrat (article 20 du RGPD). Les autres données figurent "
            "dans le rapport d'accès (PDF).\n"
            "\n"
            "Pour chaque catégorie, deux fichiers :\n"
            "- <catégorie>.json : les données au format JSON, avec un bloc « schema » qui décrit "
            "chaque champ (nom, libellé en français et en anglais, type). Dates et heures au "
            "format ISO 8601 en UTC.\n"
            "- <catégorie>.csv : les mêmes données en CSV (UTF-8 avec BOM, séparateur virgule), "
            "lisible par un tableur. Une cellule qui commence par =, +, - ou @ est précédée d'une "
            "apostrophe pour qu'un tableur ne l'exécute pas comme une formule.\n"
            "\n"
            "Les messages écrits par d'autres personnes n'en font pas partie.\n"
            "\n"
            "Catégories :\n"
            "{categories}\n"
        ),
        "readme_empty": "(aucune donnée portable n'a été trouvée)",
    },
    "en": {
        "title": "Copy of your personal data",
        "subtitle": "Answer to your access request (GDPR Article 15) — {organisation}",
        "subject": "Right of access: copy of personal data and information (GDPR Art. 15)",
        "page": "Page {page} of {total}",
        "intro": (
            "You asked us for a copy of the personal data we hold about you. This document gives "
            "all of it, category by category, with for each the purposes of the processing, its "
            "legal basis, its recipients, how long it is kept and where the data comes from; it "
            "ends with your rights and how to exercise them."
        ),
        "request": "Your request",
        "reference": "Reference",
        "requester": "Verified email address",
        "received_at": "Request received on",
        "completed_at": "Answer prepared on",
        "controller_block": "Controller",
        "organisation": "Organisation",
        "controller": "Controller contact",
        "dpo": "Data protection officer (DPO)",
        "summary": "Summary of the data found",
        "category": "Category",
        "records": "Number of records",
        "systems": "Systems",
        "no_data": (
            "We found no personal data about you, linked to the email address of your request, "
            "in any of our systems."
        ),
        "no_data_info": (
            "The information on your rights still applies if you think we hold data about you "
            "under another address or identifier: write to us."
        ),
        "details": "Your data, category by category",
        "about": "About the processing",
        "description": "What it is",
        "purposes": "Purposes",
        "legal_basis": "Legal basis",
        "recipients": "Recipients",
        "no_recipients": "No recipient outside {organisation}",
        "recipient": "{name}: {description}",
        "retention": "Retention period",
        "period": "Period: {}",
        "from": "Starting from: {}",
        "legal_source": "Source: {}",
        "source": "Source of the data",
        "data": "The data",
        "record_count_one": "1 record",
        "record_count_many": "{count} records",
        "record": "Record {number} of {total}",
        "redacted": "[redacted: another person's data]",
        "redacted_note": (
            "Some rows hold other people's data (for example the messages of another participant "
            "in a conversation): their content is redacted."
        ),
        "yes": "Yes",
        "no": "No",
        "empty": "—",
        "cut": "[… {count} more characters, not printed here: ask us for the complete value]",
        "rights": "Your rights",
        "rights_intro": (
            "The General Data Protection Regulation (GDPR) gives you the following rights over the "
            "data in this document."
        ),
        "right_rectification": (
            "Rectification (Article 16): have inaccurate data corrected or incomplete data "
            "completed."
        ),
        "right_erasure": (
            "Erasure (Article 17): have your data erased, except what the law obliges us to keep "
            "(invoices, for example)."
        ),
        "right_restriction": (
            "Restriction of processing (Article 18): have the use of your data frozen, for "
            "example while a dispute about it is checked."
        ),
        "right_objection": (
            "Objection (Article 21): object to processing based on our legitimate interests, and "
            "at any time to direct marketing."
        ),
        "right_portability": (
            "Portability (Article 20): receive the data you provided to us in a structured, "
            "machine-readable format, or have it sent to another organisation."
        ),
        "right_consent": (
            "Withdrawal of consent (Article 7): withdraw at any time a consent you gave, without "
            "affecting the processing done before."
        ),
        "exercise": "How to exercise your rights",
        "exercise_text": (
            "Write to our data protection officer: {dpo}. We answer within one month, which may be "
            "extended by two months for a complex request; we then tell you so within the first "
            "month. Exercising your rights is free of charge."
        ),
        "complaint": "Complaint to the supervisory authority",
        "complaint_text": (
            "If you consider that the processing of your data does not comply with the law, you "
            "may lodge a complaint with: {authority}."
        ),
        "automated": "Automated decisions and profiling",
        "transfers": "Transfers outside the European Union",
        "transfer_recipient": "{name} ({country}): {safeguards}",
        "no_safeguards": "no safeguards stated",
        "readme": (
            "Export of your personal data (portability, GDPR Article 20)\n"
            "{organisation} — request {reference}, prepared on {completed_at}\n"
            "\n"
            "This archive holds the data you provided to us or that results from your use of our "
            "services, where its processing rests on your consent or on a contract (GDPR Article "
            "20). The rest of your data is in the access report (PDF).\n"
            "\n"
            "For each category, two files:\n"
            '- <category>.json: the data as JSON, with a "schema" block describing each field '
            "(name, label in French and English, type). Dates and times in ISO 8601, UTC.\n"
            "- <category>.csv: the same data as CSV (UTF-8 with a BOM, comma-separated), for a "
            "spreadsheet. A cell starting with =, +, - or @ is preceded by an apostrophe so that "
            "a spreadsheet does not run it as a formula.\n"
            "\n"
            "Messages written by other people are not included.\n"
            "\n"
            "Categories:\n"
            "{categories}\n"
        ),
        "readme_empty": "(no portable data was found)",
    },
}


def words(lang: str) -> dict[str, str]:
    """Return the wording in `lang`: French for "fr", English for anything else."""
    return WORDS["fr" if lang == "fr" else "en"]
