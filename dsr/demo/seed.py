"""Fill the demo learner platform with deterministic synthetic learners.

The same `seed` and `now` give the same rows byte for byte on every run and every database:
every table draws from its own `random.Random` seeded with the seed and the table's name, Faker
(locale fr_FR, plus a few others for learners from abroad) is called only to build small pools
of names and addresses, and no date depends on the clock. The sample learner and her look-alike
neighbours are written by hand, first in every table, so that their rows and ids do not depend
on the number of learners either: demos and golden tests rely on them.
"""

from __future__ import annotations

import base64
import random
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol, cast
from urllib.parse import quote_plus

from faker import Faker
from sqlalchemy import Connection, Table, create_engine, func, inspect, select
from sqlalchemy.schema import AddConstraint, CreateTable, ForeignKeyConstraint

from dsr.demo import catalogue as cat
from dsr.demo import schema
from inventory.systems import enforce_foreign_keys

if TYPE_CHECKING:
    import psycopg

REFERENCE_NOW: Final = datetime(2026, 11, 1, tzinfo=UTC)
SAMPLE_LEARNER_EMAIL: Final = "zoe.lefevre@example.org"

Row = tuple[Any, ...]

_DAY: Final = 86_400
_YEAR: Final = 365 * _DAY
_HISTORY: Final = 4 * _YEAR + _DAY
_BATCH: Final = 5_000
_COURSE_ID: Final = {course.code: number for number, course in enumerate(cat.COURSES, start=1)}
_PAID_COURSES: Final = tuple(_COURSE_ID[c.code] for c in cat.COURSES if c.price_cents)
_FREE_COURSES: Final = tuple(_COURSE_ID[c.code] for c in cat.COURSES if not c.price_cents)
_BASE62: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BCRYPT_ALPHABET: Final = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
# Letters that Unicode does not decompose into an ASCII base letter.
_TRANSLITERATION: Final = str.maketrans(
    {"Ł": "L", "ł": "l", "Æ": "Ae", "æ": "ae", "Ø": "O", "ø": "o", "Þ": "Th", "þ": "th",
     "Ð": "D", "ð": "d", "Đ": "D", "đ": "d", "ß": "ss", "Œ": "Oe", "œ": "oe"}
)  # fmt: skip
# Country -> (mobile prefixes, digits after the prefix), E.164 without spaces.
_PHONE_FORMATS: Final = {
    "FR": (("+336", "+337"), 8),
    "CH": (("+4176", "+4178", "+4179"), 7),
    "CA": (("+1514", "+1438", "+1418", "+1613"), 7),
    "DE": (("+49151", "+49160", "+49176"), 8),
    "PL": (("+4850", "+4860", "+4879"), 7),
    "PT": (("+35191", "+35193", "+35196"), 6),
    "ES": (("+346",), 8),
    "GB": (("+447",), 9),
    "VN": (("+849", "+843"), 8),
    "IS": (("+3546", "+3548"), 6),
}
# Faker locales used for addresses, by country. Not it_IT: its city() draws from a set, so it
# changes with PYTHONHASHSEED and would break reproducibility across processes.
_ADDRESS_LOCALES: Final = {
    "FR": "fr_FR",
    "CH": "fr_CH",
    "CA": "fr_CA",
    "DE": "de_DE",
    "PL": "pl_PL",
    "PT": "pt_PT",
    "ES": "es_ES",
    "GB": "en_GB",
    "VN": "vi_VN",
}
# Faker locales for learners with non-French names, with the country they come from.
_FOREIGN_NAME_LOCALES: Final = (
    ("pl_PL", "PL"),
    ("is_IS", "IS"),
    ("de_DE", "DE"),
    ("pt_PT", "PT"),
    ("es_ES", "ES"),
    ("it_IT", "IT"),
    ("en_GB", "GB"),
)


@dataclass(frozen=True)
class SeedSummary:
    """What a seeding wrote: rows per table in insertion order, and the seconds it took."""

    counts: dict[str, int]
    seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.counts.values())


def seed_platform(
    url: str,
    *,
    learners: int = 1000,
    seed: int = 3,
    now: datetime = REFERENCE_NOW,
    events_per_learner: float = 10.0,
    drop_existing: bool = True,
    progress: Callable[[str], None] | None = None,
) -> SeedSummary:
    """Create the demo schema at `url` and fill it with `learners` synthetic learners.

    Dates fall in the four years before `now`. With `drop_existing` the demo tables are dropped
    first; without it they must be absent or empty. Everything happens in one transaction.
    """
    if learners < len(_FIXED_LEARNERS):
        raise ValueError(f"learners must be at least {len(_FIXED_LEARNERS)}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if events_per_learner < 0:
        raise ValueError("events_per_learner must not be negative")
    report = progress or (lambda _message: None)
    started = time.perf_counter()
    platform = _Platform(
        seed=seed,
        learner_count=learners,
        now=now.astimezone(UTC).replace(microsecond=0),
        events_per_learner=events_per_learner,
    )
    engine = enforce_foreign_keys(create_engine(url))
    counts: dict[str, int] = {}
    try:
        with engine.begin() as connection:
            bulk = connection.dialect.name == "postgresql"
            created = _create_schema(connection, drop_existing=drop_existing, deferred=bulk)
            report("schema created")
            writer = _writer_for(connection)
            for table, rows in platform.tables():
                counts[table.name] = writer.write(table, rows)
                report(f"{table.name}: {counts[table.name]} rows")
            writer.finish(schema.metadata.sorted_tables)
            if bulk:
                _add_deferred(connection, created)
                report("indexes and foreign keys created")
    finally:
        engine.dispose()
    return SeedSummary(counts=counts, seconds=time.perf_counter() - started)


def _create_schema(connection: Connection, *, drop_existing: bool, deferred: bool) -> list[Table]:
    """Create the missing demo tables and return them; `deferred` leaves out indexes and keys.

    PostgreSQL loads much faster when it checks each foreign key once with a join and builds
    each index once than row by row; `_add_deferred` adds them after the load.
    """
    if drop_existing:
        schema.metadata.drop_all(connection)
    existing = set(inspect(connection).get_table_names())
    missing = [table for table in schema.metadata.sorted_tables if table.name not in existing]
    for table in missing:
        keys: list[ForeignKeyConstraint] | None = [] if deferred else None  # None: all of them
        connection.execute(CreateTable(table, include_foreign_key_constraints=keys))
    if not deferred:
        _create_indexes(connection, missing)
    for table in schema.metadata.sorted_tables:
        if table.name in existing and connection.execute(select(table).limit(1)).first():
            raise ValueError(f"table {table.name} is not empty; seed with drop_existing")
    return missing


def _create_indexes(connection: Connection, tables: Sequence[Table]) -> None:
    """Create the indexes in name order, so that the same seed gives the same database file."""
    for table in tables:
        for index in sorted(table.indexes, key=lambda index: str(index.name)):
            index.create(connection)  # honours the index's ddl_if, unlike CreateIndex


def _add_deferred(connection: Connection, tables: Sequence[Table]) -> None:
    """Add the indexes and foreign keys that `_create_schema` left out of `tables`.

    The constraints stay part of their tables (`isolate_from_table=False`): the schema is shared
    by every seed of the process, and the next one on another engine creates them inline.
    """
    _create_indexes(connection, tables)
    for table in tables:
        for constraint in table.foreign_key_constraints:
            connection.execute(AddConstraint(constraint, isolate_from_table=False))


# -- writing ------------------------------------------------------------------------------


class _Writer(Protocol):
    def write(self, table: Table, rows: Iterable[Row]) -> int: ...

    def finish(self, tables: Sequence[Table]) -> None: ...


def _writer_for(connection: Connection) -> _Writer:
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        return _PostgresCopyWriter(connection)
    return _BatchInsertWriter(connection)


class _BatchInsertWriter:
    """Insert through SQLAlchemy Core in batches, so that its types adapt values per dialect."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def write(self, table: Table, rows: Iterable[Row]) -> int:
        names = [column.name for column in table.columns]
        statement = table.insert()
        batch: list[dict[str, Any]] = []
        count = 0
        for row in rows:
            batch.append(dict(zip(names, row, strict=True)))
            if len(batch) == _BATCH:
                self._connection.execute(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            self._connection.execute(statement, batch)
            count += len(batch)
        return count

    def finish(self, tables: Sequence[Table]) -> None:
        """Nothing to do: SQLite and MariaDB move their counters past explicit ids."""


class _PostgresCopyWriter:
    """Stream rows with COPY on the connection's own psycopg connection and transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._driver = cast("psycopg.Connection[Any]", connection.connection.driver_connection)

    def write(self, table: Table, rows: Iterable[Row]) -> int:
        from psycopg import sql

        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name),
            sql.SQL(", ").join(sql.Identifier(column.name) for column in table.columns),
        )
        count = 0
        with self._driver.cursor() as cursor, cursor.copy(statement) as copy:
            write_row = copy.write_row
            for row in rows:
                write_row(row)
                count += 1
        return count

    def finish(self, tables: Sequence[Table]) -> None:
        """Move each serial sequence past the explicit ids that COPY wrote."""
        for table in tables:
            if "id" not in table.c or not table.c.id.primary_key:
                continue
            highest = self._connection.execute(select(func.max(table.c.id))).scalar_one()
            if highest is not None:
                sequence = func.pg_get_serial_sequence(table.name, "id")
                self._connection.execute(select(func.setval(sequence, highest)))


# -- people -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Learner:
    id: int
    email: str
    username: str
    password_hash: str | None
    first_name: str
    last_name: str
    phone: str | None
    street: str | None
    postal_code: str | None
    city: str | None
    country: str
    language: str
    created: int
    last_login: int | None
    deactivated: int | None = None

    @property
    def active_until(self) -> int:
        """The last instant the learner did anything on the platform."""
        return self.last_login if self.last_login is not None else self.created + 3600

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def row(self) -> Row:
        return (
            self.id,
            self.email,
            self.username,
            self.password_hash,
            self.first_name,
            self.last_name,
            self.phone,
            self.street,
            self.postal_code,
            self.city,
            self.country,
            self.language,
            _at(self.created),
            None if self.last_login is None else _at(self.last_login),
            self.deactivated is None,
            None if self.deactivated is None else _at(self.deactivated),
            False,
        )


@dataclass(frozen=True, slots=True)
class _FixedLearner:
    """A learner written by hand; times are days before `now`."""

    email: str
    username: str
    first_name: str
    last_name: str
    phone: str | None
    address: tuple[str, str, str] | None
    country: str
    language: str
    created_days_ago: int
    last_login_days_ago: int | None


_FIXED_LEARNERS: Final = (
    # 1: the sample learner, who has rows in every table.
    _FixedLearner(
        SAMPLE_LEARNER_EMAIL, "zoe.lefevre", "Zoé", "Lefèvre", "+33612345678",
        ("12 rue des Lilas", "69003", "Lyon"), "FR", "fr", 1130, 3,
    ),
    # 2: her colleague, who shares a support thread with her.
    _FixedLearner(
        "lukasz.wroblewski@example.com", "lukasz_w", "Łukasz", "Wróblewski", "+33755501234",
        ("4 avenue Jean Jaurès", "69007", "Lyon"), "FR", "en", 900, 20,
    ),
    # 3 and 4: look-alikes that a careless search would confuse with her.
    _FixedLearner(
        "lefevre.zoe@gmail.example", "zlefevre", "Zoé", "Lefèvre", "+33698765432",
        ("27 boulevard Victor Hugo", "06000", "Nice"), "FR", "fr", 400, 60,
    ),
    _FixedLearner(
        "zoe.lefevte@example.org", "zlefevte", "Zoe", "Lefevte", None,
        ("chemin des Vignes 8", "1009", "Pully"), "CH", "fr", 650, 500,
    ),
    # 5 to 8: two accounts each for addresses that differ only by case.
    _FixedLearner(
        "Jean.Martin@example.com", "jeanmartin", "Jean", "Martin", "+33611223344",
        ("3 place de la République", "75003", "Paris"), "FR", "fr", 1300, 800,
    ),
    _FixedLearner(
        "jean.martin@example.com", "jean.martin75", "Jean", "Martin", "+33611223344",
        ("3 place de la République", "75003", "Paris"), "FR", "fr", 200, 9,
    ),
    _FixedLearner(
        "Nguyen.ThiHoa@example.net", "hoa.nguyen", "Thị Hoa", "Nguyễn", "+33744556677",
        ("18 rue de Tolbiac", "75013", "Paris"), "FR", "fr", 1000, 30,
    ),
    _FixedLearner(
        "nguyen.thihoa@example.net", "nguyenhoa2", "Hoa", "Nguyen", None,
        None, "FR", "en", 150, None,
    ),
    # 9: a learner from abroad whose name has no ASCII spelling.
    _FixedLearner(
        "aegir.thorsson@example.com", "aegir_t", "Ægir", "Þórsson", "+3546123456",
        ("Laugavegur 12", "101", "Reykjavík"), "IS", "en", 500, 45,
    ),
)  # fmt: skip
_SAMPLE_ID: Final = 1
_COLLEAGUE_ID: Final = 2


@dataclass(frozen=True)
class _Pools:
    """Names and addresses drawn once from Faker, then combined cheaply."""

    female_first_names: tuple[str, ...]
    male_first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    foreign_names: tuple[tuple[tuple[str, ...], tuple[str, ...], str], ...]
    addresses: dict[str, tuple[tuple[str, str, str], ...]]

    @classmethod
    def build(cls, seed: int) -> _Pools:
        def faker(locale: str) -> Any:
            fake = Faker(locale)
            fake.seed_instance(seed)
            return fake

        french = faker("fr_FR")
        foreign: list[tuple[tuple[str, ...], tuple[str, ...], str]] = []
        for locale, country in _FOREIGN_NAME_LOCALES:
            fake = faker(locale)
            firsts = [fake.first_name() for _ in range(80)]
            firsts += {"PL": ["Łukasz", "Małgorzata"], "IS": ["Ægir", "Þóra"]}.get(country, [])
            foreign.append((tuple(firsts), tuple(fake.last_name() for _ in range(80)), country))
        foreign.append((cat.VIETNAMESE_FIRST_NAMES, cat.VIETNAMESE_LAST_NAMES, "VN"))
        foreign.append((cat.MAGHREBI_FIRST_NAMES, cat.MAGHREBI_LAST_NAMES, "FR"))
        addresses: dict[str, tuple[tuple[str, str, str], ...]] = {}
        for country, locale in _ADDRESS_LOCALES.items():
            fake = french if locale == "fr_FR" else faker(locale)
            size = 3000 if country == "FR" else 60
            addresses[country] = tuple(
                (fake.street_address(), fake.postcode(), fake.city()) for _ in range(size)
            )
        return cls(
            female_first_names=tuple(french.first_name_female() for _ in range(600)),
            male_first_names=tuple(french.first_name_male() for _ in range(600)),
            last_names=tuple(french.last_name() for _ in range(1500)),
            foreign_names=tuple(foreign),
            addresses=addresses,
        )


def _ascii(text: str) -> str:
    """Spell a name in lower-case ASCII for an email address or a user name."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_TRANSLITERATION))
    plain = decomposed.encode("ascii", "ignore").decode("ascii").lower()
    return "".join(ch for ch in plain if ch.isalnum() or ch in ".-")


def _at(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _pick_count(rng: random.Random, weights: Sequence[float]) -> int:
    """Draw a count: `weights[k]` is the probability of `k`."""
    draw = rng.random()
    for count, weight in enumerate(weights):
        draw -= weight
        if draw < 0:
            return count
    return len(weights) - 1


_REFERRAL_MESSAGES: Final = (
    "Je te recommande POINT3 pour préparer le TEF, c'est très bien fait !",
    "Avec ce lien, tu as une réduction sur ton premier cours.",
    None,
)
_GIFT_MESSAGES: Final = (
    "Bon anniversaire ! Bonne préparation pour ton examen.",
    "Pour ton départ au Québec, bon courage !",
    None,
)


def _between(rng: random.Random, low: int, high: int) -> int:
    return low if high <= low else low + int(rng.random() * (high - low))


# -- the platform -------------------------------------------------------------------------


@dataclass
class _Platform:
    """Generates every table's rows in foreign-key order; see `tables`."""

    seed: int
    learner_count: int
    now: datetime
    events_per_learner: float
    learners: list[_Learner] = field(default_factory=list)
    prospects: list[tuple[int, str, int]] = field(default_factory=list)  # id, email, created
    purchased: dict[int, list[int]] = field(default_factory=dict)  # learner id -> course ids
    taken_emails: set[str] = field(default_factory=set)  # lower-cased
    taken_usernames: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.now_ts = int(self.now.timestamp())
        self.pools = _Pools.build(self.seed)
        self.fixed = _fixed_rows(self.now)

    def tables(self) -> Iterator[tuple[Table, Iterable[Row]]]:
        """Yield each table with its rows, parents before children.

        Consume each table's rows before asking for the next table: later tables use what the
        earlier ones generated (learners, purchases, prospects).
        """
        yield (
            schema.course,
            [
                (number, c.code, c.title, c.language, c.price_cents)
                for number, c in enumerate(cat.COURSES, start=1)
            ],
        )
        self._make_learners()
        yield schema.learner, (learner.row() for learner in self.learners)
        yield schema.learner_profile, self._profiles()
        yield schema.payment_card, self._cards()
        invoices, lines, purchases = self._invoices()
        yield schema.invoice, invoices
        yield schema.invoice_line, lines
        yield schema.course_purchase, purchases
        yield schema.course_interest, self._interests()
        yield schema.course_comment, self._comments()
        yield schema.quiz_answer, self._quiz_answers()
        yield schema.survey_response, self._survey_responses()
        threads, participants, messages = self._support()
        yield schema.support_thread, threads
        yield schema.support_participant, participants
        yield schema.support_message, messages
        yield schema.exam_registration, self._exam_registrations()
        yield schema.prospect, self._prospects()
        subscriptions, opens = self._marketing()
        yield schema.marketing_subscription, subscriptions
        yield schema.email_open, opens
        yield schema.tracking_event, self._tracking_events()
        yield schema.learner_referral, self._referrals()
        yield schema.course_gift, self._gifts()

    # rows of two people, people named in others' rows (issue 20)

    def _referrals(self) -> Iterator[Row]:
        """About one learner in twenty signed up on the invitation of an earlier one: the row
        is both the referrer's (their message, their reward) and the referee's (their discount)."""
        rng = self._rng("learner_referral")
        earlier: list[_Learner] = []
        referral_id = 0
        for learner in self._others():
            referrer = rng.choice(earlier) if earlier and rng.random() < 0.05 else None
            earlier.append(learner)
            if referrer is None:
                continue
            invited = learner.created - _between(rng, 3600, 10 * _DAY)
            if invited <= referrer.created:
                continue
            referral_id += 1
            yield (
                referral_id, referrer.id, learner.id, _at(invited),
                rng.choice(_REFERRAL_MESSAGES), 2000, _at(learner.created), 1000,
            )  # fmt: skip

    def _gifts(self) -> Iterator[Row]:
        """About one learner in thirty offered a course to someone, named by their email: a
        colleague with an account, or a friend without one."""
        rng = self._rng("course_gift")
        others = list(self._others())
        gift_id = 0
        for learner in others:
            if rng.random() >= 0.03:
                continue
            gift_id += 1
            if rng.random() < 0.4:
                colleague = rng.choice(others)
                recipient, name = colleague.email, colleague.full_name
            else:
                first = rng.choice(self.pools.female_first_names)
                last = rng.choice(self.pools.last_names)
                recipient = f"{_ascii(first)}.{_ascii(last)}.{gift_id}@example.net"
                name = f"{first} {last}"
            offered = _between(rng, learner.created, learner.active_until)
            redeemed = offered + _between(rng, _DAY, 30 * _DAY) if rng.random() < 0.6 else None
            yield (
                gift_id, learner.id, rng.randint(1, len(cat.COURSES)), recipient, name,
                rng.choice(_GIFT_MESSAGES), _at(offered),
                None if redeemed is None else _at(min(redeemed, self.now_ts)),
            )  # fmt: skip

    def _rng(self, name: str) -> random.Random:
        return random.Random(f"{self.seed}:{name}")  # noqa: S311 - synthetic data, no secret

    def _fixed(self, table: Table) -> list[Row]:
        return self.fixed.get(table.name, [])

    def _others(self) -> Iterator[_Learner]:
        """Every learner but the sample one, whose rows are written by hand."""
        return (learner for learner in self.learners if learner.id != _SAMPLE_ID)

    # learners

    def _make_learners(self) -> None:
        rng = self._rng("learner")
        fixed_rng = random.Random("fixed learners")  # noqa: S311 - the same for every seed
        for number, fixed in enumerate(_FIXED_LEARNERS, start=1):
            created = self.now_ts - fixed.created_days_ago * _DAY - 9 * 3600
            last_login = (
                None
                if fixed.last_login_days_ago is None
                else self.now_ts - fixed.last_login_days_ago * _DAY - 5 * 3600
            )
            street, postal_code, city = fixed.address or (None, None, None)
            self.learners.append(
                _Learner(
                    number, fixed.email, fixed.username, self._password_hash(fixed_rng),
                    fixed.first_name, fixed.last_name, fixed.phone, street, postal_code, city,
                    fixed.country, fixed.language, created, last_login,
                )
            )  # fmt: skip
            self.taken_emails.add(fixed.email.lower())
            self.taken_usernames.add(fixed.username)
        for number in range(len(_FIXED_LEARNERS) + 1, self.learner_count + 1):
            if number % 5000 == 0 and self.learners[-1].email.islower():
                self.learners.append(self._second_account(rng, number, self.learners[-1]))
            else:
                self.learners.append(self._random_learner(rng, number))

    def _random_learner(self, rng: random.Random, number: int) -> _Learner:
        pools = self.pools
        if rng.random() < 0.08:
            firsts, lasts, home = rng.choice(pools.foreign_names)
            first, last = rng.choice(firsts), rng.choice(lasts)
            country = home if rng.random() < 0.3 and home in pools.addresses else "FR"
            language = "en" if rng.random() < 0.6 else "fr"
        else:
            female = rng.random() < 0.55
            first = rng.choice(pools.female_first_names if female else pools.male_first_names)
            last = rng.choice(pools.last_names)
            draw = rng.random()
            country = "FR" if draw < 0.94 else "CH" if draw < 0.97 else "CA"
            language = "en" if rng.random() < 0.12 else "fr"
        street = postal_code = city = None
        if rng.random() < 0.92:
            street, postal_code, city = rng.choice(pools.addresses[country])
        phone = self._phone(rng, country) if rng.random() < 0.85 else None
        created = self.now_ts - _between(rng, _DAY, _HISTORY)
        draw = rng.random()
        two_years_ago = self.now_ts - 2 * _YEAR
        if draw < 0.05:
            last_login = None
        elif draw < 0.22 and created < two_years_ago:
            last_login = _between(rng, created, two_years_ago)
        else:
            last_login = _between(rng, max(created, two_years_ago), self.now_ts)
        learner = _Learner(
            number, self._email(rng, first, last), self._username(rng, first, last),
            self._password_hash(rng), first, last, phone, street, postal_code, city,
            country, language, created, last_login,
        )  # fmt: skip
        if rng.random() < 0.015:
            learner.deactivated = _between(rng, learner.active_until, self.now_ts)
        return learner

    def _second_account(self, rng: random.Random, number: int, first: _Learner) -> _Learner:
        """The same person again, signed up with the same address in other letter case."""
        local, domain = first.email.split("@")
        created = _between(rng, first.created, self.now_ts)
        return _Learner(
            number, f"{local.title()}@{domain}", self._username(rng, first.first_name, "2"),
            self._password_hash(rng), first.first_name, first.last_name, first.phone,
            first.street, first.postal_code, first.city, first.country, first.language,
            created, _between(rng, created, self.now_ts),
        )  # fmt: skip

    def _email(self, rng: random.Random, first: str, last: str) -> str:
        """Make an address unique even when lower-cased; a few keep capitals."""
        first_part, last_part = _ascii(first).replace(" ", ""), _ascii(last).replace(" ", "")
        domain = rng.choice(cat.EMAIL_DOMAINS)
        shape = rng.random()
        if shape < 0.5:
            local = f"{first_part}.{last_part}"
        elif shape < 0.7:
            local = f"{first_part}{last_part}"
        elif shape < 0.85:
            local = f"{first_part[:1]}{last_part}"
        else:
            local = f"{last_part}.{first_part}"
        candidate = f"{local}@{domain}"
        while candidate in self.taken_emails:
            candidate = f"{local}{rng.randint(1, 999)}@{domain}"
        self.taken_emails.add(candidate)
        if rng.random() < 0.03:
            name, _, host = candidate.partition("@")
            return f"{name.title()}@{host}"
        return candidate

    def _username(self, rng: random.Random, first: str, last: str) -> str:
        base = f"{_ascii(first)[:12]}{rng.choice(('', '.', '_'))}{_ascii(last)[:12]}"
        base = base.replace(" ", "") or "learner"
        candidate = base
        while candidate in self.taken_usernames:
            candidate = f"{base}{rng.randint(2, 9999)}"
        self.taken_usernames.add(candidate)
        return candidate

    @staticmethod
    def _phone(rng: random.Random, country: str) -> str:
        prefixes, digits = _PHONE_FORMATS[country]
        return rng.choice(prefixes) + "".join(rng.choices("0123456789", k=digits))

    @staticmethod
    def _password_hash(rng: random.Random) -> str | None:
        """Look like a stored hash without the cost of hashing anything."""
        draw = rng.random()
        if draw < 0.01:
            return None
        if draw < 0.3:
            return "$2b$12$" + "".join(rng.choices(_BCRYPT_ALPHABET, k=53))
        salt = base64.b64encode(rng.randbytes(16)).rstrip(b"=").decode("ascii")
        digest = base64.b64encode(rng.randbytes(32)).rstrip(b"=").decode("ascii")
        return f"$argon2id$v=19$m=65536,t=3,p=4${salt}${digest}"

    # account, billing and learning

    def _profiles(self) -> Iterator[Row]:
        rng = self._rng("learner_profile")
        yield from self._fixed(schema.learner_profile)
        for learner in self._others():
            if rng.random() >= 0.6:
                continue
            yield (
                learner.id,
                rng.choice(cat.LANGUAGE_LEVELS),
                rng.choice(cat.LEARNING_STYLES) if rng.random() < 0.8 else None,
                rng.choice(cat.GOALS) if rng.random() < 0.7 else None,
                _at(_between(rng, learner.created, learner.active_until)),
            )

    def _cards(self) -> Iterator[Row]:
        rng = self._rng("payment_card")
        fixed = self._fixed(schema.payment_card)
        yield from fixed
        card_id = len(fixed)
        for learner in self._others():
            for _ in range(_pick_count(rng, (0.42, 0.40, 0.14, 0.04))):
                card_id += 1
                created = _between(rng, learner.created, learner.active_until)
                brand = rng.choices(("CB", "Visa", "Mastercard", "Amex"), (45, 30, 20, 5))[0]
                yield (
                    card_id,
                    learner.id,
                    "pm_" + "".join(rng.choices(_BASE62, k=24)),
                    "".join(rng.choices("0123456789", k=4)),
                    brand,
                    rng.randint(1, 12),
                    _at(created).year + rng.randint(1, 5),
                    _at(created),
                )

    def _invoices(self) -> tuple[list[Row], list[Row], list[Row]]:
        """Invoices, their lines, and one purchase per line plus a few free courses."""
        rng = self._rng("invoice")
        invoices = list(self._fixed(schema.invoice))
        lines = list(self._fixed(schema.invoice_line))
        purchases = list(self._fixed(schema.course_purchase))
        for row in purchases:
            self.purchased.setdefault(row[1], []).append(row[2])
        for learner in self._others():
            count = _pick_count(rng, (0.2, 0.25, 0.2, 0.15, 0.1, 0.1))
            if learner.last_login is None:
                count = min(count, 1)
            for _ in range(count):
                invoice_id = len(invoices) + 1
                issued = _between(rng, learner.created, learner.active_until)
                courses = rng.sample(_PAID_COURSES, _pick_count(rng, (0, 0.35, 0.35, 0.3)))
                total = 0
                for course_id in courses:
                    quantity = 2 if rng.random() < 0.05 else 1
                    price = cat.COURSES[course_id - 1].price_cents
                    total += quantity * price
                    lines.append(
                        (len(lines) + 1, invoice_id, course_id,
                         cat.COURSES[course_id - 1].title, quantity, price)
                    )  # fmt: skip
                    purchases.append(
                        (len(purchases) + 1, learner.id, course_id, invoice_id, _at(issued),
                         self._progress(rng, issued))
                    )  # fmt: skip
                    self.purchased.setdefault(learner.id, []).append(course_id)
                invoices.append(
                    (invoice_id, learner.id, f"FA{_at(issued).year}-{invoice_id:07d}",
                     _at(issued), learner.full_name, learner.street, learner.postal_code,
                     learner.city, learner.country, total, "EUR", False)
                )  # fmt: skip
            if rng.random() < 0.15:
                course_id = rng.choice(_FREE_COURSES)
                started = _between(rng, learner.created, learner.active_until)
                purchases.append(
                    (len(purchases) + 1, learner.id, course_id, None, _at(started),
                     self._progress(rng, started))
                )  # fmt: skip
                self.purchased.setdefault(learner.id, []).append(course_id)
        return invoices, lines, purchases

    def _progress(self, rng: random.Random, started: int) -> int:
        """Progress grows with the time since purchase: older courses are mostly finished."""
        months = (self.now_ts - started) / (30 * _DAY)
        return min(100, int(rng.random() * 25 * (1 + months)))

    def _interests(self) -> Iterator[Row]:
        rng = self._rng("course_interest")
        fixed = self._fixed(schema.course_interest)
        yield from fixed
        interest_id = len(fixed)
        for learner in self._others():
            count = _pick_count(rng, (0.35, 0.4, 0.15, 0.1))
            for course_id in rng.sample(range(1, len(cat.COURSES) + 1), count):
                interest_id += 1
                noted = _between(rng, learner.created, learner.active_until)
                yield interest_id, learner.id, course_id, _at(noted)

    def _comments(self) -> Iterator[Row]:
        rng = self._rng("course_comment")
        fixed = self._fixed(schema.course_comment)
        yield from fixed
        comment_id = len(fixed)
        for learner in self._others():
            courses = self.purchased.get(learner.id)
            if not courses:
                continue
            for _ in range(_pick_count(rng, (0.4, 0.35, 0.15, 0.1))):
                comment_id += 1
                posted = _between(rng, learner.created, learner.active_until)
                yield (
                    comment_id, learner.id, rng.choice(courses), rng.choice(cat.COMMENTS),
                    _at(posted),
                )  # fmt: skip
        yield from self._comments_naming_the_sample(comment_id)

    # --- comments naming the sample learner, for the mention search (issue 20) ---------------

    def _comments_naming_the_sample(self, last_id: int) -> Iterator[Row]:
        """Comments by other learners that name the sample learner (in other case, without
        accents), and one naming a namesake (a textbook's author): a possible mention that is
        not her, for staff to set aside."""
        authors = [learner for learner in self._others() if self.purchased.get(learner.id)][:3]
        sample = next(learner for learner in self.learners if learner.id == _SAMPLE_ID)
        texts = (
            f"Merci à {_ascii(sample.first_name)} {sample.last_name.upper()} pour ses fiches "
            "de vocabulaire, partagées sur le forum.",
            f"Je révise l'oral chaque semaine avec {sample.full_name} : très efficace.",
            f"Le manuel de {sample.full_name} (Éditions du Parc) complète bien ce cours.",
        )
        for number, (author, text) in enumerate(zip(authors, texts, strict=False), 1):
            courses = self.purchased[author.id]
            posted = max(author.created, min(author.active_until, self.now_ts - 30 * _DAY))
            yield last_id + number, author.id, courses[0], text, _at(posted)

    # --- end of comments naming the sample learner ----------------------------------------------

    def _quiz_answers(self) -> Iterator[Row]:
        rng = self._rng("quiz_answer")
        fixed = self._fixed(schema.quiz_answer)
        yield from fixed
        answer_id = len(fixed)
        for learner in self._others():
            for course_id in self.purchased.get(learner.id, ()):
                for _ in range(_pick_count(rng, (0.5, 0.2, 0.15, 0.1, 0.05))):
                    answer_id += 1
                    question, answers = rng.choice(cat.QUIZ_QUESTIONS)
                    answer = rng.choice(answers)
                    if len(answers) <= 4:
                        score: int | None = 100 if answer == answers[0] else 0
                    else:
                        score = None if rng.random() < 0.3 else rng.randrange(40, 101, 5)
                    answered = _between(rng, learner.created, learner.active_until)
                    yield answer_id, learner.id, course_id, question, answer, score, _at(answered)

    def _survey_responses(self) -> Iterator[Row]:
        rng = self._rng("survey_response")
        fixed = self._fixed(schema.survey_response)
        yield from fixed
        response_id = len(fixed)
        for learner in self._others():
            for _ in range(_pick_count(rng, (0.68, 0.26, 0.06))):
                response_id += 1
                submitted = _between(rng, learner.created, learner.active_until)
                yield (
                    response_id,
                    learner.id,
                    rng.choice(cat.SURVEYS),
                    rng.randint(1, 5) if rng.random() < 0.95 else None,
                    rng.choice(cat.SURVEY_COMMENTS) if rng.random() < 0.4 else None,
                    _at(submitted),
                )

    # support

    def _support(self) -> tuple[list[Row], list[Row], list[Row]]:
        """Threads of about 2.7 messages, one thread per 2.7 learners; 5% shared by two."""
        rng = self._rng("support")
        threads = list(self._fixed(schema.support_thread))
        participants = list(self._fixed(schema.support_participant))
        messages = list(self._fixed(schema.support_message))
        others = [learner for learner in self.learners if learner.id != _SAMPLE_ID]
        for _ in range(round(len(others) / 2.7)):
            thread_id = len(threads) + 1
            opener = rng.choice(others)
            authors: list[_Learner] = [opener]
            length = 1 + _pick_count(rng, (0.15, 0.35, 0.25, 0.15, 0.1))
            if rng.random() < 0.05:
                colleague = rng.choice(others)
                while colleague.id == opener.id:
                    colleague = rng.choice(others)
                authors.append(colleague)
                length = max(length, 3)
            topic = rng.choice(cat.SUPPORT_TOPICS)
            opened = _between(rng, opener.created, opener.active_until)
            sent = opened
            # A shared thread: both learners write, then staff and learners take turns.
            speakers: Sequence[_Learner | None] = (
                (opener, authors[-1], None, opener, None, authors[-1])
                if len(authors) == 2
                else (opener, None) * 3
            )
            for position in range(length):
                author = speakers[position]
                body = rng.choice(
                    topic.staff_messages if author is None else topic.learner_messages
                )
                messages.append(
                    (len(messages) + 1, thread_id, None if author is None else author.id, body,
                     _at(sent))
                )  # fmt: skip
                sent += rng.randint(600, 3 * _DAY)
            for joined, participant in enumerate(authors):
                participants.append((thread_id, participant.id, _at(opened + joined * 600)))
            closed = _at(sent) if rng.random() < 0.8 and sent < self.now_ts else None
            threads.append((thread_id, topic.topic, _at(opened), closed))
        return threads, participants, messages

    def _exam_registrations(self) -> Iterator[Row]:
        rng = self._rng("exam_registration")
        fixed = self._fixed(schema.exam_registration)
        yield from fixed
        registration_id = len(fixed)
        for learner in self._others():
            count = _pick_count(rng, (0.73, 0.24, 0.03))
            if not count:
                continue
            born = date(1958, 1, 1) + timedelta(days=rng.randint(0, 42 * 365))
            document_type = rng.choices(("passeport", "titre_sejour", "carte_identite"), (5, 3, 2))
            document_number = _document_number(rng, document_type[0])
            for _ in range(count):
                registration_id += 1
                registered = _between(rng, learner.created, learner.active_until)
                session = _at(registered).date() + timedelta(days=rng.randint(14, 90))
                sent = registered + rng.randint(3600, 5 * _DAY)
                yield (
                    registration_id,
                    learner.id,
                    rng.choice(cat.EXAMS),
                    session,
                    born,
                    document_type[0],
                    document_number,
                    _at(registered),
                    _at(sent) if sent < self.now_ts and rng.random() < 0.9 else None,
                )

    # prospects and marketing

    def _prospects(self) -> Iterator[Row]:
        rng = self._rng("prospect")
        pools = self.pools
        for prospect_id in range(1, max(1, round(self.learner_count / 10)) + 1):
            first = rng.choice(pools.female_first_names + pools.male_first_names)
            last = rng.choice(pools.last_names)
            email = self._email(rng, first, last)
            created = self.now_ts - _between(rng, _DAY, _HISTORY)
            self.prospects.append((prospect_id, email, created))
            named = rng.random() < 0.7
            yield (
                prospect_id,
                email,
                first if named else None,
                last if named else None,
                self._phone(rng, "FR") if rng.random() < 0.3 else None,
                rng.choice(cat.PROSPECT_SOURCES),
                _at(created),
                _at(_between(rng, created, self.now_ts)),
            )

    def _marketing(self) -> tuple[list[Row], list[Row]]:
        """Subscriptions of learners then prospects, with the opens of their emails."""
        rng = self._rng("marketing")
        subscriptions = list(self._fixed(schema.marketing_subscription))
        opens = list(self._fixed(schema.email_open))
        subscribers: list[tuple[str, int | None, int | None, int, int]] = [
            (learner.email, learner.id, None, learner.created, _pick_count(rng, (0.25, 0.55, 0.2)))
            for learner in self._others()
        ]
        subscribers += [
            (email, None, prospect_id, created, 1 + _pick_count(rng, (0.7, 0.3)))
            for prospect_id, email, created in self.prospects
        ]
        for email, learner_id, prospect_id, created, count in subscribers:
            for list_name in rng.sample(cat.MARKETING_LISTS, count):
                subscription_id = len(subscriptions) + 1
                consent = _between(rng, created, created + 30 * _DAY)
                consent = min(consent, self.now_ts - 3600)
                unsubscribed = _between(rng, consent, self.now_ts) if rng.random() < 0.12 else None
                subscriptions.append(
                    (subscription_id, email, learner_id, prospect_id, list_name,
                     unsubscribed is None, _at(consent),
                     None if unsubscribed is None else _at(unsubscribed))
                )  # fmt: skip
                if rng.random() >= 0.4:
                    continue
                until = self.now_ts if unsubscribed is None else unsubscribed
                for _ in range(rng.randint(1, 6)):
                    opened = _at(_between(rng, consent, until))
                    opens.append(
                        (len(opens) + 1, subscription_id,
                         f"{list_name}-{opened.year}-{opened.month:02d}", opened,
                         rng.choice(cat.MAIL_CLIENTS) if rng.random() < 0.9 else None)
                    )  # fmt: skip
        return subscriptions, opens

    # tracking

    def _tracking_events(self) -> Iterator[Row]:
        """Sessions of page views per learner device, then 10% more from anonymous visitors."""
        rng = self._rng("tracking_event")
        rnd, expo = rng.random, rng.expovariate
        pages = [cat.SITE_URL + path for path, weight in cat.PAGES for _ in range(weight)]
        searches = [
            (f"{cat.SITE_URL}/fr/recherche?q={quote_plus(term)}", term) for term in cat.SEARCH_TERMS
        ]
        referrers = cat.EXTERNAL_REFERRERS
        fixed = self._fixed(schema.tracking_event)
        yield from fixed
        event_id = len(fixed)
        learner_events = 0
        others = list(self._others())
        weights = [_activity(learner, self.now_ts) for learner in others]
        scale = self.events_per_learner * len(weights) / (sum(weights) or 1)

        def session(
            learner_id: int | None, cookie: str, device: str, start: int, length: int
        ) -> Iterator[Row]:
            nonlocal event_id
            referrer = referrers[int(rnd() * len(referrers))] if rnd() < 0.6 else None
            occurred = start
            for position in range(length):
                if rnd() < 0.08:
                    page, terms = searches[int(rnd() * len(searches))]
                else:
                    page, terms = pages[int(rnd() * len(pages))], None
                duration = None if position == length - 1 else 3 + int(expo(1 / 40))
                event_id += 1
                yield (
                    event_id, learner_id, cookie, _at(occurred), page, referrer, terms,
                    duration, device,
                )  # fmt: skip
                referrer = page
                occurred += (duration or 0) + 1

        for learner, weight in zip(others, weights, strict=True):
            mean = scale * weight
            count = int(expo(1 / mean) + rnd()) if mean > 0 else 0
            if not count:
                continue
            devices = [
                (_uuid(rng), cat.DEVICES[int(rnd() * len(cat.DEVICES))])
                for _ in range(1 + (rnd() < 0.5) + (rnd() < 0.15))
            ]
            low, high = learner.created, learner.active_until
            learner_events += count
            while count:
                length = min(count, 1 + int(expo(0.6)))
                cookie, device = devices[int(rnd() * len(devices))]
                yield from session(learner.id, cookie, device, _between(rng, low, high), length)
                count -= length
        anonymous = round(learner_events / 10)
        while anonymous:
            length = min(anonymous, 1 + int(expo(0.6)))
            device = cat.DEVICES[int(rnd() * len(cat.DEVICES))]
            start = self.now_ts - _between(rng, 60, _HISTORY)
            yield from session(None, _uuid(rng), device, start, length)
            anonymous -= length


def _activity(learner: _Learner, now: int) -> float:
    """How much a learner uses the site, relative to an active one."""
    if learner.last_login is None:
        return 0.2
    if learner.last_login < now - 2 * _YEAR:
        return 0.6
    return 1.0


def _document_number(rng: random.Random, document_type: str) -> str:
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    if document_type == "passeport":
        return (
            f"{rng.randint(10, 99)}{''.join(rng.choices(letters, k=2))}{rng.randint(0, 99999):05d}"
        )
    if document_type == "titre_sejour":
        return f"{rng.randint(0, 9_999_999_999):010d}"
    return "".join(rng.choices(letters + "0123456789", k=9))


# -- the sample learner's rows --------------------------------------------------------------


def _fixed_rows(now: datetime) -> dict[str, list[Row]]:
    """The hand-written rows of the sample learner (id 1), first in every table."""

    def ago(days: int, hours: int = 0) -> datetime:
        return now - timedelta(days=days, hours=hours)

    def month(prefix: str, when: datetime) -> str:
        return f"{prefix}-{when.year}-{when.month:02d}"

    zoe, lukasz = _SAMPLE_ID, _COLLEAGUE_ID
    course = _COURSE_ID
    street, postal_code, city = _FIXED_LEARNERS[0].address or (None, None, None)
    tef, fle_b1, medical = (
        cat.COURSES[course["TEF-CA"] - 1],
        cat.COURSES[course["FLE-B1"] - 1],
        (cat.COURSES[course["FOS-MED"] - 1]),
    )
    first_invoice, second_invoice = ago(690, 4), ago(290, 2)
    laptop, phone, tablet = (
        "0b7e2c1a-5d43-4f6e-9a21-3c8d7e5f1b20",
        "7f3a9c2e-1b84-4d0f-8e6a-52c1d9b0a4e7",
        "c41d2e8b-9f07-4a3c-b6e5-d8a1f2037c96",
    )
    laptop_device, phone_device = "Firefox 132 / Ubuntu", "Safari / iPhone iOS 18"
    site = cat.SITE_URL
    newsletter_opens = (ago(55, 7), ago(25, 6))
    offers_open = ago(500, 8)
    return {
        "learner_profile": [
            (zoe, "B1", "par la pratique",
             "Obtenir le niveau B2 pour travailler dans un hôpital à Montréal.", ago(40)),
        ],
        "payment_card": [
            (1, zoe, "pm_1Zoe4fKx9QvR2LmT7sYw3NbH", "4242", "Visa", 9, 2028, ago(700)),
            (2, zoe, "pm_8HqT3zLe5WvN1cRk6PbM0xYd", "1881", "CB", 3, 2027, ago(300)),
        ],
        "invoice": [
            (1, zoe, f"FA{first_invoice.year}-{1:07d}", first_invoice, "Zoé Lefèvre", street,
             postal_code, city, "FR", tef.price_cents + fle_b1.price_cents, "EUR", False),
            (2, zoe, f"FA{second_invoice.year}-{2:07d}", second_invoice, "Zoé Lefèvre", street,
             postal_code, city, "FR", medical.price_cents, "EUR", False),
        ],
        "invoice_line": [
            (1, 1, course["TEF-CA"], tef.title, 1, tef.price_cents),
            (2, 1, course["FLE-B1"], fle_b1.title, 1, fle_b1.price_cents),
            (3, 2, course["FOS-MED"], medical.title, 1, medical.price_cents),
        ],
        "course_purchase": [
            (1, zoe, course["TEF-CA"], 1, first_invoice, 100),
            (2, zoe, course["FLE-B1"], 1, first_invoice, 85),
            (3, zoe, course["FOS-MED"], 2, second_invoice, 40),
            (4, zoe, course["FLE-DECOUV"], None, ago(1120), 100),
        ],
        "course_interest": [
            (1, zoe, course["DALF-C1"], ago(100)),
            (2, zoe, course["ENG-BUS"], ago(35)),
        ],
        "course_comment": [
            (1, zoe, course["TEF-CA"],
             "Les tests blancs m'ont beaucoup aidée pour l'épreuve orale.", ago(600)),
            (2, zoe, course["FOS-MED"],
             "Très utile pour mes stages, mais il manque le vocabulaire de la pédiatrie.",
             ago(120)),
        ],
        "quiz_answer": [
            (1, zoe, course["FLE-B1"], cat.QUIZ_QUESTIONS[0][0], "sois", 100, ago(650)),
            (2, zoe, course["FLE-B1"], cat.QUIZ_QUESTIONS[3][0], "écrit", 0, ago(649)),
            (3, zoe, course["FOS-MED"], "Décrivez les symptômes d'un patient fiévreux.",
             "Le patient a de la fièvre depuis deux jours et se plaint de maux de tête.", None,
             ago(200)),
        ],
        "survey_response": [
            (1, zoe, "Satisfaction fin de formation", 5,
             "Formatrice patiente, j'ai réussi mon TEF du premier coup.", ago(580)),
            (2, zoe, "Enquête qualité Qualiopi", 4, None, ago(110)),
        ],
        "support_thread": [
            (1, "Inscription de groupe", ago(300), ago(296)),
            (2, "Report de ma session d'examen", ago(20), None),
        ],
        "support_participant": [
            (1, zoe, ago(300)),
            (1, lukasz, ago(299)),
            (2, zoe, ago(20)),
        ],
        "support_message": [
            (1, 1, zoe, "Bonjour, mon collègue Łukasz et moi voulons suivre le cours de "
             "français médical. Pouvons-nous avoir une seule facture ?", ago(300)),
            (2, 1, lukasz, "Je confirme, je suis le collègue de Zoé au service de pédiatrie.",
             ago(299)),
            (3, 1, None, "Bonjour, nous pouvons vous proposer un tarif de groupe à partir de "
             "deux personnes.", ago(298)),
            (4, 1, zoe, "Merci, c'est parfait. Voici l'adresse de facturation de l'hôpital.",
             ago(297)),
            (5, 1, None, "C'est noté, la facture commune sera envoyée à votre service "
             "formation.", ago(296)),
            (6, 2, zoe, "Bonjour, je ne pourrai pas être présente à la session du mois "
             "prochain. Puis-je la reporter ?", ago(20)),
            (7, 2, None, "Bonjour, le report est possible jusqu'à quinze jours avant la "
             "session.", ago(19)),
        ],
        "exam_registration": [
            (1, zoe, "TEF Canada", (ago(650)).date(), date(1994, 5, 17), "passeport",
             "19AV48213", ago(680), ago(679)),
        ],
        "marketing_subscription": [
            (1, SAMPLE_LEARNER_EMAIL, zoe, None, "newsletter", True, ago(1125), None),
            (2, SAMPLE_LEARNER_EMAIL, zoe, None, "offres", False, ago(1125), ago(400)),
        ],
        "email_open": [
            (1, 1, month("newsletter", newsletter_opens[0]), newsletter_opens[0],
             "Apple Mail / iPhone"),
            (2, 1, month("newsletter", newsletter_opens[1]), newsletter_opens[1], "Gmail / Web"),
            (3, 2, month("offres", offers_open), offers_open, None),
        ],
        "tracking_event": [
            (1, zoe, tablet, ago(1130, 10), f"{site}/fr/formations/decouverte",
             "https://www.google.example/", None, 95, "Safari / iPad iPadOS 17"),
            (2, zoe, laptop, ago(690, 5), f"{site}/fr/recherche?q=tef+canada", f"{site}/",
             "tef canada", 40, laptop_device),
            (3, zoe, laptop, ago(690, 5) + timedelta(seconds=41),
             f"{site}/fr/formations/tef-canada", f"{site}/fr/recherche?q=tef+canada", None, 180,
             laptop_device),
            (4, zoe, laptop, ago(690, 5) + timedelta(seconds=222), f"{site}/fr/panier",
             f"{site}/fr/formations/tef-canada", None, 60, laptop_device),
            (5, zoe, laptop, ago(690, 5) + timedelta(seconds=283), f"{site}/fr/paiement",
             f"{site}/fr/panier", None, None, laptop_device),
            (6, zoe, phone, ago(25, 6), f"{site}/fr/mon-compte/mes-cours",
             None, None, 600, phone_device),
            (7, zoe, phone, ago(3, 5), f"{site}/fr/connexion", None, None, 12, phone_device),
            (8, zoe, phone, ago(3, 5) + timedelta(seconds=13), f"{site}/fr/mon-compte",
             f"{site}/fr/connexion", None, None, phone_device),
        ],
    }  # fmt: skip
