"""`python`: an agent written as a Python function or class."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_validator

from wfrun.builtins.config import Config
from wfrun.registry import TypeSpec

CALL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"


class PythonConfig(Config):
    """`module:function(ctx)` or `module:Class` with `act(ctx)`, found beside the workflow."""

    call: str = Field(description="module:function or module:Class")
    args: dict[str, Any] = Field(default_factory=dict, description="passed as ctx.args")

    @field_validator("call")
    @classmethod
    def _module_colon_name(cls, value: str) -> str:
        if not re.match(CALL_PATTERN, value):
            msg = f"expected module:function or module:Class, such as fixers:apply_patch, got {value!r}"
            raise ValueError(msg)
        return value


TYPES = [
    TypeSpec(
        kind="agent",
        name="python",
        config=PythonConfig,
        doc="Calls module:function (or module:Class.act) with the turn's context.",
    )
]
