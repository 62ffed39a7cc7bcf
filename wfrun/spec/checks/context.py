"""What every check shares: the file, the declared names, and the problems found so far."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from wfrun import constants as C
from wfrun.errors import Diagnostic, Position, Severity, brief
from wfrun.registry import Registry
from wfrun.spec.document import PhaseDoc, ResourceDoc
from wfrun.spec.graphs import Needed
from wfrun.spec.locate import listing, suggest
from wfrun.spec.source import PathKey, Source


class Context:
    """One workflow's checks: each appends to `found`; none stops the rest."""

    def __init__(
        self,
        source: Source,
        names: Mapping[str, list[str]],
        params: Mapping[str, Any],
        execution: str,
        registry: Registry,
        base_dir: Path | None = None,
    ) -> None:
        self.source = source
        self.names = names
        self.params = params
        self.execution = execution
        self.registry = registry
        self.found: list[Diagnostic] = []
        self.base_dir = base_dir  # the workflow's folder: paths on disk, types' own checks
        # Looked up once per name, not once per use: a file may use a name 100,000 times.
        self.declared = {section: set(declared) for section, declared in names.items()}
        self.order = {name: i for i, name in enumerate(names.get("phases", []))}
        self._needed: dict[str, Needed] = {}  # by section, built on first use

    @property
    def full(self) -> bool:
        """Enough problems to report: stop looking, as each costs a name search."""
        return len(self.found) >= C.MAX_DIAGNOSTICS

    def add(
        self, where: Position, message: str, hint: str = "", severity: Severity = "error"
    ) -> None:
        self.found.append(Diagnostic(where, message, hint, severity))

    def known(self, path: PathKey, name: str, section: str, what: str, owner: str) -> None:
        """Report `name` (the value at `path`) unless `section` declares it."""
        if name in self.declared[section]:
            return
        choices = self.names[section]
        hint = suggest(name, choices) or (
            f"declared {section}: {listing(choices)}"
            if choices
            else f"declare it under `{section}:`"
        )
        self.add(self.source.at(path), f"{owner} names unknown {what} {brief(name)}", hint)

    def needs(self, section: str, entries: Mapping[str, PhaseDoc | ResourceDoc]) -> Needed:
        """What each entry of `section` needs, transitively (built once)."""
        if section not in self._needed:
            self._needed[section] = Needed({name: e.needs for name, e in entries.items()})
        return self._needed[section]
