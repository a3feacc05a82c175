"""Find possible mentions of a person in other people's free text (issue 20).

The map's `mentions` names the person's full name (columns of their own rows) and the text
columns to search. A match is only a *possible* mention: homonyms exist, so staff decide on each
one, and nothing here reports or erases anything. The match ignores case and accents and wants
the whole name (`Zoé Martin` is found in "merci zoe  MARTIN !", not in "Zoémartine"). Each
database narrows the rows with `lower(text) LIKE pattern`, the name's `%` and `_` escaped
(PostgreSQL unaccents the text with translate(); elsewhere each letter that may carry an accent
is a one-character wildcard); the match is then confirmed here on the unaccented text with word
boundaries. Names are never logged.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, func, select, tuple_
from sqlalchemy.exc import SQLAlchemyError

from inventory.keyed import Key, chunks
from inventory.locator import SubjectLocation
from inventory.model import DataMap, MentionAction, MentionSearch
from inventory.systems import Systems, SystemUnavailable, short_reason

LIKE_ESCAPE = "!"
"""The escape character of the LIKE patterns: not a backslash, which MySQL strings also
treat as one."""
_MAP_CHECK = "run `dsr map check --live`"
EXCERPT_CHARACTERS = 60
"""How much text an excerpt shows on each side of the name."""
_ACCENTED_BASES = frozenset(
    unicodedata.normalize("NFKD", chr(code))[0].lower()
    for code in range(0xC0, 0x180)
    if unicodedata.normalize("NFKD", chr(code))[0].isascii()
)
"""The ASCII letters that have an accented form in Latin-1 and Latin Extended-A (é, ç, ñ, ł...):
in a LIKE pattern they are `_`, any one character, since the stored text may carry the accent
(and SQLite's lower() leaves non-ASCII capitals as they are)."""


@dataclass(frozen=True)
class PossibleMention:
    """A row of another person's text that may name the subject, for staff to decide on."""

    system: str
    table: str
    column: str
    key: Key
    excerpt: str

    @property
    def place(self) -> tuple[str, str, str, Key]:
        """What a staff decision is about: the text column of one row."""
        return (self.system, self.table, self.column, self.key)


def fold(text: str) -> tuple[str, list[int]]:
    """Return `text` without accents and case-folded, with the index in `text` of each
    character of the result (to cut an excerpt of the original around a match)."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        plain = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        ).casefold()
        folded.append(plain)
        origin += [index] * len(plain)
    return "".join(folded), origin


def name_words(name: str) -> list[str]:
    """Return the words of a name, folded: 'Zoé  MARTIN' -> ['zoe', 'martin']."""
    return fold(name)[0].split()


def _unaccented_pairs() -> tuple[str, str]:
    """The accented letters of Latin-1 and Latin Extended-A and their ASCII letters, for
    PostgreSQL's translate(): 'é' -> 'e', 'Ç' -> 'C'."""
    accented, plain = "", ""
    for code in range(0xC0, 0x180):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if len(base) == 1 and base != char and base.isascii() and base.isalpha():
            accented, plain = accented + char, plain + base
    return accented, plain


ACCENTED, UNACCENTED = _unaccented_pairs()


def like_pattern(words: Sequence[str], *, unaccented: bool = False) -> str:
    """Return the LIKE pattern (escape `LIKE_ESCAPE`) that any text naming `words` matches once
    lower-cased: `%` between and around the words, `%`, `_` and the escape escaped, non-ASCII
    characters as `_`, and letters that may be accented as `_` too unless the text is compared
    `unaccented` (PostgreSQL's translate() of `ACCENTED` to `UNACCENTED`)."""

    def one(char: str) -> str:
        if char in ("%", "_", LIKE_ESCAPE):
            return LIKE_ESCAPE + char
        if not char.isascii() or (char in _ACCENTED_BASES and not unaccented):
            return "_"
        return char

    return "%" + "%".join("".join(one(c) for c in word) for word in words) + "%"


def name_regex(words: Sequence[str]) -> re.Pattern[str]:
    """Return the whole-name expression that confirms a match on folded text."""
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)")


def excerpt(text: str, start: int, end: int, around: int = EXCERPT_CHARACTERS) -> str:
    """Return the text around `text[start:end]`, with an ellipsis where it is cut."""
    left, right = max(0, start - around), min(len(text), end + around)
    return ("…" if left else "") + text[left:right] + ("…" if right < len(text) else "")


def find_in_text(text: str, words: Sequence[str]) -> tuple[int, int] | None:
    """Return where in `text` the name of `words` is, whole, ignoring case and accents."""
    folded, origin = fold(text)
    found = name_regex(words).search(folded)
    if found is None:
        return None
    return origin[found.start()], origin[found.end() - 1] + 1


def subject_full_names(data_map: DataMap, systems: Systems, location: SubjectLocation) -> list[str]:
    """Return the distinct full names on the subject's own rows (two accounts may give two);
    a name with an empty part is no full name and is left out."""
    if data_map.mentions is None:
        return []
    full_name = data_map.mentions.full_name
    keys = location.owned_keys(full_name.system, full_name.table)
    if not keys:
        return []
    table = systems.tables(full_name.system)[full_name.table]
    spec = data_map.systems[full_name.system].tables[full_name.table]
    columns = [table.c[column.split(".", 1)[1]] for column in full_name.columns]
    names: dict[tuple[str, ...], str] = {}
    with systems.engine(full_name.system).connect() as conn:
        for batch in chunks(keys):
            for row in conn.execute(
                select(*columns).where(_key_in(table, spec.primary_key, batch))
            ):
                parts = [str(value).strip() if value is not None else "" for value in row]
                if all(parts):
                    name = " ".join(parts)
                    names.setdefault(tuple(name_words(name)), name)
    return list(names.values())


def find_mentions(
    data_map: DataMap, systems: Systems, location: SubjectLocation
) -> list[PossibleMention]:
    """Return every row of the map's searched text columns that names the subject, other than
    the subject's own rows, in the map's order then by key; raise `SystemUnavailable` when a
    system cannot be read."""
    if data_map.mentions is None:
        return []
    system = data_map.mentions.full_name.system
    try:
        names = [name_words(name) for name in subject_full_names(data_map, systems, location)]
        names = [words for words in names if words]
        found: list[PossibleMention] = []
        for search in data_map.mentions.search if names else []:
            system = search.system
            found += _search_column(data_map, systems, location, search, names)
    except SQLAlchemyError as exc:  # the server gone, a statement refused
        raise SystemUnavailable(system, short_reason(exc)) from exc
    except KeyError as exc:  # a column the map names is not in the reflected table
        raise SystemUnavailable(system, f"no column `{exc.args[0]}` ({_MAP_CHECK})") from exc
    return found


def _search_column(
    data_map: DataMap,
    systems: Systems,
    location: SubjectLocation,
    search: MentionSearch,
    names: Sequence[Sequence[str]],
) -> Iterator[PossibleMention]:
    table = systems.tables(search.system)[search.table]
    primary_key = data_map.systems[search.system].tables[search.table].primary_key
    own = set(location.owned_keys(search.system, search.table))
    text_column = table.c[search.name]
    key_columns = [table.c[name] for name in primary_key]
    rows: dict[Key, PossibleMention] = {}
    with systems.engine(search.system).connect() as conn:
        for words in names:
            for key, text in _candidates(conn, key_columns, text_column, words):
                if key in own or key in rows:
                    continue
                where = find_in_text(text, words)
                if where is not None:
                    rows[key] = PossibleMention(
                        search.system, search.table, search.name, key, excerpt(text, *where)
                    )
    for key in sorted(rows, key=lambda k: tuple(str(v) for v in k)):
        yield rows[key]


def _candidates(
    conn: Connection, key_columns: Sequence[Any], text_column: Any, words: Sequence[str]
) -> Iterator[tuple[Key, str]]:
    """Yield (key, text) of the rows whose lower-cased text matches the name's LIKE pattern;
    on PostgreSQL the text is unaccented first, so that the pattern keeps its letters."""
    compared: Any = func.lower(text_column)
    unaccented = conn.dialect.name == "postgresql"
    if unaccented:
        compared = func.lower(func.translate(text_column, ACCENTED, UNACCENTED))
    statement = select(*key_columns, text_column).where(
        compared.like(like_pattern(words, unaccented=unaccented), escape=LIKE_ESCAPE)
    )
    width = len(key_columns)
    for row in conn.execute(statement):
        if row[width] is not None:
            yield tuple(row[:width]), str(row[width])


def _key_in(table: Table, primary_key: Sequence[str], keys: Sequence[Key]) -> Any:
    if len(primary_key) == 1:
        return table.c[primary_key[0]].in_([key[0] for key in keys])
    return tuple_(*(table.c[name] for name in primary_key)).in_(list(keys))


# --- what an erasure does to the mentions staff confirmed ---------------------------------------


def redact_name(text: str, words: Sequence[str], replacement: str) -> str:
    """Return `text` with every whole occurrence of the name (any case, any accents) replaced."""
    folded, origin = fold(text)
    spans = [
        (origin[found.start()], origin[found.end() - 1] + 1)
        for found in name_regex(words).finditer(folded)
    ]
    for start, end in reversed(spans):
        text = text[:start] + replacement + text[end:]
    return text


@dataclass(frozen=True)
class MentionsErased:
    redacted: int = 0
    deleted: int = 0


def erase_mentions(
    data_map: DataMap,
    systems: Systems,
    mentions: Sequence[PossibleMention],
    names: Sequence[str],
) -> MentionsErased:
    """Apply the map's action to each mention (confirmed by staff): write `replacement` in place
    of every full name of the subject in its text, or delete its row; one transaction per
    system. A text that no longer holds the name is left as it is. Raise `SystemUnavailable`
    when a system fails (its transaction rolled back)."""
    if data_map.mentions is None or not mentions:
        return MentionsErased()
    actions = {(s.system, s.column): s.erasure for s in data_map.mentions.search}
    replacement = data_map.mentions.replacement
    words = [name_words(name) for name in names]
    redacted = deleted = 0
    for system in dict.fromkeys(m.system for m in mentions):
        try:
            with systems.engine(system).begin() as conn:
                for mention in (m for m in mentions if m.system == system):
                    action = actions.get((system, f"{mention.table}.{mention.column}"))
                    done = _erase_one(conn, data_map, systems, mention, action, words, replacement)
                    if action is MentionAction.DELETE:
                        deleted += done
                    else:
                        redacted += done
        except SQLAlchemyError as exc:
            raise SystemUnavailable(system, short_reason(exc)) from exc
        except KeyError as exc:
            raise SystemUnavailable(system, f"no column `{exc.args[0]}` ({_MAP_CHECK})") from exc
    return MentionsErased(redacted=redacted, deleted=deleted)


def _erase_one(
    conn: Connection,
    data_map: DataMap,
    systems: Systems,
    mention: PossibleMention,
    action: MentionAction | None,
    words: Sequence[Sequence[str]],
    replacement: str,
) -> int:
    """Delete the mention's row or replace the name in its text; return the rows changed."""
    table = systems.tables(mention.system)[mention.table]
    primary_key = data_map.systems[mention.system].tables[mention.table].primary_key
    where = _key_in(table, primary_key, [mention.key])
    if action is MentionAction.DELETE:
        return int(conn.execute(table.delete().where(where)).rowcount)
    current = conn.execute(select(table.c[mention.column]).where(where)).scalar()
    if current is None:
        return 0
    changed = str(current)
    for name in words:
        changed = redact_name(changed, name, replacement)
    if changed == current:
        return 0
    conn.execute(table.update().where(where).values({mention.column: changed}))
    return 1
