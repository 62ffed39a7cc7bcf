"""Read YAML safely and remember where every node came from.

PyYAML's own constructors lose positions and silently keep the last of duplicate keys,
so we compose the node tree with a private SafeLoader subclass and build plain Python
data ourselves, recording each key's and value's position by its path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from wfrun import constants as C
from wfrun.errors import Diagnostic, Position, SpecError

PathKey = tuple[str | int, ...]

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
}


class _Loader(yaml.SafeLoader):
    """Our own loader class, so nothing we do touches PyYAML's global SafeLoader."""


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

    def node(self, path: PathKey) -> NodePos:
        """The position of the deepest known node on `path` (errors may point below it)."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found is not None:
                return found
        return NodePos(Position(self.file, 1, 1))

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
        shift = _source_offset(found.raw, offset) + 1 if found.quoted else offset
        return Position(found.value.file, found.value.line, found.value.col + shift)


def _source_offset(raw: str, offset: int) -> int:
    """Index in `raw` (a quoted scalar without its quotes) of the value's character `offset`.

    `"\t"` is two characters in the file and one in the value; `'it''s'` likewise.
    """
    double = raw.startswith('"')
    inner = raw[1:-1]
    widths = {"x": 4, "u": 6, "U": 10}
    index = count = 0
    while index < len(inner) and count < offset:
        if double and inner[index] == "\\" and index + 1 < len(inner):
            index += widths.get(inner[index + 1], 2)
        elif not double and inner.startswith("''", index):
            index += 2
        else:
            index += 1
        count += 1
    return index


def _short_tag(tag: str) -> str:
    """'tag:yaml.org,2002:python/name:os.system' as written: '!!python/name:os.system'."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def _position(file: str, mark: yaml.Mark | None) -> Position:
    if mark is None:
        return Position(file, 1, 1)
    return Position(file, mark.line + 1, mark.column + 1)


def _reader_diagnostic(file: str, text: str, exc: yaml.reader.ReaderError) -> Diagnostic:
    before = text[: exc.position]
    where = Position(file, before.count("\n") + 1, exc.position - before.rfind("\n"))
    msg = f"character {chr(exc.character)!r} is not allowed in YAML"
    hint = 'remove it, or write it as an escape inside double quotes, e.g. "\\x1b"'
    return Diagnostic(where, msg, hint)


def parse_yaml(text: str, file: str) -> Source:
    """Parse one YAML document, or raise SpecError with every problem located."""
    size = len(text.encode("utf-8", errors="replace"))
    if size > C.MAX_FILE_BYTES:
        msg = f"file is {size:,} bytes, over the {C.MAX_FILE_BYTES:,}-byte limit"
        raise SpecError([Diagnostic(Position(file, 1, 1), msg, "split the workflow up")])
    try:
        loader = _Loader(text)  # the reader rejects control characters right here
    except yaml.reader.ReaderError as exc:
        raise SpecError([_reader_diagnostic(file, text, exc)]) from exc
    try:
        root = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        msg = f"YAML syntax: {problem}"
        if exc.context and exc.problem:
            msg = f"YAML syntax: {problem} ({exc.context})"
        raise SpecError([Diagnostic(_position(file, mark), msg)]) from exc
    except yaml.reader.ReaderError as exc:
        raise SpecError([_reader_diagnostic(file, text, exc)]) from exc
    except yaml.YAMLError as exc:
        raise SpecError([Diagnostic(Position(file, 1, 1), f"YAML: {exc}")]) from exc
    except RecursionError as exc:
        msg = "the document is nested too deeply"
        raise SpecError([Diagnostic(Position(file, 1, 1), msg, "flatten it")]) from exc
    finally:
        loader.dispose()
    if root is None:
        raise SpecError([Diagnostic(Position(file, 1, 1), "the file is empty")])
    sizes = _expanded_sizes(root)
    if sizes[id(root)] > C.MAX_NODES:  # an alias bomb: refuse before building anything
        raise SpecError([_too_big(file, root, sizes)])
    builder = _Builder(file, loader, text)
    data = builder.build(root, (), 0)
    if builder.diagnostics:
        raise SpecError(builder.diagnostics)
    return Source(file, data, builder.positions)


def _too_big(file: str, root: yaml.Node, sizes: dict[int, int]) -> Diagnostic:
    """Point at the first top-level entry whose expansion is over the limit."""
    where, what = root.start_mark, "the document"
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if sizes[id(value)] > C.MAX_NODES:
                where, what = key.start_mark, f"{key.value!r}"
                break
    msg = f"{what} expands to more than {C.MAX_NODES:,} values"
    return Diagnostic(
        _position(file, where), msg, "are aliases (*name) repeated inside each other?"
    )


def _expanded_sizes(root: yaml.Node) -> dict[int, int]:
    """How many values each node holds once aliases are expanded, in O(distinct nodes).

    An alias is the same node object reached twice, so sizes are memoised by identity.
    """
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done or not children:
            sizes[id(node)] = 1 + sum(sizes.get(id(child), 1) for child in children)
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class _Builder:
    """Turns a composed node tree into plain data, checking what PyYAML lets through."""

    def __init__(self, file: str, loader: _Loader, text: str) -> None:
        self.file = file
        self.text = text
        self.loader = loader
        self.positions: dict[PathKey, NodePos] = {}
        self.diagnostics: list[Diagnostic] = []
        self.nodes = 0

    def _error(self, node: yaml.Node, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(_position(self.file, node.start_mark), message, hint))

    def build(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > C.MAX_NODES:
            if self.nodes == C.MAX_NODES + 1:
                msg = f"the document expands to more than {C.MAX_NODES:,} values"
                self._error(node, msg, "are aliases (*name) repeated inside each other?")
            return None
        if depth > C.MAX_DEPTH:
            if not self.diagnostics:
                self._error(node, f"the document is nested more than {C.MAX_DEPTH} levels deep")
            return None
        position = _position(self.file, node.start_mark)
        if path not in self.positions:
            self.positions[path] = NodePos(position)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self._error(
                    node,
                    f"tag {_short_tag(node.tag)!r} is not allowed",
                    "wfrun reads plain YAML only",
                )
                return None
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: PathKey) -> Any:
        if node.tag not in _SCALAR_TAGS:
            self._error(
                node, f"tag {_short_tag(node.tag)!r} is not allowed", "wfrun reads plain YAML only"
            )
            return None
        start, end = node.start_mark, node.end_mark
        quoted = node.style in ("'", '"')
        self.positions[path] = NodePos(
            self.positions[path].value,
            self.positions[path].key,
            quoted=quoted,
            single_line=start.line == end.line and node.style not in ("|", ">"),
            raw=self.text[start.index : end.index] if quoted else "",
        )
        try:
            return self.loader.construct_object(node, deep=True)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            self._error(node, f"cannot read {node.value!r} as {node.tag.rsplit(':', 1)[-1]}: {exc}")
            return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            self._error(
                node, f"tag {_short_tag(node.tag)!r} is not allowed", "wfrun reads plain YAML only"
            )
            return {}
        own = {id(key) for key, _ in node.value}  # merged-in keys may be overridden
        try:
            self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        except yaml.YAMLError as exc:
            self._error(node, f"YAML merge: {getattr(exc, 'problem', exc)}")
            return {}
        result: dict[str, Any] = {}
        first_seen: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._error(key_node, "a key must be a plain string, not a list or mapping")
                continue
            key = str(key_node.value)  # the source text: `on:` stays "on", never True
            if key in first_seen and id(first_seen[key]) in own and id(key_node) in own:
                line = first_seen[key].start_mark.line + 1
                self._error(
                    key_node,
                    f"duplicate key {key!r}",
                    f"it is first defined on line {line}; YAML would silently keep only the last",
                )
            first_seen[key] = key_node
            child = (*path, key)
            key_pos = _position(self.file, key_node.start_mark)
            self.positions[child] = NodePos(_position(self.file, value_node.start_mark), key_pos)
            result[key] = self.build(value_node, child, depth + 1)
        return result
