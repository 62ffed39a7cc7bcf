"""The workflow the fault matrix runs, as data, and every case derived from its structure.

Three resources that need each other (a workspace, a service process that forks a
grandchild into a group of its own, a probe with a temp dir and a child), used across
three phases by shell and test agents. The cases are generated: every resource x
{start fails, stop raises}, every turn x {raises, times out}, SIGINT/SIGTERM during
every start, every turn and every stop, Ctrl-C twice during every stop, and Ctrl-C in a
turn followed by a second signal while each resource of that phase is slow to stop.
"""

from __future__ import annotations

import signal
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SERVICE = textwrap.dedent(
    """\
    import os, pathlib, time
    if os.fork() == 0:
        os.setpgid(0, 0)  # a group of its own: only a session-wide stop finds it
        time.sleep(300)
        os._exit(0)
    pathlib.Path("ready").touch()
    time.sleep(300)
    """
)
HANG: dict[str, dict[str, Any]] = {  # how each agent type takes a turn that never ends by itself
    "act": {"seconds": 120},
    "shell": {"run": "sleep 120 & sleep 120; wait", "shell": True},
}
SLOW = 60.0  # seconds of a start the test interrupts: cut short by the cancel
SLOW_STOP = 2.0  # seconds of a stop a signal lands in
TIMEOUT = 2.0  # seconds of a phase timeout


@dataclass(frozen=True)
class Resource:
    name: str
    type: str
    needs: tuple[str, ...]
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class Agent:
    name: str
    type: str
    requires: tuple[str, ...]
    settings: Mapping[str, Any]
    ends_phase: bool  # its turn reports done


@dataclass(frozen=True)
class Phase:
    name: str
    agents: tuple[str, ...]
    max_iterations: int = 1


@dataclass(frozen=True)
class Turn:
    phase: str
    agent: str
    iteration: int

    def __str__(self) -> str:
        return f"{self.phase}.{self.agent}#{self.iteration}"


@dataclass(frozen=True)
class Flow:
    resources: tuple[Resource, ...]
    agents: tuple[Agent, ...]
    phases: tuple[Phase, ...]

    def resource(self, name: str) -> Resource:
        return next(r for r in self.resources if r.name == name)

    def agent(self, name: str) -> Agent:
        return next(a for a in self.agents if a.name == name)

    def turns(self) -> list[Turn]:
        """Every turn the run takes when nothing goes wrong, in order."""
        found = []
        for phase in self.phases:
            for iteration in range(1, phase.max_iterations + 1):
                agent = self.agent(phase.agents[(iteration - 1) % len(phase.agents)])
                found.append(Turn(phase.name, agent.name, iteration))
                if agent.ends_phase:
                    break
        return found

    def holds(self, phase: str) -> set[str]:
        """The phase's resource set: its agents' requires, closed over needs."""
        held: set[str] = set()
        todo = [r for a in self.phase(phase).agents for r in self.agent(a).requires]
        while todo:
            name = todo.pop()
            if name not in held:
                held.add(name)
                todo.extend(self.resource(name).needs)
        return held

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)

    def names(self) -> list[str]:
        return [p.name for p in self.phases]

    def first_use(self, resource: str) -> str:
        return next(p for p in self.names() if resource in self.holds(p))

    def last_use(self, resource: str) -> str:
        return [p for p in self.names() if resource in self.holds(p)][-1]

    def busiest(self) -> str:
        """The phase that holds the most resources: where a teardown has most to stop."""
        return max(self.names(), key=lambda p: len(self.holds(p)))


CODE = "${resources.code.path}"
FLOW = Flow(
    resources=(
        Resource("code", "workspace", (), {}),
        Resource(
            "svc",
            "process",
            ("code",),
            {
                "command": [sys.executable, "SERVICE"],
                "cwd": CODE,
                "ready": {"command": ["test", "-e", "ready"], "timeout": 30},
                "grace": 2,
            },
        ),
        Resource("scratch", "probe", ("svc",), {"tag": "TAG"}),
    ),
    agents=(
        Agent(
            "writer",
            "shell",
            ("code",),
            {"run": ["sh", "-c", "echo made > made.txt"], "cwd": CODE},
            ends_phase=True,
        ),
        Agent("judge", "act", ("scratch",), {"done": False, "say": "looked"}, ends_phase=False),
        Agent("client", "shell", ("svc",), {"run": ["kill", "-0", "${resources.svc.pid}"]}, True),
        Agent("reporter", "shell", ("code",), {"run": ["cat", "made.txt"], "cwd": CODE}, True),
    ),
    phases=(
        Phase("setup", ("writer",)),
        Phase("work", ("judge", "client"), max_iterations=3),
        Phase("report", ("reporter",)),
    ),
)


# The same lifecycle for a container (a real engine: `make test` starts one; in CI its
# cases fail without it, elsewhere they skip). The prober execs into it by name (`in:`
# needs the container itself; a faulty resource is a wrapper around it).
BOX = {"image": "wfrun-local/busybox:1", "command": ["sleep", "300"], "stop_grace": 0}
CONTAINER_FLOW = Flow(
    resources=(
        Resource("code", "workspace", (), {}),
        Resource("box", "container", ("code",), BOX),
    ),
    agents=(
        FLOW.agent("writer"),
        Agent(
            "prober",
            "shell",
            ("box",),
            {"run": ["docker", "exec", "${resources.box.name}", "true"]},
            ends_phase=True,
        ),
    ),
    phases=(Phase("setup", ("writer",)), Phase("work", ("prober",))),
)


@dataclass(frozen=True)
class Faults:
    """What to inject into one run of the flow."""

    resources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # faulty settings
    raise_on: Turn | None = None
    hang: Turn | None = None
    timeout: Mapping[str, float] = field(default_factory=dict)
    pace: float = 0.0  # seconds every turn takes: a run long enough to kill at any moment


def render(flow: Flow, faults: Faults, *, execution: str, project: Path) -> str:
    """The workflow file: a resource or agent with a fault is wrapped in `faulty`."""
    service = project / "service.py"
    service.write_text(SERVICE, encoding="utf-8")
    resources: dict[str, Any] = {}
    for res in flow.resources:
        settings = _replace(dict(res.settings), "SERVICE", str(service))
        entry: dict[str, Any] = {"type": res.type}
        if res.needs:
            entry["needs"] = list(res.needs)
        if res.name in faults.resources:
            entry["type"] = "faulty"
            settings = {"inner": res.type, "settings": settings, **faults.resources[res.name]}
        entry["with"] = settings
        resources[res.name] = entry
    agents: dict[str, Any] = {}
    for agent in flow.agents:
        settings = dict(agent.settings)
        entry = {"type": agent.type, "requires": list(agent.requires)}
        if faults.pace and agent.type == "act":
            settings["seconds"] = faults.pace
        if faults.pace and agent.type == "shell":
            # A helper in the background, as agents' commands often start: only the turn's
            # end stops it, or, after a hard kill, `wfrun cleanup`.
            pace = f'sleep 120 & sleep {faults.pace}; exec "$@"'
            settings["run"] = ["sh", "-c", pace, "sh", *agent.settings["run"]]
        if faults.hang is not None and faults.hang.agent == agent.name:
            settings.update(HANG[agent.type])
        if faults.raise_on is not None and faults.raise_on.agent == agent.name:
            entry["type"] = "faulty"
            settings = {
                "inner": agent.type,
                "settings": settings,
                "raise_on": [faults.raise_on.iteration],
            }
        entry["with"] = settings
        agents[agent.name] = entry
    phases: dict[str, Any] = {}
    for i, phase in enumerate(flow.phases):
        entry = {"agents": list(phase.agents), "max_iterations": phase.max_iterations}
        if execution == "graph" and i:
            entry["needs"] = [flow.phases[i - 1].name]
        if phase.name in faults.timeout:
            entry["timeout"] = faults.timeout[phase.name]
        phases[phase.name] = entry
    document = {
        "version": 1,
        "plugins": ["plugin_types"],
        "execution": execution,
        "resources": resources,
        "agents": agents,
        "phases": phases,
    }
    return yaml.safe_dump(document, sort_keys=False, width=1000)


def _replace(value: Any, old: str, new: str) -> Any:
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return new if value == old else value


# -- the cases -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One cell of the matrix: a fault at one lifecycle point of one run."""

    kind: str
    target: str  # a resource name, or a turn "phase.agent#i"
    signals: tuple[signal.Signals, ...] = ()
    execution: str = "sequential"
    slow: bool = field(default=False, compare=False)  # only with -m slow

    @property
    def id(self) -> str:
        names = "+".join(s.name for s in self.signals)
        return "-".join(x for x in (self.execution[:3], self.kind, self.target, names) if x)

    def turn(self, flow: Flow) -> Turn:
        return next(t for t in flow.turns() if str(t) == self.target)


SIGNALS = (signal.SIGINT, signal.SIGTERM)


def cases(flow: Flow, execution: str = "sequential", *, only: str | None = None) -> Iterator[Case]:
    """Every fault at every lifecycle point of `flow`, derived from its structure;
    `only` keeps the resource cases of one resource."""
    names = [r.name for r in flow.resources if only in (None, r.name)]
    turns = [str(t) for t in flow.turns()] if only is None else []
    for kind, targets in (
        ("start-fails", names),
        ("stop-raises", names),
        ("turn-raises", turns),
        ("turn-times-out", turns),
    ):
        for target in targets:
            yield Case(kind, target, execution=execution, slow=execution != "sequential")
    for kind, targets in (
        ("signal-in-start", names),
        ("signal-in-turn", turns),
        ("signal-in-stop", names),
    ):
        for i, target in enumerate(targets):
            for signum in SIGNALS:
                # SIGTERM takes Ctrl-C's path: by default at the first point of each kind
                slow = execution != "sequential" or (signum == signal.SIGTERM and i > 0)
                yield Case(kind, target, (signum,), execution, slow)
    # Ctrl-C twice while a resource is slow to stop after its last phase.
    for i, name in enumerate(names):
        twice = (signal.SIGINT, signal.SIGINT)
        yield Case(
            "two-signals-in-stop", name, twice, execution, execution != "sequential" or i > 0
        )
    # Ctrl-C during the busiest phase's first turn starts a teardown; a second signal
    # lands while one of its resources is slow to stop: the rest must still stop.
    for i, name in enumerate(n for n in names if n in flow.holds(flow.busiest())):
        for signum in SIGNALS:
            slow = execution != "sequential" or (signum == signal.SIGTERM and i > 0)
            second = (signal.SIGINT, signum)
            yield Case("second-signal-in-teardown", name, second, execution, slow)
