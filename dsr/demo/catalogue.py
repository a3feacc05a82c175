"""Fixed vocabulary of the demo learner platform: its course catalogue, pages and texts.

Pure data, kept apart from `seed.py` so that the generator reads as logic. The site is a
language school selling French and English courses and exam preparation; its host name uses the
reserved `.example` top-level domain, and so does every email address the seeder makes up.
"""

from __future__ import annotations

from typing import Final, NamedTuple


class Course(NamedTuple):
    code: str
    title: str
    language: str
    price_cents: int
    slug: str


SITE_URL: Final = "https://www.ecole-langues.example"

COURSES: Final[tuple[Course, ...]] = (
    Course("FLE-A1", "Français langue étrangère — niveau A1", "fr", 19000, "francais-a1"),
    Course("FLE-A2", "Français langue étrangère — niveau A2", "fr", 19000, "francais-a2"),
    Course("FLE-B1", "Français langue étrangère — niveau B1", "fr", 24000, "francais-b1"),
    Course("FLE-B2", "Français langue étrangère — niveau B2", "fr", 24000, "francais-b2"),
    Course("FLE-C1", "Français langue étrangère — niveau C1", "fr", 29000, "francais-c1"),
    Course("FLE-INT-A2", "Français intensif A2 (4 semaines)", "fr", 49000, "intensif-a2"),
    Course("FLE-INT-B1", "Français intensif B1 (4 semaines)", "fr", 49000, "intensif-b1"),
    Course("FLE-CONV", "Conversation en français", "fr", 12000, "conversation"),
    Course("FLE-ORTH", "Orthographe et grammaire françaises", "fr", 9000, "orthographe"),
    Course("FLE-PRON", "Prononciation du français", "fr", 9000, "prononciation"),
    Course("FLE-CIV", "Civilisation et culture françaises", "fr", 7900, "civilisation"),
    Course(
        "FLE-ENT", "Réussir l'entretien de naturalisation", "fr", 15000, "entretien-naturalisation"
    ),
    Course("FLE-DECOUV", "Découverte du français — module gratuit", "fr", 0, "decouverte"),
    Course("FOS-AFF", "Français des affaires", "fr", 32000, "francais-affaires"),
    Course("FOS-AFF-B2", "Français des affaires B2 — négociation", "fr", 35000, "affaires-b2"),
    Course("FOS-MED", "Français médical", "fr", 32000, "francais-medical"),
    Course("FOS-HOT", "Français de l'hôtellerie et de la restauration", "fr", 22000, "hotellerie"),
    Course("FOS-JUR", "Français juridique", "fr", 32000, "francais-juridique"),
    Course("FOS-ECR", "Écrits professionnels en français", "fr", 18000, "ecrits-pro"),
    Course("TCF-TP", "Préparation au TCF Tout public", "fr", 14900, "tcf-tout-public"),
    Course("TCF-CA", "Préparation au TCF Canada", "fr", 14900, "tcf-canada"),
    Course("TCF-IRN", "Préparation au TCF IRN (naturalisation)", "fr", 14900, "tcf-irn"),
    Course("TCF-QUE", "Préparation au TCF Québec", "fr", 14900, "tcf-quebec"),
    Course("TEF-CA", "Préparation au TEF Canada", "fr", 14900, "tef-canada"),
    Course("TEF-NAT", "Préparation au TEF Naturalisation", "fr", 14900, "tef-naturalisation"),
    Course("TEF-IRN", "Préparation au TEF IRN", "fr", 14900, "tef-irn"),
    Course("DELF-A2", "Préparation au DELF A2", "fr", 16900, "delf-a2"),
    Course("DELF-B1", "Préparation au DELF B1", "fr", 16900, "delf-b1"),
    Course("DELF-B2", "Préparation au DELF B2", "fr", 18900, "delf-b2"),
    Course("DALF-C1", "Préparation au DALF C1", "fr", 21900, "dalf-c1"),
    Course("DELF-PRO-B1", "Préparation au DELF Pro B1", "fr", 18900, "delf-pro-b1"),
    Course("ENG-A2", "General English A2", "en", 19000, "english-a2"),
    Course("ENG-B1", "General English B1", "en", 24000, "english-b1"),
    Course("ENG-B2", "General English B2", "en", 24000, "english-b2"),
    Course("ENG-BUS", "Business English", "en", 32000, "business-english"),
    Course("ENG-MEET", "English for meetings and presentations", "en", 18000, "meetings"),
    Course("ENG-MAIL", "Professional emails in English", "en", 9000, "emails"),
    Course("ENG-DISCOV", "Discover English — free module", "en", 0, "discover-english"),
    Course("TOEIC-PREP", "TOEIC Listening & Reading preparation", "en", 16900, "toeic"),
    Course("IELTS-PREP", "IELTS Academic preparation", "en", 21900, "ielts"),
)

EXAMS: Final = (
    "TEF Canada",
    "TEF Naturalisation",
    "TEF IRN",
    "TEF Québec",
    "TCF Tout public",
    "TCF Canada",
    "TCF IRN",
    "DELF B1",
    "DELF B2",
    "DALF C1",
)

LANGUAGE_LEVELS: Final = ("A1", "A2", "B1", "B2", "C1", "C2")

LEARNING_STYLES: Final = (
    "visuel",
    "auditif",
    "par la pratique",
    "lecture et écriture",
    "en petit groupe",
    "à mon rythme",
)

GOALS: Final = (
    "Obtenir le niveau B1 pour ma demande de naturalisation.",
    "Préparer le TEF Canada pour mon dossier d'immigration au Québec.",
    "Être plus à l'aise en réunion avec mes collègues francophones.",
    "Passer le DELF B2 pour m'inscrire à l'université.",
    "Améliorer mon accent et ma compréhension orale.",
    "Rédiger des courriels professionnels sans fautes.",
    "Reprendre le français après plusieurs années sans pratique.",
    "Comprendre les films et les séries sans sous-titres.",
    "Obtenir la carte de résident : il me faut le niveau A2.",
    "Improve my business English for international meetings.",
    "Get a TOEIC score above 850 for a job application.",
    "Parler avec la famille de mon conjoint.",
    "Travailler comme infirmière en France.",
    "Réussir l'entretien d'assimilation à la préfecture.",
)

COMMENTS: Final = (
    "Très bon cours, les exercices d'écoute sont vraiment utiles.",
    "Le formateur explique clairement, j'ai beaucoup progressé.",
    "Un peu trop rapide pour moi au début, mais les fiches de révision aident.",
    "Les vidéos ne se chargent pas toujours sur mon téléphone.",
    "J'ai obtenu mon B1 grâce à ce module, merci !",
    "Il manque des exemples pour le subjonctif.",
    "Parfait pour préparer l'épreuve d'expression orale.",
    "Les corrigés détaillés des tests blancs sont excellents.",
    "Bon contenu, mais j'aurais aimé plus de séances en direct.",
    "Great course, the listening drills were exactly what I needed.",
    "The mock tests are close to the real exam.",
    "Je recommande à tous ceux qui préparent le TCF.",
    "Quelques erreurs dans le quiz du chapitre 3.",
    "La plateforme est agréable, le suivi par courriel aussi.",
)

QUIZ_QUESTIONS: Final = (
    (
        "Complétez : « Il faut que tu ___ à l'heure. »",
        ("sois", "es", "seras", "être"),
    ),
    (
        "Choisissez le bon pronom : « Je ___ ai parlé hier. »",
        ("lui", "le", "leur", "y"),
    ),
    (
        "Quel est le contraire de « rarement » ?",
        ("souvent", "jamais", "parfois", "toujours"),
    ),
    (
        "Accordez le participe : « Les lettres que j'ai ___ »",
        ("écrites", "écrit", "écrits", "écrite"),
    ),
    (
        "Décrivez en trois phrases votre ville idéale.",
        (
            "Ma ville idéale serait au bord de la mer, avec beaucoup de parcs.",
            "Une ville calme, avec des pistes cyclables et des marchés.",
            "Je préfère les grandes villes où il y a des musées et des concerts.",
        ),
    ),
    (
        "Choose the correct form: « She ___ here since 2019. »",
        ("has lived", "lives", "is living", "lived"),
    ),
    (
        "Rédigez un courriel pour reporter une réunion.",
        (
            "Bonjour, je vous propose de reporter notre réunion à jeudi. Cordialement.",
            "Madame, pour des raisons personnelles, je dois décaler notre rendez-vous.",
        ),
    ),
    (
        "Quelle est la devise de la République française ?",
        ("Liberté, Égalité, Fraternité", "Travail, Famille, Patrie", "Paix et Justice"),
    ),
)

SURVEYS: Final = (
    "Satisfaction fin de formation",
    "Enquête qualité Qualiopi",
    "Retour sur la préparation à l'examen",
    "Baromètre annuel des apprenants",
)

SURVEY_COMMENTS: Final = (
    "Formation conforme à mes attentes.",
    "Le rythme était un peu soutenu.",
    "J'aurais aimé plus d'entraînement à l'oral.",
    "Plateforme facile à utiliser.",
    "Le service client a répondu rapidement.",
    "Très satisfaite, je reviendrai pour le niveau suivant.",
    "Les horaires des classes virtuelles ne conviennent pas aux personnes qui travaillent.",
)


class SupportTopic(NamedTuple):
    topic: str
    learner_messages: tuple[str, ...]
    staff_messages: tuple[str, ...]


SUPPORT_TOPICS: Final[tuple[SupportTopic, ...]] = (
    SupportTopic(
        "Impossible de me connecter",
        (
            "Bonjour, je n'arrive plus à me connecter depuis hier, le mot de passe est refusé.",
            "J'ai essayé de réinitialiser mon mot de passe mais je ne reçois pas le courriel.",
            "C'est bon, cela fonctionne maintenant. Merci !",
        ),
        (
            "Bonjour, nous avons renvoyé le lien de réinitialisation, pensez à vérifier vos "
            "courriers indésirables.",
            "Votre compte est de nouveau accessible. Bonne journée !",
        ),
    ),
    SupportTopic(
        "Demande de facture",
        (
            "Bonjour, pourriez-vous m'envoyer la facture de ma dernière formation ?",
            "Mon employeur a besoin d'une facture au nom de la société, est-ce possible ?",
        ),
        (
            "Bonjour, la facture est disponible dans votre espace, rubrique « Mes achats ».",
            "Nous ne pouvons pas modifier une facture émise, mais nous pouvons établir un avoir.",
        ),
    ),
    SupportTopic(
        "Report de ma session d'examen",
        (
            "Bonjour, je ne pourrai pas être présent à la session du mois prochain.",
            "Est-il possible de passer l'épreuve orale un autre jour ?",
        ),
        (
            "Bonjour, le report est possible jusqu'à quinze jours avant la session.",
            "Nous avons transmis votre demande au centre d'examen.",
        ),
    ),
    SupportTopic(
        "Remboursement",
        (
            "Bonjour, j'ai été débité deux fois pour le même cours.",
            "Je souhaite exercer mon droit de rétractation.",
        ),
        (
            "Bonjour, le double paiement a été remboursé, comptez cinq jours ouvrés.",
            "Votre demande de rétractation a bien été prise en compte.",
        ),
    ),
    SupportTopic(
        "Vidéo qui ne se lance pas",
        (
            "Les vidéos du module 4 restent bloquées sur l'écran noir.",
            "J'utilise Safari sur iPad, le problème persiste.",
        ),
        (
            "Bonjour, pouvez-vous essayer de vider le cache de votre navigateur ?",
            "Le correctif est en ligne, merci pour votre signalement.",
        ),
    ),
    SupportTopic(
        "Inscription de groupe",
        (
            "Bonjour, nous sommes deux collègues à vouloir suivre le même cours.",
            "Pouvons-nous avoir une seule facture pour les deux inscriptions ?",
            "Je confirme, ma collègue est en copie de ce message.",
        ),
        (
            "Bonjour, nous pouvons vous proposer un tarif de groupe à partir de deux personnes.",
            "C'est noté, la facture commune sera envoyée à votre service formation.",
        ),
    ),
    SupportTopic(
        "Attestation de niveau",
        (
            "Bonjour, j'ai besoin d'une attestation de niveau pour la préfecture.",
            "Pouvez-vous préciser le nombre d'heures suivies ?",
        ),
        (
            "Bonjour, l'attestation est jointe à ce message.",
            "Nous avons ajouté le nombre d'heures, vous pouvez la télécharger de nouveau.",
        ),
    ),
)

SEARCH_TERMS: Final = (
    "tcf canada",
    "tef naturalisation",
    "préparation delf b2",
    "cours de français en ligne",
    "français des affaires",
    "toeic",
    "tarifs",
    "session examen juin",
    "attestation de niveau",
    "b1 naturalisation",
    "ielts",
    "cours du soir",
    "cpf",
    "entretien préfecture",
)

# (path, relative weight): the pages a visitor views, most frequent first.
PAGES: Final = (
    ("/", 12),
    ("/fr/formations", 8),
    ("/fr/examens", 6),
    ("/fr/connexion", 5),
    ("/fr/mon-compte", 5),
    ("/fr/mon-compte/mes-cours", 6),
    ("/fr/panier", 2),
    ("/fr/paiement", 1),
    ("/fr/tarifs", 3),
    ("/fr/contact", 1),
    ("/fr/blog/reussir-le-tcf-canada", 2),
    ("/fr/blog/naturalisation-niveau-b1", 2),
    ("/fr/blog/10-erreurs-courantes-en-francais", 2),
    ("/en/courses", 2),
    ("/en/exams", 1),
    ("/fr/politique-de-confidentialite", 1),
)

EXTERNAL_REFERRERS: Final = (
    "https://www.google.example/",
    "https://www.google.example/",
    "https://www.google.example/",
    "https://www.bing.example/",
    "https://duckduckgo.example/",
    "https://www.facebook.example/",
    "https://www.linkedin.example/",
    "https://www.france-travail.example/",
)

DEVICES: Final = (
    "Chrome 130 / Windows 11",
    "Chrome 129 / Windows 10",
    "Edge 130 / Windows 11",
    "Firefox 131 / Windows 10",
    "Firefox 132 / Ubuntu",
    "Safari 18 / macOS 15",
    "Chrome 130 / macOS 14",
    "Safari / iPhone iOS 18",
    "Safari / iPhone iOS 17",
    "Safari / iPad iPadOS 17",
    "Chrome / Android 14",
    "Chrome / Android 13",
    "Samsung Internet / Android 14",
)

MAIL_CLIENTS: Final = (
    "Apple Mail / iPhone",
    "Gmail / Android",
    "Gmail / Web",
    "Outlook / Windows",
    "Apple Mail / macOS",
    "Thunderbird",
)

MARKETING_LISTS: Final = ("newsletter", "offres", "sessions-examen")

PROSPECT_SOURCES: Final = (
    "formulaire-contact",
    "salon-expolangues",
    "webinaire-tcf",
    "livre-blanc-naturalisation",
    "test-de-niveau-gratuit",
    "rappel-telephonique",
)

EMAIL_DOMAINS: Final = (
    "example.com",
    "example.org",
    "example.net",
    "gmail.example",
    "gmail.example",
    "gmail.example",
    "orange.example",
    "free.example",
    "laposte.example",
    "outlook.example",
    "yahoo.example",
    "sfr.example",
)

# Names the French locale does not produce but the learners of a language school have.
VIETNAMESE_FIRST_NAMES: Final = (
    "Thị Hoa",
    "Văn Minh",
    "Minh Anh",
    "Thu Trang",
    "Quốc Bảo",
    "Ngọc Lan",
    "Đức Huy",
    "Thanh Hương",
)
VIETNAMESE_LAST_NAMES: Final = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi")
MAGHREBI_FIRST_NAMES: Final = (
    "Karim",
    "Yasmine",
    "Mehdi",
    "Inès",
    "Sofiane",
    "Nour",
    "Rachid",
    "Amira",
    "Youssef",
    "Salomé",
)
MAGHREBI_LAST_NAMES: Final = (
    "Benali",
    "Haddad",
    "Mansouri",
    "Belkacem",
    "Amrani",
    "Bouzid",
    "Cherif",
    "Ait Ouali",
)
