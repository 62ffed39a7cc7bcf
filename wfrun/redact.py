"""Masking of secret values (`secrets: [ENV_NAME, ...]`) in everything wfrun writes or shows.

Shared by the loader (error messages), the engine (events, records) and the ui (crash
logs): so it sits beside them, not in any one of them.

Masking happens once, where events are made, so no sink — terminal, `--json`,
`events.jsonl`, `run.json`, phase outputs — can forget it. Agents still get the real
values: the secret is needed to do the work, just never to report it.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

_Event = TypeVar("_Event")  # an engine event: a dataclass

MASK = "***"
_KNOWN: set[str] = set()  # every secret this process was told of: for crash logs, errors
_KNOWN_LOCK = threading.Lock()


class Redactor:
    """Replaces every occurrence of a secret value with `***`, in text and nested data.

    A value is also masked without the whitespace around it (an env value ending in a
    newline is often printed without it). Mask before cutting a text (see
    `Emitter.mask`): a cut through a secret leaves a piece no pattern can recognise.
    """

    def __init__(self, values: Iterable[str]) -> None:
        variants = {form for v in values if v.strip() for form in (v, v.strip())}
        # Longest first, so a secret that contains another is masked whole.
        self._secrets = sorted(variants, key=len, reverse=True)
        self._pattern = (
            re.compile("|".join(map(re.escape, self._secrets))) if self._secrets else None
        )
        with _KNOWN_LOCK:
            _KNOWN.update(self._secrets)

    @classmethod
    def for_environ(cls, names: Iterable[str], environ: Mapping[str, str]) -> Redactor:
        return cls(environ[name] for name in names if environ.get(name))

    @classmethod
    def known(cls) -> Redactor:
        """Every secret seen so far in this process: for what is written outside a run's
        sinks (a crash log, an error message), where no workflow is at hand."""
        with _KNOWN_LOCK:
            values = list(_KNOWN)
        return cls(values)

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

    def event(self, event: _Event) -> _Event:
        """The event with every field masked (the same object when nothing needed it)."""
        if self._pattern is None or not dataclasses.is_dataclass(event):
            return event
        changes = {}
        for field in dataclasses.fields(event):
            name = field.name
            value = getattr(event, name)
            masked = self.data(value)
            if masked != value:
                changes[name] = masked
        return dataclasses.replace(event, **changes) if changes else event  # type: ignore[type-var]
