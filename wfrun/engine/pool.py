"""The resource pool: starts each resource once, on demand, and stops it when told.

Phases running in parallel may ask for the same resource at once; a lock per resource
makes the first start it and the others wait for it. Stops are isolated: one that
raises is recorded and the others still happen. `stop_all` is the teardown path and
stops whatever is live in the reverse of the order it started. A stop is never cut in
half: on the main thread, Ctrl-C or SIGTERM during one takes effect when it ends.

A live resource may also break on its own (a service exits). One that can tell has a
`watch()` method, run on a thread of its own: it blocks until the resource breaks and
says why (None after an orderly stop). The pool then emits `resource_failed`, tells
`on_failure` (the scheduler fails the phases holding it), and refuses it to every
later phase, until the plan stops it.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from pydantic import ValidationError

from wfrun.engine import events as ev
from wfrun.engine.api import LiveResource, ResourceContext
from wfrun.engine.journal import Journal
from wfrun.engine.ports import assign
from wfrun.engine.render import render_config
from wfrun.errors import ResourceStartError
from wfrun.registry import Registry
from wfrun.spec.model import Workflow
from wfrun.sweep.capacity import sweep_slots

START_GRACE = 10.0  # seconds teardown waits for starts in flight to notice the cancel


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    live: LiveResource | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    failure: str = ""
    broken: str = ""  # the live resource failed on its own: why


class ResourcePool:
    """Live resources of one run, by name."""

    def __init__(
        self,
        workflow: Workflow,
        registry: Registry,
        *,
        run_dir: Path,
        environ: Mapping[str, str],
        emitter: ev.Emitter,
        journal: Journal,
    ) -> None:
        self._workflow = workflow
        self._registry = registry
        # Absolute: the paths resources hand out (logs, memories) must not depend on the
        # cwd of whoever reads them (an agent with `cwd:`).
        self._run_dir = Path(run_dir).absolute()
        self._environ = environ
        self._emitter = emitter
        self._journal = journal
        self._slots = {name: _Slot() for name in workflow.resources}
        self._order: list[str] = []  # live resources in start order
        self._order_lock = threading.Lock()
        self._cancel = threading.Event()  # teardown began: starts in flight should give up
        self._starting: dict[str, LiveResource] = {}
        self.stop_errors: list[str] = []
        self.on_failure: Callable[[str, str], None] = lambda name, reason: None
        self._sweep = sweep_slots(environ)  # a sweep's --limit across its cells, or None
        self._held: dict[str, list[Any]] = {}

    def acquire(self, names: Sequence[str], *, phase: str) -> None:
        """Make every resource in `names` (start order) live; raise ResourceStartError."""
        for name in names:
            slot = self._slots[name]
            with slot.lock:
                if slot.live is not None and slot.broken:
                    raise ResourceStartError(resource=name, reason=slot.broken)
                if slot.live is not None:
                    continue
                if slot.failure:
                    raise ResourceStartError(resource=name, reason=slot.failure)
                self._start(name, slot, phase)

    def attributes(self, name: str) -> Mapping[str, Any]:
        return self._slots[name].attributes

    def broken(self, names: Sequence[str]) -> str:
        """Why one of `names` broke while live, or ""."""
        return next((why for name in names if (why := self._slots[name].broken)), "")

    def live(self, name: str) -> LiveResource | None:
        return self._slots[name].live

    def _log(self, name: str, line: str) -> None:
        """A resource's `ctx.log` (a model retrying, issue 19): an event."""
        self._emitter.emit(ev.ResourceLog, resource=name, line=str(line))

    def forget_failure(self, name: str) -> None:
        """A `restart: allowed` resource whose start failed may be started again (a phase's
        next `retry:` attempt, issue 19)."""
        slot = self._slots[name]
        with slot.lock:
            slot.failure = ""

    def release(self, names: Sequence[str]) -> None:
        """Stop these resources, in the order given (the plan's stop order)."""
        for name in names:
            self._stop(name)

    def stop_all(self, grace: float = START_GRACE) -> None:
        """Teardown: cut short starts in flight, then stop everything live, newest first.

        A start still running after `grace` seconds is stopped from here, concurrently
        (the LiveResource contract allows it); its journal entry stays if that fails.
        """
        self.cancel()
        deadline = time.monotonic() + grace
        while self._starting and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._order_lock:
            stuck = list(self._starting.items())
        for name, live in stuck:
            self._stop_quietly(name, live)
        with self._order_lock:
            live_names = list(reversed(self._order))
        for name in live_names:
            self._stop(name)

    def cancel(self) -> None:
        """Tell starts in flight to give up (the run is being torn down)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """Teardown began: a start cut short now failed because the run is stopping."""
        return self._cancel.is_set()

    def live_names(self) -> list[str]:
        with self._order_lock:
            return list(self._order)

    def _start(self, name: str, slot: _Slot, phase: str) -> None:
        resource = self._workflow.resources[name]
        emit = self._emitter.emit
        emit(ev.ResourceStarting, resource=name, type=resource.type, phase=phase)
        began = time.monotonic()
        holder: list[LiveResource] = []
        try:
            if self._sweep is not None:  # the sweep's capacity, shared with other cells
                keys = [resource.type, *([resource.pool] if resource.pool else [])]
                self._held[name] = self._sweep.acquire(keys, self._cancel)
            spec = self._registry.get("resource", resource.type)
            if spec is None or spec.factory is None:
                msg = f"resource type {resource.type!r} has no implementation in this install"
                raise ValueError(msg)
            # `port: auto` is chosen now, so its own `with:` can read ${resources.SELF.port}.
            raw, early = assign(resource.config)
            slot.attributes = early
            data = render_config(raw, self._lookup)
            config = spec.config.model_validate(data)
            context = ResourceContext(
                name=name,
                run_dir=self._run_dir,
                base_dir=self._workflow.base_dir,
                environ=self._environ,
                log=lambda line: self._log(name, line),
                journal_changed=lambda: self._note(name, resource.type, holder),
                cancelled=self._cancel,
            )
            holder.append(spec.factory(config, context))
            self._note(name, resource.type, holder)
            with self._order_lock:
                self._starting[name] = holder[0]
            attributes = dict(holder[0].start())
            self._note(name, resource.type, holder)
            if self._cancel.is_set():
                msg = "the run is stopping"
                raise RuntimeError(msg)
        except BaseException as exc:
            reason = _reason(exc)
            slot.failure, slot.attributes = reason, {}
            if not (holder and self._stop_quietly(name, holder[0])):
                self._journal.forget(name)  # a failed stop stays listed for `wfrun cleanup`
            self._release_sweep(name)
            emit(ev.ResourceFailed, resource=name, error=reason)
            if isinstance(exc, Exception):
                raise ResourceStartError(resource=name, reason=reason) from exc
            raise
        else:
            attributes = {**early, **attributes}
            with self._order_lock:
                slot.live, slot.attributes = holder[0], attributes
                self._order.append(name)
            self._watch(name, slot, holder[0])
        finally:  # only now may teardown treat it as settled: live, or cleaned up
            with self._order_lock:
                self._starting.pop(name, None)
        seconds = round(time.monotonic() - began, 6)
        emit(ev.ResourceStarted, resource=name, seconds=seconds, attributes=attributes)

    def _watch(self, name: str, slot: _Slot, live: LiveResource) -> None:
        """Notice, without polling, when `live` breaks on its own (if it can tell)."""
        watch = getattr(live, "watch", None)
        if not callable(watch):
            return

        def wait() -> None:
            try:
                reason = watch()
            except Exception as exc:  # noqa: BLE001 - a broken watch is a broken resource
                reason = f"could not be watched: {_reason(exc)}"
            if not reason or self._cancel.is_set() or slot.live is not live:
                return  # stopped in order, or the run is being torn down
            slot.broken = str(reason)
            self._emitter.emit(ev.ResourceFailed, resource=name, error=slot.broken)
            self.on_failure(name, slot.broken)

        threading.Thread(target=wait, name=f"wfrun-watch-{name}", daemon=True).start()

    def _note(self, name: str, type_name: str, holder: list[LiveResource]) -> None:
        if holder:
            self._journal.record(name, type_name, holder[0].journal())

    def _stop(self, name: str) -> None:
        slot = self._slots[name]
        with _uninterrupted(), slot.lock:
            live = slot.live
            if live is None:
                return
            self._emitter.emit(ev.ResourceStopping, resource=name)
            began = time.monotonic()
            error = self._stop_quietly(name, live)
            self._release_sweep(name)
            slot.live, slot.attributes, slot.broken = None, {}, ""
            with self._order_lock:
                self._order.remove(name)
            if not error:
                self._journal.forget(name)
            seconds = round(time.monotonic() - began, 6)
            self._emitter.emit(ev.ResourceStopped, resource=name, seconds=seconds, error=error)

    def _release_sweep(self, name: str) -> None:
        if self._sweep is not None:
            self._sweep.release(self._held.pop(name, []))

    def _stop_quietly(self, name: str, live: LiveResource) -> str:
        try:
            live.stop()
        except Exception as exc:  # noqa: BLE001 - one failing stop must not skip the others
            error = _reason(exc)
            self.stop_errors.append(f"{name}: {error}")
            return error
        return ""

    def _lookup(self, namespace: str, parts: tuple[str, ...]) -> Any:
        name, attribute = parts[0], parts[1]
        attributes = self._slots[name].attributes
        if namespace != "resources" or attribute not in attributes:
            msg = f"${{{namespace}.{'.'.join(parts)}}} is not available"
            raise KeyError(msg)
        return attributes[attribute]


@contextmanager
def _uninterrupted() -> Iterator[None]:
    """Hold Ctrl-C, SIGTERM, SIGHUP and SIGQUIT until the block ends, then act on the first as the handler
    in force would have. A KeyboardInterrupt in the middle of a stop (the main thread
    stops resources of a phase it gave up on) left it half done, its `resource_stopping`
    unmatched, and made teardown call `stop` a second time."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        del frame
        caught.append(signum)

    held = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)  # runner.INTERRUPTS
    previous = {sig: signal.signal(sig, hold) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        if caught:
            _deliver(caught[0], previous[signal.Signals(caught[0])])


def _deliver(signum: int, handler: object) -> None:
    if callable(handler):
        handler(signum, None)
    elif handler == signal.SIG_DFL and signum == signal.SIGINT:
        raise KeyboardInterrupt
    elif handler == signal.SIG_DFL:
        os.kill(os.getpid(), signum)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'with'}: {e['msg']}" for e in exc.errors()
        )
        return f"invalid settings after substitution: {problems}"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted while starting"
    return str(exc) or type(exc).__name__
