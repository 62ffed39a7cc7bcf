"""The one place rich consoles are built, with explicit flags so output is deterministic."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping

from rich.console import Console

from wfrun.redact import Redactor


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
