"""Resume (issue 19): which phases of a past run stand in for running them again.

A phase is reused only while its **identity** is unchanged: a sha256 of the canonical
JSON of its definition, its agents' and resources' settings (as loaded: params already
in), the workflow's params (agents may read any of them) and the identities of the
phases whose outputs it reads (Nextflow style: a changed upstream changes every
identity downstream). It must also have succeeded in the parent run, every phase it
reads must be reused too, and it must not depend on state that cannot come back: a
memory is copied from the parent's record, a workspace is not, so when any phase that
runs uses a workspace, every phase using that workspace runs again.

The identities are written to the record's `identities.json` before anything runs;
a killed run's run.json holds only what was written at its start, so the phases that
finished are read from events.jsonl (and outputs/), which a hard kill does not lose.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from wfrun.engine.records import EVENTS_FILE, IDENTITIES_FILE, OUTPUTS_DIR, RUN_FILE, read_json
from wfrun.errors import UsageError
from wfrun.spec import expr
from wfrun.spec.interpolate import PLACEHOLDER
from wfrun.spec.model import Phase, Workflow

NOT_RESTORABLE = frozenset({"workspace"})  # resource types whose contents do not come back
MEMORY_DIR = "memory"


@dataclass(frozen=True)
class Decision:
    """One listed phase: reused (its recorded output stands) or run, and why."""

    phase: str
    identity: str
    reused: bool
    reason: str
    output: str = ""


@dataclass(frozen=True)
class Resume:
    """What a resumed run needs: the parent and a decision per listed phase."""

    parent_id: str
    parent_dir: Path
    decisions: Mapping[str, Decision] = field(default_factory=dict)

    @property
    def reused(self) -> dict[str, str]:
        """Reused phase -> its recorded output."""
        return {n: d.output for n, d in self.decisions.items() if d.reused}

    def restore_memories(self, run_dir: Path) -> list[str]:
        """Copy the parent's memories into the new run (a memory reads its file on
        start). Returns the names copied."""
        source = self.parent_dir / MEMORY_DIR
        if not source.is_dir():
            return []
        target = run_dir / MEMORY_DIR
        target.mkdir(parents=True, exist_ok=True)
        copied = []
        for path in sorted(source.glob("*.json")):
            shutil.copyfile(path, target / path.name)
            copied.append(path.stem)
        return copied


# -- identities ------------------------------------------------------------------------


def identities(workflow: Workflow) -> dict[str, str]:
    """Every listed phase's identity, in declaration (a topological) order.

    Agents, resources and the workflow-wide settings are hashed once each and phases
    name their digests: every run hashes every phase, and most phases share agents.
    """
    shared = _digest({"params": workflow.params, "execution": workflow.execution})
    agents = _Digests(lambda n: _agent_data(workflow, n))
    resources = _Digests(lambda n: _resource_data(workflow, n))
    closures: dict[tuple[tuple[str, ...], tuple[str, ...]], list[str]] = {}
    found: dict[str, str] = {}
    for name, upstream in all_reads(workflow).items():
        phase = workflow.phases[name]
        key = (phase.resources, phase.agents)
        held = closures.get(key)
        if held is None:
            held = closures[key] = _resource_closure(workflow, phase)
        data = (  # a list where the order is fixed: no keys to sort
            _phase_data(phase),
            [agents[n] for n in phase.agents],
            held,
            [resources[n] for n in held],
            shared,
            [found[u] for u in upstream],
        )
        found[name] = _digest(data, canonical=False)
    return found


class _Digests(dict[str, str]):
    """name -> digest of its data, made on first use."""

    def __init__(self, data: Callable[[str], Any]) -> None:
        super().__init__()
        self._data = data

    def __missing__(self, name: str) -> str:
        digest = self[name] = _digest(self._data(name))
        return digest


def all_reads(workflow: Workflow) -> dict[str, tuple[str, ...]]:
    """Per phase, the earlier phases whose outputs or statuses it reads: its needs (graph)
    or the phase before it (sequential: `previous`), and those named in its `if:` and
    its agents' `with:`."""
    found: dict[str, tuple[str, ...]] = {}
    before: str | None = None
    read_by_agent = {n: _phase_references(a.config) for n, a in workflow.agents.items()}
    for name, phase in workflow.phases.items():
        names: list[str] = []
        if workflow.execution == "sequential":
            names += [before] if before else []
        else:
            names += phase.needs
        if phase.condition is not None:
            names += [n.parts[1] for n in expr.names(phase.condition) if n.parts[0] == "phases"]
        for agent in phase.agents:
            names += read_by_agent[agent]
        found[name] = tuple(dict.fromkeys([n for n in names if n in found]))
        before = name
    return found


def _phase_references(value: Any) -> list[str]:
    if isinstance(value, str):
        return [
            parts[1]
            for m in PLACEHOLDER.finditer(value)
            if m.group(1) and len(parts := m.group(1).strip().split(".")) > 1
            if parts[0] == "phases"
        ]
    if isinstance(value, Mapping):
        return [n for v in value.values() for n in _phase_references(v)]
    if isinstance(value, list | tuple):
        return [n for v in value for n in _phase_references(v)]
    return []


def _phase_data(phase: Phase) -> tuple[Any, ...]:
    retry = phase.retry
    return (
        phase.name,
        phase.agents,
        phase.resources,
        phase.max_iterations,
        phase.needs,
        phase.condition_text,
        phase.expect,
        phase.timeout,
        phase.may_spawn,
        None if retry is None else (retry.attempts, retry.backoff, sorted(retry.on)),
    )


def _agent_data(workflow: Workflow, name: str) -> dict[str, Any]:
    agent = workflow.agents[name]
    return {
        "type": agent.type,
        "with": agent.config,
        "requires": list(agent.requires),
        "optional": list(agent.optional),
    }


def _resource_data(workflow: Workflow, name: str) -> dict[str, Any]:
    resource = workflow.resources[name]
    return {"type": resource.type, "with": resource.config, "needs": list(resource.needs)}


def _resource_closure(workflow: Workflow, phase: Phase) -> list[str]:
    """The resources a phase holds: its own, its agents' (optional ones that exist), and
    what those need, sorted."""
    stack = [*phase.resources]
    for name in phase.agents:
        agent = workflow.agents[name]
        stack += [r for r in (*agent.requires, *agent.optional) if r in workflow.resources]
    found: set[str] = set()
    while stack:
        r = stack.pop()
        if r not in found:
            found.add(r)
            stack += workflow.resources[r].needs
    return sorted(found)


def _digest(data: Any, *, canonical: bool = True) -> str:
    """sha256 of JSON (orjson: every run hashes every phase); `canonical` sorts the keys of
    mappings (settings as written), not needed for lists in an order of our own."""
    option = orjson.OPT_NON_STR_KEYS | (orjson.OPT_SORT_KEYS if canonical else 0)
    return hashlib.sha256(orjson.dumps(data, option=option, default=str)).hexdigest()


# -- the parent run ----------------------------------------------------------------------


def find_parent(runs_dir: Path, workflow: Workflow, run_id: str | None) -> Path:
    """The run to resume: `run_id` (id or unique prefix), or this workflow's newest."""
    from wfrun.engine.history import find_run  # noqa: PLC0415 - history reads journals

    if run_id not in (None, "", "last"):
        return find_run(runs_dir, run_id)
    runs = (
        sorted(p for p in runs_dir.iterdir() if (p / RUN_FILE).exists())
        if runs_dir.is_dir()
        else []
    )
    for path in reversed(runs):
        try:
            header = read_json(path / RUN_FILE)
        except (OSError, ValueError):
            continue
        if isinstance(header, dict) and header.get("workflow") == workflow.name:
            return path
    msg = f"no run of workflow {workflow.name!r} in {runs_dir} to resume"
    raise UsageError(msg, hint="run it once without --resume, or name a run: --resume RUN")


def recorded_phases(run_dir: Path) -> dict[str, dict[str, Any]]:
    """Per phase: status, identity and output, from run.json and (for a killed run,
    whose run.json was written only at its start) events.jsonl."""
    try:
        summary = read_json(run_dir / RUN_FILE)
    except (OSError, ValueError) as exc:
        msg = f"cannot read the run record {run_dir / RUN_FILE}: {exc}"
        raise UsageError(msg, hint="name another run: --resume RUN") from exc
    phases: dict[str, dict[str, Any]] = {}
    try:
        header_ids = read_json(run_dir / IDENTITIES_FILE)
    except (OSError, ValueError):
        header_ids = {}  # a run from before identities: nothing of it is reused
    if not isinstance(header_ids, dict):
        header_ids = {}
    for name, entry in (summary.get("phases") or {}).items():
        phases[name] = dict(entry)
    for event in _events(run_dir / EVENTS_FILE):
        if event.get("kind") == "phase_finished":
            entry = phases.setdefault(event["phase"], {})
            if entry.get("status") in (None, "running"):
                entry["status"] = event.get("status")
                entry["output"] = event.get("output", "")
    for name, entry in phases.items():
        entry.setdefault("identity", header_ids.get(name))
        output = entry.get("output")
        if isinstance(output, str) and output == f"{OUTPUTS_DIR}/{name}.txt":
            path = run_dir / output
            entry["output"] = path.read_text(encoding="utf-8") if path.is_file() else ""
        elif output is None:
            entry["output"] = ""
    return phases


def _events(path: Path) -> Iterable[dict[str, Any]]:
    try:
        lines = path.read_bytes().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # the line a kill cut short
        if isinstance(event, dict):
            found.append(event)
    return found


# -- deciding ----------------------------------------------------------------------------


def decide(workflow: Workflow, parent_dir: Path) -> Resume:
    """A decision per listed phase against the parent run's record."""
    ids = identities(workflow)
    readers = all_reads(workflow)
    recorded = recorded_phases(parent_dir)
    reasons: dict[str, str] = {}
    for name, phase in workflow.phases.items():
        entry = recorded.get(name)
        if entry is None:
            reasons[name] = "not in the parent run"
        elif entry.get("status") != "succeeded":
            reasons[name] = f"it did not succeed in the parent run ({entry.get('status')})"
        elif entry.get("identity") != ids[name]:
            reasons[name] = "its definition or an input changed"
        elif phase.may_spawn:
            reasons[name] = "it may spawn phases, which are not replayed"
        elif ran := [u for u in readers[name] if u in reasons]:
            reasons[name] = f"it reads {', '.join(ran)}, which runs again"
    _lost_state(workflow, readers, reasons)
    decisions = {
        name: Decision(
            phase=name,
            identity=ids[name],
            reused=name not in reasons,
            reason=reasons.get(name, "unchanged, succeeded"),
            output=recorded[name]["output"] if name not in reasons else "",
        )
        for name in workflow.phases
    }
    return Resume(parent_dir.name, parent_dir, decisions)


def _lost_state(
    workflow: Workflow, readers: Mapping[str, tuple[str, ...]], reasons: dict[str, str]
) -> None:
    """A workspace does not come back: when a phase that runs uses one, every phase using
    it runs again (and what reads those). Repeated until nothing changes."""
    uses = {n: _resource_closure(workflow, p) for n, p in workflow.phases.items()}
    changed = True
    while changed:
        changed = False
        lost = {r for n in reasons for r in uses[n] if workflow.resources[r].type in NOT_RESTORABLE}
        for name in workflow.phases:
            if name in reasons:
                continue
            gone = [r for r in uses[name] if r in lost]
            ran = [u for u in readers[name] if u in reasons]
            if gone:
                reasons[name] = f"workspace {gone[0]} cannot come back from the record"
                changed = True
            elif ran:
                reasons[name] = f"it reads {', '.join(ran)}, which runs again"
                changed = True
