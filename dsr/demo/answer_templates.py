"""The answer templates a demo store starts with, in French and English: questions staff often
ask requesters and common grounds of refusal, free of personal data, for admins to adapt."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from dsr.answer_templates.models import ANY_TYPE, AnswerTemplate, TemplateKind
from dsr.answer_templates.service import TemplateFields, create_template
from dsr.languages import Language
from dsr.requests.workflow import RequestType

SEEDED_BY = "demo"

Q, R = TemplateKind.QUESTION, TemplateKind.REFUSAL
FR, EN = Language.FR, Language.EN
RECTIFICATION, ERASURE = RequestType.RECTIFICATION.value, RequestType.ERASURE.value
OBJECTION_LI = RequestType.OBJECTION_LEGITIMATE_INTEREST.value

DEMO_TEMPLATES: tuple[TemplateFields, ...] = (
    TemplateFields(Q, ANY_TYPE, EN, "Which account do you mean?",
        "We found more than one account that could be yours. Which one does your request "
        "concern? Please tell us its username or the month you created it."),
    TemplateFields(Q, ANY_TYPE, FR, "Quel compte voulez-vous dire ?",
        "Nous avons trouvé plusieurs comptes qui pourraient être les vôtres. Lequel votre "
        "demande concerne-t-elle ? Indiquez-nous son identifiant ou le mois de sa création."),
    TemplateFields(Q, RECTIFICATION, EN, "What is the correct value?",
        "Your request does not say which information is wrong or what it should be. Please "
        "tell us which information to correct and its correct value."),
    TemplateFields(Q, RECTIFICATION, FR, "Quelle est la valeur exacte ?",
        "Votre demande ne précise pas quelle information est inexacte ni ce qu'elle devrait "
        "être. Indiquez-nous l'information à corriger et sa valeur exacte."),
    TemplateFields(R, ANY_TYPE, EN, "Manifestly unfounded or excessive (Art. 12(5))",
        "We cannot act on your request: it is manifestly excessive, in particular because of "
        "its repetitive character (Article 12(5) of the GDPR). We answered the same request on "
        "[date] and nothing has changed since."),
    TemplateFields(R, ANY_TYPE, FR, "Manifestement infondée ou excessive (art. 12(5))",
        "Nous ne pouvons pas donner suite à votre demande : elle est manifestement excessive, "
        "notamment par son caractère répétitif (article 12, paragraphe 5, du RGPD). Nous avons "
        "répondu à la même demande le [date] et rien n'a changé depuis."),
    TemplateFields(R, ERASURE, EN, "Kept for a legal obligation (Art. 17(3)(b))",
        "We cannot erase your invoices: the law requires us to keep them for ten years "
        "(Article 17(3)(b) of the GDPR). They are kept for that purpose only."),
    TemplateFields(R, ERASURE, FR, "Conservées pour une obligation légale (art. 17(3)(b))",
        "Nous ne pouvons pas effacer vos factures : la loi nous impose de les conserver dix ans "
        "(article 17, paragraphe 3, point b, du RGPD). Elles ne sont conservées qu'à cette fin."),
    TemplateFields(R, OBJECTION_LI, EN, "Compelling legitimate grounds (Art. 21(1))",
        "We have weighed the situation you describe against our reasons for this processing: "
        "[the processing, its purpose, and why it must go on for you, e.g. the prevention of "
        "fraud in exam registrations]. These compelling legitimate grounds override your "
        "interests, rights and freedoms."),
    TemplateFields(R, OBJECTION_LI, FR, "Motifs légitimes et impérieux (art. 21(1))",
        "Nous avons mis en balance la situation que vous décrivez et nos raisons pour ce "
        "traitement : [le traitement, sa finalité, et pourquoi il doit se poursuivre pour vous, "
        "par exemple la prévention de la fraude aux inscriptions aux examens]. Ces motifs "
        "légitimes et impérieux prévalent sur vos intérêts, droits et libertés."),
)  # fmt: skip


def seed_answer_templates(db_session: Session, now: datetime) -> int:
    """Add the demo's templates to a store that has none (a store whose admins kept, changed or
    deleted some is left as it is); return how many were added. Each is audited."""
    if db_session.exec(select(AnswerTemplate.id)).first() is not None:
        return 0
    for fields in DEMO_TEMPLATES:
        create_template(db_session=db_session, fields=fields, staff_label=SEEDED_BY, now=now)
    return len(DEMO_TEMPLATES)
