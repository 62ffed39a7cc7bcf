"""A wfrun plugin as a third party would ship it: one resource type and one agent type.

It is found through the entry points in ../wfrun_demo_plugin-0.1.dist-info, the same
way an installed distribution's are, once tests/plugin_dist is on sys.path (PYTHONPATH):
no pip, no build step. tests/test_plugins.py drives it through the real CLI.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from wfrun.engine.api import AgentContext, ResourceContext, TurnContext, TurnResult
from wfrun.registry import TypeSpec


class TallyConfig(BaseModel):
    """A counter kept in a JSON file in the run record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: int = Field(0, description="the count before anyone adds to it")
    step: int = Field(1, ge=1, le=100, description="how much each add() adds")


class Tally:
    """The live counter: `add()` bumps it and writes it down at once."""

    def __init__(self, config: TallyConfig, ctx: ResourceContext) -> None:
        self.config = config
        self.path = ctx.run_dir / f"{ctx.name}.tally.json"
        self.count = config.start

    def start(self) -> Mapping[str, Any]:
        self._write()
        return {"path": str(self.path), "start": self.config.start}

    def stop(self) -> None:
        self._write()

    def journal(self) -> Mapping[str, Any]:
        return {}  # a file in the run record: nothing to undo after a hard kill

    def add(self) -> int:
        self.count += self.config.step
        self._write()
        return self.count

    def _write(self) -> None:
        self.path.write_text(json.dumps({"count": self.count}), encoding="utf-8")


class GreeterConfig(BaseModel):
    """Says hello, and counts the greetings on a tally if it has one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    who: str = Field(min_length=1, description="whom to greet")
    times: int = Field(1, ge=1, le=5, description="turns it takes before it is done")


class Greeter:
    def __init__(self, config: GreeterConfig, ctx: AgentContext) -> None:
        self.config = config
        self.tally = next((r for r in ctx.resources.values() if isinstance(r, Tally)), None)

    def act(self, ctx: TurnContext) -> TurnResult:
        count = self.tally.add() if self.tally is not None else ctx.iteration
        return TurnResult(
            output=f"hello, {self.config.who} (greeting {count})",
            done=ctx.iteration >= self.config.times,
        )


TALLY = TypeSpec(
    kind="resource",
    name="demo_tally",
    config=TallyConfig,
    factory=Tally,
    attributes=("path", "start"),
    doc="Demo plugin resource: a counter in a JSON file of the run record.",
)
GREETER = TypeSpec(
    kind="agent",
    name="demo_greeter",
    config=GreeterConfig,
    factory=Greeter,
    doc="Demo plugin agent: greets someone, counting on a demo_tally if it has one.",
)
