"""The Fides format: a map skeleton from a Fides dataset YAML, and the map's systems as datasets.

`import_fides` reads the datasets (collections, fields, fideslang `data_categories`, and
`fides_meta`'s `primary_key`, `identity` and `references`) and writes a map in which everything
Fides does not say is a `TODO` placeholder (`inventory.loader.TODO`): purposes, legal bases,
retention, the French labels, the organisation, a table's key when Fides names none. `dsr map
check` lists each one until the map is complete. One system per dataset; one category per
fideslang category under `user` (user.contact, user.name, user.financial...), each field keeping
its own fideslang key as `fides_category`; `system.*` fields are not personal (`not_personal`).

A reference with `direction: from` on field `t.c` (its values come from `u.d`) is the map's link
`{column: c, to: u.d}` on `t`; with `direction: to` (it points at `u.d`, a row of `u`) it is the
link `{column: d, to: t.c}` on `u`. `export_fides` writes links back the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from gettext import NullTranslations
from typing import Any

import yaml

from inventory.fideslang import UNCLASSIFIED, data_categories, is_personal, unknown_category
from inventory.loader import TODO, Loc, MapError, MapProblem, _Index, _read_yaml, _todos
from inventory.model import IDENT_RE, DataMap
from inventory.validation import known_columns

OPERATIONS = "system.operations"
"""The fideslang category of a column the map names that is not personal (a key, a link)."""


@dataclass
class Skeleton:
    """The map written from a Fides file (a YAML document), and what the import left aside."""

    document: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    @property
    def placeholders(self) -> int:
        """How many values are still `TODO`."""
        return len(list(_todos(self.document)))

    def to_yaml(self, source: str, translations: NullTranslations) -> str:
        header = translations.gettext(
            "Map skeleton written by `dsr map import-fides` from %(source)s: replace every TODO "
            "(`dsr map check` lists them)."
        ) % {"source": source}
        return f"# {header}\n" + _dump(self.document)


def _dump(document: dict[str, Any]) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _todo(note: str) -> str:
    return f"{TODO}: {note}"


class _Reader:
    """Checks a Fides document's shape, collecting every problem with its place."""

    def __init__(self, filename: str, index: _Index, translations: NullTranslations) -> None:
        self.filename = filename
        self.index = index
        self.t = translations
        self.problems: list[MapProblem] = []

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append(MapProblem(self.filename, *self.index.position(loc), message))

    def items(self, value: object, loc: Loc) -> list[tuple[Loc, dict[str, Any]]]:
        """Return the mappings of a list, each with its place; a problem if it is no such list."""
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.problem(
                loc,
                self.t.gettext(
                    "`%(key)s` must be a list of entries, each with its keys (`name: ...`)."
                )
                % {"key": loc[-1]},
            )
            return []
        return [((*loc, i), item) for i, item in enumerate(value)]

    def name(self, item: dict[str, Any], loc: Loc, seen: set[str], key: str = "name") -> str | None:
        """Return an item's name if it can name a table or column of the map and is new."""
        value = item.get(key)
        if not isinstance(value, str) or not re.match(IDENT_RE, value):
            self.problem(
                (*loc, key),
                self.t.gettext(
                    "`%(name)s` cannot name a table or column of the map: letters, digits "
                    "and _ only."
                )
                % {"name": value},
            )
            return None
        if value in seen:
            self.problem(
                (*loc, key),
                self.t.gettext("`%(name)s` is named twice here; names must be unique.")
                % {"name": value},
            )
            return None
        seen.add(value)
        return value


@dataclass
class _Column:
    table: str
    name: str
    loc: Loc
    categories: list[str]
    description: str | None
    meta: dict[str, Any]


def import_fides(
    text: str, *, filename: str, system: str | None, translations: NullTranslations
) -> Skeleton:
    """Return the map skeleton of a Fides dataset file; raise `MapError` listing every problem
    (not YAML, not a Fides dataset, an unknown category, a name given twice...)."""
    t = translations
    try:
        node, data = _read_yaml(text, yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line, column = (int(mark.line) + 1, int(mark.column) + 1) if mark else (1, 1)
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        message = t.gettext("this is not valid YAML: %(reason)s") % {"reason": reason}
        raise MapError([MapProblem(filename, line, column, message)]) from None
    index = _Index()
    if node is not None:
        index.walk(node, (), (1, 1))
    reader = _Reader(filename, index, t)
    for loc, (line, column) in index.duplicates:
        message = t.gettext("`%(name)s` is named twice here; names must be unique.")
        reader.problems.append(MapProblem(filename, line, column, message % {"name": loc[-1]}))
    if not isinstance(data, dict) or not isinstance(data.get("dataset"), list):
        reader.problem(
            (),
            t.gettext(
                "this is not a Fides dataset file: it must hold `dataset:`, a list of datasets "
                "each with its `fides_key` and `collections`."
            ),
        )
        raise MapError(reader.problems)
    datasets = reader.items(data["dataset"], ("dataset",))
    if system is not None and not re.match(IDENT_RE, system):
        reader.problem(
            (),
            t.gettext("--system `%(name)s` cannot name a system: letters, digits and _ only.")
            % {"name": system},
        )
    elif system is not None and len(datasets) != 1:
        reader.problem(
            ("dataset",),
            t.gettext("--system names the system of a file of one dataset; this one has %(count)d.")
            % {"count": len(datasets)},
        )
    document: dict[str, Any] = {"version": 1, "organisation": _organisation(t)}
    systems: dict[str, Any] = {}
    identities: dict[str, Any] = {}
    categories: dict[str, Any] = {}
    skeleton = Skeleton(document)
    keys: set[str] = set()
    for loc, dataset in datasets:
        key = reader.name(dataset, loc, keys, "fides_key")
        columns = _columns(reader, dataset, loc)
        if key is None:
            continue
        name = system or key
        systems[name] = _system(reader, name, dataset, columns, identities, categories, skeleton)
    if reader.problems:
        raise MapError(reader.problems)
    document.update(systems=systems, identities=identities, categories=categories)
    if categories:  # the register lists processing activities: one to split and name
        document["activities"] = {
            "processing": {
                "name": _todo(t.gettext("the processing activity's name (split it as needed)")),
                "purposes": [_todo(t.gettext("why the data is processed"))],
                "data_subjects": document["organisation"]["data_subjects"],
                "categories": sorted(categories),
            }
        }
    return skeleton


def _columns(reader: _Reader, dataset: dict[str, Any], loc: Loc) -> dict[str, list[_Column]]:
    """Return each collection's fields, after checking their names, categories and meta."""
    t = reader.t
    tables: dict[str, list[_Column]] = {}
    collections = reader.items(dataset.get("collections"), (*loc, "collections"))
    seen: set[str] = set()
    for c_loc, collection in collections:
        table = reader.name(collection, c_loc, seen)
        columns: list[_Column] = []
        names: set[str] = set()
        for f_loc, item in reader.items(collection.get("fields"), (*c_loc, "fields")):
            column = reader.name(item, f_loc, names)
            if item.get("fields"):
                reader.problem(
                    (*f_loc, "fields"),
                    t.gettext(
                        "field `%(name)s` holds fields of its own (a document): the map describes "
                        "tables of columns only."
                    )
                    % {"name": column},
                )
                continue
            found = item.get("data_categories") or []
            if not isinstance(found, list):
                found = [found]
            for n, category in enumerate(found):
                problem = unknown_category(str(category), t)
                if problem:
                    reader.problem((*f_loc, "data_categories", n), problem)
            meta = item.get("fides_meta") or {}
            if not isinstance(meta, dict):
                reader.problem(
                    (*f_loc, "fides_meta"),
                    t.gettext("`fides_meta` of field `%(name)s` must be a mapping.")
                    % {"name": column},
                )
            elif column is not None and table is not None:
                description = str(item["description"]) if item.get("description") else None
                columns.append(
                    _Column(table, column, f_loc, [str(c) for c in found], description, meta)
                )
        if table is not None:
            tables[table] = columns
    return tables


def _organisation(t: NullTranslations) -> dict[str, Any]:
    return {
        "name": _todo(t.gettext("the organisation's name")),
        "address": _todo(t.gettext("its postal address")),
        "controller": {"name": _todo(t.gettext("the controller's name"))},
        "dpo": {"name": _todo(t.gettext("the data protection officer's name"))},
        "supervisory_authority": {
            "name": _todo(t.gettext("the supervisory authority (the CNIL in France)"))
        },
        "automated_decisions": _todo(
            t.gettext("whether decisions are made by automated means alone")
        ),
        "transfers_outside_eu": _todo(
            t.gettext("the transfers outside the EU and their safeguards")
        ),
        "data_subjects": [_todo(t.gettext("the kinds of people whose data is held"))],
    }


def _system(
    reader: _Reader,
    name: str,
    dataset: dict[str, Any],
    tables: dict[str, list[_Column]],
    identities: dict[str, Any],
    categories: dict[str, Any],
    skeleton: Skeleton,
) -> dict[str, Any]:
    t = reader.t
    env = re.sub(r"[^A-Z0-9_]", "_", name.upper()) + "_URL"
    specs: dict[str, dict[str, Any]] = {}
    not_personal: list[str] = []
    for table, columns in tables.items():
        keys = [c.name for c in columns if c.meta.get("primary_key")]
        specs[table] = {
            "primary_key": keys
            or _todo(
                t.gettext("the column(s) that identify a row of `%(table)s` (Fides names none)")
                % {"table": table}
            )
        }
    for table, columns in tables.items():
        for column in columns:
            ref = f"{table}.{column.name}"
            _references(reader, name, dataset, column, tables, specs)
            identity = column.meta.get("identity")
            if isinstance(identity, str):
                entry = identities.setdefault(identity, _identity(identity, t))
                entry["locations"].setdefault(name, []).append({"column": ref})
            personal = [c for c in column.categories if is_personal(c)]
            if not column.categories:
                skeleton.warnings.append(
                    t.gettext("field `%(field)s` has no data category: left out of the map.")
                    % {"field": ref}
                )
            elif not personal:
                not_personal.append(ref)
            else:
                if len(column.categories) > 1:
                    skeleton.warnings.append(
                        t.gettext(
                            "field `%(field)s` has several data categories: the map keeps "
                            "`%(kept)s`."
                        )
                        % {"field": ref, "kept": personal[0]}
                    )
                _add_field(categories, name, column, personal[0], t)
    for spec in specs.values():
        if spec.get("links"):
            spec["links"] = list({(lk["column"], lk["to"]): lk for lk in spec["links"]}.values())
    system: dict[str, Any] = {
        "title": {
            "fr": _todo(t.gettext("the system's name in French")),
            "en": str(dataset.get("name") or name),
        },
        "url": {
            "env": env,
            "default": _todo(
                t.gettext("the database's URL when %(env)s is not set") % {"env": env}
            ),
        },
    }
    if not_personal:
        system["not_personal"] = not_personal
    system["tables"] = specs
    return system


def _references(
    reader: _Reader,
    system: str,
    dataset: dict[str, Any],
    column: _Column,
    tables: dict[str, list[_Column]],
    specs: dict[str, dict[str, Any]],
) -> None:
    """Add the links a field's references say, each on the table whose rows it finds."""
    t = reader.t
    references = column.meta.get("references") or []
    for r_loc, ref in reader.items(references, (*column.loc, "fides_meta", "references")):
        target = str(ref.get("field", ""))
        other, _, other_column = target.partition(".")
        if ref.get("dataset") != dataset.get("fides_key"):
            reader.problem(
                (*r_loc, "dataset"),
                t.gettext(
                    "`%(field)s` refers to another dataset: the map's links stay inside one system."
                )
                % {"field": target},
            )
        elif other not in tables or other_column not in {c.name for c in tables[other]}:
            reader.problem(
                (*r_loc, "field"),
                t.gettext("`%(field)s` is not a field of this dataset: write `collection.field`.")
                % {"field": target},
            )
        elif ref.get("direction") == "from":
            link = {"column": column.name, "to": target}
            specs[column.table].setdefault("links", []).append(link)
        elif ref.get("direction") == "to":
            link = {"column": other_column, "to": f"{column.table}.{column.name}"}
            specs[other].setdefault("links", []).append(link)
        else:
            reader.problem(
                r_loc,
                t.gettext(
                    "the reference to `%(field)s` needs `direction: from` (this field's values "
                    "come from it) or `direction: to` (it points at that row)."
                )
                % {"field": target},
            )


def _identity(name: str, t: NullTranslations) -> dict[str, Any]:
    kind = "email" if "email" in name else "phone" if "phone" in name else "id"
    return {
        "kind": kind,
        "label": {"fr": _todo(t.gettext("the identity's name in French")), "en": _words(name)},
        "locations": {},
    }


def _add_field(
    categories: dict[str, Any], system: str, column: _Column, key: str, t: NullTranslations
) -> None:
    group = ".".join(key.split(".")[:2])
    category = categories.setdefault(
        group.replace(".", "_"),
        {
            "title": {
                "fr": _todo(t.gettext("the category's name in French")),
                "en": data_categories()[group],
            },
            "description": _todo(t.gettext("what this data is, in French and English")),
            "system": system,
            "fields": [],
            "purposes": [_todo(t.gettext("why this data is processed, in French and English"))],
            "legal_basis": _todo(
                t.gettext(
                    "consent, contract, legal_obligation, vital_interests, public_task or "
                    "legitimate_interests"
                )
            ),
            "retention": {
                "period": _todo(
                    t.gettext("how long it is kept, as an ISO 8601 duration such as P3Y")
                ),
                "from": _todo(t.gettext("the date column (table.column) the period runs from")),
                "source": _todo(t.gettext("why this period: the law or the practice it follows")),
            },
            "source": _todo(t.gettext("where the data comes from")),
            "provenance": _todo(t.gettext("provided, observed or derived")),
            "erasure": {
                "action": _todo(t.gettext("what an erasure does: delete, anonymize or retain"))
            },
        },
    )
    entry: dict[str, Any] = {
        "column": f"{column.table}.{column.name}",
        "label": {
            "fr": _todo(t.gettext("the field's name in French")),
            "en": column.description or _words(column.name),
        },
        "fides_category": key,
    }
    if category["system"] != system:
        entry["system"] = system
    category["fields"].append(entry)


def _words(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


# --- export ------------------------------------------------------------------------------------


def export_fides(data_map: DataMap) -> dict[str, Any]:
    """Return the map's systems as Fides datasets: one collection per table, one field per column
    the map names, with its fideslang category (`system.operations` for keys and links)."""
    return {"dataset": [_dataset(data_map, name) for name in data_map.systems]}


def export_fides_yaml(data_map: DataMap) -> str:
    return _dump(export_fides(data_map))


def _dataset(data_map: DataMap, name: str) -> dict[str, Any]:
    system = data_map.systems[name]
    fields: dict[str, dict[str, dict[str, Any]]] = {  # the key first: its order is the fields'
        table: {
            c: {"name": c}
            for c in [*spec.primary_key, *sorted(known_columns(data_map, name, table))]
        }
        for table, spec in system.tables.items()
    }
    for entry in system.not_personal:
        table, _, column = entry.partition(".")
        if column and table in fields:
            fields[table].setdefault(column, {"name": column})
    for table, columns in fields.items():
        for column, out in columns.items():
            categories = [
                f.fides_category or UNCLASSIFIED
                for _, f in data_map.fields_of_table(name, table)
                if f.name == column
            ]
            out["data_categories"] = categories or [OPERATIONS]
    for table, spec in system.tables.items():
        for key in spec.primary_key:
            _meta(fields[table][key])["primary_key"] = True
        for link in spec.links:
            target = system.tables.get(link.target_table)
            if (
                spec.primary_key == [link.column]
                and target is not None
                and link.target_column not in target.primary_key
            ):
                at, ref, direction = fields[link.target_table][link.target_column], "to", "to"
                ref = f"{table}.{link.column}"
            else:
                at, ref, direction = fields[table][link.column], link.to, "from"
            _meta(at).setdefault("references", []).append(
                {"dataset": name, "field": ref, "direction": direction}
            )
    for i_name, identity in data_map.identities.items():
        for location in identity.locations.get(name, []):
            table, column = location.column.split(".", 1)
            if table in fields and column in fields[table]:
                _meta(fields[table][column]).setdefault("identity", i_name)
    dataset: dict[str, Any] = {"fides_key": name, "name": system.title.en}
    if system.description is not None:
        dataset["description"] = system.description.en
    dataset["collections"] = [
        {"name": table, "fields": list(columns.values())} for table, columns in fields.items()
    ]
    return dataset


def _meta(out: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = out.setdefault("fides_meta", {})
    return meta
