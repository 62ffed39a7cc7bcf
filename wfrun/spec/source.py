"""Read YAML safely and remember where every node came from.

`parse_yaml` reads a plain document in one pass from libyaml's events (`onepass.py`);
anything else is composed into a node tree within the limits (`composer.py`) and built
into data (`builder.py`). Either way: plain data and a position for every path in it
(`positions.py`), or a `SpecError` with every problem located.
"""

from __future__ import annotations

import yaml

from wfrun import constants as C
from wfrun.errors import Diagnostic, Position, SpecError
from wfrun.gcpause import gc_paused
from wfrun.spec.builder import Builder, cut, expansion, too_big
from wfrun.spec.composer import PURE_PYTHON_ONLY, LimitError, compose
from wfrun.spec.onepass import read_plain
from wfrun.spec.positions import NodePos, PathKey, Source, mark_position, position_at, value_at

__all__ = ["NodePos", "PathKey", "Source", "parse_yaml", "position_at", "value_at"]


LIBYAML = yaml.__with_libyaml__  # parse with libyaml where PyYAML was built with it
ONE_PASS = True  # read plain documents from libyaml's events, without a node tree


def _reader_diagnostic(file: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    where = position_at(file, text, exc.position)
    msg = f"character {chr(exc.character)!r} is not allowed in YAML"
    hint = 'remove it, or write it as an escape inside double quotes, e.g. "\\x1b"'
    return Diagnostic(where, msg, hint)


def parse_yaml(text: str, file: str) -> Source:
    """Parse one YAML document, or raise SpecError with every problem located."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > C.MAX_FILE_BYTES:
        msg = f"file is {size:,} bytes, over the {C.MAX_FILE_BYTES:,}-byte limit"
        raise SpecError([Diagnostic(Position(file, 1, 1), msg, "split the workflow up")])
    with gc_paused():
        return _parse(text, file)


def _parse(text: str, file: str) -> Source:
    libyaml = LIBYAML and not PURE_PYTHON_ONLY.search(text)
    try:
        plain = read_plain(text, file) if libyaml and ONE_PASS else None
        if plain is not None:
            return plain
        root, loader = compose(text, libyaml=libyaml)
    except LimitError as exc:
        raise SpecError([Diagnostic(mark_position(file, exc.mark), exc.message, exc.hint)]) from exc
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_syntax_diagnostic(file, exc)]) from exc
    except yaml.reader.ReaderError as exc:
        raise SpecError([_reader_diagnostic(file, text, exc)]) from exc
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(Position(file, 1, 1), f"YAML: {exc}")]) from exc
    except RecursionError as exc:
        msg = "the document is nested too deeply"
        raise SpecError([Diagnostic(Position(file, 1, 1), msg, "flatten it")]) from exc
    if root is None:
        raise SpecError([Diagnostic(Position(file, 1, 1), "the file is empty")])
    bomb = too_big(file, root, expansion(root)) if loader.aliases else None
    if bomb is not None:  # an alias bomb: refuse before building anything
        raise SpecError([bomb])
    builder = Builder(file, loader, text)
    data = builder.build(root, (), 0)
    if builder.diagnostics:
        raise SpecError(builder.diagnostics)
    return Source(file, data, builder.positions)


def _syntax_diagnostic(file: str, exc: yaml.MarkedYAMLError) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context or "invalid YAML"
    msg = f"YAML syntax: {problem}"
    if exc.context and exc.problem:
        msg = f"YAML syntax: {problem} ({exc.context})"
    if exc.problem == "second occurrence" and exc.context_mark is not None:
        # PyYAML words it backwards: "second occurrence (found duplicate anchor 'a'; ...)"
        anchor = (exc.context or "").removeprefix("found duplicate anchor ").split(";")[0]
        msg = f"YAML syntax: duplicate anchor {anchor}"
        hint = f"it is first defined on line {exc.context_mark.line + 1}; rename one of them"
        return Diagnostic(mark_position(file, mark), cut(msg), hint)
    return Diagnostic(mark_position(file, mark), cut(msg))
