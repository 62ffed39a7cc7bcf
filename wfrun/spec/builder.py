"""Build plain data from a composed node tree, checking what PyYAML lets through.

PyYAML's own constructors lose positions and silently keep the last of duplicate keys,
so the builder walks the tree itself: a position for every path, duplicate keys and
tags refused, and aliases expanded within the limits (an alias bomb is refused before
anything is built).
"""

from __future__ import annotations

from typing import Any, NamedTuple, cast

import yaml

from wfrun import constants as C
from wfrun.errors import Diagnostic, brief
from wfrun.spec.composer import Loading
from wfrun.spec.positions import NodePos, PathKey, mark_position

_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
INT_TAG = "tag:yaml.org,2002:int"
STR_TAG = "tag:yaml.org,2002:str"
_PLAIN_HINT = "wfrun reads plain YAML only"
SCALAR_TAGS = {
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "timestamp")
}
MAX_INT_CHARS = 100  # `1:2:3:...` is a YAML 1.1 base-60 int, built in quadratic time


def _short_tag(tag: str) -> str:
    """'tag:yaml.org,2002:python/name:os.system' as written: '!!python/name:os.system'."""
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml.org") else tag


def cut(message: str, limit: int = 200) -> str:
    """PyYAML quotes tokens, anchors and tags whole; a 100,000-character one is no help."""
    return message if len(message) <= limit else f"{message[: limit - 1]}…"


class _Expansion(NamedTuple):
    """What a node holds once aliases are expanded."""

    values: int
    levels: int
    chars: int  # of its scalars: an alias of a long string copies it at every use


def _over(found: _Expansion, *, top: bool = False) -> tuple[str, str] | None:
    """(what is over a limit, hint), or None; the root's own level does not count."""
    if found.values > C.MAX_NODES:
        return (
            f"expands to more than {C.MAX_NODES:,} values",
            "are aliases (*name) repeated inside each other?",
        )
    if found.chars > C.MAX_EXPANDED_CHARS:
        return (
            f"expands to more than {C.MAX_EXPANDED_CHARS:,} characters",
            "is a long string used through many aliases (*name)?",
        )
    if found.levels - top > C.MAX_DEPTH:
        return (
            f"is nested more than {C.MAX_DEPTH} levels deep once aliases are expanded",
            "an alias (*name) puts its whole value where it is used",
        )
    return None


def too_big(file: str, root: yaml.Node, expanded: dict[int, _Expansion]) -> Diagnostic | None:
    """None if the document is within the limits, else a diagnostic at the first
    top-level entry over one."""
    problem = _over(expanded[id(root)], top=True)
    if problem is None:
        return None
    where, what = root.start_mark, "the document"
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if (own := _over(expanded[id(value)])) is not None:
                where, what, problem = key.start_mark, brief(key.value), own
                break
    return Diagnostic(mark_position(file, where), f"{what} {problem[0]}", problem[1])


def expansion(root: yaml.Node) -> dict[int, _Expansion]:
    """What each node holds once aliases are expanded, in O(distinct nodes).

    An alias is the same node object reached twice, so results are memoised by identity;
    the composer has refused cycles, so every walk ends.
    """
    found: dict[int, _Expansion] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in found:
            continue
        children = _children(node)
        if children_done or not children:
            below = [found[id(child)] for child in children]
            found[id(node)] = _Expansion(
                1 + sum(e.values for e in below),
                1 + max((e.levels for e in below), default=0),
                sum(e.chars for e in below) if children else len(str(node.value)),
            )
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in found)
    return found


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


class Builder:
    """Turns a composed node tree into plain data, checking what PyYAML lets through."""

    def __init__(self, file: str, loader: Loading, text: str) -> None:
        self.file = file
        self.text = text
        self.loader = loader
        self.positions: dict[PathKey, NodePos] = {}
        self.diagnostics: list[Diagnostic] = []
        self.nodes = 0
        self._raws: dict[int, str] = {}

    def _error(self, node: yaml.Node, message: str, hint: str = "") -> None:
        self.diagnostics.append(
            Diagnostic(mark_position(self.file, node.start_mark), message, hint)
        )

    def build(self, node: yaml.Node, path: PathKey, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > C.MAX_NODES:
            if self.nodes == C.MAX_NODES + 1:
                msg = f"the document expands to more than {C.MAX_NODES:,} values"
                self._error(node, msg, "are aliases (*name) repeated inside each other?")
            return None
        if depth > C.MAX_DEPTH:  # only aliases get here: the composer counted the rest
            if not self.diagnostics:
                msg = f"the document is nested more than {C.MAX_DEPTH} levels deep"
                self._error(node, msg, "an alias (*name) puts its whole value where it is used")
            return None
        position = mark_position(self.file, node.start_mark)
        if path not in self.positions:
            self.positions[path] = NodePos(position)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                return self._refuse_tag(node)
            return [self.build(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        return self._scalar(cast(yaml.ScalarNode, node), path)

    def _raw(self, node: yaml.Node) -> str:
        """The source text of a quoted scalar, sliced once however many aliases use it."""
        if id(node) not in self._raws:
            self._raws[id(node)] = self.text[node.start_mark.index : node.end_mark.index]
        return self._raws[id(node)]

    def _refuse_tag(self, node: yaml.Node) -> None:
        self._error(node, f"tag {brief(_short_tag(node.tag))} is not allowed", _PLAIN_HINT)

    def _scalar(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        if node.tag not in SCALAR_TAGS:
            return self._refuse_tag(node)
        start, end = node.start_mark, node.end_mark
        quoted = node.style in ("'", '"')
        self.positions[path] = NodePos(
            self.positions[path].value,
            self.positions[path].key,
            quoted=quoted,
            single_line=start.line == end.line and node.style not in ("|", ">"),
            raw=self._raw(node) if quoted else "",
        )
        kind = node.tag.rsplit(":", 1)[-1]
        hint = f"write a valid {kind}, or quote the value to make it text"
        if node.tag == INT_TAG and len(node.value) > MAX_INT_CHARS:
            msg = f"{brief(node.value)} is too long to be a number"
            self._error(node, msg, "quote it to make it text")
            return None
        try:
            return self.loader.construct_object(node, deep=True)
        except (ValueError, OverflowError) as exc:  # a date out of range, say
            self._error(node, cut(f"cannot read {brief(node.value)} as {kind}: {exc}"), hint)
        except (yaml.YAMLError, TypeError, LookupError, AttributeError):
            # PyYAML's constructors trust that the resolver's pattern matched; an explicit
            # tag (`!!int ""`, `!!bool x`) skips the pattern, and they fail any which way.
            self._error(node, f"cannot read {brief(node.value)} as {kind}", hint)
        return None

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int) -> dict[str, Any]:
        if node.tag != _MAP_TAG:
            self._refuse_tag(node)
            return {}
        own = {id(key) for key, _ in node.value}  # merged-in keys may be overridden
        try:
            self.loader.flatten_mapping(node)  # resolves `<<: *anchor` merge keys
        except yaml.YAMLError as exc:
            self._error(node, cut(f"YAML merge: {getattr(exc, 'problem', exc)}"))
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
                    f"duplicate key {brief(key)}",
                    f"it is first defined on line {line}; YAML would silently keep only the last",
                )
            first_seen[key] = key_node
            child = (*path, key)
            key_pos = mark_position(self.file, key_node.start_mark)
            self.positions[child] = NodePos(
                mark_position(self.file, value_node.start_mark), key_pos
            )
            result[key] = self.build(value_node, child, depth + 1)
        return result
