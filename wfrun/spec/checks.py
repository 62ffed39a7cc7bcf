"""Semantic checks: what a schema cannot see. Every check appends; none stops the rest.

Names must resolve (with "did you mean"), types must exist and their `with:` must
match the type's config model, `needs` must not form cycles, `if:` must parse and read
only names that will exist, and run-time placeholders must name real things.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, cast, get_args, get_origin

from pydantic import BaseModel, ValidationError

from wfrun import constants as C
from wfrun.errors import Diagnostic, Position, Severity, brief, clip
from wfrun.registry import Kind, OnDisk, Registry, TypeSpec
from wfrun.spec import expr
from wfrun.spec.document import AgentDoc, PhaseDoc, ResourceDoc, TemplateDoc
from wfrun.spec.graphs import Needed, find_cycle
from wfrun.spec.interpolate import Reference, format_value, is_run_time
from wfrun.spec.locate import diagnostics_from, dotted, listing, suggest
from wfrun.spec.source import PathKey, Source
from wfrun.status import PHASE_FIELDS

PHASE_STATUSES = ("succeeded", "failed", "skipped", "timeout", "error", "cancelled")
BOOLEAN_FIELDS = ("success", "failed", "skipped")
IF_NAMESPACES = ("phases", "params", "env")


def check(
    source: Source,
    docs: Mapping[str, Mapping[str, BaseModel]],
    *,
    names: Mapping[str, list[str]],
    params: Mapping[str, Any],
    execution: str,
    references: Iterable[Reference],
    registry: Registry,
    base_dir: Path | None = None,
) -> list[Diagnostic]:
    """Every semantic problem in the (structurally checked) sections of a workflow;
    with `base_dir`, also what the types' `with:` name on disk (see `OnDisk`) and what
    the types' own checks find there (`TypeSpec.check`)."""
    checker = _Checker(source, names, params, execution, registry, base_dir)
    resources = cast("Mapping[str, ResourceDoc]", docs["resources"])
    agents = cast("Mapping[str, AgentDoc]", docs["agents"])
    phases = cast("Mapping[str, PhaseDoc]", docs["phases"])
    templates = cast("Mapping[str, TemplateDoc]", docs["templates"])
    checker.resources(resources)
    checker.agents(agents)
    checker.phases(phases, "phases")
    checker.phases(templates, "templates")
    checker.cycle("resources", {name: r.needs for name, r in resources.items()})
    checker.cycle("phases", {name: p.needs for name, p in phases.items()})
    checker.conditions(phases, templates)
    checker.references(references, resources, agents, phases)
    if all(len(docs[section]) == len(names[section]) for section in docs):
        checker.unused(resources, agents, phases, templates)  # else it would only cascade
    return checker.found


class _Checker:
    def __init__(
        self,
        source: Source,
        names: Mapping[str, list[str]],
        params: Mapping[str, Any],
        execution: str,
        registry: Registry,
        base_dir: Path | None = None,
    ) -> None:
        self.source = source
        self.names = names
        self.params = params
        self.execution = execution
        self.registry = registry
        self.found: list[Diagnostic] = []
        self.base_dir = base_dir  # the workflow's folder: paths on disk, types' own checks
        # Looked up once per name, not once per use: a file may use a name 100,000 times.
        self.declared = {section: set(declared) for section, declared in names.items()}
        self.order = {name: i for i, name in enumerate(names.get("phases", []))}
        self._needed: dict[str, Needed] = {}  # by section, built on first use

    @property
    def full(self) -> bool:
        """Enough problems to report: stop looking, as each costs a name search."""
        return len(self.found) >= C.MAX_DIAGNOSTICS

    def _add(
        self, where: Position, message: str, hint: str = "", severity: Severity = "error"
    ) -> None:
        self.found.append(Diagnostic(where, message, hint, severity))

    def _known(self, path: PathKey, name: str, section: str, what: str, owner: str) -> None:
        """Report `name` (the value at `path`) unless `section` declares it."""
        if name in self.declared[section]:
            return
        choices = self.names[section]
        hint = suggest(name, choices) or (
            f"declared {section}: {listing(choices)}"
            if choices
            else f"declare it under `{section}:`"
        )
        self._add(self.source.at(path), f"{owner} names unknown {what} {brief(name)}", hint)

    # -- types and with: ---------------------------------------------------------------

    def _typed(self, kind: Kind, section: str, name: str, doc: ResourceDoc | AgentDoc) -> None:
        type_name = doc.type
        spec = self.registry.get(kind, type_name)
        if spec is None:
            known = self.registry.names(kind)
            hint = suggest(type_name, known) or f"known {kind} types: {listing(known, 12)}"
            message = f"unknown {kind} type {brief(type_name)}"
            self._add(self.source.at((section, name, "type")), message, hint)
            return
        try:
            config = spec.config.model_validate(doc.with_)
            self._on_disk(spec.config, doc.with_, (section, name, "with"))
        except ValidationError as exc:
            self.found += diagnostics_from(
                exc,
                self.source,
                (section, name, "with"),
                spec.config,
                ignore=lambda path: _is_run_time(self.source, path),
            )
        except RecursionError:
            # Hostile input, not a bug in the type: its check recursed over something nested
            # deeply (re.compile of a regex nested 5,000 deep). Other exceptions are bugs
            # in the type, and stay internal errors (exit 3, with a log).
            where = self.source.at((section, name, "with"), key=True)
            message = f"the {kind} type {brief(type_name)} cannot check `with:`: nested too deeply"
            self._add(where, message, "simplify the settings (a regex with fewer groups?)")
        else:
            self._own_checks(spec, config, (section, name, "with"))

    def _own_checks(self, spec: TypeSpec, config: Any, prefix: PathKey) -> None:
        """The type's checks beside the workflow (a `call:` module imports...), if it has any."""
        if spec.check is None or self.base_dir is None:
            return
        for finding in spec.check(config, self.base_dir):
            path = (*prefix, *finding.path)
            if _is_run_time(self.source, path):
                continue
            raw = self.source.value(path)
            if finding.offset is not None and isinstance(raw, str) and "${" not in raw:
                where = self.source.within(path, finding.offset)  # as written: exact column
            else:
                where = self.source.at(path)
            self._add(where, f"{dotted(path)}: {finding.message}", finding.hint)

    def _on_disk(self, model: type[BaseModel], data: Any, path: PathKey) -> None:
        """Check the values of `data` that `model` marks as naming something on disk."""
        if self.base_dir is None or not isinstance(data, Mapping):
            return
        for field_name, info in model.model_fields.items():
            key = info.alias or field_name
            if key in data:
                self._marked(info.annotation, tuple(info.metadata), data[key], (*path, key))

    def _marked(
        self, annotation: Any, metadata: tuple[Any, ...], value: Any, path: PathKey
    ) -> None:
        for marker in metadata:
            if isinstance(marker, OnDisk) and isinstance(value, str) and not self.full:
                self._exists(marker, value, path)
        origin, args = get_origin(annotation), get_args(annotation)
        if origin is Annotated:
            self._marked(args[0], args[1:], value, path)
        elif origin in (list, tuple) and isinstance(value, list) and args:
            for i, item in enumerate(value):
                self._marked(args[0], (), item, (*path, i))
        elif origin in (Union, UnionType):
            for arg in args:
                self._marked(arg, (), value, path)
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            self._on_disk(annotation, value, path)

    def _exists(self, marker: OnDisk, value: str, path: PathKey) -> None:
        if self.base_dir is None:
            return
        where = self.source.at(path)
        if _is_run_time(self.source, path):
            message = (
                f"{clip(value)} is made at run time, so validate cannot check the {marker.what}"
            )
            self._add(where, message, "", "warning")
            return
        problem = marker.problem(value, self.base_dir)
        if problem is not None:
            self._add(where, problem[0], problem[1])

    def resources(self, resources: Mapping[str, ResourceDoc]) -> None:
        for name, resource in resources.items():
            if self.full:
                return
            self._typed("resource", "resources", name, resource)
            for i, need in enumerate(resource.needs):
                path = ("resources", name, "needs", i)
                if need == name:
                    self._add(self.source.at(path), f"resource {brief(name)} needs itself")
                else:
                    self._known(path, need, "resources", "resource", f"resource {brief(name)}")

    def agents(self, agents: Mapping[str, AgentDoc]) -> None:
        configured = self.names["resources"]
        for name, agent in agents.items():
            if self.full:
                return
            self._typed("agent", "agents", name, agent)
            for i, wanted in enumerate(agent.requires):
                if wanted not in self.declared["resources"]:
                    path = ("agents", name, "requires", i)
                    hint = suggest(wanted, configured) or (
                        "configure it under `resources:`, or move it to `optional:`"
                    )
                    message = (
                        f"agent {brief(name)} requires resource {brief(wanted)}, "
                        "which is not configured"
                    )
                    self._add(self.source.at(path), message, hint)
            for i, wanted in enumerate(agent.optional):
                if wanted in self.declared["resources"]:
                    continue
                close = suggest(wanted, configured)
                if close:
                    message = (
                        f"optional resource {brief(wanted)} is not configured, so it is unused"
                    )
                    where = self.source.at(("agents", name, "optional", i))
                    self._add(where, message, close, severity="warning")

    # -- phases and templates ----------------------------------------------------------

    def phases(
        self, phases: Mapping[str, PhaseDoc] | Mapping[str, TemplateDoc], section: str
    ) -> None:
        noun = "phase" if section == "phases" else "template"
        for name, phase in phases.items():
            if self.full:
                return
            owner = f"{noun} {brief(name)}"
            if not phase.agents:
                where = self.source.at((section, name), key=True)
                hint = "list the agents that take turns in it: `agents: [name]`"
                self._add(where, f"{owner} has no agents", hint)
            for i, agent in enumerate(phase.agents):
                self._known((section, name, "agents", i), agent, "agents", "agent", owner)
            for i, resource in enumerate(phase.resources):
                path = (section, name, "resources", i)
                self._known(path, resource, "resources", "resource", owner)
            for i, template in enumerate(phase.may_spawn):
                path = (section, name, "may_spawn", i)
                self._known(path, template, "templates", "template", owner)
            needs = phase.needs if isinstance(phase, PhaseDoc) else []
            if needs and self.execution != "graph":
                where = self.source.at((section, name, "needs"), key=True)
                message = f"{owner} has `needs`, but phases run in listed order"
                hint = "add `execution: graph` at the top level, or remove `needs`"
                self._add(where, message, hint)
                continue
            for i, need in enumerate(needs):
                path = (section, name, "needs", i)
                if need == name:
                    self._add(self.source.at(path), f"{owner} needs itself")
                else:
                    self._known(path, need, "phases", "phase", owner)

    def cycle(self, section: str, needs: Mapping[str, list[str]]) -> None:
        """Report one cycle as `a -> b -> a`, placed at the `needs:` entry that closes it."""
        ring = find_cycle(needs)
        if ring is None:
            return
        first, second = ring[0], ring[1]
        where = self.source.at((section, first, "needs", needs[first].index(second)))
        noun = "resource" if section == "resources" else "phase"
        message = f"{noun} needs form a cycle: {_ring(ring)}"
        self._add(where, message, "remove one of these needs")

    # -- if: ---------------------------------------------------------------------------

    def conditions(
        self, phases: Mapping[str, PhaseDoc], templates: Mapping[str, TemplateDoc]
    ) -> None:
        for section, entries in (("phases", phases), ("templates", templates)):
            for name, entry in entries.items():
                if entry.if_ is None:
                    continue
                if self.full:
                    return
                path = (section, name, "if")
                try:
                    tree = expr.parse(entry.if_)
                except expr.ExpressionError as exc:
                    where = self._in_condition(path, entry.if_, exc.offset)
                    self._add(where, f"if: {exc}", exc.hint)
                    continue
                own = entry.params if isinstance(entry, TemplateDoc) else {}
                params = {**self.params, **own}
                before = len(self.found)
                for ref in expr.names(tree):
                    self._condition_name(path, entry.if_, name, section, ref, params, phases)
                if len(self.found) == before:  # names are sound: do the values fit them?
                    for comparison in expr.comparisons(tree):
                        self._compared(path, entry.if_, comparison, params)

    def _in_condition(self, path: PathKey, text: object, offset: int) -> Position:
        """Character `offset` of the `if:` text, if that is what the file holds; where a
        placeholder (`if: ${params.when}`) changed it, the offset is into the substituted
        text, so the `if:` value's start is the best place."""
        if self.source.value(path) == text:
            return self.source.within(path, offset)
        return self.source.at(path)

    def _condition_name(
        self,
        path: PathKey,
        text: str,
        phase: str,
        section: str,
        name: expr.Name,
        params: Mapping[str, Any],
        phases: Mapping[str, PhaseDoc],
    ) -> None:
        where = self._in_condition(path, text, name.offset)
        head, *rest = name.parts
        if head not in IF_NAMESPACES:
            hint = suggest(head, IF_NAMESPACES) or "names start with phases., params. or env."
            if len(name.parts) == 1:
                hint += "; quote text: 'like this'"
            self._add(where, f"if: unknown name {brief(name.dotted)}", hint)
        elif head == "env" and len(rest) != 1:
            self._add(where, f"if: {brief(name.dotted)} should be env.NAME", "write env.NAME")
        elif head == "params" and (not rest or rest[0] not in params):
            wanted = rest[0] if rest else ""
            hint = (
                suggest(wanted, list(params))
                or f"declared params: {listing(list(params)) or 'none'}"
            )
            self._add(where, f"if: unknown param {brief(name.dotted)}", hint)
        elif head == "params":
            self._param_field(where, name, params[rest[0]])
        elif head == "phases":
            self._phase_name(where, phase, section, name, phases)

    def _param_field(self, where: Position, name: expr.Name, value: Any) -> None:
        """`params.p.k...` must name keys of p's default: there is no attribute access,
        so `params.p.upper` on a string would fail only at run time, mid-workflow."""
        for depth, part in enumerate(name.parts[2:], start=2):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
                continue
            above = ".".join(name.parts[:depth])
            if isinstance(value, Mapping):
                keys = [str(key) for key in value]
                hint = suggest(part, keys) or f"its keys: {listing(keys) or 'none'}"
                message = f"if: {brief(above)} has no key {brief(part)}"
            else:
                hint = f"write {clip(above)} itself; there is no attribute access"
                message = f"if: {brief(above)} is a {_kind(value)}, so it has no {brief(part)}"
            self._add(where, message, hint)
            return

    def _phase_name(
        self,
        where: Position,
        phase: str,
        section: str,
        name: expr.Name,
        phases: Mapping[str, PhaseDoc],
    ) -> None:
        parts = name.parts[1:]
        if len(parts) != 2 or parts[1] not in PHASE_FIELDS:
            hint = f"write phases.NAME.FIELD, FIELD one of {', '.join(PHASE_FIELDS)}"
            if len(parts) == 2:
                hint = suggest(parts[1], PHASE_FIELDS) or hint
            self._add(where, f"if: {brief(name.dotted)} is not a phase field", hint)
            return
        other = parts[0]
        if other not in self.declared["phases"]:
            hint = suggest(other, self.names["phases"]) or "name a phase declared under `phases:`"
            self._add(where, f"if: unknown phase {brief(other)}", hint)
            return
        if section != "phases":
            return
        if self.execution == "sequential" and self.order[other] >= self.order[phase]:
            message = f"if: phase {brief(phase)} reads phase {brief(other)}, which runs after it"
            self._add(where, message, "a phase can only read phases listed before it")
        elif self.execution == "graph" and not self._needs("phases", phases).of(phase, other):
            message = f"if: phase {brief(phase)} reads phase {brief(other)} but does not need it"
            self._add(where, message, f"add {brief(other)} to its `needs`, so it has finished")

    def _compared(
        self, path: PathKey, text: str, node: expr.Compare, params: Mapping[str, Any]
    ) -> None:
        """A literal compared with a name must be something the name can hold:
        `status == 'success'` and `params.level >= 2` (a string) are never true."""
        pairs: list[tuple[expr.Name, expr.Literal]] = []
        left, right = node.left, node.right
        membership = node.op in ("in", "not in")
        if isinstance(left, expr.Name) and isinstance(right, expr.Literal) and not membership:
            pairs.append((left, right))
        elif isinstance(left, expr.Literal) and isinstance(right, expr.Name) and not membership:
            pairs.append((right, left))
        elif isinstance(left, expr.Name) and isinstance(right, expr.ListLit) and membership:
            pairs += [(left, i) for i in right.items if isinstance(i, expr.Literal)]
        for name, literal in pairs:
            problem = _misfit(name, literal.value, params)
            if problem is not None:
                where = self._in_condition(path, text, literal.offset)
                self._add(where, f"if: {problem[0]}", problem[1])

    def _needs(self, section: str, entries: Mapping[str, PhaseDoc | ResourceDoc]) -> Needed:
        if section not in self._needed:
            self._needed[section] = Needed({name: e.needs for name, e in entries.items()})
        return self._needed[section]

    # -- ${resources...} and ${phases...} ----------------------------------------------

    def references(
        self,
        refs: Iterable[Reference],
        resources: Mapping[str, ResourceDoc],
        agents: Mapping[str, AgentDoc],
        phases: Mapping[str, PhaseDoc],
    ) -> None:
        for ref in refs:
            if self.full:
                return
            where = self.source.within(ref.path, ref.offset)
            section, owner = ref.path[0], ref.path[1] if len(ref.path) > 1 else ""
            in_with = len(ref.path) > 2 and ref.path[2] == "with"
            if not in_with or section not in ("resources", "agents"):
                message = f"{ref.text} can only be used inside a resource's or agent's `with:`"
                self._add(where, message, "it is resolved when the resource or agent starts")
                continue
            if ref.namespace == "phases":
                if self._phase_reference(where, ref, section):
                    self._read_before(where, ref, str(owner), phases)
                continue
            self._resource_reference(where, ref, str(section), str(owner), resources, agents)

    def _phase_reference(self, where: Position, ref: Reference, section: PathKey | str) -> bool:
        """True if `ref` names a field of a declared phase, from an agent's `with:`."""
        if section == "resources":
            message = f"{ref.text}: resources start before phases finish"
            self._add(where, message, "read phase outputs from an agent's `with:`")
            return False
        if len(ref.parts) != 2 or ref.parts[1] not in PHASE_FIELDS:
            self._add(
                where, f"{ref.text} is not a phase field", f"fields: {', '.join(PHASE_FIELDS)}"
            )
            return False
        if ref.parts[0] not in self.declared["phases"]:
            hint = suggest(ref.parts[0], self.names["phases"]) or _declared("phases", self.names)
            self._add(where, f"{ref.text} names unknown phase {brief(ref.parts[0])}", hint)
            return False
        return True

    def _read_before(
        self, where: Position, ref: Reference, agent: str, phases: Mapping[str, PhaseDoc]
    ) -> None:
        """An agent's `with:` is rendered in every phase that uses it: each of those must
        run after the phase it reads, by the same rule as `if:`."""
        other = ref.parts[0]
        for phase, doc in phases.items():
            if agent not in doc.agents or self.full:
                continue
            use = f"phase {brief(phase)} uses agent {brief(agent)}, whose {ref.text}"
            if self.execution == "sequential" and self.order[other] >= self.order[phase]:
                message = f"{use} reads phase {brief(other)}, which runs after it"
                hint = f"a phase can only read phases listed before it; move {brief(other)} up"
                self._add(where, message, hint)
            elif self.execution == "graph" and not self._needs("phases", phases).of(phase, other):
                message = f"{use} reads phase {brief(other)}, which {brief(phase)} does not need"
                hint = f"add {brief(other)} to the `needs` of {brief(phase)}, so it has finished"
                self._add(where, message, hint)

    def _resource_reference(
        self,
        where: Position,
        ref: Reference,
        section: str,
        owner: str,
        resources: Mapping[str, ResourceDoc],
        agents: Mapping[str, AgentDoc],
    ) -> None:
        target = ref.parts[0]
        if target not in self.declared["resources"]:
            hint = suggest(target, self.names["resources"]) or _declared("resources", self.names)
            self._add(where, f"{ref.text} names unknown resource {brief(target)}", hint)
            return
        if len(ref.parts) != 2:
            self._add(where, f"{ref.text}: write ${{resources.NAME.ATTRIBUTE}}")
            return
        resource = resources.get(target)
        spec = self.registry.get("resource", resource.type) if resource else None
        if spec is not None and ref.parts[1] not in spec.attributes:
            attrs = ", ".join(spec.attributes) or "none"
            hint = suggest(ref.parts[1], spec.attributes) or f"{spec.name} attributes: {attrs}"
            message = f"{ref.text}: a {spec.name} resource has no attribute {brief(ref.parts[1])}"
            self._add(where, message, hint)
            return
        if (
            section == "resources"
            and target != owner
            and not self._needs("resources", resources).of(owner, target)
        ):
            message = f"resource {brief(owner)} uses {ref.text} but does not need {brief(target)}"
            self._add(where, message, f"add {brief(target)} to its `needs`, so it starts first")
        elif section == "agents" and owner in agents:
            agent = agents[owner]
            if target not in (*agent.requires, *agent.optional):
                message = (
                    f"agent {brief(owner)} uses {ref.text} but does not require {brief(target)}"
                )
                self._add(where, message, f"add {brief(target)} to its `requires`")

    # -- warnings ----------------------------------------------------------------------

    def unused(
        self,
        resources: Mapping[str, ResourceDoc],
        agents: Mapping[str, AgentDoc],
        phases: Mapping[str, PhaseDoc],
        templates: Mapping[str, TemplateDoc],
    ) -> None:
        steps = [*phases.values(), *templates.values()]
        used_agents = {name for step in steps for name in step.agents}
        used = {name for step in steps for name in step.resources}
        for name in used_agents:
            if name in agents:
                used.update(agents[name].requires, agents[name].optional)
        used.update(need for r in resources.values() for need in r.needs)
        for name in resources:
            if name not in used:
                where = self.source.at(("resources", name), key=True)
                message = f"resource {brief(name)} is used by no phase, so it never starts"
                self._add(where, message, "remove it, or use it from a phase", "warning")
        for name in agents:
            if name not in used_agents:
                where = self.source.at(("agents", name), key=True)
                self._add(where, f"agent {brief(name)} takes part in no phase", "", "warning")


def _declared(section: str, names: Mapping[str, list[str]]) -> str:
    return f"declared {section}: {listing(names[section]) or 'none'}"


def _ring(names: list[str]) -> str:
    """`a -> b -> a`; a cycle through 5,000 phases shows its start and its length."""
    if len(names) <= 8:
        return " -> ".join(names)
    return f"{' -> '.join(names[:4])} -> … -> {names[-1]} ({len(names) - 1:,} in the cycle)"


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", int: "number", float: "number", list: "list"}.get(type(value), "value")


def _misfit(name: expr.Name, value: Any, params: Mapping[str, Any]) -> tuple[str, str] | None:
    """(message, hint) if `name` can never hold a value like the literal `value`."""
    head, parts, shown = name.parts[0], name.parts[1:], _literal(value)
    dotted = clip(name.dotted)
    if head == "phases" and parts[-1] in BOOLEAN_FIELDS and not isinstance(value, bool):
        return (
            f"{dotted} is true or false, never {shown}",
            f"compare with true or false, or write {dotted} alone",
        )
    if head == "phases" and parts[-1] == "status" and value not in PHASE_STATUSES:
        hint = (suggest(value, PHASE_STATUSES) if isinstance(value, str) else "") or (
            f"statuses: {', '.join(PHASE_STATUSES)}"
        )
        return f"{dotted} is never {shown}", hint
    if head == "env" and isinstance(value, int | float):  # a bool is an int too
        return (
            f"{dotted} is text (or null when unset), compared with a {_kind(value)} {shown}",
            f"compare with text: '{format_value(value)}'",
        )
    if head == "params":
        default: Any = params
        for part in parts:
            default = default[part]
        have, want = _kind(default), _kind(value)
        if "value" not in (have, want) and have != want:
            return (
                f"{dotted} is a {have} ({clip(_literal(default))}), compared with a {want} {shown}",
                f"compare with a {have} or make the default a {want}",
            )
    return None


def _literal(value: Any) -> str:
    """A value as an `if:` expression spells it."""
    if isinstance(value, str):
        return repr(value) if "'" not in value else f'"{value}"'
    return format_value(value) if value is not None else "null"


def _is_run_time(source: Source, path: PathKey) -> bool:
    """True if the value at `path` is a string holding a run-time placeholder."""
    return is_run_time(source.value(path))
