"""The one place rich consoles are built, with explicit flags so output is deterministic."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from rich.console import Console


class Terminal:
    """stdout for results, stderr for problems; colour only on a real terminal."""

    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        no_color = "NO_COLOR" in environ
        self.out = Console(markup=False, highlight=False, no_color=no_color, soft_wrap=True)
        self.err = Console(
            stderr=True, markup=False, highlight=False, no_color=no_color, soft_wrap=True
        )

    def write(self, text: str) -> None:
        """Raw text to stdout, byte for byte (JSON, schemas): no rich processing."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def problem(self, message: str, hint: str = "") -> None:
        self.err.print(f"error: {message}", style="bold red")
        if hint:
            self.err.print(f"    hint: {hint}")
