"""`memory`: a key-value store agents share across phases and iterations."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from wfrun.builtins.config import Config
from wfrun.registry import TypeSpec


class MemoryConfig(Config):
    """JSON values by key, persisted in the run directory."""

    initial: dict[str, Any] = Field(default_factory=dict, description="starting contents")


TYPES = [
    TypeSpec(
        kind="resource",
        name="memory",
        config=MemoryConfig,
        attributes=("path",),
        doc="A key-value store (JSON values) shared across phases; saved with the run.",
    )
]
