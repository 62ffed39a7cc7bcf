"""Load a workflow file: YAML -> placeholders -> structure -> semantics -> Workflow.

Every stage collects diagnostics instead of stopping at the first, so one `validate`
shows every problem in the file, sorted by position.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from wfrun import constants as C
from wfrun.errors import Diagnostic, Position, Severity, SpecError, UsageError, brief, clip
from wfrun.gcpause import gc_paused
from wfrun.redact import Redactor
from wfrun.registry import PluginError, Registry, default_registry, with_plugins
from wfrun.spec import checks
from wfrun.spec.document import (
    AgentDoc,
    PhaseDoc,
    ResourceDoc,
    TemplateDoc,
    WorkflowDoc,
)
from wfrun.spec.freeze import freeze
from wfrun.spec.interpolate import (
    Interpolator,
    PlaceholderError,
    Reference,
    format_value,
    resolve_in,
)
from wfrun.spec.locate import diagnostics_from, listing, suggest
from wfrun.spec.model import Workflow
from wfrun.spec.reading import read_text
from wfrun.spec.source import PathKey, Source, parse_yaml

_SECTIONS: dict[str, type[BaseModel]] = {
    "resources": ResourceDoc,
    "agents": AgentDoc,
    "phases": PhaseDoc,
    "templates": TemplateDoc,
}


@dataclass(frozen=True)
class Inspection:
    """What loading found: the workflow (None if any error) and every diagnostic."""

    workflow: Workflow | None
    diagnostics: list[Diagnostic]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def load_workflow(
    path: str | Path,
    *,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> Workflow:
    """Load and validate a workflow file; raise SpecError listing every problem."""
    result = inspect_workflow(path, params=params, environ=environ, registry=registry)
    if result.workflow is None:
        raise SpecError(result.errors)
    return result.workflow


def inspect_workflow(
    path: str | Path,
    *,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    registry: Registry | None = None,
) -> Inspection:
    """Like load_workflow, but returns warnings too and never raises SpecError."""
    got = read_text(path)
    if isinstance(got, Diagnostic):
        return Inspection(None, [got])
    return inspect_text(
        got,
        str(path),
        params=params,
        environ=os.environ if environ is None else environ,
        registry=registry,
        base_dir=Path(path).resolve().parent,
    )


def inspect_text(
    text: str,
    file: str,
    *,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str],
    registry: Registry | None = None,
    base_dir: Path | None = None,
) -> Inspection:
    """Check workflow text; `file` is only the name used in messages."""
    with gc_paused():  # the parsed file is a million objects the collector would rescan
        return _inspect_text(text, file, params, environ, registry, base_dir)


def _inspect_text(
    text: str,
    file: str,
    params: Mapping[str, str] | None,
    environ: Mapping[str, str],
    registry: Registry | None,
    base_dir: Path | None,
) -> Inspection:
    try:
        source = parse_yaml(text, file)
    except SpecError as exc:  # e.g. 50,000 duplicate keys
        return Inspection(None, _at_most(exc.diagnostics, file))
    if not isinstance(source.data, dict):
        message = "a workflow file is a mapping with version, resources, agents and phases"
        return Inspection(None, [Diagnostic(source.at(()), message, "see `wfrun schema`")])
    redactor = _redactor(source.data.get("secrets"), environ)  # known before anything fails
    loading = _Loading(source, environ, registry or default_registry())
    workflow = loading.run(params or {}, base_dir or Path(file).resolve().parent)
    diagnostics = _at_most(sorted(loading.diagnostics, key=Diagnostic.sort_key), file)
    if any(d.severity == "error" for d in diagnostics):
        workflow = None
    if redactor:  # messages quote values (`-p`, `${env.X}`): a secret's is shown as ***
        diagnostics = [
            dataclasses.replace(d, message=redactor.text(d.message), hint=redactor.text(d.hint))
            for d in diagnostics
        ]
    return Inspection(workflow, diagnostics)


def _redactor(names: Any, environ: Mapping[str, str]) -> Redactor:
    """The masking for `secrets:` as written (it may be invalid: then what can be used)."""
    valid = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
    return Redactor.for_environ(valid, environ)


def _at_most(diagnostics: list[Diagnostic], file: str) -> list[Diagnostic]:
    """MAX_DIAGNOSTICS of them, errors first, and a note that validation stopped there.

    A generated or hostile file can hold 100,000 problems; past a few hundred, a list is
    noise, and finding each one costs time (the stages stop looking at the limit).
    """
    if len(diagnostics) < C.MAX_DIAGNOSTICS:
        return diagnostics
    errors = [d for d in diagnostics if d.severity == "error"]
    kept = (errors + [d for d in diagnostics if d.severity != "error"])[: C.MAX_DIAGNOSTICS]
    severity: Severity = "error" if errors else "warning"
    message = f"stopped after {C.MAX_DIAGNOSTICS} problems"
    note = Diagnostic(Position(file, 1, 1), message, "fix these, then validate again", severity)
    return sorted([note, *kept], key=Diagnostic.sort_key)


class _Loading:
    """One load: holds the source, the registry and the diagnostics found so far."""

    def __init__(self, source: Source, environ: Mapping[str, str], registry: Registry) -> None:
        self.source = source
        self.environ = environ
        self.registry = registry
        self.diagnostics: list[Diagnostic] = []

    def run(self, overrides: Mapping[str, str], base_dir: Path) -> Workflow | None:
        raw: dict[str, Any] = self.source.data
        params = self._params(raw.get("params"), overrides)
        if self._enough():
            return None
        interpolator = Interpolator(
            lambda ref: self._resolve(ref, params, raw),
            max_errors=self._room(),
            max_chars=C.MAX_EXPANDED_CHARS,
        )
        rendered = {
            key: interpolator.render(value, (key,)) for key, value in raw.items() if key != "params"
        }
        if "params" in raw:
            rendered["params"] = params if isinstance(raw["params"], dict) else raw["params"]
        for path, error in interpolator.errors:
            self._placeholder_error(path, error)
        if self._enough():  # placeholders past the limit are unresolved: stop before misjudging
            return None
        doc: WorkflowDoc | None = None
        try:
            doc = WorkflowDoc.model_validate(rendered)
        except ValidationError as exc:
            self.diagnostics += diagnostics_from(
                exc, self.source, (), WorkflowDoc, limit=self._room()
            )
        if self._enough():
            return None
        self._load_plugins(rendered.get("plugins"), base_dir)
        docs = {section: self._valid_entries(rendered, doc, section) for section in _SECTIONS}
        execution = rendered.get("execution", "sequential")
        found = checks.check(
            self.source,
            docs,
            names={section: _names(rendered.get(section)) for section in _SECTIONS},
            params=params,
            execution=execution if execution in ("sequential", "graph") else "sequential",
            references=interpolator.references,
            registry=self.registry,
            base_dir=base_dir,
        )
        self.diagnostics += found
        if "name" not in rendered and not any(d.severity == "error" for d in self.diagnostics):
            self._default_name()
        if doc is None or any(d.severity == "error" for d in self.diagnostics):
            return None
        return freeze(doc, self.source, base_dir)

    def _default_name(self) -> None:
        """The file's name stands in for `name:` (run ids and folders are made of it), so
        it is held to the same rule: `my flow;rm.yaml` or a 300-character name is refused."""
        stem = Path(self.source.file).stem
        if C.NAME_RE.match(stem) and len(stem) <= C.MAX_NAME_CHARS:
            return
        message = (
            f"the workflow's name defaults to the file's, {brief(stem)}, which is no valid name"
        )
        hint = f"set `name:` or rename the file ({C.NAME_HINT}; at most {C.MAX_NAME_CHARS})"
        self._error(Position(self.source.file, 1, 1), message, hint)

    def _room(self) -> int:
        return max(C.MAX_DIAGNOSTICS - len(self.diagnostics), 0)

    def _enough(self) -> bool:
        """Enough problems to report (see `_at_most`): the later stages are skipped."""
        return not self._room()

    def _load_plugins(self, modules: Any, base_dir: Path) -> None:
        """Add the types of `plugins:` modules, so their `with:` is checked like built-ins'."""
        if not isinstance(modules, list):
            return
        for i, module in enumerate(modules):
            if not isinstance(module, str):
                continue
            try:
                self.registry = with_plugins(self.registry, [module], base_dir)
            except PluginError as exc:
                hint = f"the module must be importable from {base_dir} or installed"
                self._error(self.source.at(("plugins", i)), str(exc), hint)

    def _params(self, raw: Any, overrides: Mapping[str, str]) -> dict[str, Any]:
        """Params may read `${env.X}` (not each other); then -p overrides apply."""
        if not isinstance(raw, dict):
            raw = {}
        interpolator = Interpolator(
            lambda ref: self._resolve(ref, {}, {}),
            max_errors=C.MAX_DIAGNOSTICS,
            max_chars=C.MAX_EXPANDED_CHARS,
        )
        params: dict[str, Any] = interpolator.render(raw, ("params",))
        for path, error in interpolator.errors:
            self._placeholder_error(path, error)
        for ref in interpolator.references[: C.MAX_DIAGNOSTICS]:
            message = f"{ref.text} cannot be used in params: params are fixed before any run"
            self._error(self.source.within(ref.path, ref.offset), message)
        for name, text in overrides.items():
            params[name] = _override(name, text, params)
        return params

    def _resolve(self, ref: Reference, params: Mapping[str, Any], raw: dict[str, Any]) -> Any:
        if ref.namespace == "env":
            if len(ref.parts) != 1:
                message = f"{ref.text}: environment variables have no attributes"
                raise PlaceholderError(message, offset=ref.offset, hint="write ${env.NAME}")
            if ref.parts[0] not in self.environ:
                message = f"environment variable {brief(ref.parts[0])} is not set"
                hint = f"export {ref.parts[0][:40]}=... before running wfrun"
                raise PlaceholderError(message, offset=ref.offset, hint=hint)
            return self.environ[ref.parts[0]]
        if ref.path[:1] == ("params",):
            message = f"{ref.text}: params cannot refer to other params"
            raise PlaceholderError(message, offset=ref.offset, hint="write the value itself")
        if ref.path[:1] == ("templates",) and len(ref.path) > 2 and ref.path[2] != "params":
            # A template's fields see its own params' defaults over the workflow's;
            # values given at spawn time reach its agents through ctx.params.
            templates = raw.get("templates")
            template = templates.get(ref.path[1]) if isinstance(templates, dict) else None
            own = template.get("params") if isinstance(template, dict) else None
            if isinstance(own, dict):
                return resolve_in({**params, **own}, ref, kind="param")
        return resolve_in(params, ref, kind="param")

    def _placeholder_error(self, path: PathKey, error: PlaceholderError) -> None:
        self._error(self.source.within(path, error.offset), str(error), error.hint)

    def _error(self, where: Position, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(where, message, hint))

    def _valid_entries(
        self, rendered: dict[str, Any], doc: WorkflowDoc | None, section: str
    ) -> dict[str, BaseModel]:
        """The entries of a section that are well-formed on their own, for semantic checks.

        A valid document's are its own: each was validated by the same model, once.
        """
        if doc is not None:
            return dict(getattr(doc, section))
        entries = rendered.get(section)
        model = _SECTIONS[section]
        valid: dict[str, BaseModel] = {}
        if isinstance(entries, dict):
            for name, entry in entries.items():
                try:
                    valid[name] = model.model_validate(entry)
                except ValidationError:
                    continue  # already reported by the whole-document validation
        return valid


def _names(section: Any) -> list[str]:
    return [str(name) for name in section] if isinstance(section, dict) else []


def _override(name: str, text: str, params: Mapping[str, Any]) -> Any:
    """A -p value, typed like the param's default: `-p port=9000` stays an int."""
    if name not in params:
        hint = suggest(name, list(params)) or (
            f"declared params: {listing(list(params))}" if params else "the workflow declares none"
        )
        message = f"unknown param {brief(name)} in -p {clip(f'{name}={text}')}"
        raise UsageError(message, hint=hint)
    default = params[name]
    if isinstance(default, str) or default is None:
        return text
    try:  # with the file's limits: a -p value may come from anywhere (a CI variable)
        value = parse_yaml(text, f"-p {name}").data
    except SpecError:
        value = text
    expected = type(default)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, expected) or (isinstance(value, bool) != isinstance(default, bool)):
        shown = clip(format_value(default))
        message = (
            f"-p {clip(f'{name}={text}')}: expected {_kind(default)}, like the default {shown}"
        )
        raise UsageError(message, hint=f"e.g. -p {name}={_example(default)}")
    return value


def _kind(value: Any) -> str:
    return {bool: "true or false", int: "a whole number", float: "a number"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _example(value: Any) -> str:
    if isinstance(value, bool):
        return "true"
    if isinstance(value, list | dict):
        return "'[1, 2]'" if isinstance(value, list) else "'{a: 1}'"
    return str(value)
