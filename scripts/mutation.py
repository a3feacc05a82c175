"""Mutation testing of the modules where a silent change hurts most, each against its own tests.

`make mutation` (or `make mutation MODULE=workflow`) runs this. The modules, the files and
functions to mutate, and the tests that must notice are declared in pyproject.toml under
`[tool.privacy-desk.mutation.<module>]`; mutmut's shared settings are under `[tool.mutmut]`.

Each module runs in its own workspace, build/mutation/<module>/, which links to the project's
folders and holds a pyproject.toml whose `[tool.mutmut]` names that module only: mutmut then
copies the code to the workspace's mutants/, runs the module's tests once to learn which test
covers which function, and runs, for each mutant, only the tests that reach it. A run always
starts afresh (it is a measurement, like a benchmark) and prints the score of each module and
every surviving mutant as `file:line  original  ->  mutant`.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
CAUGHT = {"killed", "timeout", "caught by type check", "segfault"}
"""mutmut's verdicts that mean the tests noticed the change (a crash or a hang is noticed too)."""


@dataclass(frozen=True)
class Module:
    name: str
    paths: list[str]
    tests: list[str]
    functions: list[str] = field(default_factory=list)
    """`path.py:function` or `path.py:Class.method`; empty for every function of `paths`."""
    equivalent: list[dict[str, str]] = field(default_factory=list)
    """Mutants that behave like the original (`original`, `mutant`, `reason`): not counted."""


@dataclass(frozen=True)
class Survivor:
    location: str
    original: str
    mutant: str
    status: str
    key: str


@dataclass(frozen=True)
class Result:
    module: Module
    verdicts: Counter[str]
    survivors: list[Survivor]
    equivalent: list[tuple[Survivor, str]]
    seconds: float

    @property
    def total(self) -> int:
        """The mutants that count: all but those listed as equivalent."""
        return sum(n for status, n in self.verdicts.items() if status != "equivalent")

    @property
    def caught(self) -> int:
        return sum(n for status, n in self.verdicts.items() if status in CAUGHT)

    @property
    def score(self) -> float:
        return 100.0 * self.caught / self.total if self.total else 100.0


def load_settings() -> tuple[dict[str, Any], dict[str, Module]]:
    """Read mutmut's shared settings and the modules from the project's pyproject.toml."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    tool = data.get("tool", {})
    shared = dict(tool.get("mutmut", {}))
    declared = tool.get("privacy-desk", {}).get("mutation", {})
    modules = {
        name: Module(
            name=name,
            paths=list(entry["paths"]),
            tests=list(entry["tests"]),
            functions=list(entry.get("functions", [])),
            equivalent=list(entry.get("equivalent", [])),
        )
        for name, entry in declared.items()
    }
    if not modules:
        raise SystemExit("pyproject.toml declares no [tool.privacy-desk.mutation.<module>]")
    return shared, modules


def mutant_globs(module: Module) -> list[str]:
    """Return mutmut's names of the module's mutants (globs), or [] for all of its files."""
    globs = []
    for entry in module.functions:
        path, _, qualname = entry.partition(":")
        dotted = path.removesuffix(".py").replace("/", ".")
        owner, _, function = qualname.rpartition(".")
        mangled = f"x\u01c1{owner}\u01c1{function}" if owner else f"x_{function}"
        globs.append(f"{dotted}.{mangled}__mutmut_*")
    return globs


def toml_value(value: object) -> str:
    """Write a string, number, boolean or list of them as TOML (JSON's forms are TOML's too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def prepare_workspace(module: Module, shared: dict[str, Any]) -> Path:
    """Make build/mutation/<module>/ afresh: links to the project and a pyproject for mutmut."""
    workspace = WORK / module.name
    if workspace.exists():
        shutil.rmtree(workspace)
    workspace.mkdir(parents=True)
    source_paths = [str(path) for path in shared.get("source_paths", [])]
    also_copy = [str(path) for path in shared.get("also_copy", [])]
    for name in {*source_paths, *also_copy, "tests"}:
        (workspace / name).symlink_to(ROOT / name)
    settings = {
        **shared,
        "only_mutate": module.paths,
        "pytest_add_cli_args_test_selection": module.tests,
    }
    own = (ROOT / "pyproject.toml").read_text("utf-8")
    # Keep everything but mutmut's table (pytest's settings among them), then write the module's.
    own = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", own)
    table = "\n".join(f"{key} = {toml_value(value)}" for key, value in settings.items())
    (workspace / "pyproject.toml").write_text(f"{own.rstrip()}\n\n[tool.mutmut]\n{table}\n")
    return workspace


def run_module(module: Module, shared: dict[str, Any], children: int) -> Result:
    """Run mutmut on one module in its workspace; its own output goes to mutmut.log there."""
    workspace = prepare_workspace(module, shared)
    log = workspace / "mutmut.log"
    started = time.monotonic()
    command = [str(MUTMUT), "run", "--max-children", str(children), *mutant_globs(module)]
    with log.open("w") as output:
        finished = subprocess.run(  # noqa: S603 - our own venv's mutmut, arguments from pyproject
            command, cwd=workspace, stdout=output, stderr=subprocess.STDOUT, check=False
        )
    seconds = time.monotonic() - started
    if finished.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"mutmut failed on {module.name} (see {log}):\n{tail}")
    verdicts, missed = read_results(module, workspace)
    survivors, equivalent = [], []
    for survivor in missed:
        reason = next(
            (known["reason"] for known in module.equivalent if _same(known, survivor)), None
        )
        if reason is None:
            survivors.append(survivor)
        else:
            equivalent.append((survivor, reason))
            verdicts[survivor.status] -= 1
            verdicts["equivalent"] += 1
    unused = [
        known
        for known in module.equivalent
        if not any(_same(known, survivor) for survivor, _ in equivalent)
    ]
    for known in unused:
        print(f"  (no surviving mutant matches the equivalent one listed: {known['mutant']!r})")
    return Result(
        module=module,
        verdicts=+verdicts,
        survivors=survivors,
        equivalent=equivalent,
        seconds=seconds,
    )


def _same(known: dict[str, str], survivor: Survivor) -> bool:
    return (known["original"], known["mutant"]) == (survivor.original, survivor.mutant)


def read_results(module: Module, workspace: Path) -> tuple[Counter[str], list[Survivor]]:
    """Read mutmut's verdicts and, for each mutant the tests missed, where and what it changed."""
    from mutmut.configuration import reset_config
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.stats import status_by_exit_code

    globs = mutant_globs(module)
    verdicts: Counter[str] = Counter()
    survivors: list[Survivor] = []
    here = Path.cwd()
    os.chdir(workspace)
    reset_config()
    try:
        for path in module.paths:
            meta = json.loads((Path("mutants") / f"{path}.meta").read_text("utf-8"))
            source = (ROOT / path).read_text("utf-8")
            for key, code in meta["exit_code_by_key"].items():
                if globs and not any(_matches(key, pattern) for pattern in globs):
                    continue
                status = status_by_exit_code[code]
                verdicts[status] += 1
                if status not in CAUGHT:
                    diff = get_diff_for_mutant(key, path=path)
                    survivors.append(_survivor(key, status, path, source, diff))
    finally:
        os.chdir(here)
    survivors.sort(key=lambda s: (s.location.split(":")[0], int(s.location.split(":")[1])))
    return verdicts, survivors


def _matches(key: str, pattern: str) -> bool:
    return key.startswith(pattern.removesuffix("*"))


def _survivor(key: str, status: str, path: str, source: str, diff: str) -> Survivor:
    """Place a mutant's diff (relative to its function) on the line of the original file."""
    hunk = re.search(r"^@@ -(\d+)", diff, re.MULTILINE)
    body = diff.splitlines()[3:] if hunk else []
    removed = [line[1:] for line in body if line.startswith("-")]
    added = [line[1:] for line in body if line.startswith("+")]
    first = next((i for i, line in enumerate(body) if line.startswith("-")), 0)
    start = _function_line(source, key)
    guess = start + (int(hunk.group(1)) - 1 if hunk else 0) + first
    line = _nearest(source.splitlines(), removed[0] if removed else "", guess)
    return Survivor(
        location=f"{path}:{line}",
        original=" ".join(text.strip() for text in removed),
        mutant=" ".join(text.strip() for text in added),
        status=status,
        key=key,
    )


def _function_line(source: str, key: str) -> int:
    """Return the first line (decorators included) of the function a mutant belongs to."""
    name = key.rpartition(".")[2].rpartition("__mutmut_")[0]
    owner, function = "", name.removeprefix("x_")
    if name.startswith("x\u01c1"):
        owner, function = name[2:].split("\u01c1", 1)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and owner and node.name != owner:
            continue
        body = node.body if isinstance(node, ast.ClassDef | ast.Module) else []
        for child in body:
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and child.name == function:
                return min([child.lineno, *(d.lineno for d in child.decorator_list)])
    return 1


def _nearest(lines: list[str], text: str, guess: int) -> int:
    """Return the line nearest to `guess` whose text is `text` (the guess itself when none is)."""
    wanted = text.strip()
    for distance in range(len(lines)):
        for candidate in (guess - distance, guess + distance):
            if 1 <= candidate <= len(lines) and lines[candidate - 1].strip() == wanted:
                return candidate
    return guess


def print_module(result: Result) -> None:
    module = result.module
    print(
        f"\n== {module.name}: {result.score:.1f} % ({result.caught} of {result.total} mutants "
        f"caught, {result.seconds:.0f} s) by {' '.join(module.tests)}"
    )
    for survivor in result.survivors:
        note = "" if survivor.status == "survived" else f"   [{survivor.status}]"
        print(f"  {survivor.location}  {_change(survivor)}{note}")
    for survivor, reason in result.equivalent:
        print(f"  equivalent, not counted: {survivor.location}  {_change(survivor)}  ({reason})")


def _change(survivor: Survivor) -> str:
    return f"{survivor.original}  ->  {survivor.mutant or '(line removed)'}"
    sys.stdout.flush()


def print_table(results: list[Result]) -> None:
    width = max(len("module"), *(len(r.module.name) for r in results))
    print(f"\n{'module':<{width}}  mutants  caught  survived  equivalent   score     time")
    for r in results:
        print(
            f"{r.module.name:<{width}}  {r.total:>7}  {r.caught:>6}  {r.total - r.caught:>8}  "
            f"{len(r.equivalent):>10}  {r.score:>5.1f} %  {r.seconds:>5.0f} s"
        )


def main(argv: list[str] | None = None) -> int:
    shared, modules = load_settings()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules",
        nargs="*",
        help=f"modules to run (default: all): {', '.join(modules)}; commas work too",
    )
    parser.add_argument(
        "--children", type=int, default=2, help="mutants tested at once (default: 2)"
    )
    args = parser.parse_args(argv)
    chosen = [name for entry in args.modules for name in entry.split(",") if name] or list(modules)
    unknown = [name for name in chosen if name not in modules]
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}: choose among {', '.join(modules)}")
    results = []
    for name in chosen:
        print(f"-- {name}: mutating {' '.join(modules[name].paths)} ...", flush=True)
        result = run_module(modules[name], shared, args.children)
        print_module(result)
        results.append(result)
    print_table(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
