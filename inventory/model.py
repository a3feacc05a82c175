"""The typed model of a data map: what personal data an organisation holds, where, and why.

The model is deliberately independent of any organisation: POINT3's map is one instance of it.
Shape checks live here (pydantic, unknown keys forbidden); cross-references are checked by
`inventory.validation`, which needs the whole map.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from enum import StrEnum
from gettext import NullTranslations
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.numbers import is_currency
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from inventory.fideslang import unknown_category

LANGUAGES = ("fr", "en")
DEFAULT_TIMEZONE = "Europe/Paris"
"""The organisation's zone when its map names none."""
IDENT_RE = r"^[A-Za-z_][A-Za-z0-9_]*$"
COLUMN_REF_RE = r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
"""Days of each month in a financial year's end: 02-28 stands for the end of February."""
_DURATION_RE = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


class Strict(BaseModel):
    """Base of every map object: unknown keys are errors, values are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Text(Strict):
    """A sentence shown to people, in French and in English."""

    fr: str = Field(min_length=1)
    en: str = Field(min_length=1)

    def get(self, lang: str) -> str:
        """Return the text in `lang`, falling back to English for any other language."""
        return self.fr if lang == "fr" else self.en


def _coerce_text(value: object) -> object:
    """Accept a plain string where a translation is the same in both languages (a proper name)."""
    if isinstance(value, str):
        return {"fr": value, "en": value}
    return value


class LocalText(Text):
    @model_validator(mode="before")
    @classmethod
    def _plain(cls, value: object) -> object:
        return _coerce_text(value)


class Duration(Strict):
    """An ISO 8601 duration such as P10Y, P13M or P30D, kept in calendar units."""

    years: int = 0
    months: int = 0
    days: int = 0
    seconds: int = 0
    iso: str

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION_RE.match(text.strip())
        if not match:
            raise ValueError(
                f"'{text}' is not an ISO 8601 duration: write P10Y for ten years, "
                "P13M for thirteen months, P30D for thirty days"
            )
        part = {k: int(v) if v else 0 for k, v in match.groupdict().items()}
        return cls(
            years=part["years"],
            months=part["months"],
            days=part["days"] + 7 * part["weeks"],
            seconds=part["hours"] * 3600 + part["minutes"] * 60 + part["seconds"],
            iso=text.strip(),
        )

    @property
    def approximate(self) -> timedelta:
        """Return the duration as a timedelta (a month counted as 30 days): for sorting only."""
        return timedelta(days=self.years * 365 + self.months * 30 + self.days, seconds=self.seconds)

    def describe(self, translations: NullTranslations) -> str:
        """Say the duration in words in the language of `translations` (the desk's catalogue,
        context "map"), e.g. '10 ans' / '13 months'."""
        t = translations
        units = (
            (self.years, t.npgettext("map", "%(count)s year", "%(count)s years", self.years)),
            (self.months, t.npgettext("map", "%(count)s month", "%(count)s months", self.months)),
            (self.days, t.npgettext("map", "%(count)s day", "%(count)s days", self.days)),
            (
                self.seconds,
                t.npgettext("map", "%(count)s second", "%(count)s seconds", self.seconds),
            ),
        )
        return ", ".join(unit % {"count": amount} for amount, unit in units if amount) or "0"


def _coerce_duration(value: object) -> object:
    if isinstance(value, str):
        return Duration.parse(value)
    return value


DurationField = Annotated[Duration, Field(description="ISO 8601 duration")]


class LegalBasis(StrEnum):
    """The six grounds of GDPR Art. 6(1)."""

    CONSENT = "consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"
    VITAL_INTERESTS = "vital_interests"
    PUBLIC_TASK = "public_task"
    LEGITIMATE_INTERESTS = "legitimate_interests"

    @property
    def article(self) -> str:
        letter = "abcdef"[list(LegalBasis).index(self)]
        return f"Art. 6(1)({letter}) GDPR"

    def cited(self, translations: NullTranslations) -> str:
        """Return the article in the language of `translations`: 'Art. 6(1)(a) RGPD' in French."""
        return self.article.replace("GDPR", translations.pgettext("map", "GDPR"))

    def describe(self, translations: NullTranslations) -> str:
        """Name the ground and its article in the language of `translations` (context "map")."""
        t = translations
        label = {
            "consent": t.pgettext("map", "Consent of the data subject"),
            "contract": t.pgettext("map", "Performance of a contract or pre-contractual steps"),
            "legal_obligation": t.pgettext("map", "Compliance with a legal obligation"),
            "vital_interests": t.pgettext("map", "Protection of vital interests"),
            "public_task": t.pgettext("map", "Task carried out in the public interest"),
            "legitimate_interests": t.pgettext("map", "Legitimate interests of the controller"),
        }[self.value]
        return f"{label} ({self.cited(t)})"


_BASIS_ALIASES = {
    f"6(1)({letter})": basis for letter, basis in zip("abcdef", LegalBasis, strict=True)
}


class Provenance(StrEnum):
    """How the data came to be: what Art. 20 portability covers (provided and observed)."""

    PROVIDED = "provided"
    OBSERVED = "observed"
    DERIVED = "derived"

    @property
    def portable(self) -> bool:
        return self is not Provenance.DERIVED


class ErasureAction(StrEnum):
    DELETE = "delete"
    ANONYMIZE = "anonymize"
    RETAIN = "retain"


class AnonymizeStrategy(StrEnum):
    """How one column is made anonymous (or pseudonymous, for `keyed_hash`).

    `keep` leaves a column that identifies no one once the others are gone (a creation date).
    """

    KEEP = "keep"
    NULL = "null"
    FIXED = "fixed"
    KEYED_HASH = "keyed_hash"
    YEAR_ONLY = "year_only"
    TRUNCATE = "truncate"
    UNIQUE_PLACEHOLDER = "unique_placeholder"


class Anonymize(Strict):
    strategy: AnonymizeStrategy
    value: str | int | bool | None = None
    length: int | None = Field(default=None, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: object) -> object:
        if isinstance(value, str):
            return {"strategy": value}
        return value

    @model_validator(mode="after")
    def _needs(self) -> Anonymize:
        if self.strategy is AnonymizeStrategy.FIXED and self.value is None:
            raise ValueError("the `fixed` strategy needs a `value` to write in place of the data")
        if self.strategy is AnonymizeStrategy.TRUNCATE and self.length is None:
            raise ValueError("the `truncate` strategy needs a `length` (characters to keep)")
        return self


# -- how a field's value is shown to people (`display`) -----------------------------------------


class MoneyFormat(Strict):
    """An amount: in the currency's minor units (cents) or not, in a fixed currency (`EUR`) or in
    the one a column of the same row names (`invoice.currency`)."""

    minor_units: bool = Field(
        default=False, description="the column holds cents (38900 for 389,00 EUR)"
    )
    currency: str = Field(description="an ISO 4217 code (EUR) or the `table.column` holding it")

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if re.match(COLUMN_REF_RE, value) or (
            re.fullmatch(r"[A-Z]{3}", value) and is_currency(value)
        ):
            return value
        raise ValueError(
            f"`{value}` is neither an ISO 4217 currency code (such as EUR) nor a `table.column` "
            "holding one"
        )

    @property
    def currency_column(self) -> str | None:
        """Return the `table.column` naming each row's currency, or None for a fixed one."""
        return self.currency if "." in self.currency else None


class MoneyDisplay(Strict):
    money: MoneyFormat


class CodeList(Strict):
    """The organisation's own codes with what they mean. With `prefix`, a code not listed is
    named by its longest listed beginning, followed by the rest (`newsletter-2026-09`)."""

    labels: dict[str, LocalText] = Field(min_length=1)
    prefix: bool = False


class CodeDisplay(Strict):
    """A code shown by its name: an ISO country or language (CLDR names, in the reader's
    language) or one of the organisation's lists."""

    code: Literal["country", "language"] | CodeList

    @field_validator("code", mode="before")
    @classmethod
    def _standard_list(cls, value: object) -> object:
        if isinstance(value, str) and value not in ("country", "language"):
            raise ValueError(
                f"`{value}` is not a list of codes: write `country` (ISO 3166), `language` "
                "(ISO 639) or `{labels: {code: {fr: ..., en: ...}}}` for the organisation's own"
            )
        return value


class ReferenceFormat(Strict):
    """The value is `key` of a row of `table` (same system), shown by that row's `label`."""

    table: str = Field(pattern=IDENT_RE)
    key: str = Field(pattern=IDENT_RE)
    label: str = Field(pattern=IDENT_RE)


class ReferenceDisplay(Strict):
    reference: ReferenceFormat


DISPLAY_KINDS = ("money", "code", "reference", "date", "timestamp")


def _display_kind(value: object) -> str | None:
    """Name the variant of a `display` value: its only key, or the word itself."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        return str(next(iter(value)))
    for kind, model in (
        ("money", MoneyDisplay),
        ("code", CodeDisplay),
        ("reference", ReferenceDisplay),
    ):
        if isinstance(value, model):
            return kind
    return None


Display = Annotated[
    Annotated[MoneyDisplay, Tag("money")]
    | Annotated[CodeDisplay, Tag("code")]
    | Annotated[ReferenceDisplay, Tag("reference")]
    | Annotated[Literal["date"], Tag("date")]
    | Annotated[Literal["timestamp"], Tag("timestamp")],
    Discriminator(
        _display_kind,
        custom_error_type="display_kind",
        custom_error_message="`display` is one of: "
        "{money: {minor_units, currency}}, {code: country | language | {labels: ...}}, "
        "{reference: {table, key, label}}, date or timestamp",
    ),
]
"""How a field's value is shown in the report, the exports' label columns and the dashboard."""


# -- end of `display` ---------------------------------------------------------------------------


class Field_(Strict):
    """One column of a category: `table.column` in the category's system (or `system`)."""

    column: str = Field(pattern=COLUMN_REF_RE)
    label: LocalText
    system: str | None = None
    third_party: bool = Field(
        default=False,
        description="may hold other people's data: redacted in rows the subject does not own",
    )
    anonymize: Anonymize | None = None
    disclose: bool = Field(
        default=True,
        description="shown in the access report and export; false for secrets that are "
        "useless to the person and dangerous in a copy (a password hash, a payment token)",
    )
    rectifiable: bool = Field(
        default=False, description="the person may ask for this value to be corrected (Art. 16)"
    )
    identifying: bool = Field(
        default=False,
        description="names the person by itself (a name, a postal address, a document number): "
        "a row that keeps it still identifies them; identity columns of kind email, phone or "
        "text count without it",
    )
    fides_category: str | None = Field(
        default=None,
        description="its fideslang data category (user.contact.email...), for the Fides format",
    )
    # --- people named in other people's rows (issue 20) ---
    identifies: str | None = Field(
        default=None,
        pattern=IDENT_RE,
        description="holds an identity (the map's identity name) of someone other than the "
        "row's owner, e.g. a gift's recipient email: such rows are that person's mentions, "
        "and their erasure anonymises this column by its `anonymize` strategy",
    )
    about: str | None = Field(
        default=None,
        pattern=IDENT_RE,
        description="the column (of the same table) that `identifies` the person this value is "
        "about, e.g. a gift's recipient name beside its recipient email: anonymised with it",
    )
    display: Display | None = Field(
        default=None, description="how people read the value (money, code, reference, date...)"
    )

    @field_validator("fides_category")
    @classmethod
    def _fideslang(cls, value: str | None) -> str | None:
        problem = None if value is None else unknown_category(value)
        if problem:
            raise ValueError(problem)
        return value

    @property
    def table(self) -> str:
        return self.column.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.column.split(".", 1)[1]


def column_references(value: list[str], what: str) -> list[str]:
    """Return `value` when each item is a `table.column` reference; else say which is not `what`."""
    for column in value:
        if not re.match(COLUMN_REF_RE, column):
            raise ValueError(f"`{column}` is not {what}: write `table.column`")
    return value


class YearClose(StrEnum):
    """The close of the year containing a row's date, from which a period can run (L123-22)."""

    FINANCIAL_YEAR = "financial_year"
    CALENDAR_YEAR = "calendar_year"


class Retention(Strict):
    period: Duration
    from_: str = Field(alias="from", pattern=COLUMN_REF_RE)
    from_close_of: YearClose | None = Field(
        default=None,
        description="the period runs from the close of the financial (or calendar) year that "
        "contains the `from` date, not from the date itself",
    )
    fallback: list[str] = Field(
        default_factory=list,
        description="where the period starts when the `from` date is NULL, in order: a date "
        "column of the same table, or of a table it refers to (the row's parent)",
    )
    at_end: ErasureAction | None = Field(
        default=None,
        description="what happens to the rows when the period ends: delete or anonymize; by "
        "default the erasure's action (a category that retains data on erasure must say)",
    )
    condition: LocalText | None = None
    source: LocalText
    note: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("fallback")
    @classmethod
    def _columns(cls, value: list[str]) -> list[str]:
        return column_references(value, "a date column")

    @field_validator("at_end")
    @classmethod
    def _ends(cls, value: ErasureAction | None) -> ErasureAction | None:
        if value is ErasureAction.RETAIN:
            raise ValueError(
                "a retention period is a maximum: at its end the rows are deleted or "
                "anonymised, so `at_end` is `delete` or `anonymize`"
            )
        return value

    @field_validator("period", mode="before")
    @classmethod
    def _period(cls, value: object) -> object:
        return _coerce_duration(value)

    def describe_start(self, date_label: str, translations: NullTranslations) -> str:
        """Say where the period starts, given the label of its date column, in the language of
        `translations` (context "map"): the date itself, or the close of the year containing it."""
        t = translations
        if self.from_close_of is YearClose.FINANCIAL_YEAR:
            return t.pgettext("map", "Close of the financial year containing: %(date)s") % {
                "date": date_label
            }
        if self.from_close_of is YearClose.CALENDAR_YEAR:
            return t.pgettext("map", "Close of the calendar year containing: %(date)s") % {
                "date": date_label
            }
        return date_label


class ColumnChange(Strict):
    """One column a change sets on the subject's rows: a fixed value, or the current time."""

    column: str = Field(pattern=COLUMN_REF_RE)
    system: str
    value: str | int | bool | None = None
    now: bool = Field(default=False, description="set the current time instead of `value`")

    @property
    def table(self) -> str:
        return self.column.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.column.split(".", 1)[1]


class Erasure(Strict):
    action: ErasureAction
    legal_reason: LocalText | None = None
    until: LocalText | None = None
    withdraw: list[ColumnChange] = Field(
        default_factory=list,
        description="how kept rows are taken out of everyday use: columns set on them",
    )
    held_until: date | None = Field(
        default=None,
        description="set by the desk, not in a map: the last day of a legal hold keeping the rows",
    )
    note: str | None = None

    @model_validator(mode="after")
    def _retain_says_why(self) -> Erasure:
        if self.action is ErasureAction.RETAIN and (self.legal_reason is None or not self.until):
            raise ValueError(
                "an erasure that retains data must give the `legal_reason` and `until` when"
            )
        if self.withdraw and self.action is not ErasureAction.RETAIN:
            raise ValueError(
                "only an erasure that retains data can `withdraw` it from use: the other "
                "actions leave nothing to withdraw"
            )
        return self


# --- several legal bases per category (issue 20) ------------------------------------------------


class Ground(Strict):
    """One legal basis of a category and the purposes it covers (a saved card: the contract for
    the payment, consent for keeping the card)."""

    basis: LegalBasis
    purposes: list[LocalText] = Field(min_length=1)
    detail: LocalText | None = None

    @field_validator("basis", mode="before")
    @classmethod
    def _basis_alias(cls, value: object) -> object:
        if isinstance(value, str) and value.replace(" ", "") in _BASIS_ALIASES:
            return _BASIS_ALIASES[value.replace(" ", "")].value
        return value

    def describe(self, lang: str, translations: NullTranslations) -> str:
        """Say the ground and what it covers in the language of `translations` (context "map"):
        'Consent of the data subject (Art. 6(1)(a) GDPR), for: keeping your card'."""
        text = translations.pgettext("map", "%(basis)s, for: %(purposes)s") % {
            "basis": self.basis.describe(translations),
            "purposes": "; ".join(purpose.get(lang) for purpose in self.purposes),
        }
        return text if self.detail is None else f"{text} — {self.detail.get(lang)}"


# --- end of several legal bases ------------------------------------------------------------------


class Category(Strict):
    """A category of personal data: its fields, why it is held and what happens to it.

    Its grounds are `legal_basis` with `purposes`, or `legal_bases` when different purposes
    rest on different grounds (exactly one form: `inventory.validation` checks it); read them
    through `grounds`, `bases` and `all_purposes`."""

    title: LocalText
    description: LocalText
    system: str
    fields: list[Field_] = Field(min_length=1)
    purposes: list[LocalText] = Field(default_factory=list)
    _field_tables: tuple[tuple[str, str, tuple[str, ...]], ...] | None = PrivateAttr(None)
    legal_basis: LegalBasis | None = None
    legal_basis_detail: LocalText | None = None
    legal_bases: list[Ground] = Field(default_factory=list)
    recipients: list[str] = Field(default_factory=list)
    retention: Retention
    source: LocalText
    provenance: Provenance
    erasure: Erasure
    special: bool = Field(default=False, description="Art. 9/10 data (health, convictions...)")
    note: str | None = None
    group_by: list[str] = Field(
        default_factory=list,
        description="fields (`table.column`) with a `reference` display under whose label the "
        "rows of their table are shown (messages under their thread's subject)",
    )

    @field_validator("legal_basis", mode="before")
    @classmethod
    def _basis_alias(cls, value: object) -> object:
        if isinstance(value, str) and value.replace(" ", "") in _BASIS_ALIASES:
            return _BASIS_ALIASES[value.replace(" ", "")].value
        return value

    @field_validator("group_by")
    @classmethod
    def _group_columns(cls, value: list[str]) -> list[str]:
        return column_references(value, "a field to group rows by")

    @property
    def grounds(self) -> list[Ground]:
        """Every ground of the category with the purposes it covers, whichever form the map
        used."""
        if self.legal_bases or self.legal_basis is None:
            return list(self.legal_bases)  # the second only in a map not yet validated
        return [
            Ground(basis=self.legal_basis, purposes=self.purposes, detail=self.legal_basis_detail)
        ]

    @property
    def all_purposes(self) -> list[LocalText]:
        """Every purpose of the category, in the map's order."""
        return [purpose for ground in self.grounds for purpose in ground.purposes]

    @property
    def bases(self) -> list[LegalBasis]:
        """The distinct grounds of the category, in the map's order."""
        return list(dict.fromkeys(ground.basis for ground in self.grounds))

    def fields_in(self, system: str) -> list[Field_]:
        return [f for f in self.fields if (f.system or self.system) == system]

    @property
    def field_tables(self) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
        """(system, table, columns) for each table holding the category's fields, in order:
        worked out once (the locator and the collection ask for every table they read).

        Kept in the model's private values and read there directly: `self._field_tables` goes
        through pydantic's `__getattr__`, which raises and catches `AttributeError`s on every
        read (a typical collection asks some sixty times)."""
        private = self.__pydantic_private__
        found: tuple[tuple[str, str, tuple[str, ...]], ...] | None = (
            private.get("_field_tables") if private is not None else None
        )
        if found is None:
            seen: dict[tuple[str, str], list[str]] = {}
            for f in self.fields:
                seen.setdefault((f.system or self.system, f.table), []).append(f.name)
            found = tuple((s, t, tuple(cols)) for (s, t), cols in seen.items())
            self._field_tables = found
        return found

    def group_field(self, system: str, table: str) -> Field_ | None:
        """Return the field under whose reference label the rows of `table` are grouped."""
        for f in self.fields:
            if f.column in self.group_by and (f.system or self.system, f.table) == (system, table):
                return f
        return None

    @property
    def end_action(self) -> ErasureAction:
        """What the retention sweep does to expired rows: `retention.at_end`, else the erasure's
        action (`retain` only in a map whose retention was not checked: the sweep refuses it)."""
        return self.retention.at_end or self.erasure.action


class SubjectChange(Strict):
    """How the map applies a targeted change (deactivation, restriction...) to a subject."""

    description: LocalText
    set: list[ColumnChange] = Field(min_length=1)


class SubjectChanges(Strict):
    """The targeted changes the organisation's systems support, each optional."""

    deactivation: SubjectChange | None = None
    reactivation: SubjectChange | None = None
    restriction: SubjectChange | None = None
    lift_restriction: SubjectChange | None = None
    marketing_objection: SubjectChange | None = None
    # an accepted objection to processing on legitimate interests (Art. 21(1)); without it, the
    # desk records the decision and staff stop the processing by hand
    objection: SubjectChange | None = None


class Link(Strict):
    """A row of this table belongs to the subject when `column` is among `to` of theirs."""

    column: str = Field(pattern=IDENT_RE)
    to: str = Field(pattern=COLUMN_REF_RE)

    @property
    def target_table(self) -> str:
        return self.to.split(".", 1)[0]

    @property
    def target_column(self) -> str:
        return self.to.split(".", 1)[1]


# --- rows shared by two people (issue 20) ---


class Side(Strict):
    """One person's part of a row that belongs to several (a referral's referrer, its referee):
    the column of one of the table's `links` that ties the row to them, and their columns.

    Each person sees their own side and the other sides redacted; an erasure anonymises the
    person's side (their columns by their `anonymize` strategies, the link column set NULL) and
    deletes the row only when no other side is left (its link column NULL).
    """

    name: str = Field(pattern=IDENT_RE)
    link: str = Field(pattern=IDENT_RE, description="the column of one of the table's links")
    columns: list[str] = Field(
        default_factory=list, description="the columns of this table that are this side's"
    )

    @field_validator("columns")
    @classmethod
    def _plain_columns(cls, value: list[str]) -> list[str]:
        for column in value:
            if not re.match(IDENT_RE, column):
                raise ValueError(f"`{column}` is not a column of this table: write its name alone")
        return value


class Table(Strict):
    primary_key: list[str] = Field(min_length=1)
    links: list[Link] = Field(default_factory=list)
    owner: Link | None = Field(
        default=None,
        description="among the rows found, those whose `column` points at another person "
        "(e.g. another learner's message) are third-party; NULL (the organisation) is not",
    )
    sides: list[Side] = Field(
        default_factory=list,
        description="the people a row belongs to, when it belongs to several (see `Side`)",
    )
    description: str | None = None

    @model_validator(mode="after")
    def _sides(self) -> Table:
        if not self.sides:
            return self
        if len(self.sides) < 2:
            raise ValueError("a table with `sides` declares at least two: the row's people")
        names = [side.name for side in self.sides]
        if len(set(names)) != len(names):
            raise ValueError("two `sides` of the table have the same name")
        if self.owner is not None:
            raise ValueError(
                "a table declares either an `owner` (one person's rows among others') or "
                "`sides` (rows of several people), not both"
            )
        links = {link.column for link in self.links}
        for side in self.sides:
            if side.link not in links:
                raise ValueError(
                    f"side `{side.name}` is tied by `{side.link}`, which is not the column of "
                    f"one of the table's links ({', '.join(sorted(links)) or 'none'})"
                )
        return self

    def side_columns(self) -> dict[str, set[str]]:
        """Return, per side, its columns and its link column."""
        return {side.name: {side.link, *side.columns} for side in self.sides}

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_key(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value


class IdentityLocation(Strict):
    column: str = Field(pattern=COLUMN_REF_RE)
    expect_one: bool = Field(
        default=False, description="more than one row for one person is flagged (two accounts)"
    )
    normalised: bool = Field(
        default=False,
        description="the column stores the identity as compared (an email lower-case and "
        "trimmed, a phone number without separators): the locator matches it as stored "
        "(`column = value`), so a plain index serves the lookup",
    )


class IdentityKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    ID = "id"
    TEXT = "text"


class Identity(Strict):
    """A way to find a person, e.g. their email address, in some columns of the systems."""

    kind: IdentityKind
    label: LocalText
    locations: dict[str, list[IdentityLocation]] = Field(
        min_length=1, description="system name -> columns holding the identity"
    )

    def normalize(self, value: str) -> str:
        """Return the identity as compared: trimmed; emails lower-cased; phones without spaces."""
        value = value.strip()
        if self.kind is IdentityKind.EMAIL:
            return value.lower()
        if self.kind is IdentityKind.PHONE:
            return re.sub(r"[\s.\-()]", "", value)
        return value


class DatabaseUrl(Strict):
    env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]*$")
    default: str


def _known_zone(value: str) -> str:
    """Accept an IANA time zone name this machine knows (Europe/Paris); refuse anything else."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"`{value}` is not a known IANA time zone name (such as Europe/Paris or "
            "America/New_York)"
        ) from None
    return value


class System(Strict):
    """A database holding personal data, reached through a SQLAlchemy URL.

    `timezone` is the zone of the times it stores without one (a naive DATETIME); None means the
    organisation's."""

    title: LocalText
    url: DatabaseUrl
    timezone: str | None = None
    tables: dict[str, Table] = Field(min_length=1)
    description: LocalText | None = None
    not_personal: list[str] = Field(
        default_factory=list,
        description="`table.column` (or `table`) reviewed and found to hold no personal data, "
        "so that `map check --live` stops reporting them",
    )

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else _known_zone(value)


class Contact(Strict):
    name: str
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    address: str | None = None
    phone: str | None = None
    website: str | None = None


class Organisation(Strict):
    """Who answers the requests. `timezone` is the calendar of its deadlines and of every date
    the desk shows (Art. 12(3): one month from the day of receipt, in that zone)."""

    name: str
    timezone: str = DEFAULT_TIMEZONE
    address: str
    controller: Contact
    dpo: Contact
    supervisory_authority: Contact
    website: str | None = None
    security_measures: list[LocalText] = Field(default_factory=list)
    automated_decisions: LocalText
    transfers_outside_eu: LocalText
    data_subjects: list[LocalText] = Field(min_length=1)
    financial_year_end: str | None = Field(
        default=None,
        description="the last day of the financial year, as MM-DD (12-31 for a calendar year)",
    )

    @field_validator("financial_year_end")
    @classmethod
    def _month_day(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.fullmatch(r"\d\d-\d\d", value):
            raise ValueError(f"'{value}' is not a day of the year: write MM-DD, e.g. 12-31")
        month, day = int(value[:2]), int(value[3:])
        if not 1 <= month <= 12 or not 1 <= day <= _MONTH_DAYS[month - 1]:
            raise ValueError(
                f"'{value}' is not a day of the year (a financial year ending in February "
                "ends on 02-28, the last day of February every year)"
            )
        return value

    @property
    def year_end(self) -> tuple[int, int] | None:
        """Return the financial year's last day as (month, day), if the map declares it."""
        if self.financial_year_end is None:
            return None
        return int(self.financial_year_end[:2]), int(self.financial_year_end[3:])

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return _known_zone(value)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


EEA_COUNTRIES = frozenset(
    {
        # The 27 EU member states (Greece as both its ISO code GR and the EU's EL)...
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "GR", "HR",
        "HU", "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
        # ...and the three other EEA states.
        "IS", "LI", "NO",
    }
)  # fmt: skip
"""Countries to which data goes without a transfer under GDPR Chapter V."""


def country_name(code: str, lang: str) -> str:
    """Name an ISO 3166 alpha-2 country in `lang` (Babel's locale data): 'États-Unis' for US."""
    return str(Locale.parse(lang).territories.get(code, code))


class TransferMechanism(StrEnum):
    """The ground of a transfer outside the EU/EEA (GDPR Chapter V)."""

    ADEQUACY_DECISION = "adequacy_decision"
    STANDARD_CONTRACTUAL_CLAUSES = "standard_contractual_clauses"
    BINDING_CORPORATE_RULES = "binding_corporate_rules"
    CODE_OF_CONDUCT = "code_of_conduct"
    CERTIFICATION = "certification"
    ARTICLE_49_DEROGATION = "article_49_derogation"

    def describe(self, translations: NullTranslations) -> str:
        """Name the mechanism and its article in the language of `translations` ("map")."""
        t = translations
        return {
            "adequacy_decision": t.pgettext("map", "Adequacy decision (GDPR Art. 45)"),
            "standard_contractual_clauses": t.pgettext(
                "map", "Standard contractual clauses (GDPR Art. 46(2)(c))"
            ),
            "binding_corporate_rules": t.pgettext("map", "Binding corporate rules (GDPR Art. 47)"),
            "code_of_conduct": t.pgettext("map", "Approved code of conduct (GDPR Art. 46(2)(e))"),
            "certification": t.pgettext("map", "Approved certification (GDPR Art. 46(2)(f))"),
            "article_49_derogation": t.pgettext(
                "map", "Derogation for a specific situation (GDPR Art. 49)"
            ),
        }[self.value]


class Recipient(Strict):
    """Someone the organisation sends personal data to: told of each change to it (Art. 19).

    It receives the fields of the categories that list it, plus those named in `receives`
    (`table.column`, fields of any category: e.g. the learner's name sent with each exam
    registration). With `disclosed_when` (`table.column` of a date), only the rows where that
    column is set were sent; the desk records them before they are swept and keeps that record
    for `disclosures_kept` after the date sent.
    """

    name: LocalText
    kind: Literal["third_party", "processor", "internal", "authority"]
    description: LocalText
    contact_email: str | None = None
    country: str | None = Field(
        default=None,
        description="ISO 3166 alpha-2 code of the country where it receives the data: never "
        "assumed, required of every recipient but the organisation's internal services",
    )
    transfer_mechanism: TransferMechanism | None = Field(
        default=None, description="the ground of the transfer, for a country outside the EU/EEA"
    )
    transfer_safeguards: LocalText | None = Field(
        default=None, description="the reference of the mechanism (the clauses signed, ...)"
    )
    receives: list[str] = Field(
        default_factory=list,
        description="fields (`table.column`) of other categories sent to this recipient",
    )
    disclosed_when: str | None = Field(
        default=None,
        pattern=COLUMN_REF_RE,
        description="date column whose rows, when set, were sent to this recipient",
    )
    disclosures_kept: DurationField | None = Field(
        default=None, description="how long the desk remembers a disclosure after its date"
    )

    @field_validator("receives")
    @classmethod
    def _columns(cls, value: list[str]) -> list[str]:
        return column_references(value, "a field reference")

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.upper()
        if not re.fullmatch(r"[A-Z]{2}", code) or code not in Locale("en").territories:
            raise ValueError(
                f"'{value}' is not an ISO 3166 alpha-2 country code (such as FR, DE or US)"
            )
        return code

    @property
    def outside_eea(self) -> bool:
        """Whether the data it receives leaves the EU/EEA (a transfer under GDPR Chapter V)."""
        return self.country is not None and self.country not in EEA_COUNTRIES

    @field_validator("disclosures_kept", mode="before")
    @classmethod
    def _kept(cls, value: object) -> object:
        return _coerce_duration(value)

    @model_validator(mode="after")
    def _remembered(self) -> Recipient:
        if (self.disclosed_when is None) != (self.disclosures_kept is None):
            raise ValueError(
                "`disclosed_when` and `disclosures_kept` go together: say which date column "
                "marks the rows sent and how long the desk remembers that they were"
            )
        return self

    @property
    def disclosure_table(self) -> str | None:
        return None if self.disclosed_when is None else self.disclosed_when.split(".", 1)[0]


class Activity(Strict):
    """A processing activity (GDPR Art. 30): why some categories of data are processed, and
    about whom. A category may serve several activities.

    `data_subjects` are the categories of persons this activity concerns, among the
    organisation's `data_subjects` (in YAML, an alias of one: `*learners`). `legal_basis` is
    the ground of the activity; without it, the register gives the grounds of its categories.
    `security_measures` are those specific to it: the organisation's apply to every activity.
    """

    name: LocalText
    purposes: list[LocalText] = Field(min_length=1)
    data_subjects: list[LocalText] = Field(min_length=1)
    categories: list[str] = Field(min_length=1)
    legal_basis: LegalBasis | None = None
    legal_basis_detail: LocalText | None = None
    security_measures: list[LocalText] = Field(default_factory=list)
    note: str | None = None

    @field_validator("legal_basis", mode="before")
    @classmethod
    def _basis_alias(cls, value: object) -> object:
        if isinstance(value, str) and value.replace(" ", "") in _BASIS_ALIASES:
            return _BASIS_ALIASES[value.replace(" ", "")].value
        return value


# --- mentions of the person in free text (issue 20) ----------------------------------------------


class MentionAction(StrEnum):
    """What an erasure does to a text confirmed by staff to name the person: `redact` writes
    the map's `replacement` in place of the name, `delete` removes the row."""

    REDACT = "redact"
    DELETE = "delete"


class FullName(Strict):
    """Where the person's full name is: columns of one table of a system, joined by a space
    (`[learner.first_name, learner.last_name]`), read on the person's own rows."""

    system: str
    columns: list[str] = Field(min_length=1)

    @field_validator("columns")
    @classmethod
    def _one_table(cls, value: list[str]) -> list[str]:
        column_references(value, "a name column")
        if len({column.split(".", 1)[0] for column in value}) > 1:
            raise ValueError("the columns of a full name are columns of one table")
        return value

    @property
    def table(self) -> str:
        return self.columns[0].split(".", 1)[0]


class MentionSearch(Strict):
    """A text column where other people may name the person (a review, a comment)."""

    system: str
    column: str = Field(pattern=COLUMN_REF_RE)
    label: LocalText
    erasure: MentionAction = MentionAction.REDACT

    @property
    def table(self) -> str:
        return self.column.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.column.split(".", 1)[1]


class Mentions(Strict):
    """Free-text columns searched for the person's full name. Every match is only a possible
    mention (homonyms exist): staff decide, and only what they confirm is reported or erased."""

    full_name: FullName
    search: list[MentionSearch] = Field(min_length=1)
    replacement: str = Field(default="[…]", min_length=1)


# --- end of mentions ------------------------------------------------------------------------------


DESK_ACTIVITY = "data_subject_requests"
"""The id of the desk's own processing (the handling of the requests), which every register
includes and no map may declare."""


class DataMap(Strict):
    """The whole map: the organisation, its systems, identities, recipients, categories and the
    processing activities they serve."""

    version: Literal[1]
    organisation: Organisation
    systems: dict[str, System] = Field(min_length=1)
    identities: dict[str, Identity] = Field(min_length=1)
    recipients: dict[str, Recipient] = Field(default_factory=dict)
    categories: dict[str, Category] = Field(min_length=1)
    activities: dict[str, Activity] = Field(min_length=1)
    changes: SubjectChanges = Field(default_factory=SubjectChanges)
    mentions: Mentions | None = None

    def system_zone(self, system: str) -> ZoneInfo:
        """Return the zone in which `system` stores its times without a zone."""
        return ZoneInfo(self.systems[system].timezone or self.organisation.timezone)

    def fields_of_table(self, system: str, table: str) -> list[tuple[str, Field_]]:
        """Return (category id, field) for every mapped column of one table."""
        return [
            (cat_id, f)
            for cat_id, cat in self.categories.items()
            for f in cat.fields_in(system)
            if f.table == table
        ]
