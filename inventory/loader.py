"""Load `data_map.yaml` and report every problem at once, each at its line and column.

A DPO edits the map by hand: errors must point at the place to fix and say what is wrong in a
sentence, not dump a stack trace. Shape errors come from the pydantic model, cross-references from
`inventory.validation`; both are mapped back to the YAML node they concern.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from inventory.model import LANGUAGES, DataMap
from inventory.validation import Problem, validate_references

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class MapProblem:
    """One problem in the map file, with the place to fix it."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class MapError(Exception):
    """The map cannot be used; `problems` lists every reason, in file order."""

    def __init__(self, problems: Sequence[MapProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.column, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class _Marks:
    key: tuple[int, int]
    value: tuple[int, int]


class _Index:
    """Where each path of the document starts in the file (1-based line and column)."""

    def __init__(self) -> None:
        self.marks: dict[Loc, _Marks] = {}
        self.duplicates: list[tuple[Loc, tuple[int, int]]] = []

    def walk(self, node: yaml.Node, loc: Loc, key_mark: tuple[int, int]) -> None:
        here = (node.start_mark.line + 1, node.start_mark.column + 1)
        self.marks[loc] = _Marks(key=key_mark, value=here)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key_node, value_node in node.value:
                key = str(key_node.value)
                mark = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                if key in seen:
                    self.duplicates.append((loc + (key,), mark))
                seen.add(key)
                self.walk(value_node, loc + (key,), mark)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, loc + (i,), (item.start_mark.line + 1, item.start_mark.column + 1))

    def position(self, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
        """Return the position of the longest prefix of `loc` present in the document."""
        for end in range(len(loc), -1, -1):
            marks = self.marks.get(loc[:end])
            if marks is not None:
                return marks.key if at_key and end == len(loc) else marks.value
        return (1, 1)


def load_data_map(path: str | Path) -> DataMap:
    """Parse, validate and cross-check a map file; raise `MapError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MapError([MapProblem(str(path), 1, 1, "the data map file does not exist")]) from None
    except UnicodeDecodeError as exc:
        raise MapError(
            [MapProblem(str(path), 1, 1, f"the data map is not valid UTF-8 text ({exc.reason})")]
        ) from None
    return parse_data_map(text, filename=str(path))


FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's loader when PyYAML has it: ten times faster on a map (what every `dsr` command
parses first); the pure-Python one says what is wrong with a map that does not read, so that
the problems are worded the same on every machine."""


def _read_yaml(text: str, loader_class: type[yaml.SafeLoader]) -> tuple[yaml.Node | None, Any]:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    finally:
        loader.dispose()


def parse_data_map(text: str, *, filename: str = "data_map.yaml") -> DataMap:
    """Validate map text; `filename` only labels the problems."""
    try:
        try:
            node, data = _read_yaml(text, FAST_LOADER)
        except yaml.YAMLError:
            node, data = _read_yaml(text, yaml.SafeLoader)  # raises, in its words
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        reason = exc.problem or "invalid YAML"
        problem = MapProblem(filename, line, col, f"this is not valid YAML: {reason}")
        raise MapError([problem]) from None
    if not isinstance(data, dict) or node is None:
        raise MapError([MapProblem(filename, 1, 1, "the data map must be a YAML mapping")])

    index = _Index()
    index.walk(node, (), (1, 1))
    problems = [
        MapProblem(filename, *mark, f"`{loc[-1]}` is given twice here; keep one")
        for loc, mark in index.duplicates
    ]
    todos = dict(_todos(data))
    problems += [
        MapProblem(filename, *index.position(loc), _explain_todo(loc, note))
        for loc, note in todos.items()
    ]
    try:
        data_map = DataMap.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            loc = _document_loc(tuple(error["loc"]), index)
            if any(loc[: len(todo)] == todo for todo in todos):
                continue  # said above: the value is still to complete
            at_key = error["type"] == "extra_forbidden"
            line, col = index.position(loc, at_key=at_key)
            problems.append(MapProblem(filename, line, col, _explain(error, tuple(error["loc"]))))
        raise MapError(problems) from None
    for reference in validate_references(data_map):
        line, col = index.position(reference.loc, at_key=reference.at_key)
        problems.append(MapProblem(filename, line, col, reference.message))
    if problems:
        raise MapError(problems)
    return data_map


TODO = "TODO"
"""A value that starts with this word is a placeholder to complete (`dsr map import-fides` writes
them): `dsr map check` lists each one, with what it needs, and the map is not used until none is
left. What follows `TODO:` says what to write."""


def _todos(data: object, loc: Loc = ()) -> Iterator[tuple[Loc, str]]:
    """Yield the place of every placeholder value in the document, with its note."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _todos(value, (*loc, str(key)))
    elif isinstance(data, list):
        for i, item in enumerate(data):
            yield from _todos(item, (*loc, i))
    elif isinstance(data, str) and data.split(":", 1)[0].strip() == TODO:
        yield loc, data.partition(":")[2].strip()


def _explain_todo(loc: Loc, note: str) -> str:
    """Say which value is still a placeholder, where, and what it needs."""
    size = 2 if len(loc) > 1 and (loc[-1] in LANGUAGES or isinstance(loc[-1], int)) else 1
    name = str(loc[-size]) if size == 1 or isinstance(loc[-1], int) else f"{loc[-2]}.{loc[-1]}"
    need = note or _MISSING_HINTS.get(name, "replace the placeholder with the map's value")
    return f"to complete: `{name}`{_describe_loc(loc[:-size])}: {need.rstrip('.')}."


def map_positions(path: str | Path) -> Callable[[Loc], tuple[int, int]]:
    """Return where each document path is in a valid map file (line, column), for what is found
    later about its entries (`map check --live`); (1, 1) when the file no longer reads as YAML."""
    index = _Index()
    try:
        node = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=FAST_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        node = None
    if node is not None:
        index.walk(node, (), (1, 1))
    return index.position


def _document_loc(loc: Loc, index: _Index) -> Loc:
    """Drop the parts pydantic adds to a location that are not in the document (union members)."""
    kept: list[str | int] = []
    for part in loc:
        candidate = (*kept, part)
        if candidate in index.marks or not kept or (*kept,) not in index.marks:
            kept.append(part)
    return tuple(kept)


_MISSING_HINTS = {
    "purposes": "every category must say why the data is processed",
    "legal_basis": "every category must name its ground under GDPR Art. 6(1): consent, contract, "
    "legal_obligation, vital_interests, public_task or legitimate_interests",
    "retention": "every category must say how long it is kept, from which date, and why",
    "erasure": "every category must say what an erasure does: delete, anonymize or retain",
    "fields": "list the `table.column` places where this category is stored",
    "system": "name the system (database) that holds this data",
    "primary_key": "give the column(s) that identify a row of this table",
    "source": "say where the data comes from (the person, automatic collection, a third party)",
    "provenance": "say whether the data is `provided` by the person, `observed` or `derived`",
    "label": "give the name people will read, in French and English",
    "period": "give an ISO 8601 duration such as P3Y",
    "from": "name the date column the period runs from, as table.column",
    "activities": "list the processing activities of the register, each with its `name`, "
    "`purposes`, the `data_subjects` it concerns and the `categories` it uses",
}


def _explain(error: Any, loc: Loc) -> str:
    """Turn a pydantic error into a sentence a DPO understands."""
    kind = error["type"]
    where = _describe_loc(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" Did you mean `{close[0]}`?" if close else ""
        valid = ", ".join(f"`{k}`" for k in sorted(allowed)) if allowed else "none"
        return f"unknown key `{key}`{_describe_loc(loc[:-1])}.{hint} Valid keys here: {valid}."
    if kind == "missing":
        key = str(loc[-1])
        explanation = _MISSING_HINTS.get(key)
        suffix = f": {explanation}." if explanation else "."
        return f"missing `{key}`{_describe_loc(loc[:-1])}{suffix}"
    if kind == "too_short" and loc and loc[-1] == "fields":
        return f"no field{_describe_loc(loc[:-1])}: list at least one `table.column`."
    if kind == "too_short":
        return f"`{loc[-1]}`{_describe_loc(loc[:-1])} is empty: give at least one entry."
    if kind == "string_pattern_mismatch":
        pattern = error.get("ctx", {}).get("pattern", "")
        if "\\." in pattern:
            return f"`{error['input']}`{where} must be written `table.column`."
        return f"`{error['input']}`{where} is not a valid name (letters, digits and _ only)."
    if kind == "enum":
        expected = error.get("ctx", {}).get("expected", "")
        return f"`{error['input']}`{where} is not allowed: use one of {expected}."
    if kind == "bool_parsing":
        return f"`{error['input']}`{where} must be `true` or `false`."
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"`{error['input']}`{where} is not allowed: expected {expected}."
    message = str(error["msg"]).removeprefix("Value error, ").rstrip(".")
    return f"{message} (at{where.removeprefix(' in')})."


def _describe_loc(loc: Loc) -> str:
    """Name the object a location points into, e.g. ' in category `contact`'."""
    if len(loc) >= 2 and loc[0] in ("categories", "systems", "identities", "recipients"):
        kind = {
            "categories": "category",
            "systems": "system",
            "identities": "identity",
            "recipients": "recipient",
        }[str(loc[0])]
        text = f" in {kind} `{loc[1]}`"
        rest = loc[2:]
        if loc[0] == "systems" and len(loc) >= 4 and loc[2] == "tables":
            text = f" in table `{loc[3]}` of system `{loc[1]}`"
            rest = loc[4:]
        if rest:
            text += f", under `{'.'.join(str(p) for p in rest)}`"
        return text
    if loc:
        return f" in `{'.'.join(str(p) for p in loc)}`"
    return ""


def _allowed_keys(loc: Loc) -> list[str]:
    """Walk the model's types along `loc` and return the keys valid at that place."""
    current: Any = DataMap
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next(
                (f for name, f in current.model_fields.items() if (f.alias or name) == part),
                None,
            )
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            origin = typing.get_origin(current)
            if origin in (dict, typing.Mapping) and len(args) == 2:
                current = args[1]
            elif origin in (list, Sequence) and args:
                current = args[0]
            else:
                return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """Remove `Optional`/`X | None` and `Annotated` wrappers."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


__all__ = [
    "MapError",
    "MapProblem",
    "Problem",
    "load_data_map",
    "map_positions",
    "parse_data_map",
]
