"""A sweep: a workflow, a matrix of params, trials, limits; read, checked, expanded.

Read from a sweep file (positioned diagnostics, every problem at once, as workflows) or
from the command line (`-m NAME=V1,V2`). Every cell is validated before any runs: a
param value that makes one cell's workflow invalid is reported with that cell.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfrun.errors import Diagnostic, Position, SpecError, UsageError, brief
from wfrun.spec.source import Source, parse_yaml

SWEEP_KEYS: tuple[str, ...] = ("version", "name", "description", "workflow", "matrix")
SWEEP_KEYS += ("include", "exclude", "trials", "limits")
SWEEP_MARKERS = ("matrix", "workflow")  # a top-level key of these: a sweep file
MAX_CELLS = 10_000

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Cell:
    """One run of the sweep: the workflow's params and a trial number (from 1)."""

    index: int
    params: dict[str, str]
    trial: int

    @property
    def id(self) -> str:
        """`task=t1,model=replay,trial=2`: what people read."""
        return ",".join([*(f"{k}={v}" for k, v in self.params.items()), f"trial={self.trial}"])

    @property
    def folder(self) -> str:
        """`0007-t1-replay-2`: a safe file name; sweep.json holds the full params."""
        words = [_SAFE.sub("_", v)[:24] for v in self.params.values()]
        return "-".join([f"{self.index:04d}", *words, str(self.trial)])


_SAFE = re.compile(r"[^A-Za-z0-9_.]")


@dataclass(frozen=True)
class Sweep:
    """What to run: the workflow file, the matrix, the trials and the sweep's limits."""

    workflow: Path
    matrix: dict[str, list[str]]
    include: list[dict[str, str]] = field(default_factory=list)
    exclude: list[dict[str, str]] = field(default_factory=list)
    trials: int = 1
    limits: dict[str, int] = field(default_factory=dict)
    name: str = ""

    def cells(self) -> list[Cell]:
        """The matrix's product minus `exclude`, plus `include`, each `trials` times."""
        names = list(self.matrix)
        combos = [dict(zip(names, values, strict=True)) for values in _product(self.matrix)]
        combos = [c for c in combos if not any(_matches(c, ex) for ex in self.exclude)]
        combos += [dict(extra) for extra in self.include if dict(extra) not in combos]
        cells: list[Cell] = []
        for params in combos:
            for trial in range(1, self.trials + 1):
                cells.append(Cell(len(cells), params, trial))
        return cells

    def as_dict(self) -> dict[str, Any]:
        return {
            "workflow": str(self.workflow),
            "matrix": self.matrix,
            "include": self.include,
            "exclude": self.exclude,
            "trials": self.trials,
            "limits": self.limits,
        }


def _product(matrix: Mapping[str, list[str]]) -> list[tuple[str, ...]]:
    return list(itertools.product(*matrix.values())) if matrix else []


def _matches(combo: Mapping[str, str], pattern: Mapping[str, str]) -> bool:
    return all(combo.get(k) == v for k, v in pattern.items())


def is_sweep_file(path: Path) -> bool:
    """A regular file with a top-level `matrix:` or `workflow:` key (workflows have
    neither). Anything else (a pipe, a device) is left to the workflow loader: reading
    it here would consume it, or never end."""
    try:
        if not path.is_file():
            return False
        with path.open("rb") as handle:
            head = handle.read(200_000).decode("utf-8", errors="replace")
    except OSError:
        return False
    return any(re.search(rf"(?m)^{key}\s*:", head) for key in SWEEP_MARKERS)


def scalar_text(value: Scalar) -> str:
    """A matrix value as `-p` takes it (the loader types it like the param's default)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- the sweep file -----------------------------------------------------------------------


def read_sweep(path: Path) -> tuple[Sweep | None, list[Diagnostic]]:
    """Read and check a sweep file: the sweep, or None and every problem, positioned."""
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        message = f"cannot read the sweep file: {getattr(exc, 'strerror', None) or exc}"
        return None, [Diagnostic(Position(file, 1, 1), message, "check the path")]
    try:
        source = parse_yaml(text, file)
    except SpecError as exc:
        return None, exc.diagnostics
    sweep, found = _Reading(source, path).run()
    return sweep, sorted(found, key=Diagnostic.sort_key)


class _Reading:
    def __init__(self, source: Source, path: Path) -> None:
        self.source = source
        self.path = path
        self.found: list[Diagnostic] = []

    def error(
        self, where: tuple[str | int, ...], message: str, hint: str = "", *, key: bool = False
    ) -> None:
        path = ".".join(map(str, where))
        position = self.source.at(where, key=key)
        self.found.append(Diagnostic(position, message, hint, path=path))

    def run(self) -> tuple[Sweep | None, list[Diagnostic]]:
        data = self.source.data
        if not isinstance(data, dict):
            self.error((), "a sweep file is a mapping", "start with `workflow:` and `matrix:`")
            return None, self.found
        for key in data:
            if key not in SWEEP_KEYS:
                self.found.append(
                    Diagnostic(
                        self.source.at((key,), key=True),
                        f"unknown key {brief(key)} in a sweep file",
                        f"the keys are: {', '.join(SWEEP_KEYS)}",
                        path=str(key),
                    )
                )
        workflow = self.workflow(data.get("workflow"))
        matrix = self.matrix(data.get("matrix"))
        include = self.combos(data.get("include"), "include", matrix, known_only=False)
        exclude = self.combos(data.get("exclude"), "exclude", matrix, known_only=True)
        trials = self.count(data.get("trials", 1), ("trials",))
        limits = self.limits(data.get("limits"))
        if self.found or workflow is None:
            return None, self.found
        sweep = Sweep(workflow, matrix, include, exclude, trials, limits, name=self.path.stem)
        if not sweep.cells():
            self.error(("matrix",), "the sweep has no cells", "give matrix values or include:")
        elif len(sweep.cells()) > MAX_CELLS:
            self.error(("matrix",), f"the sweep has over {MAX_CELLS:,} cells", "split it up")
        return (None if self.found else sweep), self.found

    def workflow(self, value: Any) -> Path | None:
        if value is None:
            self.error((), "a sweep file needs `workflow:`", "the workflow file, relative to it")
            return None
        if not isinstance(value, str) or not value.strip():
            self.error(("workflow",), f"workflow: expects a file name, got {brief(value)}")
            return None
        target = (self.path.resolve().parent / value).resolve()
        if not target.is_file():
            self.error(("workflow",), f"no workflow file {target}", "a path relative to the sweep")
            return None
        return target

    def matrix(self, value: Any) -> dict[str, list[str]]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(("matrix",), "matrix: expects param -> list of values", "e.g. {task: [a]}")
            return {}
        matrix: dict[str, list[str]] = {}
        for name, values in value.items():
            where = ("matrix", name)
            if not isinstance(values, list) or not values:
                self.error(where, f"matrix.{name}: expects a non-empty list of values")
                continue
            texts: list[str] = []
            for i, item in enumerate(values):
                if not isinstance(item, str | int | float | bool):
                    self.error((*where, i), f"matrix.{name}: {brief(item)} is not a scalar")
                elif scalar_text(item) in texts:
                    self.error((*where, i), f"matrix.{name}: {brief(item)} is listed twice")
                else:
                    texts.append(scalar_text(item))
            matrix[str(name)] = texts
        return matrix

    def combos(
        self, value: Any, key: str, matrix: Mapping[str, list[str]], *, known_only: bool
    ) -> list[dict[str, str]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error((key,), f"{key}: expects a list of mappings", f"e.g. {key}: [{{task: a}}]")
            return []
        combos: list[dict[str, str]] = []
        for i, entry in enumerate(value):
            if not isinstance(entry, dict) or not entry:
                self.error((key, i), f"{key}[{i}]: expects a mapping of param -> value")
                continue
            combo: dict[str, str] = {}
            for name, item in entry.items():
                if known_only and name not in matrix:
                    self.error(
                        (key, i, name), f"{key}: {brief(name)} is not a matrix param", key=True
                    )
                elif not isinstance(item, str | int | float | bool):
                    self.error((key, i, name), f"{key}: {brief(item)} is not a scalar")
                else:
                    combo[str(name)] = scalar_text(item)
            if not known_only and set(combo) != set(matrix) and matrix:
                missing = ", ".join(sorted(set(matrix) - set(combo))) or "none"
                self.error(
                    (key, i), f"include[{i}] must give every matrix param (missing: {missing})"
                )
            combos.append(combo)
        return combos

    def count(self, value: Any, where: tuple[str, ...]) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            self.error(where, f"{where[-1]}: expects a whole number >= 1, got {brief(value)}")
            return 1
        return value

    def limits(self, value: Any) -> dict[str, int]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(("limits",), "limits: expects type -> N", "e.g. {container: 4}")
            return {}
        return {str(k): self.count(v, ("limits", str(k))) for k, v in value.items()}


# -- the command line ---------------------------------------------------------------------


def sweep_from_args(
    workflow: Path, matrix: list[str], trials: int, limits: Mapping[str, int]
) -> Sweep:
    """`-m NAME=V1,V2` options (a bad one is a UsageError, exit 2)."""
    parsed: dict[str, list[str]] = {}
    for item in matrix:
        name, sep, values = item.partition("=")
        texts = [v.strip() for v in values.split(",")] if sep else []
        if not sep or not name.strip() or not all(texts):
            message = f"-m expects NAME=V1,V2,..., got {item!r}"
            raise UsageError(message, hint="e.g. -m task=t1,t2 -m model=replay")
        parsed[name.strip()] = list(dict.fromkeys(texts))
    if not workflow.is_file():
        msg = f"no workflow file {workflow}"
        raise UsageError(msg, hint="check the path")
    sweep = Sweep(workflow.resolve(), parsed, trials=trials, limits=dict(limits))
    if not parsed:
        sweep = Sweep(workflow.resolve(), {}, include=[{}], trials=trials, limits=dict(limits))
    return sweep


# -- every cell, before any runs ----------------------------------------------------------


def check_cells(sweep: Sweep, cells: list[Cell]) -> list[Diagnostic]:
    """Load the workflow once per distinct params: every problem, named with its cell."""
    from wfrun.registry import default_registry  # noqa: PLC0415 - loading types is slow
    from wfrun.spec import inspect_workflow  # noqa: PLC0415 - only when checking cells

    registry = default_registry()
    found: list[Diagnostic] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for cell in cells:
        key = tuple(cell.params.items())
        if key in seen:
            continue
        seen.add(key)
        label = ",".join(f"{k}={v}" for k, v in cell.params.items()) or "the workflow"
        try:
            inspection = inspect_workflow(sweep.workflow, params=cell.params, registry=registry)
        except UsageError as exc:  # a value the param's type refuses, an unknown param
            where = Position(str(sweep.workflow), 1, 1)
            found.append(Diagnostic(where, f"cell {label}: {exc}", exc.hint, path="params"))
            continue
        for d in inspection.diagnostics:
            found.append(
                Diagnostic(d.position, f"cell {label}: {d.message}", d.hint, d.severity, d.path)
            )
    return found


def load_sweep_or_raise(path: Path) -> Sweep:
    """The sweep file, checked; its own and its cells' problems raise SpecError."""
    sweep, found = read_sweep(path)
    if sweep is None:
        raise SpecError(found)
    problems = [d for d in check_cells(sweep, sweep.cells()) if d.severity == "error"]
    if problems:
        raise SpecError(problems)
    return sweep


def sweep_schema() -> dict[str, Any]:
    """JSON Schema of sweep files (`wfrun schema` offers it beside the workflow's)."""
    scalar = {"type": ["string", "number", "boolean"]}
    combo = {"type": "object", "additionalProperties": scalar, "minProperties": 1}
    return {
        "title": "wfrun sweep",
        "type": "object",
        "required": ["workflow"],
        "additionalProperties": False,
        "properties": {
            "version": {"const": 1},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "workflow": {"type": "string", "description": "the workflow file, relative"},
            "matrix": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": scalar, "minItems": 1},
            },
            "include": {"type": "array", "items": combo},
            "exclude": {"type": "array", "items": combo},
            "trials": {"type": "integer", "minimum": 1, "default": 1},
            "limits": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 1}},
        },
    }
