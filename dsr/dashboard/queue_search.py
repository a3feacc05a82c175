"""What the queue's search box finds: a request by part of its reference, or by part of a name
or an address it holds (the requester's email; for a request made for someone else, the person's
name and email; for one received by letter or phone, the contact details staff typed), whatever
the case and the accents.

Digits (with the year and the prefix, or without) name a reference: "8", "000008", "2026-8" and
"DSR-2026-000008" all find DSR-2026-000008, whatever the number's padding; with the year, through
the reference's unique index. Any other text is looked for inside those names and addresses, the
user's `%` and `_` matching only themselves. Case and accents are folded on both
sides: in Python for the text typed, in SQL for the column (`folded`), the same letters on every
engine (PostgreSQL's `translate`, MariaDB's accent-insensitive collation, `fold` itself as an
SQL function on SQLite).
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from typing import Any

from sqlalchemy import ColumnElement, String, event, func, or_
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from dsr.db import table_of
from dsr.requests.models import REFERENCE_PREFIX, DataRequest

REFERENCE_PART = re.compile(
    r"^(?:(?P<prefix>[A-Za-z]{2,10})-)?(?:(?P<year>\d{4})-)?(?P<number>\d{1,9})$"
)
MARIADB_FOLDING_COLLATION = "utf8mb4_unicode_ci"
SQLITE_FOLD = "dsr_fold"


def _accented() -> tuple[str, str]:
    """Return the accented letters (both cases) and the plain lower-case letter each folds to,
    position by position: the letters of Latin-1 and Latin Extended-A (French, German, Spanish,
    Polish, Czech...) that are a plain letter with accents."""
    accented, plain = [], []
    for code in range(0xC0, 0x180):
        letter = chr(code)
        decomposed = unicodedata.normalize("NFKD", letter)
        base = decomposed[0].lower()
        marks = decomposed[1:]
        if marks and all(unicodedata.combining(mark) for mark in marks) and base.isascii():
            accented.append(letter)
            plain.append(base)
    return "".join(accented), "".join(plain)


ACCENTED, PLAIN = _accented()
_FOLD = str.maketrans(ACCENTED, PLAIN)


def fold(text: str) -> str:
    """Return `text` as the search compares it: lower-case, without the accents `folded` drops."""
    return text.lower().translate(_FOLD)


class folded(FunctionElement[str]):  # noqa: N801  # an SQL function, named as SQL names them
    """`fold` in SQL, of a column held lower-case (as `normalize_email` writes addresses): its
    accented letters replaced by plain ones."""

    type = String()
    name = "folded"
    inherit_cache = True


@event.listens_for(Engine, "connect")
def _sqlite_fold(dbapi_connection: Any, _record: Any) -> None:
    # SQLite has no translate() and its lower() knows ASCII only: it is given `fold`.
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(SQLITE_FOLD, 1, _fold_value, deterministic=True)


def _fold_value(value: str | None) -> str | None:
    return fold(value) if value is not None else None


@compiles(folded)
def _folded_by_function(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FOLD}({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _folded_by_translate(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    # translate() with the whole table costs 35 µs a value (3.5 s over 100,000 addresses):
    # only a text with a character of more than one byte can hold an accent.
    column = compiler.process(element.clauses, **kw)
    return (
        f"CASE WHEN octet_length({column}) = char_length({column}) THEN {column} "
        f"ELSE translate({column}, '{ACCENTED}', '{PLAIN}') END"
    )


@compiles(folded, "mysql")
@compiles(folded, "mariadb")
def _folded_by_collation(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    # Compared in a case- and accent-insensitive collation, whatever the table's own.
    column = compiler.process(element.clauses, **kw)
    return f"({column} COLLATE {MARIADB_FOLDING_COLLATION})"


def search_condition(text: str) -> ColumnElement[bool]:
    """Return the condition on `dsr_request` of the requests `text` finds (see the module)."""
    requests = table_of(DataRequest)
    typed = text.strip()
    part = REFERENCE_PART.match(typed)
    if part is not None:
        prefix = (part["prefix"] or REFERENCE_PREFIX).upper()
        number = f"{int(part['number']):06d}"
        if part["year"] is not None:
            return requests.c.reference == f"{prefix}-{part['year']}-{number}"
        return requests.c.reference.like(f"{prefix}-%-{number}")
    needle = fold(typed)
    return or_(
        *(
            folded(column).contains(needle, autoescape=True)
            for column in (
                requests.c.normalized_email,
                func.lower(requests.c.subject_email),
                func.lower(requests.c.subject_name),
                func.lower(requests.c.contact_details),
            )
        )
    )
