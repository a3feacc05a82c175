"""Cross-reference checks of a data map: what a schema of shapes alone cannot see.

Each problem carries the document path it concerns so the loader can give its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from inventory.model import (
    DESK_ACTIVITY,
    DataMap,
    ErasureAction,
    IdentityKind,
    Link,
    MoneyDisplay,
    ReferenceDisplay,
    YearClose,
)

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    loc: Loc
    message: str
    at_key: bool = False


def _closest(name: str, choices: object) -> str:
    options = [str(c) for c in choices]  # type: ignore[attr-defined]
    close = difflib.get_close_matches(name, options, n=1)
    return f" Did you mean `{close[0]}`?" if close else ""


def known_columns(data_map: DataMap, system: str, table: str) -> set[str]:
    """Return every column of a table that the map mentions (keys, links, fields, identities)."""
    spec = data_map.systems[system].tables[table]
    columns = set(spec.primary_key) | {link.column for link in spec.links}
    if spec.owner is not None:
        columns.add(spec.owner.column)
    columns |= {f.name for _, f in data_map.fields_of_table(system, table)}
    for category in data_map.categories.values():
        from_table, from_column = category.retention.from_.split(".", 1)
        if category.system == system and from_table == table:
            columns.add(from_column)
        columns |= {
            change.name
            for change in category.erasure.withdraw
            if change.system == system and change.table == table
        }
    for identity in data_map.identities.values():
        for location in identity.locations.get(system, []):
            t, c = location.column.split(".", 1)
            if t == table:
                columns.add(c)
    for other in data_map.systems[system].tables.values():
        for link in [*other.links, *([other.owner] if other.owner else [])]:
            if link.target_table == table:
                columns.add(link.target_column)
    if data_map.mentions is not None:  # the full name and the texts searched (issue 20)
        full_name = data_map.mentions.full_name
        places = [(full_name.system, column) for column in full_name.columns]
        places += [(search.system, search.column) for search in data_map.mentions.search]
        columns |= {
            ref.split(".", 1)[1]
            for s, ref in places
            if s == system and ref.split(".", 1)[0] == table
        }
    return columns


def dependencies(data_map: DataMap, system: str, table: str) -> list[str]:
    """Return the tables whose rows must be found before this table's: link and owner targets."""
    spec = data_map.systems[system].tables[table]
    targets = [link.target_table for link in spec.links]
    if spec.owner is not None:
        targets.append(spec.owner.target_table)
    return [t for t in dict.fromkeys(targets) if t in data_map.systems[system].tables]


def link_order(data_map: DataMap, system: str) -> list[str]:
    """Return the system's tables with every link target before the tables linking to it."""
    tables = data_map.systems[system].tables
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str) -> None:
        if state.get(name) == 2:
            return
        state[name] = 1
        for target in dependencies(data_map, system, name):
            if state.get(target) != 1:
                visit(target)
        state[name] = 2
        order.append(name)

    for name in tables:
        visit(name)
    return order


def find_cycle(data_map: DataMap, system: str) -> list[str] | None:
    """Return one cycle of links as a list of tables (first == last), or None."""
    tables = data_map.systems[system].tables
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        stack.append(name)
        for target in dependencies(data_map, system, name):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if state.get(target) is None:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[name] = 2
        return None

    for name in tables:
        if state.get(name) is None:
            cycle = visit(name)
            if cycle:
                return cycle
    return None


def validate_references(data_map: DataMap) -> list[Problem]:
    """Return every cross-reference problem of the map (empty when it is consistent)."""
    return list(_problems(data_map))


def _problems(m: DataMap) -> Iterator[Problem]:
    yield from _check_systems(m)
    yield from _check_identities(m)
    yield from _check_categories(m)
    yield from _check_changes(m)
    yield from _check_kept_data(m)
    yield from _check_recipients(m)
    yield from _check_activities(m)
    yield from _check_sides(m)
    yield from _check_identifies(m)
    yield from _check_displays(m)
    yield from _check_grounds(m)
    yield from _check_mentions(m)


def _check_activities(m: DataMap) -> Iterator[Problem]:
    """Activities name categories of the map, and every category serves at least one."""
    served: set[str] = set()
    for a_name, activity in m.activities.items():
        loc: Loc = ("activities", a_name)
        if a_name == DESK_ACTIVITY:
            yield Problem(
                loc,
                f"activity `{a_name}` is the desk's own handling of the requests, which every "
                "register includes: give yours another id.",
                at_key=True,
            )
        for index, subject in enumerate(activity.data_subjects):
            if subject not in m.organisation.data_subjects:
                yield Problem(
                    (*loc, "data_subjects", index),
                    f"activity `{a_name}` concerns “{subject.en}”, which is not one of "
                    "`organisation.data_subjects`: refer to one of them (a YAML alias such as "
                    "*learners), or add it there.",
                )
        for index, category in enumerate(activity.categories):
            if category not in m.categories:
                yield Problem(
                    (*loc, "categories", index),
                    f"activity `{a_name}` uses category `{category}`, which is not declared "
                    f"under `categories`.{_closest(category, m.categories)}",
                )
            served.add(category)
    for c_name in m.categories:
        if c_name not in served:
            yield Problem(
                ("categories", c_name),
                f"category `{c_name}` serves no processing activity: list it in the "
                "`categories` of at least one activity under `activities`.",
                at_key=True,
            )


def _check_kept_data(m: DataMap) -> Iterator[Problem]:
    """A period from the financial year's close needs the year's end; a withdrawal sets columns
    of the category's own tables."""
    for c_name, cat in m.categories.items():
        loc: Loc = ("categories", c_name)
        if (
            cat.retention.from_close_of is YearClose.FINANCIAL_YEAR
            and m.organisation.financial_year_end is None
        ):
            yield Problem(
                (*loc, "retention", "from_close_of"),
                f"the retention of category `{c_name}` runs from the close of the financial year, "
                "but `organisation.financial_year_end` does not say when it ends (MM-DD).",
            )
        if cat.erasure.action is ErasureAction.RETAIN and cat.retention.at_end is None:
            yield Problem(
                (*loc, "retention"),
                f"category `{c_name}` retains its data on erasure, but its retention does not "
                "say what happens when the period ends: a period is a maximum, add "
                "`at_end: delete` or `at_end: anonymize`.",
            )
        for index, column in enumerate(cat.retention.fallback):
            table = column.split(".", 1)[0]
            if cat.system in m.systems and table not in m.systems[cat.system].tables:
                yield Problem(
                    (*loc, "retention", "fallback", index),
                    f"the retention of category `{c_name}` falls back on `{column}`, but system "
                    f"`{cat.system}` does not declare table `{table}`."
                    f"{_closest(table, m.systems[cat.system].tables)}",
                )
        if cat.erasure.held_until is not None:
            yield Problem(
                (*loc, "erasure", "held_until"),
                f"category `{c_name}` sets `held_until`: the desk sets it for a legal hold "
                "placed on a request; a map cannot.",
            )
        own = {((f.system or cat.system), f.table) for f in cat.fields}
        for index, change in enumerate(cat.erasure.withdraw):
            wloc: Loc = (*loc, "erasure", "withdraw", index)
            if (change.system, change.table) not in own:
                yield Problem(
                    (*wloc, "column"),
                    f"category `{c_name}` withdraws its kept rows by setting `{change.column}` "
                    f"in system `{change.system}`, but none of its fields is in that table: it "
                    "can only set columns of its own tables.",
                )
            if change.now and change.value is not None:
                yield Problem(
                    wloc,
                    f"category `{c_name}` gives both `now` and a `value` for `{change.column}`.",
                )


def _check_changes(m: DataMap) -> Iterator[Problem]:
    """Each change sets columns the map knows, as fields of a category, in a declared system."""
    for name in type(m.changes).model_fields:
        change = getattr(m.changes, name)
        if change is None:
            continue
        for index, column in enumerate(change.set):
            loc: Loc = ("changes", name, "set", index)
            if column.system not in m.systems:
                yield Problem(
                    (*loc, "system"),
                    f"change `{name}` refers to system `{column.system}`, which the map does not "
                    f"declare.{_closest(column.system, m.systems)}",
                )
                continue
            mapped = {f.column for _, f in m.fields_of_table(column.system, column.table)}
            if column.column not in mapped:
                yield Problem(
                    (*loc, "column"),
                    f"change `{name}` sets `{column.column}`, which no category of system "
                    f"`{column.system}` lists as a field.",
                )
            if column.now and column.value is not None:
                yield Problem(
                    loc, f"change `{name}` gives both `now` and a `value` for `{column.column}`."
                )


def _check_systems(m: DataMap) -> Iterator[Problem]:
    for sys_name, system in m.systems.items():
        tables = system.tables
        for t_name, table in tables.items():
            loc: Loc = ("systems", sys_name, "tables", t_name)
            links: list[tuple[Loc, Link]] = [
                (("links", i), link) for i, link in enumerate(table.links)
            ]
            if table.owner is not None:
                links.append((("owner",), table.owner))
            for sub, link in links:
                if link.target_table not in tables:
                    yield Problem(
                        (*loc, *sub, "to"),
                        f"`{link.to}` refers to table `{link.target_table}`, which system "
                        f"`{sys_name}` does not declare.{_closest(link.target_table, tables)}",
                    )
                    continue
                target = tables[link.target_table]
                usable = set(target.primary_key) | {lk.column for lk in target.links}
                usable |= {
                    loc_.column.split(".", 1)[1]
                    for ident in m.identities.values()
                    for loc_ in ident.locations.get(sys_name, [])
                    if loc_.column.split(".", 1)[0] == link.target_table
                }
                # a row the target refers to by its key (an address an order ships to): the
                # target column is then a reference to this table, whatever its name
                referenced = sub[0] == "links" and table.primary_key == [link.column]
                if link.target_column not in usable and not referenced:
                    yield Problem(
                        (*loc, *sub, "to"),
                        f"`{link.to}` is not a key of table `{link.target_table}`: a link must "
                        f"point at its primary key ({', '.join(target.primary_key)}), one of its "
                        "link columns or an identity column.",
                    )
        cycle = find_cycle(m, sys_name)
        if cycle:
            yield Problem(
                ("systems", sys_name, "tables", cycle[0], "links"),
                f"the links of system `{sys_name}` go round in a circle ("
                + " → ".join(cycle)
                + "): the tool could not tell where a person's data starts.",
            )
        else:
            reachable = _reachable_tables(m, sys_name)
            for t_name in tables:
                if t_name not in reachable:
                    yield Problem(
                        ("systems", sys_name, "tables", t_name),
                        f"table `{t_name}` of system `{sys_name}` cannot be reached from any "
                        "identity: give it a link to a table that leads to the person, or list "
                        "one of its columns under `identities`.",
                        at_key=True,
                    )


def _reachable_tables(m: DataMap, system: str) -> set[str]:
    tables = m.systems[system].tables
    reachable = {
        loc.column.split(".", 1)[0]
        for ident in m.identities.values()
        for loc in ident.locations.get(system, [])
    }
    for name in link_order(m, system):
        if any(link.target_table in reachable for link in tables[name].links):
            reachable.add(name)
    return reachable


def _check_identities(m: DataMap) -> Iterator[Problem]:
    for i_name, identity in m.identities.items():
        for sys_name, locations in identity.locations.items():
            if sys_name not in m.systems:
                yield Problem(
                    ("identities", i_name, "locations", sys_name),
                    f"identity `{i_name}` refers to system `{sys_name}`, which the map does not "
                    f"declare.{_closest(sys_name, m.systems)}",
                    at_key=True,
                )
                continue
            tables = m.systems[sys_name].tables
            for n, location in enumerate(locations):
                if location.normalised and identity.kind in (IdentityKind.ID, IdentityKind.TEXT):
                    yield Problem(
                        ("identities", i_name, "locations", sys_name, n, "normalised"),
                        f"identity `{i_name}` is of kind `{identity.kind}`, which the locator "
                        "already compares as stored: `normalised` applies to `email` and "
                        "`phone` identities only; remove it.",
                        at_key=True,
                    )
                table = location.column.split(".", 1)[0]
                if table not in tables:
                    yield Problem(
                        ("identities", i_name, "locations", sys_name, n, "column"),
                        f"identity `{i_name}` refers to table `{table}`, which system "
                        f"`{sys_name}` does not declare.{_closest(table, tables)}",
                    )


def _check_categories(m: DataMap) -> Iterator[Problem]:
    claimed: dict[tuple[str, str], str] = {}
    table_actions: dict[tuple[str, str], dict[ErasureAction, str]] = {}
    for c_name, cat in m.categories.items():
        loc: Loc = ("categories", c_name)
        if cat.system not in m.systems:
            yield Problem(
                (*loc, "system"),
                f"category `{c_name}` refers to system `{cat.system}`, which the map does not "
                f"declare.{_closest(cat.system, m.systems)}",
            )
        for r_index, recipient in enumerate(cat.recipients):
            if recipient not in m.recipients:
                yield Problem(
                    (*loc, "recipients", r_index),
                    f"category `{c_name}` names recipient `{recipient}`, which is not declared "
                    f"under `recipients`.{_closest(recipient, m.recipients)}",
                )
        category_tables: set[tuple[str, str]] = set()
        for f_index, field in enumerate(cat.fields):
            floc: Loc = (*loc, "fields", f_index)
            system = field.system or cat.system
            if system not in m.systems:
                if field.system is not None:
                    yield Problem(
                        (*floc, "system"),
                        f"field `{field.column}` refers to system `{system}`, which the map does "
                        f"not declare.{_closest(system, m.systems)}",
                    )
                continue
            tables = m.systems[system].tables
            if field.table not in tables:
                yield Problem(
                    (*floc, "column"),
                    f"field `{field.column}` refers to table `{field.table}`, which system "
                    f"`{system}` does not declare.{_closest(field.table, tables)}",
                )
                continue
            category_tables.add((system, field.table))
            key = (system, field.column)
            if key in claimed:
                yield Problem(
                    (*floc, "column"),
                    f"column `{field.column}` of system `{system}` is claimed by categories "
                    f"`{claimed[key]}` and `{c_name}`: a column belongs to one category.",
                )
            else:
                claimed[key] = c_name
            anonymised = ErasureAction.ANONYMIZE in (cat.erasure.action, cat.end_action)
            if anonymised and field.anonymize is None:
                yield Problem(
                    floc,
                    f"field `{field.column}` has no `anonymize` strategy, but category "
                    f"`{c_name}` is anonymised on erasure or at the end of its period: say how "
                    "(keep, null, fixed, "
                    "keyed_hash, year_only, truncate or unique_placeholder).",
                )
            if field.third_party and tables[field.table].owner is None:
                yield Problem(
                    (*floc, "third_party"),
                    f"field `{field.column}` may hold other people's data, but table "
                    f"`{field.table}` declares no `owner`: the tool could not tell the "
                    "subject's own rows from the others.",
                )
        for system, table in category_tables:
            table_actions.setdefault((system, table), {})[cat.erasure.action] = c_name
        ret_table = cat.retention.from_.split(".", 1)[0]
        if cat.system in m.systems and (cat.system, ret_table) not in category_tables:
            yield Problem(
                (*loc, "retention", "from"),
                f"the retention of category `{c_name}` runs from `{cat.retention.from_}`, but "
                f"table `{ret_table}` holds none of the category's fields.",
            )
    for (system, table), actions in table_actions.items():
        if ErasureAction.DELETE in actions and len(actions) > 1:
            deleter = actions[ErasureAction.DELETE]
            other_action, other = next(
                (a, c) for a, c in actions.items() if a is not ErasureAction.DELETE
            )
            verb = "anonymises" if other_action is ErasureAction.ANONYMIZE else "retains"
            yield Problem(
                ("categories", deleter, "erasure", "action"),
                f"category `{deleter}` deletes the rows of table `{table}` (system `{system}`), "
                f"but category `{other}` {verb} columns of the same rows: the erasure would "
                "contradict itself.",
            )


def _check_recipients(m: DataMap) -> Iterator[Problem]:
    """What a recipient `receives` and its `disclosed_when` column are fields of the map."""
    mapped = {f.column for cat in m.categories.values() for f in cat.fields}
    for r_name, recipient in m.recipients.items():
        loc: Loc = ("recipients", r_name)
        for n, column in enumerate(recipient.receives):
            if column not in mapped:
                yield Problem(
                    (*loc, "receives", n),
                    f"recipient `{r_name}` receives `{column}`, which is not a field of any "
                    f"category.{_closest(column, mapped)}",
                )
        if recipient.country is None and recipient.kind != "internal":
            yield Problem(
                loc,
                f"recipient `{r_name}` gives no `country`: say where it receives the data "
                "(ISO 3166 alpha-2 code, such as FR or US); the register never assumes it.",
                at_key=True,
            )
        if recipient.outside_eea and (
            recipient.transfer_mechanism is None or recipient.transfer_safeguards is None
        ):
            yield Problem(
                (*loc, "country"),
                f"recipient `{r_name}` receives the data in {recipient.country}, outside the "
                "EU/EEA: give its `transfer_mechanism` (adequacy_decision, "
                "standard_contractual_clauses, binding_corporate_rules, code_of_conduct, "
                "certification or article_49_derogation) and, in `transfer_safeguards`, its "
                "reference.",
            )
        when = recipient.disclosed_when
        if when is not None and when not in mapped:
            yield Problem(
                (*loc, "disclosed_when"),
                f"recipient `{r_name}` is disclosed rows when `{when}` is set, which is not a "
                f"field of any category.{_closest(when, mapped)}",
            )


# --- rows of two people, people named in others' rows (issue 20) ---


def _check_sides(m: DataMap) -> Iterator[Problem]:
    """Each side's columns are fields of the map, each with an `anonymize` strategy (what an
    erasure of that side writes), and belong to one side only."""
    for sys_name, system in m.systems.items():
        for t_name, table in system.tables.items():
            fields = {f.name: f for _, f in m.fields_of_table(sys_name, t_name)}
            taken: dict[str, str] = {}
            for s_index, side in enumerate(table.sides):
                for c_index, column in enumerate(side.columns):
                    loc: Loc = ("systems", sys_name, "tables", t_name, "sides", s_index)
                    loc = (*loc, "columns", c_index)
                    if column in taken:
                        yield Problem(
                            loc,
                            f"column `{column}` of `{t_name}` is on sides `{taken[column]}` and "
                            f"`{side.name}`: a column belongs to one side.",
                        )
                        continue
                    taken[column] = side.name
                    field = fields.get(column)
                    if field is None:
                        yield Problem(
                            loc,
                            f"side `{side.name}` names column `{column}`, which no category "
                            f"of the map holds in table `{t_name}`.{_closest(column, fields)}",
                        )
                    elif field.anonymize is None and column != side.link:
                        yield Problem(
                            loc,
                            f"column `{t_name}.{column}` of side `{side.name}` has no "
                            "`anonymize` strategy: say what erasing that side writes in it "
                            "(null, fixed, keyed_hash, unique_placeholder...).",
                        )


def _check_identifies(m: DataMap) -> Iterator[Problem]:
    """A field that `identifies` someone names an identity of the map and says how it is
    anonymised when that person is erased; so does a field `about` them."""
    for c_name, cat in m.categories.items():
        for f_index, field in enumerate(cat.fields):
            if field.about is not None:
                loc_about: Loc = ("categories", c_name, "fields", f_index, "about")
                system = field.system or cat.system
                identifying = {
                    f.name
                    for f in cat.fields
                    if f.identifies is not None
                    and f.table == field.table
                    and (f.system or cat.system) == system
                }
                if field.about not in identifying:
                    yield Problem(
                        loc_about,
                        f"field `{field.column}` is about the person of column `{field.about}`, "
                        f"but no field of category `{c_name}` in table `{field.table}` with "
                        "that name `identifies` someone.",
                    )
                elif field.anonymize is None:
                    yield Problem(
                        loc_about,
                        f"field `{field.column}` is about the person of `{field.about}` but has "
                        "no `anonymize` strategy: say what their erasure writes in it.",
                    )
            if field.identifies is None:
                continue
            loc: Loc = ("categories", c_name, "fields", f_index, "identifies")
            if field.identifies not in m.identities:
                yield Problem(
                    loc,
                    f"field `{field.column}` identifies `{field.identifies}`, which is not "
                    f"declared under `identities`.{_closest(field.identifies, m.identities)}",
                )
            elif field.anonymize is None:
                yield Problem(
                    loc,
                    f"field `{field.column}` identifies people other than the row's owner but "
                    "has no `anonymize` strategy: say what their erasure writes in it (null, "
                    "fixed, unique_placeholder...).",
                )


# -- `display` and `group_by` -------------------------------------------------------------------


def _check_displays(m: DataMap) -> Iterator[Problem]:
    """A currency column is a disclosed field of the same category and table as its amount; a
    category groups rows by fields of its own that show a reference, one per table."""
    for c_name, cat in m.categories.items():
        loc: Loc = ("categories", c_name)
        disclosed = {(f.system or cat.system, f.column) for f in cat.fields if f.disclose}
        for f_index, field in enumerate(cat.fields):
            display = field.display
            if not isinstance(display, MoneyDisplay):
                continue
            currency = display.money.currency_column
            if currency is None:
                continue
            where = (*loc, "fields", f_index, "display", "money", "currency")
            if currency.split(".", 1)[0] != field.table:
                yield Problem(
                    where,
                    f"the currency of `{field.column}` is read from `{currency}`, which is not in "
                    f"table `{field.table}`: name a column of the same row, or a fixed code "
                    "such as EUR.",
                )
            elif (field.system or cat.system, currency) not in disclosed:
                yield Problem(
                    where,
                    f"the currency of `{field.column}` is read from `{currency}`, which is not a "
                    f"disclosed field of category `{c_name}`: add it to the category's fields.",
                )
        grouped: dict[tuple[str, str], str] = {}
        for g_index, column in enumerate(cat.group_by):
            field_ = next((f for f in cat.fields if f.column == column), None)
            where = (*loc, "group_by", g_index)
            if field_ is None or not isinstance(field_.display, ReferenceDisplay):
                fields = [f.column for f in cat.fields]
                hint = _closest(column, fields) if field_ is None else ""
                yield Problem(
                    where,
                    f"category `{c_name}` groups its rows by `{column}`, which is not one of its "
                    f"fields with a `reference` display (whose label heads each group).{hint}",
                )
                continue
            key = (field_.system or cat.system, field_.table)
            if key in grouped:
                yield Problem(
                    where,
                    f"category `{c_name}` groups the rows of table `{field_.table}` by "
                    f"`{grouped[key]}` and by `{column}`: keep one.",
                )
            grouped[key] = column


# --- several legal bases per category (issue 20) ------------------------------------------------


def _check_grounds(m: DataMap) -> Iterator[Problem]:
    """Each category gives its grounds in one form: `legal_basis` with `purposes`, or
    `legal_bases` (one `basis` per group of purposes), never both nor neither."""
    for key, category in m.categories.items():
        loc: Loc = ("categories", key)
        single = category.legal_basis is not None or bool(category.purposes)
        if category.legal_bases:
            extra = [
                name
                for name, given in (
                    ("legal_basis", category.legal_basis is not None),
                    ("purposes", bool(category.purposes)),
                    ("legal_basis_detail", category.legal_basis_detail is not None),
                )
                if given
            ]
            for name in extra:
                yield Problem(
                    (*loc, name),
                    f"`{name}` in category `{key}` repeats what `legal_bases` says: give "
                    "either `legal_basis` with `purposes` (one ground) or `legal_bases` (each "
                    "`basis` with its `purposes` and `detail`), not both.",
                    at_key=True,
                )
            continue
        for name in ("legal_basis", "purposes"):
            if (name == "legal_basis" and category.legal_basis is None) or (
                name == "purposes" and not category.purposes
            ):
                yield Problem(
                    loc,
                    f"missing `{name}` in category `{key}`: every category must say why the "
                    "data is processed and on which ground under GDPR Art. 6(1) (consent, "
                    "contract, legal_obligation, vital_interests, public_task or "
                    "legitimate_interests), as `legal_basis` with `purposes`"
                    + (
                        ""
                        if single
                        else ", or as `legal_bases`: a list of `basis` with its `purposes`"
                    )
                    + ".",
                    at_key=True,
                )


# --- mentions of the person in free text (issue 20) ----------------------------------------------


def _check_mentions(m: DataMap) -> Iterator[Problem]:
    """The name and the searched texts are in tables of the map (a searched row's key is what
    staff decide on), and a searched column is not one of the name's own."""
    if m.mentions is None:
        return
    places = [
        (("mentions", "full_name", "columns", i), m.mentions.full_name.system, column)
        for i, column in enumerate(m.mentions.full_name.columns)
    ] + [
        (("mentions", "search", i, "column"), search.system, search.column)
        for i, search in enumerate(m.mentions.search)
    ]
    for loc, system, column in places:
        table = column.split(".", 1)[0]
        if system not in m.systems:
            yield Problem(
                (*loc[:-1], "system") if loc[-1] == "column" else ("mentions", "full_name"),
                f"`{system}` is not a system of the map.{_closest(system, m.systems)}",
            )
        elif table not in m.systems[system].tables:
            yield Problem(
                loc,
                f"`{table}` is not a table of system `{system}`: declare it under "
                f"`systems.{system}.tables` with its primary key."
                + _closest(table, m.systems[system].tables),
            )
    seen: set[tuple[str, str]] = set()
    for i, search in enumerate(m.mentions.search):
        if (search.system, search.column) in seen:
            yield Problem(
                ("mentions", "search", i, "column"),
                f"`{search.column}` is searched twice; keep one.",
            )
        seen.add((search.system, search.column))
