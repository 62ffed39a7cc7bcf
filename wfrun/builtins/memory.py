"""`memory`: a key-value store agents share across phases and iterations."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, cast

from pydantic import Field, field_validator

from wfrun.builtins.config import Config
from wfrun.builtins.errors import MemoryValueError
from wfrun.engine.api import ResourceContext
from wfrun.registry import TypeSpec


class MemoryConfig(Config):
    """JSON values by key, persisted in the run directory."""

    initial: dict[str, Any] = Field(default_factory=dict, description="starting contents")

    @field_validator("initial")
    @classmethod
    def _json_only(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            msg = f"initial contents must be JSON values: {exc}"
            raise ValueError(msg) from exc
        return value


class Memory:
    """A thread-safe JSON store. Values are copied in and out, so callers cannot alias it.

    Every change rewrites `run_dir/memory/<name>.json` atomically, so the file is
    always whole and a finished (or killed) run shows what was learnt.
    """

    def __init__(self, config: MemoryConfig, ctx: ResourceContext) -> None:
        self.name = ctx.name
        self.path = ctx.run_dir / "memory" / f"{ctx.name}.json"
        self._lock = threading.RLock()
        self._data: dict[str, Any] = json.loads(json.dumps(config.initial))
        if self.path.is_file():  # started again in this run (re-acquired): keep what it held
            self._data = json.loads(self.path.read_text(encoding="utf-8"))

    def start(self) -> Mapping[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._save()
        return {"path": str(self.path)}

    def stop(self) -> None:
        """Nothing to release: the file is part of the run record."""

    def journal(self) -> Mapping[str, Any]:
        return {}

    def get(self, key: str, default: Any = None) -> Any:
        """A copy of the value at `key`, or `default`."""
        with self._lock:
            if key not in self._data:
                return default
            return json.loads(json.dumps(self._data[key]))

    def set(self, key: str, value: Any) -> None:
        """Store a JSON value (str, number, bool, None, list, dict) at `key`."""
        encoded = self._encode(key, value)
        with self._lock:
            self._data[key] = json.loads(encoded)
            self._save()

    def append(self, key: str, value: Any) -> list[Any]:
        """Append to the list at `key` (created if missing); returns a copy of the list."""
        encoded = self._encode(key, value)
        with self._lock:
            current = self._data.setdefault(key, [])
            if not isinstance(current, list):
                msg = f"memory {self.name!r}: cannot append to {key!r}, it holds a {type(current).__name__}"
                raise MemoryValueError(msg)
            current.append(json.loads(encoded))
            self._save()
            return cast(list[Any], json.loads(json.dumps(current)))

    def delete(self, key: str) -> None:
        """Forget `key`; a missing key is fine."""
        with self._lock:
            if key in self._data:
                del self._data[key]
                self._save()

    def items(self) -> list[tuple[str, Any]]:
        """A snapshot of every (key, value), in insertion order."""
        with self._lock:
            return list(json.loads(json.dumps(self._data)).items())

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._data

    def _encode(self, key: str, value: Any) -> str:
        if not isinstance(key, str):
            msg = f"memory {self.name!r}: keys are strings, got {key!r}"
            raise MemoryValueError(msg)
        try:
            return json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            msg = (
                f"memory {self.name!r}: the value for {key!r} is not JSON "
                f"({type(value).__name__}: {exc}); store str, int, float, bool, None, list or dict"
            )
            raise MemoryValueError(msg) from exc

    def _save(self) -> None:
        temp = self.path.with_name(f".{self.path.name}.tmp")
        temp.write_text(json.dumps(self._data, indent=2) + "\n", encoding="utf-8")
        temp.replace(self.path)  # atomic: readers see the old file or the new one


TYPES = [
    TypeSpec(
        kind="resource",
        name="memory",
        config=MemoryConfig,
        factory=Memory,
        attributes=("path",),
        doc="A key-value store (JSON values) shared across phases; saved with the run.",
    )
]
