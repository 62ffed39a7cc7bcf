"""One phase, run on a worker thread: acquire its resources, build its agents, take turns.

Agents take turns round-robin until one says `done` or `max_iterations` is reached; the
phase's verdict is its last turn's success (inverted by `expect: failure`). The
scheduler owns every decision about *whether* a phase runs; this module only runs it.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from wfrun.engine import events as ev
from wfrun.engine import spawning
from wfrun.engine.api import AgentContext, Spawn, TurnContext, TurnResult, as_result
from wfrun.engine.pool import ResourcePool
from wfrun.engine.render import RenderError, render_config
from wfrun.engine.transcript import RunTranscript
from wfrun.errors import ResourceStartError, RunError
from wfrun.redact import Redactor
from wfrun.registry import Registry
from wfrun.spec.interpolate import holds_placeholder
from wfrun.spec.model import Phase, Workflow
from wfrun.status import FAILED_STATES, PhaseStatus

MAX_OUTPUT_IN_EVENTS = 64_000


class CancelFlag:
    """A phase's cancel flag: `set`, `is_set` and `wait` as `threading.Event`, and why it
    was set ("timed out after 5s", "the run was interrupted"), which agents report rather
    than a bare "cancelled".

    The `threading.Event` behind `wait` is made only when somebody waits: making one
    costs ~4 µs, a tenth of a no-op phase, and most phases never wait on their flag.
    """

    __slots__ = ("_event", "_set", "reason")
    _lock = threading.Lock()  # one for all flags: taken only to set or to start a wait

    def __init__(self) -> None:
        self._set = False
        self._event: threading.Event | None = None
        self.reason = ""

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        with self._lock:
            self._set = True
            event = self._event
        if event is not None:
            event.set()

    def wait(self, timeout: float | None = None) -> bool:
        if self._set:
            return True
        with self._lock:
            if self._event is None:
                self._event = threading.Event()
                if self._set:
                    self._event.set()
            event = self._event
        return event.wait(timeout)


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
    status: PhaseStatus = PhaseStatus.PENDING
    success: bool = False
    output: str = ""
    reason: str = ""
    iterations: int = 0
    started: float = 0.0
    previous: Any = None
    spawns: list[Spawn] = field(default_factory=list)
    cancelled: CancelFlag = field(default_factory=CancelFlag)
    cancel_reason: str = ""
    cancel_status: PhaseStatus = PhaseStatus.CANCELLED  # what a cancelled phase ends as
    deadline: float | None = None
    waiting_on: int = 0
    dependents: list[str] = field(default_factory=list)
    attempt: int = 1  # `retry:` (issue 19): which attempt this is
    backoff: float = 0.0  # seconds the worker waits before this attempt
    start_failed: str = ""  # the resource whose start failed this attempt, if one did

    def field_value(self, name: str) -> Any:
        """`phases.<this>.<name>` in `if:` and `${phases...}`."""
        values = {
            "output": self.output,
            "success": self.status == PhaseStatus.SUCCEEDED,
            "failed": self.status in FAILED_STATES,
            "skipped": self.status == PhaseStatus.SKIPPED,
            "status": self.status,
        }
        return values[name]

    def cancel(self, reason: str, *, status: PhaseStatus = PhaseStatus.CANCELLED) -> None:
        if not self.cancelled.is_set():
            self.cancel_reason = self.cancelled.reason = reason
            self.cancel_status = status
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
        self.run_dir = Path(self.run_dir).absolute()  # agents may run elsewhere (`cwd:`)
        configured = self.workflow.resources
        self._mine = {  # each agent's resources: required, and optional ones that exist
            name: tuple(r for r in (*agent.requires, *agent.optional) if r in configured)
            for name, agent in self.workflow.agents.items()
        }
        # A `with:` without run-time placeholders validates the same in every phase, and
        # configs are frozen: validate it once (it was a fifth of a no-op phase).
        self._fixed = {
            name for name, a in self.workflow.agents.items() if not holds_placeholder(a.config)
        }
        self._configs: dict[str, Any] = {}
        self._redactor = Redactor.for_environ(self.workflow.secrets, self.environ)
        self.transcript = RunTranscript(self.run_dir, self._redactor, self.emitter.now)
        self.on_usage: Callable[[Mapping[str, Any]], None] | None = None  # budget meter

    def run(self, run: PhaseRun) -> PhaseRun:
        """Run `run` to a verdict; never raises for problems that belong to the phase."""
        try:
            self.pool.acquire(run.resources, phase=run.name)
            agents = [self._build(name, run) for name in run.spec.agents]
            self._take_turns(run, agents)
        except ResourceStartError as exc:
            run.start_failed = exc.resource
            if self.pool.cancelled:  # cut short by teardown: not the resource's fault
                _fail(run, PhaseStatus.CANCELLED, run.cancel_reason or "the run was interrupted")
            else:
                _fail(run, PhaseStatus.FAILED, str(exc))
        except _CannotBuildAgentError as exc:
            _fail(run, PhaseStatus.ERROR, str(exc))
        if run.cancelled.is_set() and run.status == PhaseStatus.RUNNING:
            _fail(run, run.cancel_status, run.cancel_reason or "cancelled")
        elif run.status == PhaseStatus.FAILED and (broken := self.pool.broken(run.resources)):
            run.reason = broken  # its service died under it: that is why, not the turn
        return run

    def _build(self, agent_name: str, run: PhaseRun) -> Any:
        agent = self.workflow.agents[agent_name]
        spec = self.registry.get("agent", agent.type)
        if spec is None or spec.factory is None:
            msg = f"agent {agent_name!r}: type {agent.type!r} has no implementation here"
            raise _CannotBuildAgentError(msg)
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
        except (RenderError, ValidationError, ValueError, TypeError, ImportError, RunError) as exc:
            msg = f"agent {agent_name!r} could not start: {_short(exc)}"
            raise _CannotBuildAgentError(msg) from exc

    def _lookup(self, namespace: str, parts: tuple[str, ...], run: PhaseRun) -> Any:
        if namespace == "resources":
            return self.pool.attributes(parts[0])[parts[1]]
        if namespace == "phases":
            return self.results[parts[0]].field_value(parts[1])
        if namespace == "params":
            return run.params[parts[0]]
        raise KeyError(namespace)

    def _take_turns(self, run: PhaseRun, agents: list[Any]) -> None:
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
            add = self.transcript.bound(run.name, agent_name, iteration)
            context = self._context(run, agent_name, iteration, previous, history, add)
            run.iterations = iteration
            add("turn_input", previous=_jsonable(previous), params=_jsonable(run.params))
            try:
                last = as_result(agents[index].act(context))
            except Exception as exc:  # noqa: BLE001 - an agent's bug fails its phase, not the run
                reason = f"agent {agent_name!r} raised {type(exc).__name__}: {exc}"
                add("turn_error", error=reason)
                saved = self._save_traceback(run.name, agent_name, exc)
                _fail(run, PhaseStatus.ERROR, f"{reason} (traceback: {saved})" if saved else reason)
                return
            history.append(last)
            add(
                "turn_result",
                output=last.output,
                success=last.success,
                done=last.done,
                usage=_jsonable(last.usage),
                spawn=[{"template": s.template, "params": _jsonable(s.params)} for s in last.spawn],
            )
            if self.on_usage is not None and last.usage:
                self.on_usage(last.usage)
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
            refused = spawning.refusal(self.workflow, run.spec, run.name, last.spawn)
            if refused:  # the turn fails: nothing it asked for is spawned
                run.spawns.clear()
                _fail(run, PhaseStatus.FAILED, f"agent {agent_name!r}: {refused}")
                return
            run.spawns.extend(last.spawn)
            previous = run.output = last.output  # kept if the phase is cut short (timeout)
            if last.done:
                break
        if run.cancelled.is_set():
            return
        verdict = last.success if spec.expect == "success" else not last.success
        run.output = last.output
        run.success = verdict
        run.status = PhaseStatus.SUCCEEDED if verdict else PhaseStatus.FAILED
        if not verdict:
            run.reason = _verdict_reason(spec, last, run.iterations)

    def _save_traceback(self, phase: str, agent_name: str, exc: BaseException) -> str:
        """Write the raising turn's traceback (secrets masked) to the run's logs; its path."""
        path = self.run_dir / "logs" / f"{phase}.{agent_name}.traceback.txt"
        text = "".join(traceback.format_exception(exc))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(self._redactor.text(text), encoding="utf-8")
        except OSError:
            return ""  # the reason still names the exception
        return str(path)

    def _context(
        self,
        run: PhaseRun,
        agent_name: str,
        iteration: int,
        previous: Any,
        history: list[TurnResult],
        transcript: Callable[..., None],
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
            transcript=transcript,
        )


class _CannotBuildAgentError(Exception):
    """An agent could not be built for this phase (bad rendered config, import error)."""


def _fail(run: PhaseRun, status: PhaseStatus, reason: str) -> None:
    run.status, run.success, run.reason = status, False, reason


def _verdict_reason(spec: Phase, last: TurnResult, iterations: int) -> str:
    if spec.expect == "failure":
        return "expected failure, but the last turn succeeded"
    if not last.done and iterations >= spec.max_iterations:
        return f"no success within max_iterations ({spec.max_iterations})"
    return "the last turn failed"


def _jsonable(value: Any) -> Any:
    """Plain JSON data for a transcript: mappings and sequences kept, the rest as text."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def _short(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'with'}: {e['msg']}" for e in exc.errors()
        )
    return str(exc) or type(exc).__name__


def elapsed(since: float) -> float:
    return round(time.monotonic() - since, 6)
