"""Where things are in a workflow file: a position for every path, and the parsed data.

`Source` is what reading a file gives every later stage: plain data, and for each path
in it (`("phases", "build", "agents", 0)`) where its value (and key) start.
"""

from __future__ import annotations

import re
from array import array
from dataclasses import dataclass, field
from typing import Any

import yaml

from wfrun.errors import Position

PathKey = tuple[str | int, ...]
_LINE_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")


@dataclass(frozen=True)
class NodePos:
    """Where a value (and, for mapping entries, its key) starts in the file."""

    value: Position
    key: Position | None = None
    quoted: bool = False
    single_line: bool = True
    raw: str = ""  # the source text of a quoted scalar, to map escapes to columns


@dataclass(frozen=True)
class Source:
    """A parsed YAML document: plain data plus a position for every path in it."""

    file: str
    data: Any
    positions: dict[PathKey, NodePos]
    _columns: dict[PathKey, array[int]] = field(default_factory=dict, repr=False, compare=False)

    def node(self, path: PathKey) -> NodePos:
        """The position of the deepest known node on `path` (errors may point below it)."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return NodePos(Position(self.file, 1, 1))

    def value(self, path: PathKey) -> Any:
        """The value at `path` as the file holds it (placeholders not substituted)."""
        return value_at(self.data, path)

    def at(self, path: PathKey, *, key: bool = False) -> Position:
        found = self.node(path)
        if key and found.key is not None:
            return found.key
        return found.value

    def within(self, path: PathKey, offset: int) -> Position:
        """The position of character `offset` inside the string scalar at `path`."""
        found = self.node(path)
        if not found.single_line or tuple(path) not in self.positions:
            return found.value
        shift = offset
        if found.quoted:
            path = tuple(path)
            if path not in self._columns:  # once per string: a string may hold 10,000 errors
                self._columns[path] = _source_columns(found.raw)
            columns = self._columns[path]
            shift = columns[min(offset, len(columns) - 1)] + 1
        return Position(found.value.file, found.value.line, found.value.col + shift)


def _source_columns(raw: str) -> array[int]:
    """For each character of a quoted scalar's value, its index in `raw` minus the quotes;
    one more entry for the end of the value.

    `"\t"` is two characters in the file and one in the value; `'it''s'` likewise.
    """
    double = raw.startswith('"')
    inner = raw[1:-1]
    widths = {"x": 4, "u": 6, "U": 10}
    columns = array("l")
    index = 0
    while index < len(inner):
        columns.append(index)
        if double and inner[index] == "\\" and index + 1 < len(inner):
            index += widths.get(inner[index + 1], 2)
        elif not double and inner.startswith("''", index):
            index += 2
        else:
            index += 1
    columns.append(min(index, len(inner)))
    return columns


def mark_position(file: str, mark: yaml.Mark | None) -> Position:
    """A PyYAML or libyaml mark (0-based) as a 1-based position."""
    if mark is None:
        return Position(file, 1, 1)
    return Position(file, mark.line + 1, mark.column + 1)


def position_at(file: str, text: str, offset: int) -> Position:
    """Where character `offset` of `text` is, counting lines as PyYAML's marks do (NEL,
    LS, PS and a lone CR end a line too), so that all positions agree."""
    breaks = list(_LINE_BREAK.finditer(text, 0, offset))
    line_start = breaks[-1].end() if breaks else 0
    return Position(file, len(breaks) + 1, offset - line_start + 1)


def value_at(data: Any, path: PathKey) -> Any:
    """The value at `path` in loaded data, or None where it has none (`with:` left out)."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data
