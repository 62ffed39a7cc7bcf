"""Masking of secret values (`secrets: [ENV_NAME, ...]`) in everything wfrun writes or shows.

Masking happens once, where events are made, so no sink — terminal, `--json`,
`events.jsonl`, `run.json`, phase outputs — can forget it. Agents still get the real
values: the secret is needed to do the work, just never to report it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

from wfrun.engine import events as ev

MASK = "***"


class Redactor:
    """Replaces every occurrence of a secret value with `***`, in text and nested data."""

    def __init__(self, values: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        secrets = sorted({v for v in values if v.strip()}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, secrets))) if secrets else None

    @classmethod
    def for_environ(cls, names: Iterable[str], environ: Mapping[str, str]) -> Redactor:
        return cls(environ[name] for name in names if environ.get(name))

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        return value if self._pattern is None else self._pattern.sub(MASK, value)

    def data(self, value: Any) -> Any:
        """A masked copy of strings, lists, tuples and dicts (keys too); others as they are."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.data(k): self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.data(v) for v in value)
        return value

    def event(self, event: ev.Event) -> ev.Event:
        """The event with every field masked (the same object when nothing needed it)."""
        if self._pattern is None:
            return event
        changes = {}
        for name in ev.field_names(type(event)):
            value = getattr(event, name)
            masked = self.data(value)
            if masked != value:
                changes[name] = masked
        return dataclasses.replace(event, **changes) if changes else event
