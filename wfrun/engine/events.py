"""Typed events: the engine's only output. The ui and the run record consume them.

Every event carries `t`, seconds since the run started, and serialises to one JSON
object with a `kind` (the `events.jsonl` line and `wfrun run --json` output).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Protocol

import orjson


@dataclass(slots=True, kw_only=True)
class Event:
    """Base of every event. Read-only by contract, not `frozen`: a frozen dataclass costs
    four times as much to make, and a no-op phase makes four events."""

    kind: ClassVar[str] = "event"
    t: float

    def as_dict(self) -> dict[str, Any]:
        # Shallow on purpose: dataclasses.asdict deep-copies and cost ~100 µs per event.
        data: dict[str, Any] = {"kind": self.kind}
        for name in field_names(type(self)):
            data[name] = getattr(self, name)
        return data


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_default(value: Any) -> Any:
    """What the JSON writers do with a value orjson cannot take as it is: a named tuple is
    a list (as `json.dumps` makes it), any mapping a dict, anything else its `str`."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return str(value)


def to_json_bytes(event: Event) -> bytes:
    """One JSON line (no newline) for an event, `kind` first.

    orjson (the standard encoder was a third of a no-op phase); the standard one stays
    as the fallback for what orjson refuses (integers beyond 64 bits).
    """
    data = event.as_dict()
    try:
        return orjson.dumps(data, default=json_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        return json.dumps(data, default=json_default).encode()


def to_json(event: Event) -> str:
    return to_json_bytes(event).decode()


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def field_names(cls: type[Event]) -> tuple[str, ...]:
    """An event class's fields (looked up once per class: dataclass `fields` is slow)."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


@dataclass(slots=True, kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "run_started"
    run_id: str
    workflow: str
    file: str
    run_dir: str
    execution: str
    phases: Sequence[str]
    max_parallel: int
    started_at: str


@dataclass(slots=True, kw_only=True)
class RunFinished(Event):
    kind: ClassVar[str] = "run_finished"
    status: str  # succeeded | failed | interrupted | error
    exit_code: int
    seconds: float
    failed: Sequence[str] = ()
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class PhaseStarted(Event):
    kind: ClassVar[str] = "phase_started"
    phase: str
    agents: Sequence[str]
    max_iterations: int
    spawned_by: str | None = None


@dataclass(slots=True, kw_only=True)
class TurnStarted(Event):
    kind: ClassVar[str] = "turn_started"
    phase: str
    agent: str
    iteration: int
    max_iterations: int


@dataclass(slots=True, kw_only=True)
class AgentOutput(Event):
    kind: ClassVar[str] = "agent_output"
    phase: str
    agent: str
    iteration: int
    output: str
    success: bool
    done: bool
    usage: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class AgentLog(Event):
    kind: ClassVar[str] = "agent_log"
    phase: str
    agent: str
    line: str


@dataclass(slots=True, kw_only=True)
class PhaseSkipped(Event):
    kind: ClassVar[str] = "phase_skipped"
    phase: str
    reason: str


@dataclass(slots=True, kw_only=True)
class PhaseSpawned(Event):
    kind: ClassVar[str] = "phase_spawned"
    phase: str
    template: str
    spawner: str
    params: Mapping[str, Any] = field(default_factory=dict)
    reacquire: Sequence[str] = ()


@dataclass(slots=True, kw_only=True)
class PhaseFinished(Event):
    kind: ClassVar[str] = "phase_finished"
    phase: str
    status: str  # succeeded | failed | timeout | error | cancelled
    success: bool
    iterations: int
    seconds: float
    output: str = ""
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class ResourceStarting(Event):
    kind: ClassVar[str] = "resource_starting"
    resource: str
    type: str
    phase: str


@dataclass(slots=True, kw_only=True)
class ResourceStarted(Event):
    kind: ClassVar[str] = "resource_started"
    resource: str
    seconds: float
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class ResourceFailed(Event):
    kind: ClassVar[str] = "resource_failed"
    resource: str
    error: str


@dataclass(slots=True, kw_only=True)
class ResourceStopping(Event):
    kind: ClassVar[str] = "resource_stopping"
    resource: str


@dataclass(slots=True, kw_only=True)
class ResourceStopped(Event):
    kind: ClassVar[str] = "resource_stopped"
    resource: str
    seconds: float
    error: str = ""


@dataclass(slots=True, kw_only=True)
class ResourceLog(Event):
    """A line a live resource reports (a model client retrying after HTTP 429...)."""

    kind: ClassVar[str] = "resource_log"
    resource: str
    line: str


@dataclass(slots=True, kw_only=True)
class PhaseRetry(Event):
    """A phase's attempt failed and `retry:` gives it another (issue 19)."""

    kind: ClassVar[str] = "phase_retry"
    phase: str
    attempt: int  # the attempt about to start (2 for the first retry)
    attempts: int
    reason: str  # why the previous attempt failed
    status: str  # how it ended: failed | timeout | error
    wait: float  # seconds of backoff before the attempt


@dataclass(slots=True, kw_only=True)
class PhaseReused(Event):
    """`--resume` (issue 19): the phase is not run; its record in `parent` stands."""

    kind: ClassVar[str] = "phase_reused"
    phase: str
    parent: str  # the run id whose record stands in
    identity: str


@dataclass(slots=True, kw_only=True)
class Notice(Event):
    """Something a person should see that is not tied to a phase (a second Ctrl-C...)."""

    kind: ClassVar[str] = "notice"
    message: str
    level: str = "info"


class EventSink(Protocol):
    """A consumer of events: the live display, plain lines, JSON lines, the record."""

    # Called for every event, in order, from one thread at a time.
    def handle(self, event: Event) -> None: ...

    # The run is over (also after a failure): flush and let go of the terminal/files.
    def close(self) -> None: ...


class Emitter:
    """Stamps events with the run clock and hands them to every sink, serialised.

    A sink that raises is dropped (and said so) rather than breaking the run: the run
    record is the one sink whose failure must end the run, so it is handled by `strict`.
    """

    def __init__(
        self,
        sinks: Sequence[EventSink],
        *,
        strict: Sequence[EventSink] = (),
        redact: Callable[[Event], Event] | None = None,
        mask: Callable[[str], str] | None = None,
    ) -> None:
        self._sinks = tuple(sinks)  # replaced, never mutated: a sink can be dropped mid-loop
        self._strict = set(map(id, strict))
        self._redact = redact  # masks secrets before any sink sees the event
        self._mask = mask
        self._lock = threading.Lock()
        self._origin = time.monotonic()

    def now(self) -> float:
        return int((time.monotonic() - self._origin) * 1e6) / 1e6  # µs; round() costs 2x

    def mask(self, text: str) -> str:
        """Secrets masked in `text` now: for text about to be cut, which `emit` would only
        see in pieces (half a secret matches no pattern)."""
        return text if self._mask is None else self._mask(text)

    def emit(self, event_type: type[Event], **fields: Any) -> Event:
        event = event_type(t=self.now(), **fields)
        if self._redact is not None:
            event = self._redact(event)
        with self._lock:
            for sink in self._sinks:
                try:
                    sink.handle(event)
                except Exception:
                    if id(sink) in self._strict:
                        raise
                    self._sinks = tuple(s for s in self._sinks if s is not sink)
        return event

    def close(self) -> None:
        with self._lock:
            for sink in self._sinks:
                try:
                    sink.close()
                except Exception:
                    if id(sink) in self._strict:
                        raise
