"""Numbers and names shared across wfrun, in one place."""

from __future__ import annotations

import re

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"
NAME_RE = re.compile(NAME_PATTERN)
NAME_HINT = "names start with a letter or '_' and contain only letters, digits, '_' and '-'"
MAX_NAME_CHARS = 64  # names become file names: outputs/<phase>.txt, temp dir prefixes

DEFAULT_MAX_ITERATIONS = 10
DEFAULT_MAX_PARALLEL = 4

# Limits that keep hostile input from hanging or exhausting the loader.
MAX_FILE_BYTES = 8 * 1024 * 1024  # a 50,000-phase file is ~4 MiB
MAX_NODES = 1_000_000  # also after alias expansion: stops "billion laughs"
MAX_NODES_PURE_PYTHON = 200_000  # PyYAML's own parser is ~5x slower than libyaml's
MAX_EXPANDED_CHARS = 4 * 1024 * 1024  # of strings, after alias expansion
MAX_DEPTH = 64
MAX_EXPRESSION_CHARS = 2_000
MAX_EXPRESSION_DEPTH = 32
MAX_DIAGNOSTICS = 200  # per file; then validation stops: each one costs a name search

RUNS_DIR = ".wfrun/runs"
RUN_DIR_ENV = "WFRUN_RUN_DIR"  # in the environment of everything a run starts: its record
