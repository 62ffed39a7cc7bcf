"""One phase, run on a worker thread: acquire its resources, build its agents, take turns.

Agents take turns round-robin until one says `done` or `max_iterations` is reached; the
phase's verdict is its last turn's success (inverted by `expect: failure`). The
scheduler owns every decision about *whether* a phase runs; this module only runs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wfrun.engine import events as ev
from wfrun.engine.api import AgentContext, Spawn, TurnContext, TurnResult, as_result
from wfrun.engine.flags import LazyEvent
from wfrun.engine.pool import ResourcePool
from wfrun.engine.render import RenderError, render_config
from wfrun.errors import ResourceStartError
from wfrun.registry import Registry
from wfrun.spec.model import Phase, Workflow

FAILED_STATES = frozenset({"failed", "timeout", "error", "cancelled"})
MAX_OUTPUT_IN_EVENTS = 64_000


@dataclass(eq=False)
class PhaseRun:
    """A phase instance (listed, or spawned from a template) and what became of it."""

    name: str
    spec: Phase
    needs: tuple[str, ...]
    resources: tuple[str, ...]
    params: Mapping[str, Any]
    spawned_by: str | None = None
    template: str | None = None
    status: str = "pending"  # pending running succeeded failed timeout error cancelled skipped
    success: bool = False
    output: str = ""
    reason: str = ""
    iterations: int = 0
    started: float = 0.0
    previous: Any = None
    spawns: list[Spawn] = field(default_factory=list)
    cancelled: threading.Event = field(default_factory=LazyEvent)
    cancel_reason: str = ""
    deadline: float | None = None
    waiting_on: int = 0
    dependents: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status not in ("pending", "running")

    def field_value(self, name: str) -> Any:
        """`phases.<this>.<name>` in `if:` and `${phases...}`."""
        values = {
            "output": self.output,
            "success": self.status == "succeeded",
            "failed": self.status in FAILED_STATES,
            "skipped": self.status == "skipped",
            "status": self.status,
        }
        return values[name]

    def cancel(self, reason: str) -> None:
        if not self.cancelled.is_set():
            self.cancel_reason = reason
            self.cancelled.set()


@dataclass
class TurnRunner:
    """What a worker needs to run phases; shared by all workers, read-only but the pool."""

    workflow: Workflow
    registry: Registry
    pool: ResourcePool
    emitter: ev.Emitter
    results: Mapping[str, PhaseRun]
    run_dir: Path
    environ: Mapping[str, str]

    def __post_init__(self) -> None:
        self.base_dir = self.workflow.base_dir
        configured = self.workflow.resources
        self._mine = {  # each agent's resources: required, and optional ones that exist
            name: tuple(r for r in (*agent.requires, *agent.optional) if r in configured)
            for name, agent in self.workflow.agents.items()
        }
        # A `with:` without run-time placeholders validates the same in every phase, and
        # configs are frozen: validate it once (it was a fifth of a no-op phase).
        self._fixed = {name for name, a in self.workflow.agents.items() if not _dynamic(a.config)}
        self._configs: dict[str, Any] = {}

    def run(self, run: PhaseRun) -> PhaseRun:
        """Run `run` to a verdict; never raises for problems that belong to the phase."""
        try:
            self.pool.acquire(run.resources, phase=run.name)
            agents = [self._build(name, run) for name in run.spec.agents]
            self._turns(run, agents)
        except ResourceStartError as exc:
            if self.pool.cancelled:  # cut short by teardown: not the resource's fault
                _fail(run, "cancelled", run.cancel_reason or "the run was interrupted")
            else:
                _fail(run, "failed", str(exc))
        except _AgentSetupError as exc:
            _fail(run, "error", str(exc))
        if run.cancelled.is_set() and run.status == "running":
            _fail(run, "cancelled", run.cancel_reason or "cancelled")
        return run

    def _build(self, agent_name: str, run: PhaseRun) -> Any:
        agent = self.workflow.agents[agent_name]
        spec = self.registry.get("agent", agent.type)
        if spec is None or spec.factory is None:
            msg = f"agent {agent_name!r}: type {agent.type!r} has no implementation here"
            raise _AgentSetupError(msg)
        mine = self._mine[agent_name]
        try:
            config = self._configs.get(agent_name)
            if config is None:
                data = render_config(agent.config, lambda ns, parts: self._lookup(ns, parts, run))
                config = spec.config.model_validate(data)
                if agent_name in self._fixed:
                    self._configs[agent_name] = config
            context = AgentContext(
                name=agent_name,
                phase=run.name,
                run_dir=self.run_dir,
                base_dir=self.base_dir,
                environ=self.environ,
                resources={r: live for r in mine if (live := self.pool.live(r)) is not None},
                attributes={r: self.pool.attributes(r) for r in mine},
            )
            return spec.factory(config, context)
        except (RenderError, ValidationError, ValueError, TypeError, ImportError) as exc:
            msg = f"agent {agent_name!r} could not start: {_short(exc)}"
            raise _AgentSetupError(msg) from exc

    def _lookup(self, namespace: str, parts: tuple[str, ...], run: PhaseRun) -> Any:
        if namespace == "resources":
            return self.pool.attributes(parts[0])[parts[1]]
        if namespace == "phases":
            return self.results[parts[0]].field_value(parts[1])
        if namespace == "params":
            return run.params[parts[0]]
        raise KeyError(namespace)

    def _turns(self, run: PhaseRun, agents: list[Any]) -> None:
        emit = self.emitter.emit
        spec = run.spec
        names = spec.agents
        previous = run.previous
        history: list[TurnResult] = []
        last = TurnResult(success=False)
        for iteration in range(1, spec.max_iterations + 1):
            if run.cancelled.is_set():
                return
            index = (iteration - 1) % len(agents)
            agent_name = names[index]
            emit(
                ev.TurnStarted,
                phase=run.name,
                agent=agent_name,
                iteration=iteration,
                max_iterations=spec.max_iterations,
            )
            context = self._context(run, agent_name, iteration, previous, history)
            run.iterations = iteration
            try:
                last = as_result(agents[index].act(context))
            except Exception as exc:  # noqa: BLE001 - an agent's bug fails its phase, not the run
                _fail(run, "error", f"agent {agent_name!r} raised {type(exc).__name__}: {exc}")
                return
            history.append(last)
            run.spawns.extend(last.spawn)
            emit(
                ev.AgentOutput,
                phase=run.name,
                agent=agent_name,
                iteration=iteration,
                output=self.emitter.mask(last.output)[-MAX_OUTPUT_IN_EVENTS:],  # mask, then cut
                success=last.success,
                done=last.done,
                usage=dict(last.usage),
            )
            previous = last.output
            if last.done:
                break
        if run.cancelled.is_set():
            return
        verdict = last.success if spec.expect == "success" else not last.success
        run.output = last.output
        run.success = verdict
        run.status = "succeeded" if verdict else "failed"
        if not verdict:
            run.reason = _verdict_reason(spec, last, run.iterations)

    def _context(
        self,
        run: PhaseRun,
        agent_name: str,
        iteration: int,
        previous: Any,
        history: list[TurnResult],
    ) -> TurnContext:
        mine = self._mine[agent_name]
        emit = self.emitter.emit

        def log(line: str) -> None:
            emit(ev.AgentLog, phase=run.name, agent=agent_name, line=str(line))

        return TurnContext(
            workflow=self.workflow.name,
            phase=run.name,
            agent=agent_name,
            iteration=iteration,
            max_iterations=run.spec.max_iterations,
            previous=previous,
            history=tuple(history),
            resources={r: live for r in mine if (live := self.pool.live(r)) is not None},
            attributes={r: self.pool.attributes(r) for r in mine},
            params=run.params,
            run_dir=self.run_dir,
            base_dir=self.base_dir,
            cancelled=run.cancelled,
            log=log,
        )


def _dynamic(value: Any) -> bool:
    """Whether a `with:` value holds a `${...}` left for run time (or a `$${` to unescape)."""
    if isinstance(value, str):
        return "${" in value
    if isinstance(value, Mapping):
        return any(_dynamic(k) or _dynamic(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(map(_dynamic, value))
    return False


class _AgentSetupError(Exception):
    """An agent could not be built for this phase (bad rendered config, import error)."""


def _fail(run: PhaseRun, status: str, reason: str) -> None:
    run.status, run.success, run.reason = status, False, reason


def _verdict_reason(spec: Phase, last: TurnResult, iterations: int) -> str:
    if spec.expect == "failure":
        return "expected failure, but the last turn succeeded"
    if not last.done and iterations >= spec.max_iterations:
        return f"no success within max_iterations ({spec.max_iterations})"
    return "the last turn failed"


def _short(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'with'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc) or type(exc).__name__


def elapsed(since: float) -> float:
    return round(time.monotonic() - since, 6)
