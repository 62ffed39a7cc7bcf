"""The one place rich consoles are built, with explicit flags so output is deterministic.

A console is built (and rich imported) when something is first printed through it: a
clean `wfrun validate` writes one plain line and never needs rich.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from functools import cached_property
from typing import TYPE_CHECKING

from wfrun.redact import Redactor

if TYPE_CHECKING:
    from rich.console import Console


class Terminal:
    """stdout for results, stderr for problems; colour only on a real terminal."""

    def __init__(self, *, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self.no_color = "NO_COLOR" in environ

    @cached_property
    def out(self) -> Console:
        return self._console(stderr=False)

    @cached_property
    def err(self) -> Console:
        return self._console(stderr=True)

    def _console(self, *, stderr: bool) -> Console:
        from rich.console import Console  # noqa: PLC0415 - see the docstring

        return Console(
            stderr=stderr, markup=False, highlight=False, no_color=self.no_color, soft_wrap=True
        )

    def write(self, text: str) -> None:
        """Raw text to stdout, byte for byte (JSON, schemas): no rich processing."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def problem(self, message: str, hint: str = "") -> None:
        masked = Redactor.known()  # an error may quote a value read from a secret
        self.err.print(f"error: {printable(masked.text(message))}", style="bold red")
        if hint:
            self.err.print(f"    hint: {printable(masked.text(hint))}")


# What an agent or a service prints must not drive the terminal: escape sequences whole
# (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ST`, DCS/SOS/PM/APC strings, two-character
# escapes), then every other C0 control but newline and tab, DEL and the C1 controls.
_SEQUENCES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI (cut short: to the end)
    r"|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, DCS, SOS, PM, APC (BEL or ST ends it)
    r"|\x1b[ -/]*[0-~]?"  # other escapes (charset choices, ESC 7, ...)
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # the rest of C0, DEL, C1
)


def printable(text: str) -> str:
    """`text` safe for a terminal: control characters and escape sequences removed,
    newlines and tabs kept. The one filter for the board, plain lines, `show` and errors."""
    return text if text.isprintable() else _SEQUENCES.sub("", text)
